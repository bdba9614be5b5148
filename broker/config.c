/*
 * broker.yaml: required listen, key, keyring, policy, data; optional
 * map_size_mb, clock_skew, redeliver_after, batch, agency_rate,
 * agency_burst, signer_user, agreement_grace, log_level, user, pid_file,
 * control_socket, metrics_file, metrics_interval.
 */
#include <stdio.h>
#include <string.h>

#include "broker/config.h"
#include "common/fileio.h"

enum {
	K_LISTEN,
	K_KEY,
	K_KEYRING,
	K_POLICY,
	K_DATA,
	K_MAP,
	K_SKEW,
	K_REDELIVER,
	K_BATCH,
	K_RATE,
	K_BURST,
	K_SIGNER_USER,
	K_GRACE,
	K_LOG_LEVEL,
	K_USER,
	K_PID_FILE,
	K_CONTROL,
	K_METRICS,
	K_METRICS_IV,
	K_COUNT
};

static const struct yamlconf_key keys[K_COUNT] = {
    [K_LISTEN] = {"listen", YAMLCONF_STRING,
        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    [K_KEY] = {"key", YAMLCONF_STRING, YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    [K_KEYRING] = {"keyring", YAMLCONF_STRING,
        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    [K_POLICY] = {"policy", YAMLCONF_STRING,
        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    [K_DATA] = {"data", YAMLCONF_STRING, YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    [K_MAP] = {"map_size_mb", YAMLCONF_INT, 0},
    [K_SKEW] = {"clock_skew", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_REDELIVER] = {"redeliver_after", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_BATCH] = {"batch", YAMLCONF_INT, 0},
    [K_RATE] = {"agency_rate", YAMLCONF_INT, 0},
    [K_BURST] = {"agency_burst", YAMLCONF_INT, 0},
    [K_SIGNER_USER] = {"signer_user", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_GRACE] = {"agreement_grace", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_LOG_LEVEL] = {"log_level", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_USER] = {"user", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_PID_FILE] = {"pid_file", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_CONTROL] = {"control_socket", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_METRICS] = {"metrics_file", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
    [K_METRICS_IV] = {"metrics_interval", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
};

/* An integer option in [lo, hi] into *out; an error names the range. */
static void
int_option(struct yamlconf *y, const struct yamlconf_node *v, const char *name,
    long long lo, long long hi, unsigned *out)
{
	if (v == NULL)
		return;
	if (v->integer < lo || v->integer > hi)
		yamlconf_error(y, v, "%s: %lld is out of range (%lld to %lld)",
		    name, v->integer, lo, hi);
	else
		*out = (unsigned)v->integer;
}

int
broker_config_load(
    const char *path, struct broker_config *c, struct yamlconf_errors *errs)
{
	const struct yamlconf_node *v[K_COUNT];
	struct yamlconf *y = NULL;
	size_t before = errs->total;
	int rc;

	memset(c, 0, sizeof(*c));
	daemonopts_init(&c->daemon);
	c->map_size = (uint64_t)16 << 30;
	c->clock_skew_ms = 5 * 60 * 1000;
	c->redeliver_ms = 30 * 1000;
	c->batch = 256;
	c->rate = 500;
	c->burst = 5000;
	c->agreement_grace_ms = 10 * 60 * 1000;
	c->metrics_interval_ms = 15 * 1000;
	rc = yamlconf_load_file(path, BROKER_CONFIG_MAX, errs, &y);
	if (rc != 0)
		return rc;
	yamlconf_map(y, yamlconf_root(y), NULL, keys, K_COUNT, v);
	if (v[K_LISTEN] != NULL) {
		if (strlen(v[K_LISTEN]->str) >= sizeof(c->listen))
			yamlconf_error(y, v[K_LISTEN], "endpoint too long");
		else if (strncmp(v[K_LISTEN]->str, "tcp://", 6) != 0 &&
		    strncmp(v[K_LISTEN]->str, "ipc://", 6) != 0)
			yamlconf_error(y, v[K_LISTEN],
			    "listen: '%s' is not a tcp:// or ipc:// endpoint",
			    v[K_LISTEN]->str);
		else
			snprintf(c->listen, sizeof(c->listen), "%s",
			    v[K_LISTEN]->str);
	}
	yamlconf_path(y, v[K_KEY], c->key, sizeof(c->key));
	yamlconf_path(y, v[K_KEYRING], c->keyring, sizeof(c->keyring));
	yamlconf_path(y, v[K_POLICY], c->policy, sizeof(c->policy));
	yamlconf_path(y, v[K_DATA], c->data, sizeof(c->data));
	if (v[K_MAP] != NULL) {
		if (v[K_MAP]->integer < 16 || v[K_MAP]->integer > (1 << 24))
			yamlconf_error(y, v[K_MAP],
			    "map_size_mb: %lld is out of range (16 to "
			    "16777216)",
			    v[K_MAP]->integer);
		else
			c->map_size = (uint64_t)v[K_MAP]->integer << 20;
	}
	yamlconf_duration(y, v[K_SKEW], "clock_skew", &c->clock_skew_ms);
	yamlconf_duration(
	    y, v[K_REDELIVER], "redeliver_after", &c->redeliver_ms);
	yamlconf_duration(
	    y, v[K_GRACE], "agreement_grace", &c->agreement_grace_ms);
	int_option(y, v[K_BATCH], "batch", 1, 4096, &c->batch);
	int_option(y, v[K_RATE], "agency_rate", 1, 1000000, &c->rate);
	int_option(y, v[K_BURST], "agency_burst", 1, 1000000, &c->burst);
	if (v[K_SIGNER_USER] != NULL) {
		if (strlen(v[K_SIGNER_USER]->str) >= sizeof(c->signer_user))
			yamlconf_error(
			    y, v[K_SIGNER_USER], "signer_user: too long");
		else
			snprintf(c->signer_user, sizeof(c->signer_user), "%s",
			    v[K_SIGNER_USER]->str);
	}
	daemonopts_load(
	    y, v[K_LOG_LEVEL], v[K_USER], v[K_PID_FILE], &c->daemon);
	broker_config_monitoring(
	    y, v[K_CONTROL], v[K_METRICS], v[K_METRICS_IV], c);
	yamlconf_free(y);
	return errs->total > before ? ERROR_CONFIG : ERROR_OK;
}
