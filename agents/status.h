/*
 * Private to agents/: the agent's status file, STATE/status.json
 * (DESIGN.md §8 monitoring), rewritten atomically every AGENT_STATUS_MS,
 * at once when the agent connects or loses the broker, and at stop, which
 * `concordat spool status` reads beside the spool folders: whether the agent is
 * connected, when it last was, what it has sent without a final receipt yet.
 * Called from agent.c's loop.
 */
#ifndef AGENTS_STATUS_H
#define AGENTS_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#define AGENT_STATUS_FILE "status.json"
#define AGENT_STATUS_MS   5000
/* Above this many open messages the oldest is not looked for (null). */
#define AGENT_STATUS_WALK_MAX 1000

struct agent;

/* Rewrites the file when due (now monotonic); at stop (final), at once,
 * saying the agent stopped. Failures are logged once. */
void agent_status_tick(struct agent *a, uint64_t now, bool final);

/* metrics.c: rewrites metrics_file when due (called by the tick). */
void agent_metrics_tick(struct agent *a, uint64_t now);

#endif
