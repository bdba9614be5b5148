/*
 * Counting a spool folder's files (DESIGN.md §8 monitoring): for the
 * agent's metrics (agents/metrics.c) and `concordat spool status`
 * (agents/verbs/spool_status.c), so both count the same way.
 */
#ifndef AGENTS_SPOOLSTAT_H
#define AGENTS_SPOOLSTAT_H

#include <stdint.h>

#include "common/error.h"

/*
 * The visible (not dot-) regular files of dir: *n, and the modification
 * time of the oldest in ms since the epoch in *oldest_ms (0: none). A
 * missing folder counts as empty; ERROR_IO (errno set) when it cannot be
 * read.
 */
WUR int spoolstat_count(const char *dir, uint64_t *n, uint64_t *oldest_ms);

#endif
