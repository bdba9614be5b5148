/*
 * broker.yaml (DESIGN.md §8): where the broker listens, its key, the
 * keyring, the policy and its data folder. Loaded by concordat-broker at
 * start (and by -n) through the shared schema walker.
 */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "common/daemonopts.h"
#include "common/error.h"
#include "common/yamlconf.h"

#define BROKER_CONFIG_MAX (64 * 1024)

struct broker_config {
	char listen[256];       /* ZeroMQ endpoint, e.g. tcp://0.0.0.0:7700 */
	char key[PATH_MAX];     /* broker.key */
	char keyring[PATH_MAX]; /* folder of agency .pub files */
	char policy[PATH_MAX];  /* the sharing agreement */
	char data[PATH_MAX];    /* LMDB environment folder */
	uint64_t map_size;      /* bytes; map_size_mb, default 16 GiB */
	uint64_t clock_skew_ms; /* clock_skew, default 5m */
	uint64_t redeliver_ms;  /* redeliver_after, default 30s */
	unsigned batch;         /* most messages in one commit, default 256 */
	unsigned rate;          /* agency_rate: submissions/s per agency, 500 */
	unsigned burst;         /* agency_burst: submissions at once, 5000 */
	char signer_user[64];   /* the signer's user when root; "": nobody */
	uint64_t agreement_grace_ms; /* agreement_grace, default 10m */
	struct daemon_opts daemon;   /* log_level, user, pid_file */
	/* Monitoring (control.c, metrics.c): control_socket, default
	 * DATA/control.sock ("" when that path is too long for a socket);
	 * metrics_file, "" for none; metrics_interval, default 15s. */
	char control_socket[108];
	char metrics_file[PATH_MAX];
	uint64_t metrics_interval_ms;
};

/* config_monitor.c: the monitoring keys of broker.yaml into c (after data). */
void broker_config_monitoring(struct yamlconf *y,
    const struct yamlconf_node *control, const struct yamlconf_node *metrics,
    const struct yamlconf_node *interval, struct broker_config *c);

/*
 * Loads the file at path into *c. Relative paths in it are taken from the
 * file's folder. Every problem goes into errs ("FILE:LINE: ..."); returns
 * 0, ERROR_CONFIG when errs holds errors, or the error reading the file.
 */
WUR int broker_config_load(
    const char *path, struct broker_config *c, struct yamlconf_errors *errs);

#endif
