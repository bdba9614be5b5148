/*
 * concordat-agent: the process an agency runs beside its record system,
 * wired to it through the spool folders of DESIGN.md §8. Called by main.c.
 */
#ifndef AGENTS_AGENT_H
#define AGENTS_AGENT_H

#include <stddef.h>

#include "agents/config.h"
#include "common/error.h"

/* The spool's folders, created at start. */
#define SPOOL_OUTBOX   "outbox"
#define SPOOL_TMP      "tmp"
#define SPOOL_SENT     "sent"
#define SPOOL_FAILED   "failed"
#define SPOOL_INBOX    "inbox"
#define SPOOL_RECEIPTS "receipts"
#define SPOOL_ALERTS   "alerts"
#define SPOOL_REVIEWS  "reviews" /* break-glass reviews (outreview.c) */

/*
 * Before the process becomes a daemon: creates the state folder and takes
 * its lock (STATE/agent.lock, holding the pid), so that a second agent on
 * the same state stops at once, where its operator sees it: ERROR_BUSY,
 * with the running agent's pid in why. Not for -n.
 */
WUR int agent_prepare(const struct agent_config *cfg, char *why, size_t n);

/*
 * Runs until SIGTERM or SIGINT; SIGHUP reloads (docs/agent.md §7). Takes
 * the lock itself when agent_prepare did not. Returns 0 or an ERROR_*
 * (logged).
 */
int agent_run(const struct agent_config *cfg);

/* Loads and checks keys, keyring and pepper (-n); a summary in why. */
int agent_check(const struct agent_config *cfg, char *why, size_t n);

#endif
