/*
 * Private to `audit query` (query.c, query_names.c): the names a filter
 * may give, checked against those the log and its agreements know, with
 * the closest known name for a misspelt one.
 */
#ifndef AUDIT_VERBS_QUERY_NAMES_H
#define AUDIT_VERBS_QUERY_NAMES_H

#include "audit/verbs/verbs_int.h"

/* The exit status of a filter naming what neither the log nor an
 * agreement it archived knows (EX_NOINPUT). */
#define QUERY_NAMES_UNKNOWN 66

/*
 * Checks f's agency, purpose and rule against the names in r's log (its
 * indexes, audit_query_stats) and in the agreements the broker archived in
 * dir/agreements (their agencies, purposes and the rules that decide
 * something). 0 when each is known; otherwise says which is not, with the
 * closest known name ("did you mean 'police'?"), and returns
 * QUERY_NAMES_UNKNOWN; another sysexits code when the log cannot be read.
 */
int query_names_check(
    const char *dir, struct reader *r, const struct audit_filter *f);

/* The event type closest to a misspelt s, or NULL. */
const char *query_names_event(const char *s);

#endif
