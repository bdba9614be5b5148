/*
 * Identifier checks. Agency ids are the only strings ever used in a path or
 * a lookup (DESIGN.md §4); purposes, rule ids and obligations share the
 * same alphabet so that they are safe in logs and CSV.
 */
#ifndef COMMON_IDENT_H
#define COMMON_IDENT_H

#include <stdbool.h>

#define IDENT_AGENCY_MAX 32 /* [a-z][a-z0-9_]{0,31} */
#define IDENT_NAME_MAX   64 /* purposes, rule ids, obligations */

/* True when s matches [a-z][a-z0-9_]{0,31}. */
bool ident_agency_valid(const char *s);

/*
 * True when s is a name (purpose, obligation, rule id): a lower-case letter
 * then up to 63 of [a-z0-9_-].
 */
bool ident_name_valid(const char *s);

#endif
