/*
 * The data folder's file before LMDB maps it, its lock, and the walk of
 * every database (audit/audit_file.c), on real LMDB files: the check
 * agrees with LMDB's own idea of the file's length to the page; a file
 * cut short, emptied, removed or with a meta page overwritten is damage
 * that no opener maps; the lock keeps a second process out and names the
 * first; the walk reads a healthy log whole and reports what its check
 * refuses, and `concordat audit verify` on a damaged file exits 65, never
 * by a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audittest.h"
#include "tests/lib/scratch.h"
#include "common/fileio.h"
#include "common/isolate.h"
#include "keys/keys.h"

#define N 3000 /* leaves: past the indexes' first batches */

struct fixture {
	char *dir;  /* the log */
	char *copy; /* a copy to damage */
	char *keys; /* broker.key and broker.pub, which signed the log */
	char data[PATH_MAX], copy_data[PATH_MAX];
	char key[PATH_MAX + 16]; /* the broker.pub, for verify */
	struct audittest_key k;
};

static void
copy_file(const char *from, const char *to)
{
	uint8_t *buf;
	size_t len;
	FILE *f;

	assert_int_equal(fileio_read(from, SIZE_MAX, &buf, &len), 0);
	assert_non_null(f = fopen(to, "w"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* The copy, fresh: data.mdb and lock.mdb as the log has them. */
static void
fresh_copy(struct fixture *f)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];

	scratch_rmrf(f->copy);
	assert_int_equal(mkdir(f->copy, 0700), 0);
	copy_file(f->data, f->copy_data);
	snprintf(from, sizeof(from), "%s/lock.mdb", f->dir);
	snprintf(to, sizeof(to), "%s/lock.mdb", f->copy);
	copy_file(from, to);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct keys_secret *sk = NULL;
	struct audittest_log l;
	uint64_t rng = 7;

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	f->dir = scratch_dir("audit");
	assert_true(asprintf(&f->copy, "%s-copy", f->dir) > 0);
	assert_true(asprintf(&f->keys, "%s-keys", f->dir) > 0);
	snprintf(f->data, sizeof(f->data), "%s/data.mdb", f->dir);
	snprintf(f->copy_data, sizeof(f->copy_data), "%s/data.mdb", f->copy);
	snprintf(f->key, sizeof(f->key), "%s/broker.pub", f->keys);
	/* Signed with a broker key, for verify's --broker-key. */
	assert_int_equal(keys_generate(NULL, f->keys), 0);
	{
		char secret[PATH_MAX + 16];
		snprintf(secret, sizeof(secret), "%s/broker.key", f->keys);
		assert_int_equal(keys_load_secret(secret, &sk), 0);
	}
	memcpy(f->k.pk, sk->pub.sign_pk, sizeof(f->k.pk));
	memcpy(f->k.sk, sk->sign_sk, sizeof(f->k.sk));
	keys_secret_free(sk);
	audittest_open(&l, f->dir, 0);
	audittest_fill(&l, &f->k, 0, N, 50, 100, &rng);
	audittest_close(&l);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	scratch_rmrf(f->dir);
	scratch_rmrf(f->copy);
	scratch_rmrf(f->keys);
	free(f->dir);
	free(f->copy);
	free(f->keys);
	sodium_memzero(&f->k, sizeof(f->k));
	free(f);
	return 0;
}

static enum audit_file_state
state_of(const char *dir, char *why, size_t n)
{
	enum audit_file_state st;

	assert_int_equal(audit_env_check(dir, &st, why, n), 0);
	return st;
}

/* Overwrites len bytes at off of path with byte. */
static void
scribble(const char *path, off_t off, size_t len, int byte)
{
	uint8_t buf[8192];
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0 && len <= sizeof(buf));
	memset(buf, byte, len);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The file's length as LMDB counts it: its last page, and the next. */
static off_t
lmdb_length(const char *dir)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_env *env;

	assert_int_equal(audit_env_open(dir, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	assert_int_equal(mdb_env_stat(env, &st), 0);
	audit_env_close(env);
	return (off_t)(info.me_last_pgno + 1) * st.ms_psize;
}

/* What the walk says of the copy, run where LMDB may fault (isolate.h). */
struct walked {
	int rc;
	char why[256];
};

static int
walk_child(void *arg, void *out, size_t len)
{
	struct walked *w = out;
	struct audit_walk res;
	MDB_env *env;
	MDB_txn *txn;

	memset(w, 0, len);
	if ((w->rc = audit_env_open(arg, 0, AUDIT_RDONLY, &env)) != 0)
		return 0;
	if ((w->rc = audit_txn_begin(env, MDB_RDONLY, &txn)) == 0) {
		w->rc = audit_env_walk(env, txn, NULL, NULL, &res);
		snprintf(w->why, sizeof(w->why), "%s", res.why);
		mdb_txn_abort(txn);
	}
	audit_env_close(env);
	return 0;
}

static struct walked
walk_copy(struct fixture *f, int *death)
{
	struct walked w;

	assert_int_equal(
	    isolate_run(walk_child, f->copy, &w, sizeof(w), death) == 0,
	    *death == 0);
	return w;
}

static void
test_check_agrees_with_lmdb(void **state)
{
	struct fixture *f = *state;
	struct walked w;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char why[256], big[65536];
	MDB_val k = {3, (void *)(uintptr_t) "big"}, v = {sizeof(big), big};
	struct stat st;
	off_t need;
	int death;

	assert_int_equal(state_of(f->dir, why, sizeof(why)), AUDIT_FILE_OK);
	/*
	 * A value of sixteen pages stored and deleted in one transaction:
	 * pages LMDB counts (the meta page's last page) and never writes.
	 * The file ends before them, healthy; the check and the walk agree.
	 */
	fresh_copy(f);
	memset(big, 7, sizeof(big));
	assert_int_equal(audit_env_open(f->copy, 0, 0, &env), 0);
	assert_int_equal(audit_txn_begin(env, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "scratch", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_env_close(env);
	need = lmdb_length(f->copy);
	assert_int_equal(stat(f->copy_data, &st), 0);
	if (st.st_size >= need)
		fail_msg("the file holds every page LMDB counts (%lld of %lld "
		         "bytes): the test made no unwritten page",
		    (long long)st.st_size, (long long)need);
	assert_int_equal(state_of(f->copy, why, sizeof(why)), AUDIT_FILE_OK);
	w = walk_copy(f, &death);
	assert_int_equal(death, 0);
	if (w.rc != 0)
		fail_msg("a healthy file refused: %s", w.why);
	/* Longer is no harm either. */
	assert_int_equal(truncate(f->copy_data, need + 3 * 4096), 0);
	assert_int_equal(state_of(f->copy, why, sizeof(why)), AUDIT_FILE_OK);

	/* Cut to half: refused before it is mapped, or by the walk before
	 * a tree is read, or by the reader's death: never served. */
	fresh_copy(f);
	need = lmdb_length(f->copy);
	assert_int_equal(truncate(f->copy_data, need / 2 / 4096 * 4096), 0);
	if (state_of(f->copy, why, sizeof(why)) == AUDIT_FILE_OK) {
		w = walk_copy(f, &death);
		assert_true(death != 0 || w.rc == ERROR_TAMPERED);
		if (death == 0)
			assert_non_null(
			    strstr(w.why, "the file was truncated"));
	} else {
		assert_non_null(strstr(why, "the file was truncated"));
	}
	/* To the meta pages: no tree's root is left. */
	assert_int_equal(truncate(f->copy_data, 8192), 0);
	assert_int_equal(
	    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_DAMAGED);
	assert_non_null(strstr(why, "the file was truncated"));
}

static void
test_states(void **state)
{
	struct fixture *f = *state;
	char why[256], lock[PATH_MAX + 16];
	MDB_env *env;

	/* No folder, no files: never a log. */
	assert_int_equal(state_of("/nonexistent/concordat", why, sizeof(why)),
	    AUDIT_FILE_NONE);
	/* Emptied: and neither a reader nor a writer starts a new log. */
	fresh_copy(f);
	assert_int_equal(truncate(f->copy_data, 0), 0);
	assert_int_equal(state_of(f->copy, why, sizeof(why)), AUDIT_FILE_EMPTY);
	assert_non_null(strstr(why, "empty (0 bytes)"));
	assert_int_equal(
	    audit_env_open(f->copy, 0, AUDIT_RDONLY, &env), ERROR_TAMPERED);
	assert_int_equal(audit_env_open(f->copy, 0, 0, &env), ERROR_TAMPERED);
	assert_null(env);
	{
		struct stat st;
		assert_int_equal(stat(f->copy_data, &st), 0);
		assert_int_equal(st.st_size, 0);
	}
	/* Removed, lock.mdb left: the log was there. */
	assert_int_equal(unlink(f->copy_data), 0);
	assert_int_equal(
	    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_MISSING);
	assert_non_null(strstr(why, "data.mdb is missing"));
	assert_int_equal(
	    audit_env_open(f->copy, 0, AUDIT_RDONLY, &env), ERROR_TAMPERED);
	snprintf(lock, sizeof(lock), "%s/lock.mdb", f->copy);
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(state_of(f->copy, why, sizeof(why)), AUDIT_FILE_NONE);
	assert_int_equal(
	    audit_env_open(f->copy, 0, AUDIT_RDONLY, &env), ERROR_NOENT);

	/* Shorter than a meta page; cut to its meta pages. */
	fresh_copy(f);
	assert_int_equal(truncate(f->copy_data, 100), 0);
	assert_int_equal(
	    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_DAMAGED);
	assert_non_null(strstr(why, "ends before its meta page 0"));
	fresh_copy(f);
	assert_int_equal(truncate(f->copy_data, 8192), 0);
	assert_int_equal(
	    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_DAMAGED);
	assert_int_equal(
	    audit_env_open(f->copy, 0, AUDIT_RDONLY, &env), ERROR_TAMPERED);

	/* A meta page zeroed, either one. */
	for (int i = 0; i < 2; i++) {
		char want[64];
		fresh_copy(f);
		scribble(f->copy_data, i * 4096, 4096, 0);
		assert_int_equal(
		    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_DAMAGED);
		snprintf(want, sizeof(want), "meta page %d is not an LMDB", i);
		assert_non_null(strstr(why, want));
	}
	/* A page size LMDB never writes (meta page 0's, offset 40). */
	fresh_copy(f);
	scribble(f->copy_data, 40, 1, 0x13);
	assert_int_equal(
	    state_of(f->copy, why, sizeof(why)), AUDIT_FILE_DAMAGED);
	assert_non_null(strstr(why, "page size"));
}

static void
test_lock(void **state)
{
	struct fixture *f = *state;
	char holder[128], want[64];
	int fd, fd2, st;
	pid_t pid;

	assert_int_equal(
	    audit_env_lock(f->dir, "test-holder", &fd, holder, sizeof(holder)),
	    0);
	assert_true(fd >= 0);
	/* Another process is refused, and told who holds it. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = audit_env_lock(
		    f->dir, "second", &fd2, holder, sizeof(holder));
		snprintf(
		    want, sizeof(want), "%ld test-holder", (long)getppid());
		_exit(rc == ERROR_BUSY && fd2 == -1 && strcmp(holder, want) == 0
		        ? 0
		        : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Released, the next one takes it. */
	audit_env_unlock(fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(audit_env_lock(f->dir, "second", &fd2, NULL, 0) == 0 ? 0
		                                                           : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	audit_env_unlock(-1); /* a no-op */
}

/* A check that refuses one entry of audit.leaves. */
static int
refuse_leaf_7(void *arg, const char *db, const MDB_val *k, const MDB_val *v)
{
	int *seen = arg;

	(*seen)++;
	return strcmp(db, "audit.leaves") == 0 && k->mv_size == 8 &&
	        ((const uint8_t *)k->mv_data)[7] == 7
	    ? ERROR_TAMPERED
	    : ERROR_OK;
}

static void
test_walk(void **state)
{
	struct fixture *f = *state;
	struct audit_walk w;
	MDB_env *env;
	MDB_txn *txn;
	int seen = 0;

	assert_int_equal(audit_env_open(f->dir, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_env_walk(env, txn, NULL, NULL, &w), 0);
	/* The free list, the main database, audit's eleven. */
	assert_int_equal(w.databases, 2 + AUDIT_DBS);
	assert_true(w.entries > 3 * N); /* leaves, nodes, indexes */
	assert_true(w.pages > 2);
	assert_int_equal(
	    audit_env_walk(env, txn, refuse_leaf_7, &seen, &w), ERROR_TAMPERED);
	assert_non_null(strstr(w.why, "database audit.leaves: entry 7"));
	assert_true(seen > 0);
	mdb_txn_abort(txn);
	audit_env_close(env);
}

/* `concordat audit verify` on the copy: its exit code and stderr. */
static int
verify(struct fixture *f, char **err)
{
	return audittest_cli(NULL, err, "verify", "--data", f->copy,
	    "--broker-key", f->key, NULL);
}

static void
verify_refuses(struct fixture *f, const char *want)
{
	char *err = NULL;
	int code = verify(f, &err);

	if (code != 65 || strstr(err, want) == NULL)
		fail_msg(
		    "verify exited %d (want 65, '%s'): %s", code, want, err);
	free(err);
}

static void
test_verify_never_dies(void **state)
{
	struct fixture *f = *state;
	uint64_t rng = 11;
	unsigned found = 0;
	char *err = NULL;
	off_t len;
	int code;

	fresh_copy(f);
	assert_int_equal(verify(f, NULL), 0);
	len = lmdb_length(f->copy);
	/* Cut short: the SIGBUS that killed every reader. */
	assert_int_equal(truncate(f->copy_data, len / 2 / 4096 * 4096), 0);
	verify_refuses(f, "the file was truncated");
	assert_int_equal(truncate(f->copy_data, 8192), 0);
	verify_refuses(f, "the file was truncated");
	assert_int_equal(truncate(f->copy_data, 0), 0);
	verify_refuses(f, "data.mdb is empty");
	assert_int_equal(unlink(f->copy_data), 0);
	verify_refuses(f, "data.mdb is missing");
	/* Pages zeroed at random, which LMDB asserts on, among others: 65
	 * or 0, never a signal, in this process or the verb's. */
	for (int trial = 0; trial < 12; trial++) {
		fresh_copy(f);
		for (int i = 0; i < 3; i++)
			scribble(f->copy_data,
			    (off_t)(2 +
			        audittest_rand(&rng) %
			            (uint64_t)(len / 4096 - 2)) *
			        4096,
			    4096, trial % 2 ? 0 : 0xff);
		code = verify(f, &err);
		if (code != 0 && code != 65)
			fail_msg(
			    "trial %d: verify exited %d: %s", trial, code, err);
		if (code == 65) {
			found++;
			assert_non_null(
			    strstr(err, "concordat: audit verify: "));
		}
		free(err);
	}
	print_message("verify found damage in %u of 12 trials\n", found);
	assert_true(found > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_agrees_with_lmdb),
	    cmocka_unit_test(test_states),
	    cmocka_unit_test(test_lock),
	    cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_verify_never_dies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
