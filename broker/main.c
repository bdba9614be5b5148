/*
 * concordat-broker -c broker.yaml [-n] [-f]: the relay between agencies'
 * agents that enforces the sharing policy without reading a field.
 */
#include "broker/broker.h"
#include "common/daemon.h"

static const char usage_text[] =
    "usage: concordat-broker -c broker.yaml [-n] [-f]\n"
    "\n"
    "  -c, --config FILE  the configuration (listen, key, keyring, policy,\n"
    "                     data)\n"
    "  -n, --check        check the configuration, keys and policy; exit\n"
    "  -f, --foreground   stay in the foreground and log to stderr\n"
    "  -h, --help         this text\n"
    "  -V, --version      the version\n"
    "\n"
    "Signals: SIGHUP reloads the policy and keyring (a bad file keeps the\n"
    "running ones); SIGTERM stops cleanly. After a reload, messages sealed\n"
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
	    .run = run,
	};

	return daemon_main(argc, argv, &spec);
}
