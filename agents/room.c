/*
 * Room in the agent's state (see room.h): new outbox records wait in
 * outbox/ above FULL_AT of the map, and are taken again below FULL_CLEAR,
 * as the broker does: the rest is for what frees space (receipts, which
 * delete sealed frames). A commit refused for want of space is tried again
 * on a timer with backoff, one record at a time, until a whole scan stores
 * without a refusal.
 */
#include <stdbool.h>
#include <stdint.h>

#include "agents/agent_int.h"
#include "agents/room.h"
#include "common/clock.h"
#include "common/log.h"

#define WARN_MS        60000 /* between warnings above USAGE_WARN */
#define BACKOFF_MAX_MS 60000
#define PROBE_BYTES    (16 * 1024) /* a record or two: room again? */
#define USAGE_WARN     0.8
#define FULL_AT        0.9
#define FULL_CLEAR     0.85

uint64_t
room_backoff(uint64_t prev_ms)
{
	if (prev_ms == 0)
		return 1000;
	return prev_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : 2 * prev_ms;
}

bool
room_full(int rc)
{
	return rc == ERROR_MAPFULL || rc == ERROR_NOSPC;
}

bool
room_may_store(struct agent *a)
{
	if (a->full_usage)
		return false;
	return !a->full_refused || clock_mono_ms() >= a->store_retry_ms;
}

/* Said once an episode of want of room is over. */
static void
room_again(struct agent *a, double share)
{
	if (!a->full_logged || a->full_usage || a->full_refused || a->probing)
		return;
	log_info("state %s: room again (%.0f%% of the map in use): taking "
	         "outbox records again",
	    a->cfg.state, 100.0 * share);
	a->full_logged = false;
}

static void
full_at(struct agent *a, double share)
{
	a->full_usage = true;
	if (!a->full_logged)
		log_warn("state %s is %.0f%% full: new outbox records wait in "
		         "outbox/ until space frees (map_size_mb raises it)",
		    a->cfg.state, 100.0 * share);
	a->full_logged = true;
}

void
room_check_usage(struct agent *a)
{
	uint64_t used, map, now = clock_mono_ms();
	double share;

	if (state_usage(a->state, &used, &map) != 0 || map == 0)
		return;
	share = (double)used / (double)map;
	if (!a->full_usage && share > FULL_AT)
		full_at(a, share);
	else if (a->full_usage && share < FULL_CLEAR)
		a->full_usage = false;
	if (share < FULL_CLEAR)
		room_again(a, share);
	if (share > USAGE_WARN &&
	    (a->usage_warned_ms == 0 || now - a->usage_warned_ms >= WARN_MS)) {
		log_warn("state %s is %.0f%% full (%llu of %llu KiB): raise "
		         "map_size_mb",
		    a->cfg.state, 100.0 * share,
		    (unsigned long long)(used >> 10),
		    (unsigned long long)(map >> 10));
		a->usage_warned_ms = now;
	}
}

size_t
room_fit(struct agent *a, const struct state_msg *ms, size_t n)
{
	uint64_t used, map;
	size_t i;

	room_check_usage(a);
	if (a->full_usage)
		return 0;
	if (state_usage(a->state, &used, &map) != 0 || map == 0)
		return n; /* the commit will say */
	/* A frame takes whole pages, and its record and name some more. */
	for (i = 0; i < n; i++) {
		used += ms[i].frame_len + ms[i].frame_len / 2 + 512;
		if ((double)used > FULL_AT * (double)map)
			break;
	}
	if (i < n)
		full_at(a, (double)used / (double)map);
	return i;
}

void
room_refused(struct agent *a, int rc)
{
	if (!room_full(rc))
		return;
	a->full_refused = true;
	a->probing = true;
	a->store_backoff_ms = room_backoff(a->store_backoff_ms);
	a->store_retry_ms = clock_mono_ms() + a->store_backoff_ms;
	if (!a->full_logged)
		log_err("state %s: cannot store new records: %s: new outbox "
		        "records wait in outbox/ until there is room",
		    a->cfg.state, error_strerror(rc));
	a->full_logged = true;
}

void
room_stored(struct agent *a)
{
	a->full_refused = false;
	a->probe_ok = a->probing;
}

bool
room_scan_done(struct agent *a)
{
	int rc;

	if (!a->probing || a->full_refused)
		return false;
	/* A scan that stored nothing proves nothing: write to find out. */
	if (!a->probe_ok && (rc = state_probe(a->state, PROBE_BYTES)) != 0) {
		room_refused(a, rc);
		return false;
	}
	a->probing = a->probe_ok = false;
	a->store_backoff_ms = 0;
	room_check_usage(a); /* says so, now that there is room */
	return true;
}
