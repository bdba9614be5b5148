/*
 * What concordat-broker and concordat-agent share before their own work
 * starts: the house command line ("-c FILE, -n, -f, -v, -q, -p, -u"),
 * secrets kept out of core files and debuggers, the configuration
 * checked, root dropped for `user:`, and where the logs go decided.
 */
#include <getopt.h>
#include <pwd.h>
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
#include "common/runas.h"
#include "common/service.h"

/* "concordat-broker: why" on stderr; returns code. */
static int
fail(const struct daemon_spec *spec, int code, const char *why)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", spec->name, why);
	return code;
}

/*
 * Between the configuration and the daemon's own start: the level, the
 * user, where logs go (with the warning when syslog is unreachable) and
 * the service manager's hooks. *fg becomes true under systemd: a
 * Type=notify service must not fork.
 */
static int
start(const struct daemon_spec *spec, const void *cfg, const char *user,
    const char *pid_file, int louder, int *fg)
{
	const struct daemon_opts *o = spec->opts(cfg);
	int level = (int)o->log_level + louder;
	char why[512];
	enum log_dest dest;
	int rc;

	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_set_level((enum log_level)level);
	if (user == NULL)
		user = o->user;
	if ((rc = runas_switch(user, why, sizeof(why))) != 0)
		return fail(
		    spec, rc == ERROR_NOENT ? EX_NOUSER : EX_NOPERM, why);
	dest = log_choose(*fg);
	if (dest != LOG_DEST_SYSLOG)
		*fg = 1;
	else if (!log_syslog_reachable(DAEMON_SYSLOG_PATH))
		fprintf(stderr,
		    "%s: WARNING: syslog is unreachable (nothing listens on "
		    "%s): once in the background every log line is lost. "
		    "Start a syslog daemon, or run with -f under a supervisor "
		    "(systemd sends -f's lines to the journal).\n",
		    spec->name, DAEMON_SYSLOG_PATH);
	log_init(spec->name, dest);
	service_init(pid_file != NULL ? pid_file : o->pid_file);
	if (geteuid() == 0 && user[0] == '\0')
		log_warn("running as root: set `user:` in the configuration "
		         "(or `user: root` to keep root and silence this)");
	return EX_OK;
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
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	struct rlimit nocore = {0, 0};
	struct yamlconf_errors errs;
	const char *path = NULL, *pid_file = NULL, *user = NULL;
	void *cfg = NULL;
	int c, check = 0, fg = 0, louder = 0, rc, code;

	if (sodium_init() < 0)
		return cli_fail(EX_SOFTWARE, "libsodium failed to start");
	/* Secrets must never reach a core file or a debugger of our user. */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	while (
	    (c = getopt_long(argc, argv, "c:nfhVvqp:u:", opts, NULL)) != -1) {
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
		case 'v':
			louder++;
			break;
		case 'q':
			louder--;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'u':
			user = optarg;
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
		const char *u = user != NULL ? user : spec->opts(cfg)->user;
		if (u[0] != '\0' && getpwnam(u) == NULL) {
			code = cli_fail(
			    EX_NOUSER, "user: no user '%s' on this system", u);
			goto out;
		}
		rc = spec->check(cfg, why, sizeof(why));
		if (rc != 0)
			code =
			    cli_fail(rc == ERROR_PERM ? EX_NOPERM : EX_CONFIG,
			        "%s", why);
		else
			code = printf("%s\n", why) < 0 ? EX_IOERR : EX_OK;
		goto out;
	}
	if ((code = start(spec, cfg, user, pid_file, louder, &fg)) != EX_OK)
		goto out;
	if (spec->prepare != NULL) {
		char why[4200];
		rc = spec->prepare(cfg, why, sizeof(why));
		if (rc != 0) {
			code = fail(spec, cli_exit_code(rc), why);
			goto out;
		}
	}
	if (!fg && daemon(0, 0) != 0) {
		code = fail(spec, EX_OSERR, "cannot become a daemon");
		goto out;
	}
	rc = spec->run(cfg);
	code = rc == 0 ? EX_OK : cli_exit_code(rc);
	if (rc == 0)
		service_done();
out:
	yamlconf_errors_release(&errs);
	free(cfg);
	return code;
}
