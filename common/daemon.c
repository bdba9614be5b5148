/*
 * What concordat-broker and concordat-agent share before their own work
 * starts: the house command line ("-c FILE, -n, -f"), secrets kept
 * out of core files and debuggers, and the configuration checked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/daemon.h"
#include "common/log.h"

/* "concordat-broker: why" on stderr; returns code. */
static int
fail(const struct daemon_spec *spec, int code, const char *why)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", spec->name, why);
	return code;
}

int
daemon_main(int argc, char **argv, const struct daemon_spec *spec)
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
	struct yamlconf_errors errs;
	const char *path = NULL;
	void *cfg = NULL;
	int c, check = 0, fg = 0, rc, code;

	if (sodium_init() < 0)
		return cli_fail(EX_SOFTWARE, "libsodium failed to start");
	/* Secrets must never reach a core file or a debugger of our user. */
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
			fputs(spec->usage, stdout);
			return EX_OK;
		case 'V':
			printf("%s %s\n", spec->name, CONCORDAT_VERSION);
			return EX_OK;
		default:
			fputs(spec->usage, stderr);
			return EX_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		fputs(spec->usage, stderr);
		return EX_USAGE;
	}
	if ((cfg = calloc(1, spec->config_size)) == NULL)
		return cli_fail(EX_OSERR, "out of memory");
	yamlconf_errors_init(&errs);
	rc = spec->load(path, cfg, &errs);
	if (rc != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		if (errs.n == 0) {
			char why[4200];
			snprintf(why, sizeof(why), "%s: %s", path,
			    error_strerror(rc));
			fail(spec, 0, why);
		}
		code = rc == ERROR_NOENT ? EX_NOINPUT : EX_CONFIG;
		goto out;
	}
	if (check) {
		char why[8192];
		rc = spec->check(cfg, why, sizeof(why));
		if (rc != 0)
			code =
			    cli_fail(rc == ERROR_PERM ? EX_NOPERM : EX_CONFIG,
			        "%s", why);
		else
			code = printf("%s\n", why) < 0 ? EX_IOERR : EX_OK;
		goto out;
	}
	if (spec->prepare != NULL) {
		char why[4200];
		rc = spec->prepare(cfg, why, sizeof(why));
		if (rc != 0) {
			code = fail(spec, cli_exit_code(rc), why);
			goto out;
		}
	}
	log_init(spec->name, fg);
	if (!fg && daemon(0, 0) != 0) {
		code = fail(spec, EX_OSERR, "cannot become a daemon");
		goto out;
	}
	rc = spec->run(cfg);
	code = rc == 0 ? EX_OK : cli_exit_code(rc);
out:
	yamlconf_errors_release(&errs);
	free(cfg);
	return code;
}
