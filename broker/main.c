/*
 * concordat-broker -c broker.yaml [-n] [-f] [-v|-q] [-p FILE] [-u USER]:
 * the relay between agencies' agents that enforces the sharing policy without
 * reading a field.
 */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "audit/audit.h"
#include "broker/broker.h"
#include "common/daemon.h"

static const char usage_text[] =
    "usage: concordat-broker -c broker.yaml [-n] [-f] [-v | -q]\n"
    "       [-p FILE] [-u USER]\n"
    "\n"
    "  -c, --config FILE  the configuration (listen, key, keyring, policy,\n"
    "                     data)\n"
    "  -n, --check        check the configuration, keys, keyring and policy\n"
    "                     (signed by every party's guardian; each party's\n"
    "                     ID.pub and ID.guardian.pub in the keyring); exit\n"
    "  -f, --foreground   stay in the foreground and log to stderr (also\n"
    "                     under systemd: \"<N>\" priority prefixes for the\n"
    "                     journal); otherwise syslog\n"
    "  -v, --verbose      one level more of logs (repeatable; log_level,\n"
    "                     default info: error, warning, info, debug)\n"
    "  -q, --quiet        one level less of logs (repeatable)\n"
    "  -p, --pid-file FILE  write the pid to FILE while running (pid_file)\n"
    "  -u, --user USER    when started as root, become USER before any key\n"
    "                     or data is opened (user; `root` keeps root)\n"
    "  -h, --help         this text\n"
    "  -V, --version      the version\n"
    "\n"
    "The policy takes effect only when POLICY.sig holds a valid signature by\n"
    "the guardian of every agency it names (concordat policy sign).\n"
    "Signals: SIGHUP reloads the policy and keyring (a bad file, or one not\n"
    "signed by every party, keeps the running ones and is audited as\n"
    "policy_refused); SIGTERM stops cleanly. After a reload, messages sealed\n"
    "under the agreement replaced are decided under it for agreement_grace\n"
    "(broker.yaml, default 10m), then refused agreement_mismatch.\n";

static int
load(const char *path, void *cfg, struct yamlconf_errors *errs)
{
	return broker_config_load(path, cfg, errs);
}

static int
check(const void *cfg, char *why, size_t n)
{
	return broker_check(cfg, why, n);
}

/*
 * Before going to the background: a data folder another broker holds is
 * refused here, where the operator sees it (exit 75), not only in the
 * log. The lock itself is taken again, and kept, by broker_run.
 */
static int
prepare(const void *cfg, char *why, size_t n)
{
	const struct broker_config *c = cfg;
	char holder[128], lock[PATH_MAX + 16];
	int fd, rc;

	/* No lock file, no holder: nothing is created before the keys and
	 * the configuration are checked (broker_run). */
	snprintf(lock, sizeof(lock), "%s/concordat.lock", c->data);
	if (access(lock, F_OK) != 0)
		return ERROR_OK;
	rc = audit_env_lock(
	    c->data, "concordat-broker", &fd, holder, sizeof(holder));
	if (rc == ERROR_BUSY)
		snprintf(why, n,
		    "%s: the data folder is in use by another process (pid "
		    "and program from its lock file: %s): one broker per data "
		    "folder",
		    c->data, holder);
	else if (rc != 0)
		snprintf(why, n, "%s: cannot take the data folder's lock: %s",
		    c->data, error_strerror(rc));
	else
		audit_env_unlock(fd);
	return rc;
}

static const struct daemon_opts *
opts(const void *cfg)
{
	return &((const struct broker_config *)cfg)->daemon;
}

static int
run(const void *cfg)
{
	return broker_run(cfg);
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "concordat-broker",
	    .usage = usage_text,
	    .config_size = sizeof(struct broker_config),
	    .load = load,
	    .check = check,
	    .opts = opts,
	    .prepare = prepare,
	    .run = run,
	};

	return daemon_main(argc, argv, &spec);
}
