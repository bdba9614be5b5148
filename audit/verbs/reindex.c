/*
 * `concordat audit reindex`: rebuild the indexes from the log's entries,
 * with the data folder to itself (never while the broker runs).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sysexits.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "db/db.h"

static const char reindex_help[] =
    "usage: concordat audit reindex --data DIR\n"
    "\n"
    "Rebuilds the indexes that queries read from the log's entries, which\n"
    "it does not change, and checks them as 'verify --indexes' does: the\n"
    "remedy when that check finds an index damaged. Needs write access to\n"
    "data.mdb and lock.mdb, and the data folder to itself: it refuses\n"
    "(exit 75) while the broker runs, which holds the folder's lock.\n"
    "Stop the broker, reindex (seconds per million entries), start it.\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct counts {
	uint64_t size, indexed, entries;
};

/* Rebuilds the indexes under the folder's lock; a project error. */
static int
rebuild(const char *dir, const char *origin, uint64_t mapsize, struct counts *n)
{
	struct reader r = {NULL, NULL, NULL};
	int rc;

	rc = audit_env_open(dir, (size_t)mapsize, 0, &r.env);
	if (rc == 0 && (rc = audit_txn_begin(r.env, 0, &r.txn)) == 0 &&
	    (rc = audit_open(r.env, r.txn, origin, 0, &r.a)) == 0 &&
	    (rc = audit_reindex(r.a, r.txn, &n->entries)) == 0 &&
	    (rc = audit_size(r.a, r.txn, &n->size)) == 0 &&
	    (rc = audit_indexed(r.a, r.txn, &n->indexed)) == 0) {
		rc = db_txn_commit(r.txn);
		r.txn = NULL;
	}
	verbs_close_log(&r);
	return rc;
}

/* What reindexing failed with, worded; a sysexits code. */
static int
failed(const char *dir, int rc)
{
	if (rc == ERROR_PERM)
		return cli_fail(EX_NOPERM,
		    "audit reindex: %s: permission denied (write access to "
		    "data.mdb and lock.mdb is needed)",
		    dir);
	if (rc == ERROR_TAMPERED)
		return cli_fail(EX_DATAERR,
		    "audit reindex: %s: the log's entries are damaged; run "
		    "'concordat audit verify'",
		    dir);
	return cli_fail(cli_exit_code(rc),
	    "audit reindex: %s: %s (nothing was changed)", dir,
	    error_strerror(rc));
}

int
audit_verb_reindex(int argc, char **argv)
{
	char origin[CHECKPOINT_ORIGIN_MAX + 1], holder[128];
	struct strbuf sb = STRBUF_INIT;
	struct counts n = {0, 0, 0};
	struct reader r;
	const char *dir = NULL;
	uint64_t used, mapsize;
	int c, rc, lock;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			fputs(reindex_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("reindex", argv[optind]);
	if (dir == NULL)
		return verbs_missing("reindex", "--data DIR");
	/* A log that is there, with its origin and the broker's map size. */
	if ((rc = verbs_open_log("reindex", dir, &r)) != 0)
		return rc;
	snprintf(origin, sizeof(origin), "%s", audit_origin(r.a));
	rc = audit_env_usage(r.env, &used, &mapsize);
	verbs_close_log(&r);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit reindex: %s: %s", dir,
		    error_strerror(rc));
	/* One writer per data folder: not while the broker runs. */
	rc = audit_env_lock(
	    dir, "concordat audit reindex", &lock, holder, sizeof(holder));
	if (rc == ERROR_BUSY)
		return cli_fail(EX_TEMPFAIL,
		    "audit reindex: %s: the data folder is in use (pid and "
		    "program from its lock file: %s); stop the broker first, "
		    "nothing was changed",
		    dir, holder);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc),
		    "audit reindex: %s: cannot take the data folder's lock: %s",
		    dir, error_strerror(rc));
	rc = rebuild(dir, origin, mapsize, &n);
	audit_env_unlock(lock);
	if (rc != 0)
		return failed(dir, rc);
	if (n.indexed == 0)
		strbuf_addf(&sb,
		    "reindexed: %s: no index entries: the %" PRIu64
		    " entries are fewer than a batch and are read one by "
		    "one\n",
		    origin, n.size);
	else
		strbuf_addf(&sb,
		    "reindexed: %s: %" PRIu64
		    " index entries for entries 0 to %" PRIu64
		    "; the last %" PRIu64
		    " are read one by one until a batch fills\n",
		    origin, n.entries, n.indexed - 1, n.size - n.indexed);
	(void)verbs_write(&sb); /* the stdout check says what failed */
	return EX_OK;
}
