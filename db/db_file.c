/*
 * data.mdb before LMDB maps it (DESIGN.md §9). LMDB maps the file whole
 * and trusts it: a file shorter than its meta pages say kills the reader
 * with SIGBUS on the first page past the end, and a zero-length file is
 * taken for a new environment. db_env_open checks first; audit_env_check
 * and the broker's start check call it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "db/db.h"

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
check_file(int fd, enum db_file_state *state, char *why, size_t n)
{
	struct meta m[2], *cur;
	struct stat st;
	uint64_t pages;

	*state = DB_FILE_DAMAGED;
	if (fstat(fd, &st) != 0)
		return ERROR_IO;
	if (!S_ISREG(st.st_mode))
		return say(why, n, "data.mdb is not a regular file");
	if (st.st_size == 0) {
		*state = DB_FILE_EMPTY;
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
	*state = DB_FILE_OK;
	return ERROR_OK;
}

int
db_file_check(const char *dir, enum db_file_state *state, char *why, size_t n)
{
	char path[PATH_MAX];
	int fd, rc;

	*state = DB_FILE_DAMAGED;
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
			*state = DB_FILE_MISSING;
			return say(why, n,
			    "data.mdb is missing, though lock.mdb shows an "
			    "LMDB environment was here: the file was removed");
		}
		*state = DB_FILE_NONE;
		return ERROR_OK;
	}
	if (fd < 0) {
		/* A file the system will not open: an I/O failure, not the
		 * database's (db_error's ERROR_DB). */
		rc = db_error(errno);
		return rc == ERROR_DB ? ERROR_IO : rc;
	}
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
		    *state != DB_FILE_DAMAGED)
			break;
	}
	close(fd);
	return rc;
}
