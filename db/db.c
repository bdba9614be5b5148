/*
 * DESIGN.md §9's LMDB rules, coded once: opening an environment,
 * transactions, the error mapping, usage figures and the disk reserve.
 * The audit log, the broker's store and the agent's state call it; the
 * check of data.mdb before it is mapped is in db_file.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/fileio.h"
#include "db/db.h"

int
db_error(int rc)
{
	/* Already ours (a store's own check): LMDB's codes are far lower. */
	if (rc < 0 && rc > ERROR_LAST)
		return rc;
	switch (rc) {
	case MDB_SUCCESS:
		return ERROR_OK;
	case MDB_MAP_FULL:
		return ERROR_MAPFULL;
	case ENOSPC:
	case EDQUOT:
		return ERROR_NOSPC;
	case MDB_TXN_FULL:
		return ERROR_TOOBIG;
	case MDB_NOTFOUND:
		return ERROR_NOTFOUND;
	case MDB_KEYEXIST:
		return ERROR_EXISTS;
	case EACCES:
	case EPERM:
	case EROFS:
	case ELOOP:
		return ERROR_PERM;
	case ENOENT:
		return ERROR_NOENT;
	case EIO:
		return ERROR_IO;
	case ENOMEM:
		return ERROR_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return ERROR_TAMPERED;
	default:
		return ERROR_DB;
	}
}

/* ---------------------------------------------------------- environment */

/* What the folder's state allows: 0, or the refusal. */
static int
file_allows(enum db_file_state state, unsigned flags)
{
	if ((flags & DB_RDONLY) != 0) {
		if (state == DB_FILE_NONE)
			return ERROR_NOENT;
		return state == DB_FILE_OK ? ERROR_OK : ERROR_TAMPERED;
	}
	if (state == DB_FILE_DAMAGED)
		return ERROR_TAMPERED;
	if (state == DB_FILE_EMPTY && (flags & DB_EMPTY_NEW) == 0)
		return ERROR_TAMPERED;
	return ERROR_OK;
}

int
db_env_open(const char *dir, const struct db_open *o, MDB_env **out)
{
	enum db_file_state state;
	MDB_env *env = NULL;
	unsigned mdb_flags = o->mdb_flags;
	bool rdonly = (o->flags & DB_RDONLY) != 0;
	int rc, dead;

	*out = NULL;
	if ((mdb_flags & DB_FORBIDDEN) != 0 || (mdb_flags & ~DB_ALLOWED) != 0 ||
	    (o->flags & ~(DB_RDONLY | DB_EMPTY_NEW)) != 0 ||
	    (!rdonly && o->mapsize == 0))
		return ERROR_INVAL;
	if ((rc = db_file_check(dir, &state, NULL, 0)) != 0 ||
	    (rc = file_allows(state, o->flags)) != 0)
		return rc;
	if (rdonly)
		mdb_flags |= MDB_RDONLY;
	else if ((rc = fileio_mkdirs(dir, 0700)) != 0)
		return rc;
	if ((rc = mdb_env_create(&env)) != 0)
		return db_error(rc);
	if ((rc = mdb_env_set_maxdbs(env, o->maxdbs)) != 0)
		goto out;
	if (o->maxreaders != 0 &&
	    (rc = mdb_env_set_maxreaders(env, o->maxreaders)) != 0)
		goto out;
	/* A reader takes the map size the writer recorded. */
	if (!rdonly && (rc = mdb_env_set_mapsize(env, o->mapsize)) != 0)
		goto out;
	if ((rc = mdb_env_open(env, dir, mdb_flags, 0600)) != 0)
		goto out;
	if ((rc = mdb_reader_check(env, &dead)) != 0)
		goto out;
	*out = env;
	env = NULL;
out:
	if (env != NULL)
		mdb_env_close(env);
	return db_error(rc);
}

void
db_env_close(MDB_env *env)
{
	if (env != NULL)
		mdb_env_close(env);
}

int
db_reader_check(MDB_env *env, int *dead)
{
	*dead = 0;
	return db_error(mdb_reader_check(env, dead));
}

/* ------------------------------------------------------- transactions */

int
db_txn_begin(MDB_env *env, MDB_txn *parent, unsigned flags, MDB_txn **txn)
{
	int rc;

	rc = mdb_txn_begin(env, parent, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* The writer grew the map: adopt its size (0 = as recorded). */
		rc = mdb_env_set_mapsize(env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(env, parent, flags, txn);
	}
	if (rc != 0)
		*txn = NULL;
	return db_error(rc);
}

int
db_txn_commit(MDB_txn *txn)
{
	MDB_env *env = mdb_txn_env(txn);
	struct statvfs vfs;
	int rc = mdb_txn_commit(txn), fd;

	if (rc == EIO && mdb_env_get_fd(env, &fd) == 0 &&
	    fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < DB_NOSPC_ROOM)
		rc = ENOSPC;
	return db_error(rc);
}

void
db_txn_abort(MDB_txn *txn)
{
	if (txn != NULL)
		mdb_txn_abort(txn);
}

/* --------------------------------------------------------------- usage */

/* The pages on LMDB's free list, as of a read transaction of our own. */
static int
count_free(MDB_env *env, uint64_t *free_pages)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*free_pages = 0;
	if ((rc = db_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	/* Database 0: arrays of page numbers, each led by its count. */
	if (mdb_cursor_open(txn, 0, &c) == 0) {
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			size_t n;
			if (v.mv_size < sizeof(n))
				continue;
			memcpy(&n, v.mv_data, sizeof(n));
			*free_pages += n;
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	return ERROR_OK;
}

int
db_usage(MDB_env *env, bool count, struct db_usage *u)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	memset(u, 0, sizeof(*u));
	if ((rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &st)) != 0)
		return db_error(rc);
	u->mapsize = info.me_mapsize;
	u->psize = st.ms_psize;
	u->pages = (uint64_t)info.me_last_pgno + 1;
	u->hwm = u->pages * u->psize;
	if (count && (rc = count_free(env, &u->free_pages)) != 0)
		return rc;
	u->used = u->free_pages < u->pages
	    ? (u->pages - u->free_pages) * u->psize
	    : 0;
	return ERROR_OK;
}

int
db_reserve(MDB_env *env, uint64_t room, uint64_t *reserved)
{
	struct db_usage u;
	uint64_t end;
	int rc, fd;

	if ((rc = db_usage(env, false, &u)) != 0)
		return rc;
	/* Half the room or more allocated past the last page (or the file
	 * allocated to the map's end): enough, without counting LMDB's free
	 * pages, a cursor over its free list, on every batch. */
	if (*reserved >= u.mapsize || *reserved >= u.hwm + room / 2)
		return ERROR_OK;
	if ((rc = db_usage(env, true, &u)) != 0)
		return rc;
	/* Pages LMDB freed inside the file count as room already. */
	end = u.used + room < u.mapsize ? u.used + room : u.mapsize;
	if (end <= u.hwm || end <= *reserved)
		return ERROR_OK;
	/* A quarter more than asked: one call per quarter of the room the
	 * store grows into, not one per commit. */
	end += room / 4;
	if (end > u.mapsize)
		end = u.mapsize;
	if ((rc = mdb_env_get_fd(env, &fd)) != 0)
		return db_error(rc);
	rc = posix_fallocate(fd, (off_t)u.hwm, (off_t)(end - u.hwm));
	if (rc == ENOSPC || rc == EDQUOT)
		return ERROR_NOSPC;
	/* A file system without fallocate (EOPNOTSUPP): nothing reserved,
	 * and a full disk shows only at commit. */
	if (rc == EOPNOTSUPP)
		return ERROR_OK;
	if (rc != 0)
		return ERROR_IO;
	*reserved = end;
	return ERROR_OK;
}

/* A name LMDB lists: printable ASCII, as every store here names its own. */
static bool
printable_name(const MDB_val *k)
{
	const unsigned char *p = k->mv_data;

	if (k->mv_size == 0 || k->mv_size > 255)
		return false;
	for (size_t i = 0; i < k->mv_size; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	return true;
}

/* LMDB's order of keys: bytes, then length. */
static int
key_order(const MDB_val *a, const MDB_val *b)
{
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int c = memcmp(a->mv_data, b->mv_data, n);

	if (c != 0)
		return c;
	return (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

int
db_catalog_check(MDB_txn *txn, const char *prefix)
{
	/* The record of a named database, an MDB_db: 32-bit padding, two
	 * 16-bit words, then five pgno_t (size_t) counts and the root. */
	const size_t record = 8 + 5 * sizeof(size_t);
	size_t plen = strlen(prefix), n = 0;
	MDB_val k, v, prev = {0, NULL};
	MDB_cursor *c;
	MDB_dbi main;
	MDB_stat st;
	int rc;

	if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0 ||
	    (rc = mdb_stat(txn, main, &st)) != 0 ||
	    (rc = mdb_cursor_open(txn, main, &c)) != 0)
		return db_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!printable_name(&k) || v.mv_size != record ||
		    (n > 0 && key_order(&prev, &k) >= 0) ||
		    (k.mv_size >= plen &&
		        memcmp(k.mv_data, prefix, plen) == 0)) {
			rc = MDB_CORRUPTED;
			break;
		}
		prev = k;
		n++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc == 0 ? ERROR_TAMPERED : db_error(rc);
	return n == st.ms_entries ? ERROR_OK : ERROR_TAMPERED;
}
