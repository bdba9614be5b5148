/*
 * The one layer over LMDB (DESIGN.md §9): how every store of the project
 * opens an environment, begins and commits transactions, turns LMDB's and
 * the system's codes into the project's errors, lays out big-endian
 * numbers, measures how full the map is and keeps room on the disk. The
 * audit log (audit/), the broker's store (broker/store.c) and the agent's
 * state (agents/state.c) use it, so that §9's rules are coded, and
 * reviewed, once.
 *
 * <lmdb.h> is included by this header and, directly, only by db/ and the
 * stores' .c files (audit/'s, broker/store.c, agents/state.c); no other
 * public header includes it (audit/audit.h and broker/store.h take the
 * MDB types from here). MDB handles stay in those files: the rest of the
 * broker holds the transaction store_begin gives it only to hand it back
 * to the store and the audit log, and never calls LMDB itself. policy/
 * and proto/ do not link this library.
 */
#ifndef DB_DB_H
#define DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "common/error.h"

/* ---------------------------------------------------------- environment */

/* db_open.flags */
#define DB_RDONLY    0x1 /* a reader: MDB_RDONLY, the writer's map size */
#define DB_EMPTY_NEW 0x2 /* a writer takes a 0-byte data.mdb for a new one */

/*
 * LMDB flags that trade durability or safety for speed. db_env_open
 * refuses them: a commit must be on disk when it returns (DESIGN.md §9).
 */
#define DB_FORBIDDEN                                                           \
	(MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_MAPASYNC | MDB_NOLOCK)

/* The LMDB flags a store may add (db_open.mdb_flags); any other is refused. */
#define DB_ALLOWED (MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMEMINIT)

/* How to open an environment. */
struct db_open {
	size_t mapsize;      /* writer: the map size, required (> 0) */
	unsigned maxdbs;     /* named databases the stores open */
	unsigned maxreaders; /* 0: LMDB's default (126) */
	unsigned flags;      /* DB_RDONLY, DB_EMPTY_NEW */
	unsigned mdb_flags;  /* from DB_ALLOWED only */
};

/*
 * Opens the environment in folder dir, after db_file_check (below) found
 * its data.mdb whole, so that LMDB never maps a file shorter than its
 * meta pages say (SIGBUS) nor takes an emptied one for new.
 *
 * A writer creates dir (0700, with its parents) and the files (0600) when
 * missing, and sets the map size o->mapsize; a file that is EMPTY (unless
 * DB_EMPTY_NEW) or DAMAGED is refused, so that nothing new is started over
 * an old store's remains. A reader (DB_RDONLY) opens MDB_RDONLY with the
 * map size the writer recorded (o->mapsize is ignored) and needs write
 * access to lock.mdb to register; a folder without an environment is
 * ERROR_NOENT and any state but OK ERROR_TAMPERED. Commits are durable:
 * every flag of DB_FORBIDDEN, and any flag outside DB_ALLOWED, is
 * ERROR_INVAL before anything is touched; so is a writer's mapsize 0.
 * Either clears the reader slots of dead processes (mdb_reader_check)
 * once open.
 *
 * Errors as db_error; ERROR_TAMPERED also when LMDB refuses the meta
 * pages. On success the caller closes *out with db_env_close. LMDB forbids
 * opening one environment twice in a process: close one before opening
 * another on the same folder.
 */
WUR int db_env_open(const char *dir, const struct db_open *o, MDB_env **out);

/* mdb_env_close; NULL is a no-op. Every transaction must have ended. */
void db_env_close(MDB_env *env);

/* mdb_reader_check: clears stale reader slots, their count in *dead. */
WUR int db_reader_check(MDB_env *env, int *dead);

/* What db_file_check finds in a folder. */
enum db_file_state {
	DB_FILE_OK,      /* data.mdb holds every page its meta pages count */
	DB_FILE_NONE,    /* neither data.mdb nor lock.mdb: never a store */
	DB_FILE_MISSING, /* lock.mdb without data.mdb: the file was removed */
	DB_FILE_EMPTY,   /* data.mdb of 0 bytes */
	DB_FILE_DAMAGED, /* a meta page invalid, or the file too short */
};

/*
 * Looks at dir's data.mdb as LMDB would before mapping it, without mapping
 * it: both meta pages must be LMDB's (flag, magic, version 1, a page size
 * LMDB writes), and the file must hold the root pages of the newer one's
 * trees. LMDB itself does not look: it maps the file whole, and the first
 * page touched past the end of a shorter one kills the process with
 * SIGBUS; a file of 0 bytes it takes for a new environment. (The file may
 * end before the newer meta page's last page: a page LMDB allocated and
 * freed in one transaction is never written. Such pages must be free,
 * which audit_env_walk checks, before it reads any tree.) Sets *state;
 * for every state but OK and NONE, why (may be NULL) gets the fault in
 * words. Returns 0 when it could look, or the error that stopped it
 * (ERROR_PERM, ERROR_IO). A damaged file is read three times, 20 ms
 * apart, before it is called so: a reader may catch a meta page while a
 * writer rewrites it.
 */
WUR int db_file_check(
    const char *dir, enum db_file_state *state, char *why, size_t n);

/*
 * Whether the list of named databases in txn's environment (LMDB's main
 * database) reads whole, for a store that found none of its own by name:
 * a walk of it finds exactly the entries the meta page counts, without
 * error, in order, each a name of printable ASCII with a database record
 * as its value, and none starting with prefix. ERROR_OK means the folder
 * simply holds no such store; ERROR_TAMPERED that the list is damaged (a
 * page of random bytes, a name altered), which LMDB itself may only show
 * as a name not found.
 */
WUR int db_catalog_check(MDB_txn *txn, const char *prefix);

/* ------------------------------------------------------- transactions */

/*
 * Begins a transaction: flags 0 for a write transaction, MDB_RDONLY for a
 * reader; parent (may be NULL) a write transaction to nest in. A reader
 * whose map the writer has grown meanwhile (MDB_MAP_RESIZED) adopts the
 * new size and retries. *txn is NULL on failure. Errors as db_error.
 */
WUR int db_txn_begin(
    MDB_env *env, MDB_txn *parent, unsigned flags, MDB_txn **txn);

/*
 * mdb_txn_commit, which ends txn whatever it returns, as a project error.
 * LMDB reports a write the file system cut short as EIO ("short write,
 * filesystem full?" in its source): EIO with less than DB_NOSPC_ROOM left
 * on the file system is ERROR_NOSPC, the retryable full disk it is, not
 * a failing one.
 */
#define DB_NOSPC_ROOM ((uint64_t)4 << 20)
WUR int db_txn_commit(MDB_txn *txn);

/* mdb_txn_abort; NULL is a no-op. */
void db_txn_abort(MDB_txn *txn);

/* -------------------------------------------------------------- errors */

/*
 * The project error for an LMDB or errno result, the one mapping every
 * store uses. 0 is ERROR_OK. Storage running out: MDB_MAP_FULL is
 * ERROR_MAPFULL, ENOSPC and EDQUOT ERROR_NOSPC (both retryable),
 * MDB_TXN_FULL ERROR_TOOBIG (too much in one commit: split it; a store
 * that cannot split treats it as full). Damage: MDB_CORRUPTED,
 * MDB_PAGE_NOTFOUND, MDB_INVALID and MDB_VERSION_MISMATCH are
 * ERROR_TAMPERED. MDB_NOTFOUND is ERROR_NOTFOUND, MDB_KEYEXIST
 * ERROR_EXISTS; EACCES, EPERM, EROFS and ELOOP ERROR_PERM; ENOENT
 * ERROR_NOENT; EIO ERROR_IO; ENOMEM ERROR_NOMEM; anything else ERROR_DB.
 * A value that already is a project error (put_msg's checks) is returned
 * as it is: LMDB's codes lie far below ERROR_LAST.
 */
int db_error(int rc);

/* ------------------------------------------------------------- numbers */

/* Big-endian 64-bit keys and values, so that byte order is number order. */
static inline void
db_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static inline uint64_t
db_be64_get(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* --------------------------------------------------------------- usage */

/* How full an environment is (DESIGN.md §9: the map size monitored). */
struct db_usage {
	uint64_t mapsize; /* bytes of the map */
	uint64_t psize;   /* bytes of a page */
	uint64_t pages;   /* the last page written + 1: the high-water mark */
	uint64_t free_pages; /* on LMDB's free list, written but reusable */
	uint64_t hwm;        /* pages * psize */
	uint64_t used;       /* (pages - free_pages) * psize */
};

/*
 * Fills *u. With count_free, counts LMDB's free list (database 0: arrays
 * of page numbers, each led by its count) in a read transaction of its
 * own, O(free list); without, free_pages is 0 and used the high-water
 * mark, at the cost of two stat calls. The storage thresholds are on
 * used with count_free: pages LMDB has freed are room.
 */
WUR int db_usage(MDB_env *env, bool count_free, struct db_usage *u);

/*
 * Keeps room bytes of the disk allocated to a writer's data file beyond
 * what the store uses (up to the map size), so that a full disk shows
 * here, ahead of need, and not first as a failed commit: what frees space
 * still has somewhere to write. Pages LMDB has freed inside the file count
 * as room. *reserved (0 at first) is how far the file is allocated, kept
 * by the caller between calls. Cheap while at least half the room is
 * allocated past the file's last page; otherwise it counts the free pages
 * and allocates (posix_fallocate) a quarter more than asked. ERROR_NOSPC
 * when the disk has no such room left; 0 without reserving on a file
 * system that cannot (EOPNOTSUPP).
 */
WUR int db_reserve(MDB_env *env, uint64_t room, uint64_t *reserved);

#endif
