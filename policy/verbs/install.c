/*
 * `concordat policy install NEW LIVE --keyring DIR [--data DIR | --pid
 * PID] [--wait SECONDS]`: checks NEW and that its note is complete, puts
 * NEW and NEW.sig at LIVE and LIVE.sig, and asks the broker to reload.
 *
 * Order (docs/policy.md): both files are first written whole under
 * temporary names beside LIVE and fsynced; then LIVE.sig is renamed into
 * place, then LIVE, then the folder is fsynced. The YAML at the live path
 * thus only ever changes to one whose complete note is already at
 * LIVE.sig. A crash between the two renames leaves the old YAML with the
 * new note: a broker starting then refuses it (it fails closed, exit 78,
 * naming the mismatch) and running install again completes the change.
 * With --data, install waits for the broker to archive NEW (its sign of
 * activation); a broker that refuses it gets the previous pair back, so
 * that a refused file never waits at the live path for the next restart.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "common/lockfile.h"
#include "common/yamlconf.h"
#include "policy/verbs/policy_verbs.h"

#define WHO "policy install"

/* LIVE split into its folder and name, and LIVE.sig. */
struct live {
	char dir[4096], base[256], path[4096], sig[4096];
	mode_t mode;
};

static int
live_init(struct live *l, const char *path)
{
	char *d = strdup(path), *b = strdup(path);
	struct stat st;
	int rc = 0;

	if (d == NULL || b == NULL)
		rc = -1;
	else if (snprintf(l->dir, sizeof(l->dir), "%s", dirname(d)) >=
	        (int)sizeof(l->dir) ||
	    snprintf(l->base, sizeof(l->base), "%s", basename(b)) >=
	        (int)sizeof(l->base) ||
	    snprintf(l->path, sizeof(l->path), "%s", path) >=
	        (int)sizeof(l->path) ||
	    snprintf(l->sig, sizeof(l->sig), "%s.sig", path) >=
	        (int)sizeof(l->sig))
		rc = -1;
	free(d);
	free(b);
	l->mode = stat(path, &st) == 0 ? st.st_mode & 0777 : 0644;
	return rc;
}

/*
 * Puts yaml and note at LIVE and LIVE.sig: both staged whole and fsynced,
 * the note renamed first, then the YAML, then the folder fsynced.
 */
static int
put_pair(const struct live *l, const void *yaml, size_t ylen, const void *note,
    size_t nlen)
{
	char stem[300], ty[512], ts[512], py[4096 + 512], ps[4096 + 512];
	int rc;

	snprintf(stem, sizeof(stem), ".%s.install", l->base);
	if ((rc = fileio_write_unique(l->dir, stem, ".sig", note, nlen, l->mode,
	         ts, sizeof(ts))) != 0)
		return rc;
	if ((rc = fileio_write_unique(l->dir, stem, ".yaml", yaml, ylen,
	         l->mode, ty, sizeof(ty))) != 0) {
		snprintf(ps, sizeof(ps), "%s/%s", l->dir, ts);
		unlink(ps);
		return rc;
	}
	snprintf(ps, sizeof(ps), "%s/%s", l->dir, ts);
	snprintf(py, sizeof(py), "%s/%s", l->dir, ty);
	if (rename(ps, l->sig) != 0) {
		unlink(ps);
		unlink(py);
		return ERROR_IO;
	}
	if (rename(py, l->path) != 0) {
		unlink(py);
		return ERROR_IO;
	}
	return fileio_fsync_dir(l->dir);
}

/* The pid of the broker holding data's lock: 0 when none runs, -1 error. */
static pid_t
broker_pid(const char *data)
{
	char path[4096], holder[256] = "";
	int fd = -1, rc;

	if (snprintf(path, sizeof(path), "%s/concordat.lock", data) >=
	    (int)sizeof(path))
		return -1;
	rc = lockfile_take(path, &fd, holder, sizeof(holder));
	if (rc == ERROR_OK) {
		lockfile_release(fd);
		return 0;
	}
	if (rc != ERROR_BUSY)
		return -1;
	if (strstr(holder, "concordat-broker") == NULL) {
		cli_fail(0, WHO ": %s is held by '%s', not concordat-broker",
		    path, holder);
		return -1;
	}
	return lockfile_pid(holder);
}

/* Waits up to ms for DATA/agreements/<hex>.yaml, the broker's archive. */
static bool
wait_archived(const char *data, const char *hex, long ms)
{
	char path[4096 + 100];
	struct timespec ts = {0, 50 * 1000 * 1000};

	snprintf(path, sizeof(path), "%s/agreements/%s.yaml", data, hex);
	for (long t = 0;; t += 50) {
		if (access(path, F_OK) == 0)
			return true;
		if (t >= ms)
			return false;
		nanosleep(&ts, NULL);
	}
}

/* The previous LIVE and LIVE.sig, kept to put back after a refusal. */
struct previous {
	uint8_t *yaml, *note;
	size_t ylen, nlen;
	struct policy *p;
};

static void
previous_load(const struct live *l, struct previous *o)
{
	struct yamlconf_errors errs;

	memset(o, 0, sizeof(*o));
	if (fileio_read(l->path, POLICY_FILE_MAX, &o->yaml, &o->ylen) != 0)
		return;
	if (fileio_read(l->sig, AGREEMENT_NOTE_MAX, &o->note, &o->nlen) != 0) {
		o->note = NULL;
		o->nlen = 0;
	}
	yamlconf_errors_init(&errs);
	if (policy_load_buffer(o->yaml, o->ylen, l->path, &errs, &o->p) != 0)
		o->p = NULL;
	yamlconf_errors_release(&errs);
}

static void
previous_free(struct previous *o)
{
	free(o->yaml);
	free(o->note);
	policy_free(o->p);
}

/* Signals the broker and, with data, waits for it to take s. */
static int
reload(const struct live *l, const struct policy_verbs_signed *s,
    const char *data, pid_t pid, long wait_ms, const struct previous *prev)
{
	if (data != NULL && (pid = broker_pid(data)) < 0)
		return cli_fail(EX_UNAVAILABLE,
		    WHO
		    ": %s: cannot tell which broker holds it; %s installed, "
		    "not signalled",
		    data, l->path);
	if (data == NULL && pid == 0) {
		printf("%s: installed (no --data or --pid: no broker was asked "
		       "to reload)\n",
		    l->path);
		return EX_OK;
	}
	if (pid == 0) {
		printf("%s: installed; no broker runs on %s: it takes the "
		       "agreement at its next start\n",
		    l->path, data);
		return EX_OK;
	}
	if (kill(pid, SIGHUP) != 0)
		return cli_fail(EX_UNAVAILABLE,
		    WHO ": %s installed, but cannot signal the broker (pid "
		        "%ld): %s",
		    l->path, (long)pid, strerror(errno));
	if (data == NULL) {
		printf(
		    "%s: installed; sent SIGHUP to pid %ld (see the broker's "
		    "log for its answer)\n",
		    l->path, (long)pid);
		return EX_OK;
	}
	if (wait_archived(data, policy_sha256_hex(s->p), wait_ms)) {
		printf("%s: installed and activated by the broker (pid %ld): "
		       "agreement %s version %lld, sha256 %s\n",
		    l->path, (long)pid, policy_agreement(s->p),
		    policy_version(s->p), policy_sha256_hex(s->p));
		return EX_OK;
	}
	/* Refused (its keyring is not the one given?): put the last back. */
	if (prev->yaml != NULL &&
	    put_pair(l, prev->yaml, prev->ylen,
	        prev->note ? (const void *)prev->note : "", prev->nlen) == 0)
		return cli_fail(EX_TEMPFAIL,
		    WHO ": the broker (pid %ld) did not activate %s within "
		        "%ld ms (see its log and the audit log's "
		        "policy_refused events): %s and %s.sig are back as "
		        "they were",
		    (long)pid, s->path, wait_ms, l->path, l->path);
	return cli_fail(EX_TEMPFAIL,
	    WHO ": the broker (pid %ld) did not activate %s within %ld ms "
	        "(see its log and the audit log's policy_refused events); %s "
	        "holds it",
	    (long)pid, s->path, wait_ms, l->path);
}

static int
refuse(const struct policy_verbs_signed *s, const struct agreement_check *c,
    const char *live)
{
	char miss[512] = "";

	policy_verbs_check_print(stderr, s, c);
	for (size_t i = 0; i < c->nmissing; i++) {
		size_t u = strlen(miss);
		snprintf(miss + u, sizeof(miss) - u, "%s%s", i ? ", " : "",
		    c->missing[i]);
	}
	return cli_fail(EX_DATAERR,
	    WHO ": %s: refused: not signed by every party's guardian (not "
	        "signed: %s); %s left as it was",
	    s->path, miss, live);
}

int
policy_verb_install(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keyring", required_argument, NULL, 'k'},
	    {"data", required_argument, NULL, 'd'},
	    {"pid", required_argument, NULL, 'p'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_verbs_signed s = {0};
	struct agreement_check *chk = NULL;
	struct previous prev = {0};
	struct live l;
	const char *keyring = NULL, *data = NULL;
	long pid = 0, wait_ms = 10000;
	char *end;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "k:d:p:w:h", opts)) != -1) {
		switch (c) {
		case 'k':
			keyring = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end != '\0' || pid <= 0)
				return cli_fail(EX_USAGE,
				    WHO ": --pid: not a process id '%s'",
				    optarg);
			break;
		case 'w':
			wait_ms = strtol(optarg, &end, 10) * 1000;
			if (*end != '\0' || wait_ms < 0)
				return cli_fail(EX_USAGE,
				    WHO
				    ": --wait: not a number of seconds '%s'",
				    optarg);
			break;
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 2 || keyring == NULL || (data && pid))
		return policy_verbs_usage(stderr, EX_USAGE);
	if (live_init(&l, argv[optind + 1]) != 0)
		return cli_fail(
		    EX_USAGE, WHO ": %s: path too long", argv[optind + 1]);
	if ((rc = policy_verbs_signed_load(WHO, argv[optind], &s)) != 0)
		return rc;
	if ((rc = policy_verbs_signed_check(WHO, &s, keyring, &chk)) != 0)
		goto out;
	if (!chk->complete) {
		rc = refuse(&s, chk, l.path);
		goto out;
	}
	previous_load(&l, &prev);
	if (prev.p != NULL && policy_verbs_version_warn(WHO, prev.p, s.p) < 0) {
		rc = cli_fail(EX_OSERR, WHO ": out of memory");
		goto out;
	}
	if ((rc = put_pair(&l, s.yaml, s.yaml_len, s.note, s.note_len)) != 0) {
		rc =
		    cli_fail(cli_exit_code(rc), WHO ": cannot put %s at %s: %s",
		        s.path, l.path, error_strerror(rc));
		goto out;
	}
	rc = reload(&l, &s, data, (pid_t)pid, wait_ms, &prev);
out:
	previous_free(&prev);
	free(chk);
	policy_verbs_signed_release(&s);
	return rc;
}
