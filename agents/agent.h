/*
 * concordat-agent: the process an agency runs beside its record system,
 * wired to it through the spool folders of DESIGN.md §8. Called by main.c.
 */
#ifndef AGENTS_AGENT_H
#define AGENTS_AGENT_H

#include <stddef.h>

#include "agents/config.h"

/* The spool's folders, created at start. */
#define SPOOL_OUTBOX   "outbox"
#define SPOOL_TMP      "tmp"
#define SPOOL_SENT     "sent"
#define SPOOL_FAILED   "failed"
#define SPOOL_INBOX    "inbox"
#define SPOOL_RECEIPTS "receipts"
#define SPOOL_ALERTS   "alerts"

/* Runs until SIGTERM or SIGINT; returns 0 or an ERROR_* (logged). */
int agent_run(const struct agent_config *cfg);

/* Loads and checks keys, keyring and pepper (-n); a summary in why. */
int agent_check(const struct agent_config *cfg, char *why, size_t n);

#endif
