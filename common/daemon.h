/*
 * The shared main of the two daemons (concordat-broker, concordat-agent):
 * -c FILE, -n (check and exit), -f (foreground), -v/-q (more or fewer
 * log lines), -p PIDFILE, -u USER, --help, --version; libsodium started,
 * core dumps off, configuration errors printed one per line as FILE:LINE,
 * root dropped for `user:`, logs sent where they are read (log.h), then
 * the daemon's own run.
 */
#ifndef COMMON_DAEMON_H
#define COMMON_DAEMON_H

#include <stddef.h>

#include "common/daemonopts.h"
#include "common/yamlconf.h"

/* Where syslog(3) listens. */
#define DAEMON_SYSLOG_PATH "/dev/log"

struct daemon_spec {
	const char *name;  /* "concordat-broker" */
	const char *usage; /* printed by --help and on a usage error */
	size_t config_size;
	/* Loads path into cfg (config_size bytes), errors into errs. */
	int (*load)(const char *path, void *cfg, struct yamlconf_errors *errs);
	/* -n: 0 with a one-line summary in why, or the error and why. */
	int (*check)(const void *cfg, char *why, size_t n);
	/* The shared keys (log_level, user, pid_file) inside cfg. */
	const struct daemon_opts *(*opts)(const void *cfg);
	/*
	 * Optional: runs after the configuration loaded and before the
	 * process becomes a daemon (never with -n), for what must fail where
	 * the operator sees it, with its exit code: a lock another instance
	 * holds (ERROR_BUSY, exit 75). 0, or the error and why.
	 */
	int (*prepare)(const void *cfg, char *why, size_t n);
	/* Runs until stopped; 0 or an ERROR_*. */
	int (*run)(const void *cfg);
};

/* Parses argv and runs spec's daemon; returns a sysexits code. */
int daemon_main(int argc, char **argv, const struct daemon_spec *spec);

#endif
