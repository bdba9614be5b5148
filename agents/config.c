/*
 * agent.yaml: required agency, broker, broker_key, key, keyring, spool,
 * pepper; optional state, resend_after, map_size_mb, sent_retention,
 * seen_retention, witness_window, witnesses, log_level, user, pid_file,
 * metrics_file, metrics_interval.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agents/config.h"
#include "common/fileio.h"
#include "proto/wire.h"

enum {
	K_AGENCY,
	K_BROKER,
	K_BROKER_KEY,
	K_KEY,
	K_KEYRING,
	K_SPOOL,
	K_PEPPER,
	K_STATE,
	K_RESEND,
	K_MAP,
	K_SENT_KEEP,
	K_SEEN_KEEP,
	K_AGREEMENTS,
	K_SKEW,
	K_WINDOW,
	K_WITNESSES,
	K_LOG_LEVEL,
	K_USER,
	K_PID_FILE,
	K_METRICS,
	K_METRICS_IV,
	K_SETTLE,
	K_RESCAN,
	K_COUNT
};

#define REQ (YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY)

static const struct yamlconf_key keys[K_COUNT] = {
    [K_AGENCY] = {"agency", YAMLCONF_STRING, REQ},
    [K_BROKER] = {"broker", YAMLCONF_STRING, REQ},
    [K_BROKER_KEY] = {"broker_key", YAMLCONF_STRING, REQ},
    [K_KEY] = {"key", YAMLCONF_STRING, REQ},
    [K_KEYRING] = {"keyring", YAMLCONF_STRING, REQ},
    [K_SPOOL] = {"spool", YAMLCONF_STRING, REQ},
    [K_PEPPER] = {"pepper", YAMLCONF_STRING, REQ},
    [K_STATE] = {"state", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_RESEND] = {"resend_after", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_MAP] = {"map_size_mb", YAMLCONF_INT, 0},
    [K_SENT_KEEP] = {"sent_retention", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_SEEN_KEEP] = {"seen_retention", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_AGREEMENTS] = {"agreements", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_SKEW] = {"clock_skew", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_WINDOW] = {"witness_window", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_WITNESSES] = {"witnesses", YAMLCONF_INT, 0},
    [K_LOG_LEVEL] = {"log_level", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_USER] = {"user", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_PID_FILE] = {"pid_file", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_METRICS] = {"metrics_file", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_METRICS_IV] = {"metrics_interval", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_SETTLE] = {"settle_after", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_RESCAN] = {"rescan_every", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
};

int
agent_config_default_state(const char *spool, char *out, size_t n, bool *legacy)
{
	size_t len = strlen(spool);
	char old[PATH_MAX];
	struct stat st;

	while (len > 1 && spool[len - 1] == '/')
		len--;
	*legacy = false;
	if ((size_t)snprintf(out, n, "%.*s.state", (int)len, spool) >= n ||
	    (size_t)snprintf(old, sizeof(old), "%.*s/.state", (int)len,
	        spool) >= sizeof(old))
		return ERROR_TOOBIG;
	/* Where versions before this one kept it, unless moved since. */
	if (lstat(out, &st) != 0 && errno == ENOENT && lstat(old, &st) == 0 &&
	    S_ISDIR(st.st_mode)) {
		snprintf(out, n, "%s", old);
		*legacy = true;
	}
	return ERROR_OK;
}

/* settle_after or rescan_every: a duration of 100ms to 1h. */
static void
outbox_period(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, uint64_t *ms)
{
	yamlconf_duration(y, node, what, ms);
	if (node != NULL && (*ms < AGENT_OUTBOX_MIN || *ms > AGENT_OUTBOX_MAX))
		yamlconf_error(y, node,
		    "%s: '%s' is out of range (100ms to 1h)", what, node->str);
}

int
agent_config_load(
    const char *path, struct agent_config *c, struct yamlconf_errors *errs)
{
	const struct yamlconf_node *v[K_COUNT];
	struct yamlconf *y = NULL;
	size_t before = errs->total;
	int rc;

	memset(c, 0, sizeof(*c));
	daemonopts_init(&c->daemon);
	c->resend_ms = 30 * 1000;
	c->settle_ms = AGENT_SETTLE_DEFAULT;
	c->rescan_ms = AGENT_RESCAN_DEFAULT;
	c->map_size = AGENT_MAP_SIZE_DEFAULT;
	c->sent_keep_ms = 30ull * 24 * 60 * 60 * 1000;
	c->seen_keep_ms = 400ull * 24 * 60 * 60 * 1000;
	c->clock_skew_ms = 5 * 60 * 1000;
	c->witness_window_ms = 10 * 60 * 1000;
	c->witnesses = 1;
	/* Absolute: a daemon leaves its start folder, and SIGHUP reads the
	 * file again. */
	char *real = realpath(path, NULL);
	snprintf(c->path, sizeof(c->path), "%s", real != NULL ? real : path);
	free(real);
	if ((rc = yamlconf_load_file(path, AGENT_CONFIG_MAX, errs, &y)) != 0)
		return rc;
	yamlconf_map(y, yamlconf_root(y), NULL, keys, K_COUNT, v);
	if (v[K_AGENCY] != NULL) {
		if (!ident_agency_valid(v[K_AGENCY]->str))
			yamlconf_error(y, v[K_AGENCY],
			    "agency: '%s' is not an agency id "
			    "([a-z][a-z0-9_]{0,31})",
			    v[K_AGENCY]->str);
		else
			snprintf(c->agency, sizeof(c->agency), "%s",
			    v[K_AGENCY]->str);
	}
	if (v[K_BROKER] != NULL) {
		if (strlen(v[K_BROKER]->str) >= sizeof(c->broker) ||
		    (strncmp(v[K_BROKER]->str, "tcp://", 6) != 0 &&
		        strncmp(v[K_BROKER]->str, "ipc://", 6) != 0))
			yamlconf_error(y, v[K_BROKER],
			    "broker: '%s' is not a tcp:// or ipc:// endpoint",
			    v[K_BROKER]->str);
		else
			snprintf(c->broker, sizeof(c->broker), "%s",
			    v[K_BROKER]->str);
	}
	yamlconf_path(y, v[K_BROKER_KEY], c->broker_key, sizeof(c->broker_key));
	yamlconf_path(y, v[K_KEY], c->key, sizeof(c->key));
	yamlconf_path(y, v[K_KEYRING], c->keyring, sizeof(c->keyring));
	yamlconf_path(y, v[K_SPOOL], c->spool, sizeof(c->spool));
	yamlconf_path(y, v[K_PEPPER], c->pepper, sizeof(c->pepper));
	if (v[K_STATE] != NULL)
		yamlconf_path(y, v[K_STATE], c->state, sizeof(c->state));
	else if (c->spool[0] != '\0' &&
	    agent_config_default_state(
	        c->spool, c->state, sizeof(c->state), &c->state_legacy) != 0)
		yamlconf_error(y, v[K_SPOOL], "spool: path too long");
	if (v[K_AGREEMENTS] != NULL)
		yamlconf_path(
		    y, v[K_AGREEMENTS], c->agreements, sizeof(c->agreements));
	else if (c->state[0] != '\0' &&
	    fileio_join(c->agreements, sizeof(c->agreements), c->state,
	        "agreements") != 0)
		yamlconf_error(y, v[K_STATE], "state: path too long");
	/* Monitoring (agents/metrics.c): the textfile and its period. */
	yamlconf_path(
	    y, v[K_METRICS], c->metrics_file, sizeof(c->metrics_file));
	c->metrics_interval_ms = 15000;
	yamlconf_duration(
	    y, v[K_METRICS_IV], "metrics_interval", &c->metrics_interval_ms);
	if (c->metrics_interval_ms < 1000)
		yamlconf_error(
		    y, v[K_METRICS_IV], "metrics_interval: at least 1s");
	yamlconf_duration(y, v[K_SKEW], "clock_skew", &c->clock_skew_ms);
	yamlconf_duration(y, v[K_RESEND], "resend_after", &c->resend_ms);
	/* The outbox (docs/agent.md §5): when a file written in place is
	 * whole, and how often the folder is listed besides inotify. */
	outbox_period(y, v[K_SETTLE], "settle_after", &c->settle_ms);
	outbox_period(y, v[K_RESCAN], "rescan_every", &c->rescan_ms);
	if (v[K_MAP] != NULL) {
		if (v[K_MAP]->integer < 1 || v[K_MAP]->integer > (1 << 24))
			yamlconf_error(y, v[K_MAP],
			    "map_size_mb: %lld is out of range (1 to 16777216)",
			    v[K_MAP]->integer);
		else
			c->map_size = (uint64_t)v[K_MAP]->integer << 20;
	}
	yamlconf_duration(
	    y, v[K_SENT_KEEP], "sent_retention", &c->sent_keep_ms);
	yamlconf_duration(
	    y, v[K_SEEN_KEEP], "seen_retention", &c->seen_keep_ms);
	if (v[K_SEEN_KEEP] != NULL && c->seen_keep_ms < AGENT_SEEN_KEEP_MIN)
		yamlconf_error(y, v[K_SEEN_KEEP],
		    "seen_retention: '%s' is less than a day: it must outlast "
		    "the longest expires_after of the agreement, or a message "
		    "delivered again could reach the inbox twice",
		    v[K_SEEN_KEEP]->str);
	yamlconf_duration(
	    y, v[K_WINDOW], "witness_window", &c->witness_window_ms);
	if (v[K_WINDOW] != NULL && c->witness_window_ms < 1000)
		yamlconf_error(y, v[K_WINDOW],
		    "witness_window: '%s' is less than a second",
		    v[K_WINDOW]->str);
	if (v[K_WITNESSES] != NULL) {
		if (v[K_WITNESSES]->integer < 0 ||
		    v[K_WITNESSES]->integer > WIRE_MAX_WITNESSES)
			yamlconf_error(y, v[K_WITNESSES],
			    "witnesses: %lld is out of range (0 to %d)",
			    v[K_WITNESSES]->integer, WIRE_MAX_WITNESSES);
		else
			c->witnesses = (unsigned)v[K_WITNESSES]->integer;
	}
	daemonopts_load(
	    y, v[K_LOG_LEVEL], v[K_USER], v[K_PID_FILE], &c->daemon);
	yamlconf_free(y);
	return errs->total > before ? ERROR_CONFIG : ERROR_OK;
}
