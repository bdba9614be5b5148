/*
 * concordat-agent -c agent.yaml [-n] [-f]: the agent an agency runs beside
 * its record system, wired to it through a spool folder.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent.h"
#include "common/cliutil.h"
#include "common/log.h"

static const char usage_text[] =
    "usage: concordat-agent -c agent.yaml [-n] [-f]\n"
    "\n"
    "  -c, --config FILE  the configuration (agency, broker, broker_key,\n"
    "                     key, keyring, spool, pepper)\n"
    "  -n, --check        check the configuration and keys; exit\n"
    "  -f, --foreground   stay in the foreground and log to stderr\n"
    "  -h, --help         this text\n"
    "  -V, --version      the version\n"
    "\n"
    "The local system writes records to SPOOL/tmp/ and renames them into\n"
    "SPOOL/outbox/; it reads SPOOL/inbox/, SPOOL/sent/, SPOOL/failed/ and\n"
    "SPOOL/receipts/. Names starting with '.' are the agent's own.\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'n'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct rlimit nocore = {0, 0};
	struct agent_config cfg;
	struct yamlconf_errors errs;
	const char *path = NULL;
	int c, check = 0, fg = 0, rc;

	if (sodium_init() < 0)
		return cliutil_fail(EX_SOFTWARE, "libsodium failed to start");
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	while ((c = getopt_long(argc, argv, "c:nfhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'f':
			fg = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EX_OK;
		case 'V':
			printf("concordat-agent %s\n", CONCORDAT_VERSION);
			return EX_OK;
		default:
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	yamlconf_errors_init(&errs);
	rc = agent_config_load(path, &cfg, &errs);
	if (rc != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		if (errs.n == 0)
			cliutil_fail(0, "%s: %s", path, error_strerror(rc));
		yamlconf_errors_release(&errs);
		return rc == ERROR_NOENT ? EX_NOINPUT : EX_CONFIG;
	}
	yamlconf_errors_release(&errs);
	if (check) {
		char why[8192];
		rc = agent_check(&cfg, why, sizeof(why));
		if (rc != 0)
			return cliutil_fail(rc == ERROR_PERM ? EX_NOPERM
							     : EX_CONFIG,
			    "%s", why);
		printf("%s\n", why);
		return EX_OK;
	}
	log_init("concordat-agent", fg);
	if (!fg && daemon(0, 0) != 0)
		return cliutil_fail(EX_OSERR, "cannot become a daemon");
	rc = agent_run(&cfg);
	return rc == 0 ? EX_OK : cliutil_exit_code(rc);
}
