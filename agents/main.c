/*
 * concordat-agent -c agent.yaml [-n] [-f] [-v|-q] [-p FILE] [-u USER]:
 * the agent an agency runs beside
 * its record system, wired to it through a spool folder.
 */
#include "agents/agent.h"
#include "common/daemon.h"
#include "proto/record.h"

static const char usage_text[] =
    "usage: concordat-agent -c agent.yaml [-n] [-f] [-v | -q]\n"
    "       [-p FILE] [-u USER]\n"
    "\n"
    "  -c, --config FILE  the configuration (agency, broker, broker_key,\n"
    "                     key, keyring, spool, pepper)\n"
    "  -n, --check        check the configuration and keys (its own key\n"
    "                     against its .pub in the keyring); exit\n"
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
    "The local system writes records to SPOOL/tmp/ and renames them into\n"
    "SPOOL/outbox/; it reads SPOOL/inbox/, SPOOL/sent/, SPOOL/failed/ and\n"
    "SPOOL/receipts/. Names starting with '.' are the agent's own.\n"
    "Sharing agreements, used only when every party's guardian signed them,\n"
    "are kept in STATE/agreements/ (agent.yaml `agreements`); a refused one,\n"
    "and a delivery quarantined, is reported in SPOOL/alerts/.\n";

static int
load(const char *path, void *cfg, struct yamlconf_errors *errs)
{
	return agent_config_load(path, cfg, errs);
}

static int
check(const void *cfg, char *why, size_t n)
{
	return agent_check(cfg, why, n);
}

static int
prepare(const void *cfg, char *why, size_t n)
{
	return agent_prepare(cfg, why, n);
}

static const struct daemon_opts *
opts(const void *cfg)
{
	return &((const struct agent_config *)cfg)->daemon;
}

static int
run(const void *cfg)
{
	return agent_run(cfg);
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "concordat-agent",
	    .usage = usage_text,
	    .config_size = sizeof(struct agent_config),
	    .load = load,
	    .check = check,
	    .opts = opts,
	    .prepare = prepare,
	    .run = run,
	};

	record_wipe_on_free(); /* before any JSON: records hold plaintext */
	return daemon_main(argc, argv, &spec);
}
