/*
 * Backing off a log line that repeats (an unreachable broker, a refused
 * handshake): the first occurrence is logged, then at most one line per
 * interval, which doubles from 1 s up to 5 min while the error goes on,
 * summarised as "(repeated N times in the last Ts)". Used by the agent's
 * link and the broker's ZAP handler; no allocation, no clock of its own.
 */
#ifndef COMMON_LOGRATE_H
#define COMMON_LOGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGRATE_FIRST_MS 1000u
#define LOGRATE_MAX_MS   (5u * 60 * 1000)

/* One line being backed off; zero it (or lograte_reset) to start. */
struct lograte {
	char key[96];       /* what repeats, e.g. "refused tcp://..." */
	uint64_t last_ms;   /* when the last line was written */
	uint64_t seen_ms;   /* when the last occurrence came */
	uint64_t ivl_ms;    /* the interval until the next line */
	unsigned long held; /* occurrences not logged since last_ms */
};

/*
 * One occurrence of key at now_ms (a monotonic clock). True when a line
 * is to be written now: suffix (size n) then holds "" or
 * " (repeated N times in the last Ts)". A new key, or the same after a
 * quiet spell of twice the interval, starts again at the first interval.
 */
bool lograte_hit(struct lograte *r, const char *key, uint64_t now_ms,
    char *suffix, size_t n);

/*
 * The error is over (the link came up): true, with the summary in suffix,
 * when occurrences were held back and not yet logged; the state is reset
 * either way.
 */
bool lograte_end(struct lograte *r, uint64_t now_ms, char *suffix, size_t n);

void lograte_reset(struct lograte *r);

#endif
