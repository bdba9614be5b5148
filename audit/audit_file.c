/*
 * The data folder's files before LMDB maps them, and the folder's lock.
 * LMDB maps data.mdb whole and trusts it: a file shorter than its meta
 * pages say kills the reader with SIGBUS on the first page past the end,
 * and a zero-length file is taken for a new environment. audit_env_open
 * checks first; the broker and `concordat audit reindex` take the lock.
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
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "common/fileio.h"
#include "common/lockfile.h"

#if SIZE_MAX != UINT64_MAX
#error "the meta page layout below is LMDB's on 64-bit systems"
#endif

/*
 * LMDB's meta page (mdb.c, MDB_meta after the 16-byte MDB_page header), as
 * written by liblmdb 0.9 on a 64-bit system, in host byte order: the file
 * format, stable since 2011 (MDB_DATA_VERSION 1). Offsets in the page.
 */
#define META_FLAGS     10  /* u16 mp_flags */
#define META_MAGIC     16  /* u32 mm_magic */
#define META_VERSION   20  /* u32 mm_version */
#define META_PSIZE     40  /* u32 mm_dbs[FREE_DBI].md_pad: the page size */
#define META_FREE_ROOT 80  /* u64 mm_dbs[FREE_DBI].md_root */
#define META_MAIN_ROOT 128 /* u64 mm_dbs[MAIN_DBI].md_root */
#define META_LAST_PG   136 /* u64 mm_last_pg */
#define META_TXNID     144 /* u64 mm_txnid */
#define META_LEN       152
#define P_META         0x08
#define MDB_MAGIC      0xBEEFC0DEu
#define MDB_VERSION    1
#define P_INVALID      UINT64_MAX
#define PSIZE_MIN      256
#define PSIZE_MAX      65536

#define LOCK_NAME "concordat.lock"

struct meta {
	uint32_t psize;
	uint64_t free_root, main_root, last_pg, txnid;
};

static uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int say(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && n > 0) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return ERROR_OK;
}

/* Reads meta page i at off; false when it is not one LMDB would take. */
static bool
read_meta(int fd, off_t off, unsigned i, struct meta *m, char *why, size_t n)
{
	uint8_t page[META_LEN];
	ssize_t r;

	do
		r = pread(fd, page, sizeof(page), off);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(page)) {
		say(why, n,
		    "data.mdb ends before its meta page %u: the file was "
		    "truncated",
		    i);
		return false;
	}
	if ((get16(page + META_FLAGS) & P_META) == 0 ||
	    get32(page + META_MAGIC) != MDB_MAGIC) {
		say(why, n,
		    "data.mdb's meta page %u is not an LMDB meta page "
		    "(zeroed or overwritten)",
		    i);
		return false;
	}
	if (get32(page + META_VERSION) != MDB_VERSION) {
		say(why, n,
		    "data.mdb's meta page %u gives LMDB format version %" PRIu32
		    ", not %d",
		    i, get32(page + META_VERSION), MDB_VERSION);
		return false;
	}
	m->psize = get32(page + META_PSIZE);
	m->free_root = get64(page + META_FREE_ROOT);
	m->main_root = get64(page + META_MAIN_ROOT);
	m->last_pg = get64(page + META_LAST_PG);
	m->txnid = get64(page + META_TXNID);
	return true;
}

static bool
root_ok(uint64_t root, uint64_t last_pg)
{
	return root == P_INVALID || (root >= 2 && root <= last_pg);
}

/* A tree's root page past the end of the file: the first page LMDB reads. */
static bool
root_past(uint64_t root, uint64_t pages)
{
	return root != P_INVALID && root >= pages;
}

/* One look at data.mdb, open as fd: sets *state. */
static int
check_file(int fd, enum audit_file_state *state, char *why, size_t n)
{
	struct meta m[2], *cur;
	struct stat st;
	uint64_t pages;

	*state = AUDIT_FILE_DAMAGED;
	if (fstat(fd, &st) != 0)
		return ERROR_IO;
	if (!S_ISREG(st.st_mode))
		return say(why, n, "data.mdb is not a regular file");
	if (st.st_size == 0) {
		*state = AUDIT_FILE_EMPTY;
		return say(why, n,
		    "data.mdb is empty (0 bytes): the file was truncated or "
		    "replaced");
	}
	if (!read_meta(fd, 0, 0, &m[0], why, n))
		return ERROR_OK;
	if (m[0].psize < PSIZE_MIN || m[0].psize > PSIZE_MAX ||
	    (m[0].psize & (m[0].psize - 1)) != 0)
		return say(why, n,
		    "data.mdb's meta page 0 gives a page size of %" PRIu32
		    " bytes, which LMDB never writes",
		    m[0].psize);
	if (!read_meta(fd, m[0].psize, 1, &m[1], why, n))
		return ERROR_OK;
	/* LMDB takes the meta page of the later transaction. */
	cur = &m[m[1].txnid > m[0].txnid];
	if (cur->psize != m[0].psize)
		return say(why, n,
		    "data.mdb's meta pages disagree on the page size (%" PRIu32
		    " and %" PRIu32 " bytes)",
		    m[0].psize, m[1].psize);
	if (cur->last_pg < 1 || cur->last_pg > (UINT64_MAX >> 17) ||
	    !root_ok(cur->free_root, cur->last_pg) ||
	    !root_ok(cur->main_root, cur->last_pg))
		return say(why, n,
		    "data.mdb's meta page %d is inconsistent (last page "
		    "%" PRIu64 ", roots %" PRIu64 " and %" PRIu64 ")",
		    (int)(cur - m), cur->last_pg, cur->free_root,
		    cur->main_root);
	/*
	 * The file may end before the meta page's last page: LMDB counts
	 * pages it allocated, and one freed in the same transaction is never
	 * written. Such pages are free (audit_env_walk checks that they
	 * are); a tree's root never is.
	 */
	pages = (uint64_t)st.st_size / cur->psize;
	if (root_past(cur->free_root, pages) ||
	    root_past(cur->main_root, pages))
		return say(why, n,
		    "data.mdb is %" PRIu64 " bytes (%" PRIu64
		    " pages of %" PRIu32 ") but its meta page counts %" PRIu64
		    " pages, its trees rooted at pages %" PRIu64 " and %" PRIu64
		    ": the file was truncated",
		    (uint64_t)st.st_size, pages, cur->psize, cur->last_pg + 1,
		    cur->free_root, cur->main_root);
	*state = AUDIT_FILE_OK;
	return ERROR_OK;
}

static int
errno_error(int e)
{
	switch (e) {
	case ENOENT:
		return ERROR_NOENT;
	case EACCES:
	case EPERM:
	case ELOOP:
		return ERROR_PERM;
	case ENOMEM:
		return ERROR_NOMEM;
	default:
		return ERROR_IO;
	}
}

int
audit_env_check(
    const char *dir, enum audit_file_state *state, char *why, size_t n)
{
	char path[PATH_MAX];
	int fd, rc;

	*state = AUDIT_FILE_DAMAGED;
	if (why != NULL && n > 0)
		why[0] = '\0';
	if ((rc = fileio_join(path, sizeof(path), dir, "data.mdb")) != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		/* LMDB creates lock.mdb before data.mdb: one without the
		 * other is a folder whose log was removed. */
		if ((rc = fileio_join(path, sizeof(path), dir, "lock.mdb")) !=
		    0)
			return rc;
		if (access(path, F_OK) == 0) {
			*state = AUDIT_FILE_MISSING;
			return say(why, n,
			    "data.mdb is missing, though lock.mdb shows an "
			    "LMDB environment was here: the file was removed");
		}
		*state = AUDIT_FILE_NONE;
		return ERROR_OK;
	}
	if (fd < 0)
		return errno_error(errno);
	/*
	 * A writer rewrites a meta page while we may read it: a torn read
	 * can look like damage. Damage stays; a torn read does not.
	 */
	for (int tries = 0; tries < 3; tries++) {
		if (tries > 0) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if ((rc = check_file(fd, state, why, n)) != 0 ||
		    *state != AUDIT_FILE_DAMAGED)
			break;
	}
	close(fd);
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
		return audit_mdb_error(rc);
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
