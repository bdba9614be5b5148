/*
 * Durations in configuration and policy files ("30m", "2h", "1h30m"), as
 * milliseconds. Used by the policy's expires_after and by daemon settings.
 */
#ifndef COMMON_DURATION_H
#define COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/*
 * Parses s, one or more NUMBER UNIT terms with units in decreasing order and
 * each at most once: d (days), h (hours), m (minutes), s (seconds), ms
 * (milliseconds); e.g. "90s", "1h30m", "1d". No spaces, signs or fractions.
 * Returns 0 with *ms set, or ERROR_INVAL for garbage or a zero total and
 * ERROR_TOOBIG when the total does not fit in 63 bits of milliseconds; *ms
 * is untouched on error.
 */
WUR int duration_parse(const char *s, uint64_t *ms);

/*
 * Writes ms in the form duration_parse reads, largest units first
 * ("1h30m", "500ms"; "0s" for zero), into buf of size n (always
 * terminated). Returns buf.
 */
char *duration_format(uint64_t ms, char *buf, size_t n);

#endif
