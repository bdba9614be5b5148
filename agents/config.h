/*
 * agent.yaml (DESIGN.md §8): which agency this agent speaks for, the
 * broker it connects to, its keys, the keyring, the spool folder and the
 * subject pepper; how large its own store may grow and how long it keeps
 * what it has sent and received. Loaded by concordat-agent at start, by -n
 * and again on SIGHUP.
 */
#ifndef AGENTS_CONFIG_H
#define AGENTS_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/daemonopts.h"
#include "common/error.h"
#include "common/ident.h"
#include "common/yamlconf.h"

#define AGENT_CONFIG_MAX (64 * 1024)

struct agent_config {
	char agency[IDENT_AGENCY_MAX + 1];
	char broker[256]; /* endpoint, e.g. tcp://broker.example:7700 */
	char broker_key[PATH_MAX]; /* broker.pub */
	char key[PATH_MAX];        /* AGENCY.key */
	char keyring[PATH_MAX];
	char spool[PATH_MAX];
	char pepper[PATH_MAX];
	char state[PATH_MAX];  /* the agent's LMDB; default SPOOL.state */
	bool state_legacy;     /* the default fell back to SPOOL/.state */
	uint64_t resend_ms;    /* resend_after, default 30s */
	uint64_t settle_ms;    /* settle_after, default 2s */
	uint64_t rescan_ms;    /* rescan_every, default 2s */
	uint64_t map_size;     /* map_size_mb in bytes, default 4 GiB */
	uint64_t sent_keep_ms; /* sent_retention, default 30d */
	uint64_t seen_keep_ms; /* seen_retention, default 400d (at least 1d) */
	char agreements[PATH_MAX]; /* the archive; default STATE/agreements */
	uint64_t clock_skew_ms;    /* clock_skew (freshness), default 5m */
	/* witness_window, default 10m: a leaf accepted must be covered by a
	 * checkpoint `witnesses` other agencies cosigned (default 1) */
	uint64_t witness_window_ms;
	unsigned witnesses;
	char path[PATH_MAX];       /* the file loaded, absolute (for SIGHUP) */
	struct daemon_opts daemon; /* log_level, user, pid_file */
	char metrics_file[PATH_MAX];  /* "": none (agents/metrics.c) */
	uint64_t metrics_interval_ms; /* metrics_interval, default 15s */
};

#define AGENT_MAP_SIZE_DEFAULT ((uint64_t)4096 << 20)
#define AGENT_SEEN_KEEP_MIN    (24ull * 60 * 60 * 1000)
/* settle_after and rescan_every: their defaults, and the range of both. */
#define AGENT_SETTLE_DEFAULT 2000u
#define AGENT_RESCAN_DEFAULT 2000u
#define AGENT_OUTBOX_MIN     100u
#define AGENT_OUTBOX_MAX     (60u * 60 * 1000)

/*
 * Loads the file at path into *c; relative paths are taken from the file's
 * folder. Problems go into errs; returns 0, ERROR_CONFIG, or the error
 * reading the file.
 */
/*
 * The state folder when `state:` is not set: SPOOL.state, beside the spool
 * the record system shares, not in it; or SPOOL/.state, where earlier
 * versions kept it, while that exists and SPOOL.state does not (*legacy).
 * ERROR_TOOBIG when it does not fit in n bytes.
 */
WUR int agent_config_default_state(
    const char *spool, char *out, size_t n, bool *legacy);

WUR int agent_config_load(
    const char *path, struct agent_config *c, struct yamlconf_errors *errs);

#endif
