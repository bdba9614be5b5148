/*
 * The data folder: its files before LMDB maps them (audit_env_check,
 * db_file_check under audit's names), its lock, which the broker and
 * `concordat audit reindex` take, and the walk through every page of the
 * environment that the broker's start check runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "common/fileio.h"
#include "common/lockfile.h"

#define LOCK_NAME "concordat.lock"

_Static_assert((int)AUDIT_FILE_OK == (int)DB_FILE_OK &&
        (int)AUDIT_FILE_NONE == (int)DB_FILE_NONE &&
        (int)AUDIT_FILE_MISSING == (int)DB_FILE_MISSING &&
        (int)AUDIT_FILE_EMPTY == (int)DB_FILE_EMPTY &&
        (int)AUDIT_FILE_DAMAGED == (int)DB_FILE_DAMAGED,
    "audit's file states are db's");

int
audit_env_check(
    const char *dir, enum audit_file_state *state, char *why, size_t n)
{
	enum db_file_state st;
	int rc = db_file_check(dir, &st, why, n);

	*state = (enum audit_file_state)st;
	return rc;
}

/* ------------------------------------------------------------- the lock */

/* The first line of the lock file, printable, into holder. */
int
audit_env_lock(
    const char *dir, const char *who, int *out, char *holder, size_t n)
{
	char path[PATH_MAX];
	int rc;

	*out = -1;
	if ((rc = fileio_mkdirs(dir, 0700)) != 0 ||
	    (rc = fileio_join(path, sizeof(path), dir, LOCK_NAME)) != 0)
		return rc;
	rc = lockfile_take(path, out, holder, n);
	if (rc == ERROR_BUSY && holder != NULL && n > 0 && holder[0] == '\0')
		snprintf(holder, n, "a process that has not said which");
	if (rc != 0)
		return rc;
	/* Who holds it, for the next one to be told. */
	if ((rc = lockfile_write(*out, getpid(), who)) != 0) {
		lockfile_release(*out);
		*out = -1;
	}
	return rc;
}

void
audit_env_unlock(int fd)
{
	lockfile_release(fd);
}

/* ------------------------------------------------------------ the walk */

#define FREE_DBI 0 /* LMDB's free list is database 0 */

struct walk {
	struct audit_walk *res;
	int (*check)(void *, const char *, const MDB_val *, const MDB_val *);
	void *arg;
	uint64_t free_pages, last_pg;
	uint64_t file_pages; /* pages file_pages .. last_pg: never written */
	uint8_t *past;       /* a bit for each, set when it is free */
	volatile uint8_t touched; /* the bytes read, so that they are read */
};

static int fault(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fault(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->res->why, sizeof(w->res->why), fmt, ap);
	va_end(ap);
	return ERROR_TAMPERED;
}

/*
 * Reads the first and last byte of v: every page of a value lies inside the
 * file once both ends do, since the file holds every page up to its last.
 */
static void
touch(struct walk *w, const MDB_val *v)
{
	if (v->mv_size > 0)
		w->touched ^= ((const uint8_t *)v->mv_data)[0] ^
		    ((const uint8_t *)v->mv_data)[v->mv_size - 1];
}

/* A free list entry: a count of page numbers, then the numbers. */
static int
free_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
	size_t n, pg;

	if (k->mv_size != sizeof(size_t) || v->mv_size < sizeof(size_t))
		return ERROR_TAMPERED;
	memcpy(&n, v->mv_data, sizeof(n));
	if (n > v->mv_size / sizeof(size_t) - 1 ||
	    v->mv_size != (n + 1) * sizeof(size_t))
		return ERROR_TAMPERED;
	for (size_t i = 1; i <= n; i++) {
		memcpy(&pg, (const uint8_t *)v->mv_data + i * sizeof(pg),
		    sizeof(pg));
		if (pg < 2 || pg > w->last_pg)
			return ERROR_TAMPERED;
		if (pg >= w->file_pages) {
			uint64_t b = pg - w->file_pages;
			w->past[b / 8] |= (uint8_t)(1u << b % 8);
		}
	}
	w->free_pages += n;
	return ERROR_OK;
}

/*
 * Reads every entry of dbi, named name, checks their number against the
 * database's own count, and adds its pages to the total.
 */
static int
walk_db(struct walk *w, MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	MDB_cursor *c;
	MDB_stat st;
	MDB_val k, v;
	uint64_t n = 0;
	int rc;

	if ((rc = mdb_stat(txn, dbi, &st)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return fault(w, "database %s: %s", name, mdb_strerror(rc));
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		touch(w, &k);
		touch(w, &v);
		if (dbi == FREE_DBI)
			rc = free_entry(w, &k, &v);
		else if (w->check != NULL && name[0] != '(')
			rc = w->check(w->arg, name, &k, &v);
		if (rc != 0) {
			mdb_cursor_close(c);
			return fault(w,
			    "database %s: entry %" PRIu64 " is malformed", name,
			    n);
		}
		n++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return fault(w, "database %s: reading entry %" PRIu64 ": %s",
		    name, n, mdb_strerror(rc));
	if (n != st.ms_entries)
		return fault(w,
		    "database %s: %" PRIu64 " entries where it counts %zu",
		    name, n, st.ms_entries);
	w->res->databases++;
	w->res->entries += n;
	w->res->pages +=
	    st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	return ERROR_OK;
}

int
audit_env_walk(MDB_env *env, MDB_txn *txn,
    int (*check)(void *arg, const char *db, const MDB_val *k, const MDB_val *v),
    void *arg, struct audit_walk *res)
{
	struct walk w;
	MDB_envinfo info;
	MDB_stat est;
	struct stat st;
	mdb_filehandle_t fd;
	MDB_dbi main, dbi;
	MDB_cursor *c;
	MDB_val k, v;
	char name[64];
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.res = res;
	w.check = check;
	w.arg = arg;
	if ((rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &est)) != 0 ||
	    (rc = mdb_env_get_fd(env, &fd)) != 0)
		return db_error(rc);
	if (fstat(fd, &st) != 0)
		return ERROR_IO;
	w.last_pg = info.me_last_pgno;
	w.file_pages = (uint64_t)st.st_size / est.ms_psize;
	/*
	 * The pages past the end are checked against txn's free list only
	 * when the meta page read is txn's: a writer that committed since
	 * may have counted pages that only its own free list holds.
	 */
	if (info.me_last_txnid != mdb_txn_id(txn))
		w.file_pages = w.last_pg + 1;
	if (w.file_pages <= w.last_pg &&
	    (w.past = calloc((w.last_pg - w.file_pages) / 8 + 1, 1)) == NULL)
		return ERROR_NOMEM;
	rc = walk_db(&w, txn, FREE_DBI, "(free pages)");
	/* The pages past the end of the file, before any is read. */
	for (uint64_t pg = w.file_pages; rc == 0 && pg <= w.last_pg; pg++) {
		uint64_t b = pg - w.file_pages;
		if ((w.past[b / 8] & (1u << b % 8)) == 0)
			rc = fault(&w,
			    "data.mdb is %" PRIu64 " bytes (%" PRIu64
			    " pages) but its page %" PRIu64
			    ", past that end, is not free: the file was "
			    "truncated",
			    (uint64_t)st.st_size, w.file_pages, pg);
	}
	free(w.past);
	if (rc != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0)
		return fault(&w, "the main database: %s", mdb_strerror(rc));
	if ((rc = walk_db(&w, txn, main, "(main)")) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, main, &c)) != 0)
		return fault(&w, "the main database: %s", mdb_strerror(rc));
	/* The main database names the others. */
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(name) ||
		    memchr(k.mv_data, '\0', k.mv_size) != NULL) {
			mdb_cursor_close(c);
			return fault(&w,
			    "the main database names a database "
			    "with a malformed name");
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((rc = mdb_dbi_open(txn, name, 0, &dbi)) != 0) {
			mdb_cursor_close(c);
			return fault(
			    &w, "database %s: %s", name, mdb_strerror(rc));
		}
		if ((rc = walk_db(&w, txn, dbi, name)) != 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return fault(&w, "the main database: %s", mdb_strerror(rc));
	/*
	 * No page is both in a tree and free, nor free twice: the pages
	 * counted cannot outnumber the file's. (Fewer is normal: LMDB's
	 * counts leave out the pages of duplicate-key subtrees.) A free list
	 * naming a live page would have the next commit write over it.
	 */
	res->pages += w.free_pages + 2;
	if (res->pages > w.last_pg + 1)
		return fault(&w,
		    "the file's pages do not add up: %" PRIu64 " in trees, "
		    "free or meta, where the file has %" PRIu64
		    ": the free list names pages in use",
		    res->pages, w.last_pg + 1);
	return ERROR_OK;
}
