/*
 * Backed-off repeated log lines (lograte.h).
 */
#include <stdio.h>
#include <string.h>

#include "common/lograte.h"

void
lograte_reset(struct lograte *r)
{
	memset(r, 0, sizeof(*r));
}

static void
summary(const struct lograte *r, uint64_t now, char *suffix, size_t n)
{
	uint64_t secs = (now - r->last_ms + 999) / 1000;

	snprintf(suffix, n, " (repeated %lu times in the last %llus)", r->held,
	    (unsigned long long)(secs > 0 ? secs : 1));
}

bool
lograte_hit(
    struct lograte *r, const char *key, uint64_t now, char *suffix, size_t n)
{
	bool fresh = r->ivl_ms == 0 ||
	    strncmp(r->key, key, sizeof(r->key) - 1) != 0 ||
	    now - r->seen_ms >= 2 * r->ivl_ms;

	if (n > 0)
		suffix[0] = '\0';
	if (fresh) {
		/* What the same error held back before its quiet spell. */
		if (r->held > 0 &&
		    strncmp(r->key, key, sizeof(r->key) - 1) == 0)
			summary(r, now, suffix, n);
		snprintf(r->key, sizeof(r->key), "%s", key);
		r->last_ms = r->seen_ms = now;
		r->ivl_ms = LOGRATE_FIRST_MS;
		r->held = 0;
		return true;
	}
	r->seen_ms = now;
	r->held++;
	if (now - r->last_ms < r->ivl_ms)
		return false;
	summary(r, now, suffix, n);
	r->last_ms = now;
	r->held = 0;
	r->ivl_ms =
	    r->ivl_ms * 2 > LOGRATE_MAX_MS ? LOGRATE_MAX_MS : r->ivl_ms * 2;
	return true;
}

bool
lograte_end(struct lograte *r, uint64_t now, char *suffix, size_t n)
{
	bool any = r->ivl_ms != 0 && r->held > 0;

	if (n > 0)
		suffix[0] = '\0';
	if (any)
		summary(r, now, suffix, n);
	lograte_reset(r);
	return any;
}
