/*
 * Private to agents/: room in the agent's own state (agent_int.h has the
 * fields). While it is short, new outbox records wait in outbox/, said
 * once in the log: above 90% of the map until under 85%, or after a
 * commit refused for want of space, tried again on a timer with backoff.
 */
#ifndef AGENTS_ROOM_H
#define AGENTS_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agents/state.h"

struct agent;

/* True when the state has room for new outbox records now. */
bool room_may_store(struct agent *a);
/* Measures the state's use of its map: warns, stops or resumes storing. */
void room_check_usage(struct agent *a);
/*
 * How many of the sealed ms[0 .. n-1] fit in the state below 90% of its
 * map; when not all, new records wait (full_usage, said once).
 */
size_t room_fit(struct agent *a, const struct state_msg *ms, size_t n);
/* A commit refused with rc: when storage is short, wait (logged once). */
void room_refused(struct agent *a, int rc);
/* A commit of new records succeeded. */
void room_stored(struct agent *a);
/*
 * An outbox scan ended: true when it stored without a refusal after room
 * was short, so room is back (and what waited may be sent again).
 */
bool room_scan_done(struct agent *a);
/* True for the errors that mean storage is full: MAPFULL, NOSPC. */
bool room_full(int rc);
/* The next delay of a backoff: 1 s, doubling, at most 60 s. */
uint64_t room_backoff(uint64_t prev_ms);

#endif
