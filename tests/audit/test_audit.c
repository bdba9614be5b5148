/*
 * audit/audit.c on real LMDB files: opening, appending, roots and proofs
 * read from the stored subtrees, one checkpoint per commit, aborted
 * transactions, a full map, a reader beside a writer, and a forked log
 * caught by the checkpoint consistency check.
 */
#include <errno.h>
#include <setjmp.h>
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

typedef uint8_t hash_t[MERKLE_HASH_LEN];

static int
setup(void **state)
{
	*state = scratch_dir("audit");
	return 0;
}

static int
teardown(void **state)
{
	scratch_rmrf(*state);
	free(*state);
	return 0;
}

static char *
sub(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void
test_open(void **state)
{
	char *dir = sub(*state, "log"), *empty = sub(*state, "empty");
	struct audittest_log l;
	struct audit *a;
	MDB_env *env;
	MDB_txn *txn;
	struct stat st;

	/* A reader needs an existing log. */
	assert_int_equal(
	    audit_env_open(dir, 0, AUDIT_RDONLY, &env), ERROR_NOENT);
	assert_null(env);
	/* A writer creates the folder, private, and the files. */
	assert_int_equal(audit_env_open(dir, 0, 0, &env), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(audit_txn_begin(env, 0, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, 0, &a), ERROR_INVAL);
	assert_int_equal(
	    audit_open(env, txn, "bad origin", 0, &a), ERROR_INVAL);
	assert_int_equal(audit_open(env, txn, AUDITTEST_ORIGIN, 0, &a), 0);
	assert_string_equal(audit_origin(a), AUDITTEST_ORIGIN);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_free(a);
	audit_env_close(env);
	{
		char *data = sub(dir, "data.mdb");
		assert_int_equal(stat(data, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		free(data);
	}
	/* Another origin for the same log is refused. */
	assert_int_equal(audit_env_open(dir, 0, 0, &env), 0);
	assert_int_equal(audit_txn_begin(env, 0, &txn), 0);
	assert_int_equal(
	    audit_open(env, txn, "concordat.test/other", 0, &a), ERROR_CONFIG);
	mdb_txn_abort(txn);
	audit_env_close(env);
	/* Readers take the origin, or check the one they expect. */
	assert_int_equal(audit_env_open(dir, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, AUDIT_RDONLY, &a), 0);
	assert_string_equal(audit_origin(a), AUDITTEST_ORIGIN);
	/* and cannot write */
	{
		struct event ev;
		struct audit_head head;
		struct audittest_key k;
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_BROKER_STARTED;
		audittest_key(&k, 1);
		assert_int_equal(audit_append(a, txn, &ev, NULL), ERROR_INVAL);
		assert_int_equal(
		    audit_checkpoint(a, txn, checkpoint_sign_key, k.sk, &head),
		    ERROR_INVAL);
	}
	audit_free(a);
	assert_int_equal(
	    audit_open(env, txn, "concordat.test/other", AUDIT_RDONLY, &a),
	    ERROR_CONFIG);
	assert_int_equal(
	    audit_open(env, txn, AUDITTEST_ORIGIN, AUDIT_RDONLY, &a), 0);
	audit_free(a);
	mdb_txn_abort(txn);
	audit_env_close(env);
	/* An LMDB environment without audit's databases is not a log. */
	assert_int_equal(audit_env_open(empty, 0, 0, &env), 0);
	audit_env_close(env);
	assert_int_equal(audit_env_open(empty, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(
	    audit_open(env, txn, NULL, AUDIT_RDONLY, &a), ERROR_NOTFOUND);
	mdb_txn_abort(txn);
	audit_env_close(env);
	/* The reopened log is the same log. */
	audittest_open(&l, dir, 0);
	audittest_close(&l);
	free(dir);
	free(empty);
}

static void
test_mdb_errors(void **state)
{
	(void)state;
	assert_int_equal(audit_mdb_error(0), ERROR_OK);
	assert_int_equal(audit_mdb_error(MDB_MAP_FULL), ERROR_MAPFULL);
	assert_int_equal(audit_mdb_error(ENOSPC), ERROR_NOSPC);
	assert_int_equal(audit_mdb_error(EDQUOT), ERROR_NOSPC);
	assert_int_equal(audit_mdb_error(MDB_NOTFOUND), ERROR_NOTFOUND);
	assert_int_equal(audit_mdb_error(MDB_TXN_FULL), ERROR_TOOBIG);
	assert_int_equal(audit_mdb_error(EACCES), ERROR_PERM);
	assert_int_equal(audit_mdb_error(ENOENT), ERROR_NOENT);
	assert_int_equal(audit_mdb_error(EIO), ERROR_IO);
	assert_int_equal(audit_mdb_error(MDB_CORRUPTED), ERROR_TAMPERED);
	assert_int_equal(audit_mdb_error(MDB_BAD_TXN), ERROR_DB);
}

/* Leaf hashes recomputed from the stored leaves, through a compact range. */
static void
read_leaves(
    struct audittest_log *l, MDB_txn *txn, uint64_t size, hash_t *hashes)
{
	const uint8_t *leaf;
	size_t len;

	for (uint64_t i = 0; i < size; i++) {
		assert_int_equal(audit_leaf(l->a, txn, i, &leaf, &len), 0);
		merkle_hash_leaf(leaf, len, hashes[i]);
	}
	assert_int_equal(
	    audit_leaf(l->a, txn, size, &leaf, &len), ERROR_NOTFOUND);
}

#define N_PROOF 300

static void
test_append_and_proofs(void **state)
{
	char *dir = sub(*state, "log");
	static hash_t hashes[N_PROOF];
	struct audittest_log l;
	struct audittest_key k;
	struct merkle_range r;
	struct event *ev = malloc(sizeof(*ev)), *back = malloc(sizeof(*back));
	hash_t root, root1, roots[N_PROOF + 1], path[MERKLE_MAX_PATH];
	const uint8_t *leaf;
	uint64_t rng = 42, size = 0, seq;
	MDB_txn *txn;
	size_t n, len;

	assert_non_null(ev);
	assert_non_null(back);
	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	/* commits of 1, 2, 3, ... leaves */
	for (unsigned batch = 1; size < N_PROOF; batch++) {
		struct audit_head head;
		assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
		for (unsigned j = 0; j < batch && size < N_PROOF; j++) {
			audittest_event(ev, size, 50, &rng);
			assert_int_equal(audit_append(l.a, txn, ev, &seq), 0);
			assert_int_equal(seq, size);
			size++;
		}
		assert_int_equal(audit_checkpoint(l.a, txn, checkpoint_sign_key,
		                     k.sk, &head),
		    0);
		assert_int_equal(head.cp.size, size);
		assert_int_equal(mdb_txn_commit(txn), 0);
	}
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_size(l.a, txn, &size), 0);
	assert_int_equal(size, N_PROOF);
	read_leaves(&l, txn, size, hashes);
	/* the leaves are the events' encodings */
	rng = 42;
	for (uint64_t i = 0; i < size; i++) {
		audittest_event(ev, i, 50, &rng);
		assert_int_equal(audit_leaf(l.a, txn, i, &leaf, &len), 0);
		assert_int_equal(event_decode(leaf, len, back), 0);
		assert_int_equal(back->type, ev->type);
		assert_int_equal(back->time_ms, ev->time_ms);
		assert_string_equal(back->sender, ev->sender);
		assert_int_equal(back->disclosed, ev->disclosed);
	}
	/* roots of every size, as a compact range computes them */
	merkle_range_init(&r);
	merkle_range_root(&r, roots[0]);
	for (uint64_t i = 0; i < size; i++) {
		assert_int_equal(
		    merkle_range_append(&r, hashes[i], NULL, NULL), 0);
		merkle_range_root(&r, roots[i + 1]);
	}
	for (uint64_t s = 0; s <= size; s++) {
		assert_int_equal(audit_root(l.a, txn, s, root), 0);
		assert_memory_equal(root, roots[s], 32);
	}
	assert_int_equal(audit_root(l.a, txn, size + 1, root), ERROR_INVAL);
	/* inclusion proofs from the store verify */
	for (uint64_t s = 1; s <= size; s += 7)
		for (uint64_t i = 0; i < s; i += 3) {
			assert_int_equal(
			    audit_inclusion(l.a, txn, i, s, path, &n), 0);
			assert_int_equal(
			    merkle_verify_inclusion(i, s, hashes[i],
			        (const hash_t *)path, n, roots[s]),
			    0);
		}
	assert_int_equal(
	    audit_inclusion(l.a, txn, 5, size + 1, path, &n), ERROR_INVAL);
	assert_int_equal(
	    audit_inclusion(l.a, txn, size, size, path, &n), ERROR_INVAL);
	/* consistency proofs between any two sizes verify */
	for (uint64_t s2 = 0; s2 <= size; s2 += 11)
		for (uint64_t s1 = 0; s1 <= s2; s1 += 5) {
			assert_int_equal(
			    audit_consistency(l.a, txn, s1, s2, path, &n), 0);
			memcpy(root1, roots[s1], 32);
			assert_int_equal(
			    merkle_verify_consistency(s1, s2, root1, roots[s2],
			        (const hash_t *)path, n),
			    0);
		}
	assert_int_equal(
	    audit_consistency(l.a, txn, 3, size + 1, path, &n), ERROR_INVAL);
	assert_int_equal(
	    audit_consistency(l.a, txn, 9, 8, path, &n), ERROR_INVAL);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(ev);
	free(back);
	free(dir);
}

/* Every proof of leaves [from, size) through memo, as without it. */
static void
same_through_memo(struct audittest_log *l, MDB_txn *txn,
    struct audit_memo *memo, uint64_t from, uint64_t size)
{
	hash_t p1[MERKLE_MAX_PATH], p2[MERKLE_MAX_PATH];
	size_t n1, n2;

	for (uint64_t i = from; i < size; i++) {
		assert_int_equal(
		    audit_inclusion(l->a, txn, i, size, p1, &n1), 0);
		assert_int_equal(
		    audit_inclusion_memo(l->a, txn, memo, i, size, p2, &n2), 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(p1, p2, n1 * sizeof(hash_t));
	}
}

/*
 * Proofs read through a memo of the tree's nodes equal those read
 * straight from LMDB: for each commit's leaves against its own tree,
 * after an aborted transaction whose nodes the memo had read (reset, as
 * its contract says), and for every leaf of every size; a memo never
 * reset is refused.
 */
static void
test_proofs_through_memo(void **state)
{
	char *dir = sub(*state, "log");
	struct audit_memo *memo = calloc(1, sizeof(*memo));
	struct event *ev = malloc(sizeof(*ev));
	struct audittest_log l;
	hash_t path[MERKLE_MAX_PATH];
	uint64_t rng = 7, size = 0, seq;
	MDB_txn *txn;
	size_t n;

	assert_non_null(memo);
	assert_non_null(ev);
	audittest_open(&l, dir, 0);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(
	    audit_inclusion_memo(l.a, txn, memo, 0, 0, path, &n), ERROR_INVAL);
	mdb_txn_abort(txn);
	for (unsigned batch = 1; size < N_PROOF; batch += 3) {
		uint64_t from = size;
		bool abort = batch % 4 == 0;
		assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
		for (unsigned j = 0; j < batch && size < N_PROOF; j++) {
			audittest_event(ev, size, 50, &rng);
			assert_int_equal(audit_append(l.a, txn, ev, &seq), 0);
			size++;
		}
		audit_memo_reset(memo);
		same_through_memo(&l, txn, memo, from, size);
		if (abort) { /* these leaves never were: others take them */
			mdb_txn_abort(txn);
			size = from;
		} else {
			assert_int_equal(mdb_txn_commit(txn), 0);
		}
	}
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	for (uint64_t s = 1; s <= size; s += 13) {
		audit_memo_reset(memo);
		same_through_memo(&l, txn, memo, 0, s);
	}
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(ev);
	free(memo);
	free(dir);
}

/* Counts the stored checkpoints by walking audit.checkpoints. */
static unsigned
count_checkpoints(MDB_env *env)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;

	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "audit.checkpoints", 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return (unsigned)st.ms_entries;
}

static void
test_checkpoint_per_commit(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	struct audit_head head, again, latest;
	struct audit_verify_result res;
	struct checkpoint cp;
	struct event ev;
	hash_t root;
	uint64_t rng = 7;
	MDB_txn *txn;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	/* No checkpoint yet; a first one may sign the empty tree. */
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_latest(l.a, txn, &head), ERROR_NOTFOUND);
	mdb_txn_abort(txn);
	for (unsigned commit = 0; commit < 20; commit++) {
		assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
		for (unsigned j = 0; j < commit % 5 + 1; j++) {
			audittest_event(&ev, commit * 10 + j, 10, &rng);
			assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
		}
		assert_int_equal(audit_checkpoint(l.a, txn, checkpoint_sign_key,
		                     k.sk, &head),
		    0);
		/* Twice in one commit: the same note, not a second one. */
		assert_int_equal(audit_checkpoint(l.a, txn, checkpoint_sign_key,
		                     k.sk, &again),
		    0);
		assert_string_equal(head.text, again.text);
		assert_int_equal(checkpoint_verify(head.text, head.text_len,
		                     AUDITTEST_ORIGIN, k.pk, &cp),
		    0);
		assert_int_equal(audit_root(l.a, txn, cp.size, root), 0);
		assert_memory_equal(root, cp.root, 32);
		assert_int_equal(mdb_txn_commit(txn), 0);
		assert_int_equal(count_checkpoints(l.env), commit + 1);
	}
	/* A commit that adds nothing signs nothing. */
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	assert_int_equal(
	    audit_checkpoint(l.a, txn, checkpoint_sign_key, k.sk, &again), 0);
	assert_string_equal(again.text, head.text);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(count_checkpoints(l.env), 20);
	/* An aborted commit leaves no trace. */
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
	assert_int_equal(
	    audit_checkpoint(l.a, txn, checkpoint_sign_key, k.sk, &again), 0);
	mdb_txn_abort(txn);
	assert_int_equal(count_checkpoints(l.env), 20);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_latest(l.a, txn, &latest), 0);
	assert_string_equal(latest.text, head.text);
	assert_int_equal(latest.cp.size, 60);
	assert_int_equal(audit_verify(l.a, txn, k.pk, &res), 0);
	assert_int_equal(res.leaves, 60);
	assert_int_equal(res.checkpoints, 20);
	assert_true(res.has_latest);
	assert_int_equal(res.latest.size, 60);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);
}

/*
 * A map too small for what is appended: MDB_MAP_FULL surfaces as
 * ERROR_MAPFULL, the broker aborts, and what was committed is intact.
 */
static void
test_map_full(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	struct audit_verify_result res;
	struct event ev;
	uint64_t rng = 1, size, used, mapsize;
	MDB_txn *txn;
	int rc = 0;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 256 * 1024);
	audittest_fill(&l, &k, 0, 100, 50, 10, &rng);
	assert_int_equal(audit_env_usage(l.env, &used, &mapsize), 0);
	assert_int_equal(mapsize, 256 * 1024);
	assert_true(used > 0 && used < mapsize);
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	for (uint64_t i = 100; i < 100000 && rc == 0; i++) {
		audittest_event(&ev, i, 10, &rng);
		rc = audit_append(l.a, txn, &ev, NULL);
	}
	assert_int_equal(rc, ERROR_MAPFULL);
	mdb_txn_abort(txn);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_size(l.a, txn, &size), 0);
	assert_int_equal(size, 100);
	assert_int_equal(audit_verify(l.a, txn, k.pk, &res), 0);
	mdb_txn_abort(txn);
	audittest_close(&l);
	/* A larger map given at the next start lets the log grow again. */
	audittest_open(&l, dir, 64 << 20);
	audittest_fill(&l, &k, 100, 2000, 100, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_verify(l.a, txn, k.pk, &res), 0);
	assert_int_equal(res.leaves, 2100);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);
}

/*
 * A reader (another process, as `concordat audit` is) holds a snapshot
 * while the writer appends and commits: neither waits for the other.
 */
static void
test_reader_beside_writer(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	struct audit *a;
	MDB_env *env;
	MDB_txn *txn, *txn2;
	uint64_t rng = 3, size;
	pid_t pid;
	int status;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	audittest_fill(&l, &k, 0, 50, 10, 10, &rng);
	audittest_close(&l);
	assert_int_equal(audit_env_open(dir, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, AUDIT_RDONLY, &a), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The writer: must finish while the reader holds txn. */
		audittest_open(&l, dir, 0);
		audittest_fill(&l, &k, 50, 500, 10, 10, &rng);
		audittest_close(&l);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(audit_size(a, txn, &size), 0);
	assert_int_equal(size, 50); /* the snapshot */
	mdb_txn_abort(txn);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn2), 0);
	assert_int_equal(audit_size(a, txn2, &size), 0);
	assert_int_equal(size, 550);
	mdb_txn_abort(txn2);
	audit_free(a);
	audit_env_close(env);
	free(dir);
}

/*
 * The writer restarts with a larger map and grows the file past the map a
 * reader opened with: the reader's next transaction adopts the new size
 * (MDB_MAP_RESIZED) instead of failing.
 */
static void
test_reader_after_map_grows(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	struct audit_verify_result res;
	struct audit *a;
	MDB_env *env;
	MDB_txn *txn;
	uint64_t rng = 5, size, used, mapsize;
	pid_t pid;
	int status;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 256 * 1024);
	audittest_fill(&l, &k, 0, 20, 10, 10, &rng);
	audittest_close(&l);
	assert_int_equal(audit_env_open(dir, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_env_usage(env, &used, &mapsize), 0);
	assert_int_equal(mapsize, 256 * 1024);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, AUDIT_RDONLY, &a), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		audittest_open(&l, dir, 64 << 20);
		audittest_fill(&l, &k, 20, 3000, 100, 10, &rng);
		audittest_close(&l);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_env_usage(env, &used, &mapsize), 0);
	assert_int_equal(mapsize, 64 << 20);
	assert_true(used > 256 * 1024);
	assert_int_equal(audit_size(a, txn, &size), 0);
	assert_int_equal(size, 3020);
	assert_int_equal(audit_verify(a, txn, k.pk, &res), 0);
	mdb_txn_abort(txn);
	audit_free(a);
	audit_env_close(env);
	free(dir);
}

/*
 * A forked log: the broker shows one party a log and another party a log
 * that agrees for 50 leaves and then differs (a rewritten history), both
 * signed with its key. Every signature verifies; the consistency check is
 * what catches the fork, whichever way the parties meet.
 */
static void
test_forked_log(void **state)
{
	char *d1 = sub(*state, "one"), *d2 = sub(*state, "two");
	struct audittest_log l1, l2;
	struct audittest_key k;
	struct audit_head h1, h2, h1b;
	struct checkpoint c1, c2, c1b, out;
	hash_t path[MERKLE_MAX_PATH], lh;
	const uint8_t *leaf;
	uint64_t rng1 = 99, rng2 = 99;
	MDB_txn *t1, *t2;
	size_t n, len;

	audittest_key(&k, 1);
	audittest_open(&l1, d1, 0);
	audittest_fill(&l1, &k, 0, 50, 10, 20, &rng1);
	audittest_fill(&l1, &k, 50, 30, 10, 20, &rng1);
	audittest_close(&l1);
	audittest_open(&l2, d2, 0);
	audittest_fill(&l2, &k, 0, 50, 10, 20, &rng2);
	rng2 = 12345; /* another history from leaf 50 */
	audittest_fill(&l2, &k, 50, 30, 10, 20, &rng2);
	audittest_close(&l2);

	/* Party one saw log one at 80; party two saw log two at 80. */
	audittest_open(&l1, d1, 0);
	assert_int_equal(audit_txn_begin(l1.env, MDB_RDONLY, &t1), 0);
	assert_int_equal(audit_latest(l1.a, t1, &h1), 0);
	mdb_txn_abort(t1);
	audittest_close(&l1);
	audittest_open(&l2, d2, 0);
	assert_int_equal(audit_txn_begin(l2.env, MDB_RDONLY, &t2), 0);
	assert_int_equal(audit_latest(l2.a, t2, &h2), 0);
	mdb_txn_abort(t2);
	assert_int_equal(checkpoint_verify(
	                     h1.text, h1.text_len, AUDITTEST_ORIGIN, k.pk, &c1),
	    0);
	assert_int_equal(checkpoint_verify(
	                     h2.text, h2.text_len, AUDITTEST_ORIGIN, k.pk, &c2),
	    0);
	assert_int_equal(c1.size, 80);
	assert_int_equal(c2.size, 80);
	/* Comparing notes: same size, different roots. */
	assert_int_equal(
	    checkpoint_consistent(&c1, &c2, NULL, 0), ERROR_CHECKPOINT);
	/* Party one is later served log two, grown, with its proof. */
	audittest_fill(&l2, &k, 80, 20, 10, 20, &rng2);
	assert_int_equal(audit_txn_begin(l2.env, MDB_RDONLY, &t2), 0);
	assert_int_equal(audit_latest(l2.a, t2, &h2), 0);
	assert_int_equal(
	    audit_consistency(l2.a, t2, 80, h2.cp.size, path, &n), 0);
	assert_int_equal(checkpoint_advance(&c1, h2.text, h2.text_len, k.pk,
	                     (const hash_t *)path, n, &out),
	    ERROR_CHECKPOINT);
	/* An entry of log two does not prove against party one's view. */
	assert_int_equal(audit_leaf(l2.a, t2, 60, &leaf, &len), 0);
	merkle_hash_leaf(leaf, len, lh);
	assert_int_equal(audit_inclusion(l2.a, t2, 60, 80, path, &n), 0);
	assert_int_not_equal(merkle_verify_inclusion(
	                         60, 80, lh, (const hash_t *)path, n, c1.root),
	    0);
	assert_int_equal(merkle_verify_inclusion(
	                     60, 80, lh, (const hash_t *)path, n, c2.root),
	    0);
	/* Both agree with the common prefix. */
	assert_int_equal(audit_consistency(l2.a, t2, 50, 80, path, &n), 0);
	{
		struct checkpoint p = c2;
		p.size = 50;
		assert_int_equal(audit_root(l2.a, t2, 50, p.root), 0);
		assert_int_equal(
		    checkpoint_consistent(&p, &c2, (const hash_t *)path, n), 0);
		assert_int_equal(
		    checkpoint_consistent(&p, &c1, (const hash_t *)path, n),
		    ERROR_CHECKPOINT);
	}
	mdb_txn_abort(t2);
	audittest_close(&l2);
	/* Log one, grown honestly, does advance party one. */
	audittest_open(&l1, d1, 0);
	audittest_fill(&l1, &k, 80, 20, 10, 20, &rng1);
	assert_int_equal(audit_txn_begin(l1.env, MDB_RDONLY, &t1), 0);
	assert_int_equal(audit_latest(l1.a, t1, &h1b), 0);
	assert_int_equal(
	    audit_consistency(l1.a, t1, 80, h1b.cp.size, path, &n), 0);
	assert_int_equal(checkpoint_advance(&c1, h1b.text, h1b.text_len, k.pk,
	                     (const hash_t *)path, n, &c1b),
	    0);
	assert_int_equal(c1b.size, 100);
	mdb_txn_abort(t1);
	audittest_close(&l1);
	free(d1);
	free(d2);
}

static int
collect_seq(void *arg, uint64_t seq, const struct event *ev)
{
	uint64_t *sum = arg;

	(void)ev;
	sum[0]++;
	sum[1] += seq * seq + 1; /* which leaves, not only how many */
	return 0;
}

/* What two filters find: a subject's events and one message's. */
static void
two_queries(struct audit *a, MDB_txn *txn, uint64_t out[4])
{
	struct audit_filter f;
	uint64_t msg = 7;

	memset(out, 0, 4 * sizeof(out[0]));
	memset(&f, 0, sizeof(f));
	f.has_subject = true;
	audittest_subject(3, f.subject_ref);
	assert_int_equal(audit_query(a, txn, &f, collect_seq, out, NULL), 0);
	memset(&f, 0, sizeof(f));
	f.has_msg_id = true;
	memcpy(f.msg_id, &msg, sizeof(msg));
	assert_int_equal(
	    audit_query(a, txn, &f, collect_seq, out + 2, NULL), 0);
}

/* Counts the runs listed in audit.meta, and those of one level. */
static size_t
count_runs(MDB_txn *txn, unsigned level, size_t *at_level)
{
	MDB_dbi meta;
	MDB_cursor *c;
	MDB_val k = {3, (void *)(uintptr_t) "run"}, v;
	size_t n = 0;
	int rc;

	*at_level = 0;
	assert_int_equal(mdb_dbi_open(txn, "audit.meta", 0, &meta), 0);
	assert_int_equal(mdb_cursor_open(txn, meta, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || memcmp(k.mv_data, "run", 3) != 0)
			break;
		n++;
		*at_level += ((const uint8_t *)k.mv_data)[11] == level;
	}
	mdb_cursor_close(c);
	return n;
}

/*
 * Indexes are written once AUDIT_INDEX_LAG leaves wait, or on
 * audit_index; queries find every leaf either way.
 */
static void
test_index_batches(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	MDB_txn *txn;
	uint64_t rng = 11, indexed, before[4], after[4], size;
	size_t at;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	audittest_fill(&l, &k, 0, AUDIT_INDEX_LAG - 1, 100, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_indexed(l.a, txn, &indexed), 0);
	assert_int_equal(indexed, 0); /* all in the tail */
	two_queries(l.a, txn, before);
	assert_true(before[0] > 0 && before[2] == 3);
	mdb_txn_abort(txn);
	/* the append that leaves AUDIT_INDEX_LAG waiting indexes them */
	audittest_fill(&l, &k, AUDIT_INDEX_LAG - 1, 6, 100, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_indexed(l.a, txn, &indexed), 0);
	assert_int_equal(indexed, AUDIT_INDEX_LAG);
	assert_int_equal(audit_size(l.a, txn, &size), 0);
	assert_int_equal(size, AUDIT_INDEX_LAG + 5);
	two_queries(l.a, txn, before);
	mdb_txn_abort(txn);
	/* audit_index: all of them, and the same answers */
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	assert_int_equal(audit_index(l.a, txn), 0);
	assert_int_equal(audit_indexed(l.a, txn, &indexed), 0);
	assert_int_equal(indexed, AUDIT_INDEX_LAG + 5);
	assert_int_equal(count_runs(txn, 0, &at), 2);
	two_queries(l.a, txn, after);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(audit_index(l.a, txn), 0); /* nothing waits */
	assert_int_equal(mdb_txn_commit(txn), 0);
	audittest_close(&l);
	free(dir);
}

/*
 * Runs of one level merge into one of the next, sixteen at a time, up to
 * level 2: 16 * 16 + 3 leaves indexed one by one leave one level-2 run
 * and three level-0 runs.
 */
static void
test_index_runs_merge(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	MDB_txn *txn;
	uint64_t rng = 12, before[4], after[4];
	size_t at;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, 1);
	audittest_fill(&l, &k, 0, 16 * 16 + 3, 1, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(count_runs(txn, 2, &at), 4);
	assert_int_equal(at, 1);
	assert_int_equal(count_runs(txn, 0, &at), 4);
	assert_int_equal(at, 3);
	two_queries(l.a, txn, after);
	mdb_txn_abort(txn);
	audittest_close(&l);
	/* the same events, unindexed: the tail finds the same leaves */
	free(dir);
	dir = sub(*state, "log2");
	rng = 12;
	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, 100000);
	audittest_fill(&l, &k, 0, 16 * 16 + 3, 1, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	two_queries(l.a, txn, before);
	assert_memory_equal(before, after, sizeof(before));
	assert_true(before[0] > 0 && before[2] > 0);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);
}

/*
 * The entries each append gathers for the next batch (audit_index_note),
 * against transactions that abort: leaves appended and rolled back, some
 * across a batch, then other events appended at the same indexes. The
 * indexes must match the committed leaves exactly, a rolled-back event's
 * msg_id must find nothing, and the same events appended without aborts
 * must give the same answers.
 */
static void
test_index_gathered_across_aborts(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audit_verify_result res;
	struct audit_filter f;
	struct event ev;
	MDB_txn *txn;
	uint64_t rng = 21, kept = 0, lost[2] = {0, 0}, got[4], want[4];

	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, 16);
	for (unsigned round = 0; round < 60; round++) {
		bool keep = round % 3 != 1;
		uint64_t junk = rng;
		assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
		for (unsigned j = 0; j < 7; j++) {
			/* an aborted round draws from its own generator,
			 * so the kept events are those of the plain fill */
			if (keep)
				audittest_event(&ev, kept++, 10, &rng);
			else
				audittest_event(&ev, 90000 + round, 10, &junk);
			assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
		}
		if (keep) {
			assert_int_equal(mdb_txn_commit(txn), 0);
			continue;
		}
		memcpy(lost, ev.msg_id, sizeof(ev.msg_id));
		mdb_txn_abort(txn);
	}
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_verify_indexes(l.a, txn, &res), 0);
	memset(&f, 0, sizeof(f));
	f.has_msg_id = true;
	memcpy(f.msg_id, lost, sizeof(f.msg_id));
	memset(got, 0, sizeof(got));
	assert_int_equal(audit_query(l.a, txn, &f, collect_seq, got, NULL), 0);
	assert_int_equal(got[0], 0);
	two_queries(l.a, txn, got);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);

	/* the kept events alone, in one go */
	dir = sub(*state, "plain");
	rng = 21;
	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, 16);
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	for (uint64_t i = 0; i < kept; i++) {
		audittest_event(&ev, i, 10, &rng);
		assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	two_queries(l.a, txn, want);
	assert_memory_equal(got, want, sizeof(got));
	assert_true(want[0] > 0 && want[2] > 0);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);
}

/*
 * audit_reindex: indexes emptied and a subject's entries deleted, then
 * rebuilt from the leaves: the same answers and the same runs as the
 * appends made.
 */
static void
test_reindex(void **state)
{
	char *dir = sub(*state, "log");
	struct audittest_log l;
	struct audittest_key k;
	struct audit_verify_result res;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t rng = 13, before[4], after[4], entries, want, indexed;
	size_t runs, at;

	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, 64);
	audittest_fill(&l, &k, 0, 16 * 64 + 40, 100, 10, &rng);
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	two_queries(l.a, txn, before);
	assert_int_equal(audit_verify_indexes(l.a, txn, &res), 0);
	want = res.index_entries;
	runs = count_runs(txn, 1, &at);
	assert_int_equal(at, 1); /* 16 runs of 64 merged */
	/* a forger empties the subject index */
	assert_int_equal(mdb_dbi_open(txn, "audit.subject", 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 0), 0);
	assert_int_equal(audit_verify_indexes(l.a, txn, &res), ERROR_TAMPERED);
	assert_non_null(strstr(res.why, "the subject index does not match"));
	two_queries(l.a, txn, after);
	/* the person's history hidden but for the unindexed tail */
	assert_true(after[0] < before[0]);
	/* rebuilt */
	assert_int_equal(audit_reindex(l.a, txn, &entries), 0);
	assert_int_equal(entries, want);
	assert_int_equal(audit_indexed(l.a, txn, &indexed), 0);
	assert_int_equal(indexed, 16 * 64);
	assert_int_equal(count_runs(txn, 1, &at), runs);
	assert_int_equal(at, 1);
	two_queries(l.a, txn, after);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(mdb_txn_commit(txn), 0);
	/* a reader handle may not */
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	{
		struct audit *ro;
		assert_int_equal(
		    audit_open(l.env, txn, NULL, AUDIT_RDONLY, &ro), 0);
		assert_int_equal(audit_reindex(ro, txn, NULL), ERROR_INVAL);
		audit_free(ro);
	}
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test(test_mdb_errors),
	    cmocka_unit_test_setup_teardown(
	        test_append_and_proofs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_checkpoint_per_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proofs_through_memo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reader_beside_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reader_after_map_grows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forked_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_runs_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reindex, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_gathered_across_aborts, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
