/*
 * db/, the one LMDB layer, on real environments in scratch folders: the
 * modes of a new environment, the refusal of flags that trade durability
 * away, the error mapping (a map made full for real, a disk made full for
 * real on a tmpfs of the test's own), the big-endian helpers, the usage
 * figures and the disk reserve, and stale reader slots cleared.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "db/db.h"
#include "tests/lib/scratch.h"
#include "tests/unit/testutil.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

struct fx {
	char dir[128];
	char sub[192]; /* dir/a/b: not there yet */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	scratch_dir_in(f->dir, sizeof(f->dir), "db");
	snprintf(f->sub, sizeof(f->sub), "%s/a/b", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	scratch_rmrf(f->dir);
	free(f);
	return 0;
}

static const struct db_open writer = {.mapsize = 4 * MiB, .maxdbs = 4};

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Puts n values of len bytes under keys from first, in one commit. */
static int
put_n(MDB_env *env, unsigned first, unsigned n, size_t len)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8];
	int rc;

	if ((rc = db_txn_begin(env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = db_error(mdb_dbi_open(txn, NULL, 0, &dbi))) != 0)
		goto fail;
	for (unsigned i = first; i < first + n; i++) {
		MDB_val k = {sizeof(key), key}, v = {len, NULL};
		db_be64_put(key, i);
		if ((rc = db_error(mdb_put(txn, dbi, &k, &v, MDB_RESERVE))) !=
		    0)
			goto fail;
		memset(v.mv_data, (int)i, len);
	}
	return db_txn_commit(txn);
fail:
	db_txn_abort(txn);
	return rc;
}

/* Deletes every value, in one commit: their pages go on the free list. */
static void
del_all(MDB_env *env)
{
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(db_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 0), 0);
	assert_int_equal(db_txn_commit(txn), 0);
}

/* ------------------------------------------------------------- opening */

/* A new environment: its folders 0700 and its files 0600, whatever the
 * umask lets through. */
static void
new_env_modes(void **state)
{
	struct fx *f = *state;
	MDB_env *env;
	char path[256];
	mode_t old = umask(0);

	assert_int_equal(db_env_open(f->sub, &writer, &env), 0);
	umask(old);
	assert_int_equal(mode_of(f->sub), 0700);
	snprintf(path, sizeof(path), "%s/a", f->dir);
	assert_int_equal(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->sub);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->sub);
	assert_int_equal(mode_of(path), 0600);
	/* The map size asked for, and durable: none of the flags that
	 * trade it away. */
	unsigned flags;
	struct db_usage u;
	assert_int_equal(mdb_env_get_flags(env, &flags), 0);
	assert_int_equal(flags & DB_FORBIDDEN, 0);
	assert_int_equal(db_usage(env, false, &u), 0);
	assert_int_equal(u.mapsize, 4 * MiB);
	db_env_close(env);
	db_env_close(NULL);
}

/* Every flag that trades durability or locking away is refused before
 * anything is created; so is any flag not allowed, and a writer without
 * a map size. */
static void
forbidden_flags(void **state)
{
	struct fx *f = *state;
	static const unsigned refused[] = {MDB_NOSYNC, MDB_NOMETASYNC,
	    MDB_WRITEMAP, MDB_MAPASYNC, MDB_NOLOCK, MDB_RDONLY, MDB_NOSUBDIR,
	    MDB_FIXEDMAP};
	struct db_open o = writer;
	MDB_env *env = (MDB_env *)1;
	struct stat st;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		o.mdb_flags = refused[i];
		assert_int_equal(db_env_open(f->sub, &o, &env), ERROR_INVAL);
		assert_null(env);
		assert_int_not_equal(stat(f->sub, &st), 0);
	}
	o.mdb_flags = MDB_NOSYNC | MDB_NOTLS;
	assert_int_equal(db_env_open(f->sub, &o, &env), ERROR_INVAL);
	o.mdb_flags = 0;
	o.flags = 0x80;
	assert_int_equal(db_env_open(f->sub, &o, &env), ERROR_INVAL);
	o.flags = 0;
	o.mapsize = 0;
	assert_int_equal(db_env_open(f->sub, &o, &env), ERROR_INVAL);
	assert_int_not_equal(stat(f->sub, &st), 0);
	/* What is allowed opens. */
	o.mapsize = MiB;
	o.mdb_flags = MDB_NOTLS | MDB_NORDAHEAD;
	assert_int_equal(db_env_open(f->sub, &o, &env), 0);
	db_env_close(env);
}

/* What the folder holds decides what may open it. */
static void
file_states(void **state)
{
	struct fx *f = *state;
	struct db_open reader = {.maxdbs = 4, .flags = DB_RDONLY};
	struct db_open empty_new = writer;
	enum db_file_state st;
	MDB_env *env;
	char path[256], why[256];

	/* Nothing there: a reader finds no environment. */
	assert_int_equal(db_file_check(f->sub, &st, NULL, 0), 0);
	assert_int_equal(st, DB_FILE_NONE);
	assert_int_equal(db_env_open(f->sub, &reader, &env), ERROR_NOENT);
	assert_null(env);
	assert_int_equal(db_env_open(f->sub, &writer, &env), 0);
	db_env_close(env);
	assert_int_equal(db_file_check(f->sub, &st, NULL, 0), 0);
	assert_int_equal(st, DB_FILE_OK);
	assert_int_equal(db_env_open(f->sub, &reader, &env), 0);
	db_env_close(env);
	/* Emptied: refused, unless the writer takes it for new. */
	snprintf(path, sizeof(path), "%s/data.mdb", f->sub);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(db_file_check(f->sub, &st, why, sizeof(why)), 0);
	assert_int_equal(st, DB_FILE_EMPTY);
	assert_non_null(strstr(why, "empty"));
	assert_int_equal(db_env_open(f->sub, &reader, &env), ERROR_TAMPERED);
	assert_int_equal(db_env_open(f->sub, &writer, &env), ERROR_TAMPERED);
	empty_new.flags = DB_EMPTY_NEW;
	assert_int_equal(db_env_open(f->sub, &empty_new, &env), 0);
	db_env_close(env);
	/* Overwritten: refused by every opener, before LMDB maps it. */
	scratch_spit(
	    path, "not an LMDB file, not at all, no meta page here", 48, 0600);
	assert_int_equal(db_file_check(f->sub, &st, why, sizeof(why)), 0);
	assert_int_equal(st, DB_FILE_DAMAGED);
	assert_int_equal(db_env_open(f->sub, &writer, &env), ERROR_TAMPERED);
	assert_int_equal(db_env_open(f->sub, &empty_new, &env), ERROR_TAMPERED);
	assert_int_equal(db_env_open(f->sub, &reader, &env), ERROR_TAMPERED);
	/* Removed, lock.mdb left: a writer starts again. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(db_file_check(f->sub, &st, NULL, 0), 0);
	assert_int_equal(st, DB_FILE_MISSING);
	assert_int_equal(db_env_open(f->sub, &reader, &env), ERROR_TAMPERED);
	assert_int_equal(db_env_open(f->sub, &writer, &env), 0);
	db_env_close(env);
}

/* -------------------------------------------------------------- errors */

/* The one mapping, code by code. */
static void
error_mapping(void **state)
{
	(void)state;
	assert_int_equal(db_error(MDB_SUCCESS), ERROR_OK);
	/* Storage running out: retryable. */
	assert_int_equal(db_error(MDB_MAP_FULL), ERROR_MAPFULL);
	assert_int_equal(db_error(ENOSPC), ERROR_NOSPC);
	assert_int_equal(db_error(EDQUOT), ERROR_NOSPC);
	assert_int_equal(db_error(MDB_TXN_FULL), ERROR_TOOBIG);
	/* Damage. */
	assert_int_equal(db_error(MDB_CORRUPTED), ERROR_TAMPERED);
	assert_int_equal(db_error(MDB_PAGE_NOTFOUND), ERROR_TAMPERED);
	assert_int_equal(db_error(MDB_INVALID), ERROR_TAMPERED);
	assert_int_equal(db_error(MDB_VERSION_MISMATCH), ERROR_TAMPERED);
	/* Records and files. */
	assert_int_equal(db_error(MDB_NOTFOUND), ERROR_NOTFOUND);
	assert_int_equal(db_error(MDB_KEYEXIST), ERROR_EXISTS);
	assert_int_equal(db_error(EACCES), ERROR_PERM);
	assert_int_equal(db_error(EPERM), ERROR_PERM);
	assert_int_equal(db_error(EROFS), ERROR_PERM);
	assert_int_equal(db_error(ELOOP), ERROR_PERM);
	assert_int_equal(db_error(ENOENT), ERROR_NOENT);
	assert_int_equal(db_error(EIO), ERROR_IO);
	assert_int_equal(db_error(ENOMEM), ERROR_NOMEM);
	/* The rest is the database's. */
	assert_int_equal(db_error(MDB_BAD_TXN), ERROR_DB);
	assert_int_equal(db_error(MDB_READERS_FULL), ERROR_DB);
	assert_int_equal(db_error(EINVAL), ERROR_DB);
	/* A project error already is left as it is. */
	assert_int_equal(db_error(ERROR_INVAL), ERROR_INVAL);
	assert_int_equal(db_error(ERROR_NOSPC), ERROR_NOSPC);
	assert_int_equal(db_error(ERROR_LAST), ERROR_DB);
}

/* The codes LMDB really returns, through the mapping. */
static void
real_errors(void **state)
{
	struct fx *f = *state;
	struct db_open tiny = {.mapsize = 64 * KiB, .maxdbs = 1};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	unsigned stored;
	int rc;

	/* A map of 64 KiB fills up: ERROR_MAPFULL, and what was committed
	 * before stays. */
	assert_int_equal(db_env_open(f->sub, &tiny, &env), 0);
	for (stored = 0; stored < 1000; stored++)
		if ((rc = put_n(env, stored, 1, 1 * KiB)) != 0)
			break;
	assert_int_equal(rc, ERROR_MAPFULL);
	assert_true(stored > 2 && stored < 64);
	assert_int_equal(db_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	db_be64_put(key, stored - 1);
	assert_int_equal(db_error(mdb_get(txn, dbi, &k, &v)), 0);
	assert_int_equal(v.mv_size, 1 * KiB);
	/* A key that is not there. */
	db_be64_put(key, stored + 1);
	assert_int_equal(db_error(mdb_get(txn, dbi, &k, &v)), ERROR_NOTFOUND);
	db_txn_abort(txn);
	db_txn_abort(NULL);
	/* A key that is. */
	assert_int_equal(db_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	db_be64_put(key, 0);
	v.mv_size = 1;
	v.mv_data = key;
	assert_int_equal(
	    db_error(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE)), ERROR_EXISTS);
	db_txn_abort(txn);
	/* A nested transaction commits into its parent. */
	MDB_txn *child;
	assert_int_equal(db_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(db_txn_begin(env, txn, 0, &child), 0);
	assert_int_equal(mdb_dbi_open(child, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_drop(child, dbi, 0), 0);
	assert_int_equal(db_txn_commit(child), 0);
	assert_int_equal(db_txn_commit(txn), 0);
	/* The full map has room again once the freed pages may be reused:
	 * after a commit no reader can need them. */
	assert_int_equal(put_n(env, 0, 1, 16), 0);
	assert_int_equal(put_n(env, 1, 1, 16), 0);
	assert_int_equal(put_n(env, 2, 8, 1 * KiB), 0);
	db_env_close(env);

	/* A file that is not LMDB's, opened past the check: MDB_INVALID is
	 * damage. */
	char path[256];
	snprintf(path, sizeof(path), "%s/data.mdb", f->sub);
	uint8_t junk[8192];
	memset(junk, 0x5a, sizeof(junk));
	scratch_spit(path, junk, sizeof(junk), 0600);
	assert_int_equal(mdb_env_create(&env), 0);
	rc = mdb_env_open(env, f->sub, MDB_RDONLY, 0600);
	mdb_env_close(env);
	assert_int_equal(rc, MDB_INVALID);
	assert_int_equal(db_error(rc), ERROR_TAMPERED);
	assert_int_equal(db_env_open(f->sub, &writer, &env), ERROR_TAMPERED);
}

/* ------------------------------------------------------------- numbers */

static void
be64_round_trip(void **state)
{
	static const uint64_t values[] = {0, 1, 0xff, 0x100,
	    0x0102030405060708ull, (uint64_t)1 << 63, UINT64_MAX - 1,
	    UINT64_MAX};
	static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t b[8], prev[8];

	(void)state;
	db_be64_put(b, 0x0102030405060708ull);
	assert_memory_equal(b, want, 8);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		db_be64_put(b, values[i]);
		assert_true(db_be64_get(b) == values[i]);
		/* Byte order is number order: what LMDB's keys sort by. */
		if (i > 0)
			assert_true(memcmp(prev, b, 8) < 0);
		memcpy(prev, b, 8);
	}
	tu_seed(7);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = tu_rand(), y = tu_rand();
		uint8_t bx[8], by[8];
		db_be64_put(bx, x);
		db_be64_put(by, y);
		assert_true(db_be64_get(bx) == x);
		assert_int_equal(memcmp(bx, by, 8) < 0, x < y);
	}
}

/* --------------------------------------------------------------- usage */

static void
usage_figures(void **state)
{
	struct fx *f = *state;
	struct db_open o = {.mapsize = 16 * MiB, .maxdbs = 1};
	struct db_usage fresh, full, quick, freed;
	MDB_env *env;

	assert_int_equal(db_env_open(f->sub, &o, &env), 0);
	assert_int_equal(db_usage(env, true, &fresh), 0);
	assert_int_equal(fresh.mapsize, 16 * MiB);
	assert_int_equal(fresh.psize, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_true(fresh.pages >= 2); /* the meta pages */
	assert_int_equal(fresh.hwm, fresh.pages * fresh.psize);
	assert_int_equal(
	    fresh.used, fresh.hwm - fresh.free_pages * fresh.psize);
	/* 2 MiB in: the figures follow. */
	assert_int_equal(put_n(env, 0, 512, 4 * KiB), 0);
	assert_int_equal(db_usage(env, true, &full), 0);
	assert_true(full.hwm >= fresh.hwm + 2 * MiB);
	assert_true(full.used >= 2 * MiB);
	assert_true(full.used <= full.hwm);
	/* Deleted: the pages stay written but go on the free list, so the
	 * high-water mark holds and what is used falls. Two commits, since
	 * a page freed in the last one may still be read. */
	del_all(env);
	assert_int_equal(put_n(env, 0, 1, 16), 0);
	assert_int_equal(put_n(env, 1, 1, 16), 0);
	assert_int_equal(db_usage(env, true, &freed), 0);
	assert_true(freed.hwm >= full.hwm);
	assert_true(freed.free_pages >= 512);
	assert_int_equal(
	    freed.used, (freed.pages - freed.free_pages) * freed.psize);
	assert_true(freed.used < 1 * MiB);
	/* Without counting the free list: the high-water mark alone. */
	assert_int_equal(db_usage(env, false, &quick), 0);
	assert_int_equal(quick.free_pages, 0);
	assert_int_equal(quick.used, quick.hwm);
	assert_int_equal(quick.hwm, freed.hwm);
	db_env_close(env);
}

/* The disk reserve: the file allocated ahead of what the store uses. */
static void
reserve_room(void **state)
{
	struct fx *f = *state;
	struct db_open o = {.mapsize = 64 * MiB, .maxdbs = 1};
	struct db_usage u;
	MDB_env *env;
	uint64_t reserved = 0, again;
	struct stat st;
	char path[256];

	snprintf(path, sizeof(path), "%s/data.mdb", f->sub);
	assert_int_equal(db_env_open(f->sub, &o, &env), 0);
	assert_int_equal(put_n(env, 0, 16, 1 * KiB), 0);
	assert_int_equal(db_reserve(env, 8 * MiB, &reserved), 0);
	assert_int_equal(db_usage(env, true, &u), 0);
	/* A quarter more than asked, past what is used. */
	assert_true(reserved >= u.used + 8 * MiB + 2 * MiB);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size >= reserved);
	/* While half the room is still there, nothing more is done. */
	again = reserved;
	assert_int_equal(put_n(env, 16, 16, 1 * KiB), 0);
	assert_int_equal(db_reserve(env, 8 * MiB, &again), 0);
	assert_true(again == reserved);
	/* Never past the map. */
	assert_int_equal(db_reserve(env, 1024 * MiB, &again), 0);
	assert_true(again == 64 * MiB);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size == 64 * MiB);
	db_env_close(env);
}

/* ------------------------------------------------------------- readers */

/* The reader slots of processes, by pid, as mdb_reader_list shows them. */
struct slots {
	pid_t pid;
	int found;
};

static int
slot_line(const char *msg, void *arg)
{
	struct slots *s = arg;
	int pid;

	if (sscanf(msg, "%d", &pid) == 1 && pid == (int)s->pid)
		s->found++;
	return 0;
}

static int
slots_of(MDB_env *env, pid_t pid)
{
	struct slots s = {pid, 0};

	assert_true(mdb_reader_list(env, slot_line, &s) >= 0);
	return s.found;
}

/* A child that dies holding a read transaction: its slot stays. */
static pid_t
die_reading(const char *dir)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct db_open r = {.maxdbs = 1, .flags = DB_RDONLY};
		MDB_env *env;
		MDB_txn *txn;
		if (db_env_open(dir, &r, &env) != 0 ||
		    db_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		_exit(0); /* no abort, no close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return pid;
}

static void
stale_readers(void **state)
{
	struct fx *f = *state;
	MDB_env *env;
	pid_t pid;
	int dead;

	assert_int_equal(db_env_open(f->sub, &writer, &env), 0);
	assert_int_equal(put_n(env, 0, 1, 16), 0);
	pid = die_reading(f->sub);
	assert_int_equal(slots_of(env, pid), 1);
	assert_int_equal(db_reader_check(env, &dead), 0);
	assert_int_equal(dead, 1);
	assert_int_equal(slots_of(env, pid), 0);
	assert_int_equal(db_reader_check(env, &dead), 0);
	assert_int_equal(dead, 0);
	db_env_close(env);
	/* Opening clears them too. */
	pid = die_reading(f->sub);
	assert_int_equal(db_env_open(f->sub, &writer, &env), 0);
	assert_int_equal(slots_of(env, pid), 0);
	db_env_close(env);
}

/* ----------------------------------------------------------- full disk */

/*
 * On a file system of 256 KiB (a tmpfs in a mount namespace of the
 * test's own): commits fail with ERROR_NOSPC, whether the file system
 * refuses a write (ENOSPC) or cuts it short (EIO, near a full disk),
 * never ERROR_IO or ERROR_DB; the reserve says so ahead of need.
 */
static void
disk_full(void **state)
{
	struct fx *f = *state;
	struct db_open o = {.mapsize = 64 * MiB, .maxdbs = 1};
	MDB_env *env;
	uint64_t reserved = 0;
	unsigned stored;
	int rc;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		fail_msg("a mount namespace of our own: %s (run as root)",
		    strerror(errno));
	assert_int_equal(
	    mount("tmpfs", f->dir, "tmpfs", 0, "size=256k,mode=0700"), 0);
	assert_int_equal(db_env_open(f->dir, &o, &env), 0);
	assert_int_equal(db_reserve(env, 1 * MiB, &reserved), ERROR_NOSPC);
	for (stored = 0; stored < 1000; stored++)
		if ((rc = put_n(env, 2 * stored, 2, 6 * KiB)) != 0)
			break;
	assert_int_equal(rc, ERROR_NOSPC);
	assert_true(stored > 2);
	db_env_close(env);
	assert_int_equal(umount2(f->dir, MNT_DETACH), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(new_env_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(forbidden_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(file_states, setup, teardown),
	    cmocka_unit_test(error_mapping),
	    cmocka_unit_test_setup_teardown(real_errors, setup, teardown),
	    cmocka_unit_test(be64_round_trip),
	    cmocka_unit_test_setup_teardown(usage_figures, setup, teardown),
	    cmocka_unit_test_setup_teardown(reserve_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(stale_readers, setup, teardown),
	    /* last: it leaves the test in a mount namespace of its own */
	    cmocka_unit_test_setup_teardown(disk_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
