/*
 * Tampering with a stored audit log, through the LMDB API as an attacker
 * with the files would: every alteration of the leaves, the tree or the
 * checkpoints is found by audit_verify, which names the first bad leaf or
 * checkpoint. A log of 200 leaves in commits of 10 (checkpoints at 10,
 * 20, ..., 200), indexed in batches of 16: leaves 0..191 in twelve runs,
 * 192..199 the unindexed tail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audittest.h"
#include "tests/lib/scratch.h"

#define N     200
#define BATCH 10
#define LAG   16

struct fixture {
	char *dir;
	struct audittest_key key;
	MDB_env *env; /* open while tampering */
	MDB_txn *txn;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct audittest_log l;
	uint64_t rng = 2026;

	assert_non_null(f);
	f->dir = scratch_dir("audit");
	audittest_key(&f->key, 1);
	audittest_open(&l, f->dir, 0);
	audit_set_index_lag(l.a, LAG);
	audittest_fill(&l, &f->key, 0, N, BATCH, 30, &rng);
	audittest_close(&l);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	scratch_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Opens the raw databases for writing, as an attacker would. */
static MDB_dbi
db(struct fixture *f, const char *name)
{
	MDB_dbi dbi;

	if (f->env == NULL) {
		assert_int_equal(audit_env_open(f->dir, 0, 0, &f->env), 0);
		assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &f->txn), 0);
	}
	assert_int_equal(mdb_dbi_open(f->txn, name, 0, &dbi), 0);
	return dbi;
}

static void
done(struct fixture *f)
{
	assert_int_equal(mdb_txn_commit(f->txn), 0);
	audit_env_close(f->env);
	f->env = NULL;
	f->txn = NULL;
}

static void
be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

/* The stored leaf seq, copied. */
static uint8_t *
get_leaf(struct fixture *f, uint64_t seq, size_t *len)
{
	MDB_dbi dbi = db(f, "audit.leaves");
	uint8_t key[8], *copy;
	MDB_val k = {8, key}, v;

	be64(key, seq);
	assert_int_equal(mdb_get(f->txn, dbi, &k, &v), 0);
	assert_non_null(copy = malloc(v.mv_size));
	memcpy(copy, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return copy;
}

static void
put_leaf(struct fixture *f, uint64_t seq, const uint8_t *leaf, size_t len)
{
	MDB_dbi dbi = db(f, "audit.leaves");
	uint8_t key[8];
	MDB_val k = {8, key}, v = {len, (void *)(uintptr_t)leaf};

	be64(key, seq);
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
}

static void
del_key(struct fixture *f, const char *name, const uint8_t *key, size_t len)
{
	MDB_dbi dbi = db(f, name);
	MDB_val k = {len, (void *)(uintptr_t)key};

	assert_int_equal(mdb_del(f->txn, dbi, &k, NULL), 0);
}

static void
set_size(struct fixture *f, uint64_t size)
{
	MDB_dbi dbi = db(f, "audit.meta");
	uint8_t v8[8];
	MDB_val k = {4, (void *)(uintptr_t) "size"}, v = {8, v8};

	be64(v8, size);
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
}

/* The log opened read-only, as `concordat audit` opens it. */
struct ro {
	MDB_env *env;
	MDB_txn *txn;
	struct audit *a;
};

static void
ro_open(struct fixture *f, struct ro *r)
{
	assert_int_equal(audit_env_open(f->dir, 0, AUDIT_RDONLY, &r->env), 0);
	assert_int_equal(audit_txn_begin(r->env, MDB_RDONLY, &r->txn), 0);
	assert_int_equal(
	    audit_open(r->env, r->txn, NULL, AUDIT_RDONLY, &r->a), 0);
}

static void
ro_close(struct ro *r)
{
	mdb_txn_abort(r->txn);
	audit_free(r->a);
	audit_env_close(r->env);
}

/* Runs audit_verify on the log read-only, as `concordat audit verify`. */
static int
verify(struct fixture *f, const uint8_t *pk, struct audit_verify_result *res)
{
	struct ro r;
	int rc;

	ro_open(f, &r);
	rc = audit_verify(r.a, r.txn, pk, res);
	ro_close(&r);
	return rc;
}

static void
expect_bad_leaf(struct fixture *f, uint64_t seq, const char *why)
{
	struct audit_verify_result res;

	assert_int_equal(verify(f, f->key.pk, &res), ERROR_TAMPERED);
	assert_true(res.has_bad_leaf);
	assert_int_equal(res.bad_leaf, seq);
	if (strstr(res.why, why) == NULL)
		fail_msg("why: '%s', want '%s'", res.why, why);
}

static void
expect_bad_checkpoint(struct fixture *f, int rc, uint64_t size, const char *why)
{
	struct audit_verify_result res;

	assert_int_equal(verify(f, f->key.pk, &res), rc);
	assert_true(res.has_bad_checkpoint);
	assert_int_equal(res.bad_checkpoint, size);
	if (strstr(res.why, why) == NULL)
		fail_msg("why: '%s', want '%s'", res.why, why);
}

static void
test_untouched(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct audittest_key other;

	assert_int_equal(verify(f, f->key.pk, &res), 0);
	assert_int_equal(res.leaves, N);
	assert_int_equal(res.checkpoints, N / BATCH);
	assert_int_equal(res.latest.size, N);
	/* Another broker's key signed none of it. */
	audittest_key(&other, 2);
	assert_int_equal(verify(f, other.pk, &res), ERROR_SIGNATURE);
	assert_int_equal(res.bad_checkpoint, BATCH);
	assert_int_equal(res.checkpoints, 0);
	assert_non_null(strstr(res.why, "not signed by the broker key"));
}

static void
test_flip_byte(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *leaf = get_leaf(f, 57, &len);

	leaf[len / 2] ^= 0x04;
	put_leaf(f, 57, leaf, len);
	done(f);
	free(leaf);
	expect_bad_leaf(f, 57, "leaf 57: its bytes do not match");
}

static void
test_delete(void **state)
{
	struct fixture *f = *state;
	uint8_t key[8];

	be64(key, 57);
	del_key(f, "audit.leaves", key, 8);
	done(f);
	expect_bad_leaf(f, 57, "leaf 57 is missing");
}

static void
test_delete_last(void **state)
{
	struct fixture *f = *state;
	uint8_t key[8];

	be64(key, N - 1);
	del_key(f, "audit.leaves", key, 8);
	done(f);
	expect_bad_leaf(f, N - 1, "leaf 199 is missing: the log records 200");
}

/* An event slipped in at 57, the rest moved up one, the size bumped. */
static void
test_insert(void **state)
{
	struct fixture *f = *state;
	uint8_t *leaf, *forged;
	struct event ev;
	size_t len;

	for (uint64_t i = N; i-- > 57;) {
		leaf = get_leaf(f, i, &len);
		put_leaf(f, i + 1, leaf, len);
		free(leaf);
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_BROKER_STOPPED;
	ev.time_ms = 1795000057000ULL;
	assert_int_equal(event_encode(&ev, &forged, &len), 0);
	put_leaf(f, 57, forged, len);
	free(forged);
	set_size(f, N + 1);
	done(f);
	expect_bad_leaf(f, 57, "leaf 57: its bytes do not match");
}

/* A leaf added past the end without touching anything else. */
static void
test_append_raw(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *leaf = get_leaf(f, 3, &len);

	put_leaf(f, N, leaf, len);
	done(f);
	free(leaf);
	expect_bad_leaf(f, N, "leaf 200 is beyond the recorded size 200");
}

static void
test_reorder(void **state)
{
	struct fixture *f = *state;
	size_t la, lb;
	uint8_t *a = get_leaf(f, 57, &la), *b = get_leaf(f, 58, &lb);

	put_leaf(f, 57, b, lb);
	put_leaf(f, 58, a, la);
	done(f);
	free(a);
	free(b);
	expect_bad_leaf(f, 57, "leaf 57: its bytes do not match");
}

/*
 * Empties the indexes, as a forger who rewrites history would (they are
 * derived from the leaves): no runs, nothing indexed.
 */
static void
drop_indexes(struct fixture *f)
{
	static const char *const names[] = {"audit.subject", "audit.agency",
	    "audit.msgid", "audit.time", "audit.purpose", "audit.rule",
	    "audit.tag"};
	MDB_dbi meta = db(f, "audit.meta");
	MDB_cursor *c;
	MDB_val k = {3, (void *)(uintptr_t) "run"}, v;
	uint8_t zero[8] = {0};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(mdb_drop(f->txn, db(f, names[i]), 0), 0);
	assert_int_equal(mdb_cursor_open(f->txn, meta, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size > 3 &&
	    memcmp(k.mv_data, "run", 3) == 0) {
		assert_int_equal(mdb_cursor_del(c, 0), 0);
		k.mv_size = 3;
		k.mv_data = (void *)(uintptr_t) "run";
	}
	mdb_cursor_close(c);
	k.mv_size = 7;
	k.mv_data = (void *)(uintptr_t) "indexed";
	v.mv_size = 8;
	v.mv_data = zero;
	assert_int_equal(mdb_put(f->txn, meta, &k, &v, 0), 0);
}

/*
 * Cuts the log back to size: leaves, nodes, the recorded size, and the
 * indexes.
 */
static void
truncate_to(struct fixture *f, uint64_t size)
{
	MDB_dbi nodes = db(f, "audit.nodes");
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];

	for (uint64_t i = size; i < N; i++) {
		be64(key, i);
		del_key(f, "audit.leaves", key, 8);
	}
	assert_int_equal(mdb_cursor_open(f->txn, nodes, &c), 0);
	be64(key, size);
	k.mv_size = 8;
	k.mv_data = key;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT))
		assert_int_equal(mdb_cursor_del(c, 0), 0);
	mdb_cursor_close(c);
	set_size(f, size);
	drop_indexes(f);
}

/*
 * Truncate to 100 and append another history through the audit API (the
 * tree is then internally consistent): the checkpoints signed before still
 * name the old roots.
 */
static void
test_truncate_and_reappend(void **state)
{
	struct fixture *f = *state;
	struct audittest_log l;
	struct event ev;
	uint64_t rng = 777;
	MDB_txn *txn;

	truncate_to(f, 100);
	done(f);
	audittest_open(&l, f->dir, 0);
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	for (uint64_t i = 100; i < N; i++) {
		audittest_event(&ev, i, 30, &rng);
		assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	audittest_close(&l);
	expect_bad_checkpoint(
	    f, ERROR_CHECKPOINT, 110, "a leaf from 100 to 109 was altered");
}

/* The same, removing the later checkpoints and signing with another key. */
static void
test_truncate_and_resign(void **state)
{
	struct fixture *f = *state;
	struct audittest_log l;
	struct audittest_key forger;
	uint8_t key[8];
	uint64_t rng = 777;

	truncate_to(f, 100);
	for (uint64_t s = 110; s <= N; s += BATCH) {
		be64(key, s);
		del_key(f, "audit.checkpoints", key, 8);
	}
	done(f);
	audittest_key(&forger, 9);
	audittest_open(&l, f->dir, 0);
	audittest_fill(&l, &forger, 100, 100, BATCH, 30, &rng);
	audittest_close(&l);
	expect_bad_checkpoint(f, ERROR_SIGNATURE, 110, "not signed");
}

/* Truncated, later checkpoints left in place. */
static void
test_truncate(void **state)
{
	struct fixture *f = *state;

	truncate_to(f, 150);
	done(f);
	expect_bad_checkpoint(f, ERROR_CHECKPOINT, 160,
	    "checkpoint at size 160 is beyond the 150 stored leaves");
}

static int
put_node(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
	struct fixture *f = arg;
	MDB_dbi dbi = db(f, "audit.nodes");
	uint8_t key[9];
	MDB_val k = {9, key}, v = {32, (void *)(uintptr_t)hash};

	be64(key, ((index + 1) << level) - 1);
	key[8] = (uint8_t)level;
	return mdb_put(f->txn, dbi, &k, &v, 0);
}

/*
 * A careful forger: alters leaf 57 and rebuilds every tree node from the
 * leaves, so leaves and tree agree. The signed checkpoint at 60 does not.
 */
static void
test_rebuilt_tree(void **state)
{
	struct fixture *f = *state;
	struct merkle_range r;
	uint8_t h[32], *leaf;
	size_t len;

	leaf = get_leaf(f, 57, &len);
	leaf[len - 1] ^= 0x01;
	put_leaf(f, 57, leaf, len);
	free(leaf);
	assert_int_equal(mdb_drop(f->txn, db(f, "audit.nodes"), 0), 0);
	merkle_range_init(&r);
	for (uint64_t i = 0; i < N; i++) {
		leaf = get_leaf(f, i, &len);
		merkle_hash_leaf(leaf, len, h);
		free(leaf);
		assert_int_equal(merkle_range_append(&r, h, put_node, f), 0);
	}
	done(f);
	expect_bad_checkpoint(f, ERROR_CHECKPOINT, 60,
	    "checkpoint at size 60: its signed root is not the root");
}

static void
test_tree_node(void **state)
{
	struct fixture *f = *state;
	uint8_t key[9], bad[32];
	MDB_val k = {9, key}, v = {32, bad};

	/* The subtree of leaves 64..127 (level 6, index 1) altered. */
	be64(key, 127);
	key[8] = 6;
	memset(bad, 0x11, sizeof(bad));
	assert_int_equal(mdb_put(f->txn, db(f, "audit.nodes"), &k, &v, 0), 0);
	done(f);
	{
		struct audit_verify_result res;
		assert_int_equal(verify(f, f->key.pk, &res), ERROR_TAMPERED);
		assert_non_null(strstr(res.why,
		    "tree node over leaves 64-127 does not match the leaves"));
	}
}

static void
test_tree_node_missing(void **state)
{
	struct fixture *f = *state;
	uint8_t key[9];

	be64(key, 127);
	key[8] = 6;
	del_key(f, "audit.nodes", key, 9);
	done(f);
	expect_bad_leaf(f, 127, "tree node over leaves 64-127 is missing");
}

static void
test_checkpoint_text(void **state)
{
	struct fixture *f = *state;
	MDB_dbi dbi = db(f, "audit.checkpoints");
	uint8_t key[8];
	char text[CHECKPOINT_MAX], *at;
	MDB_val k = {8, key}, v;

	be64(key, 70);
	assert_int_equal(mdb_get(f->txn, dbi, &k, &v), 0);
	memcpy(text, v.mv_data, v.mv_size);
	text[v.mv_size] = '\0';
	/* swap the signed root for the one of checkpoint 80's */
	at = strchr(strchr(text, '\n') + 1, '\n') + 1;
	at[0] = at[0] == 'A' ? 'B' : 'A';
	v.mv_data = text;
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
	done(f);
	expect_bad_checkpoint(f, ERROR_SIGNATURE, 70, "checkpoint at size 70");
}

static void
test_checkpoint_garbage(void **state)
{
	struct fixture *f = *state;
	MDB_dbi dbi = db(f, "audit.checkpoints");
	uint8_t key[8];
	MDB_val k = {8, key}, v = {5, (void *)(uintptr_t) "junk\n"};

	be64(key, 30);
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
	done(f);
	expect_bad_checkpoint(f, ERROR_CHECKPOINT, 30, "not a well-formed");
}

static void
test_size_shrunk(void **state)
{
	struct fixture *f = *state;

	set_size(f, 150);
	done(f);
	expect_bad_leaf(f, 150, "leaf 150 is beyond the recorded size 150");
}

static int
ignore(void *arg, uint64_t seq, const struct event *ev)
{
	(void)arg;
	(void)seq;
	(void)ev;
	return 0;
}

/* Runs a query on the log read-only; its result. */
static int
query(struct fixture *f, const struct audit_filter *filter)
{
	struct ro r;
	int rc;

	ro_open(f, &r);
	rc = audit_query(r.a, r.txn, filter, ignore, NULL, NULL);
	ro_close(&r);
	return rc;
}

/* An index that names a leaf that is gone: the query says so. */
static void
test_query_missing_leaf(void **state)
{
	struct fixture *f = *state;
	struct audit_filter filter;
	uint8_t key[8];

	be64(key, 57);
	del_key(f, "audit.leaves", key, 8);
	done(f);
	memset(&filter, 0, sizeof(filter));
	filter.since_ms = 1;
	assert_int_equal(query(f, &filter), ERROR_TAMPERED);
}

/* A leaf of the unindexed tail gone: the query's scan of it says so. */
static void
test_query_missing_tail_leaf(void **state)
{
	struct fixture *f = *state;
	struct audit_filter filter;
	uint8_t key[8];

	memset(&filter, 0, sizeof(filter));
	filter.since_ms = 1;
	assert_int_equal(query(f, &filter), 0);
	be64(key, 195);
	del_key(f, "audit.leaves", key, 8);
	done(f);
	assert_int_equal(query(f, &filter), ERROR_TAMPERED);
	filter.since_ms = 0;
	filter.type = EVENT_DECISION;
	assert_int_equal(query(f, &filter), ERROR_TAMPERED);
	expect_bad_leaf(f, 195, "");
}

static void
expect_bad_index(struct fixture *f)
{
	struct audit_verify_result res;
	struct audit_filter filter;

	assert_int_equal(verify(f, f->key.pk, &res), ERROR_TAMPERED);
	if (strstr(res.why, "which leaves are indexed") == NULL)
		fail_msg("why: '%s'", res.why);
	memset(&filter, 0, sizeof(filter));
	filter.type = EVENT_DECISION;
	assert_int_equal(query(f, &filter), ERROR_TAMPERED);
}

/* A count of indexed leaves past the end. */
static void
test_indexed_past_size(void **state)
{
	struct fixture *f = *state;
	MDB_dbi dbi = db(f, "audit.meta");
	uint8_t v8[8];
	MDB_val k = {7, (void *)(uintptr_t) "indexed"}, v = {8, v8};

	be64(v8, N + 1);
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
	done(f);
	expect_bad_index(f);
}

/* A run of the subject and msg_id indexes dropped from the list. */
static void
test_run_missing(void **state)
{
	struct fixture *f = *state;
	uint8_t key[12] = {'r', 'u', 'n'};

	be64(key + 3, 2 * LAG); /* the second run, leaves 16..31, level 0 */
	key[11] = 0;
	del_key(f, "audit.meta", key, sizeof(key));
	done(f);
	expect_bad_index(f);
}

/* audit_verify_indexes on the log, read-only; its why in *why. */
static int
verify_indexes(struct fixture *f, char *why, size_t len)
{
	struct audit_verify_result res;
	struct ro r;
	int rc;

	ro_open(f, &r);
	rc = audit_verify_indexes(r.a, r.txn, &res);
	snprintf(why, len, "%s", res.why);
	if (rc == 0)
		assert_true(res.index_entries > 6 * (N - N % LAG));
	ro_close(&r);
	return rc;
}

static void
expect_index_differs(struct fixture *f, const char *name)
{
	char why[256], want[64];

	snprintf(want, sizeof(want), "the %s index does not match", name);
	assert_int_equal(verify_indexes(f, why, sizeof(why)), ERROR_TAMPERED);
	if (strstr(why, want) == NULL)
		fail_msg("why: '%s', want '%s'", why, want);
}

/*
 * Index entries deleted, so that a query for a person misses a
 * disclosure: audit_verify does not look at indexes and passes;
 * audit_verify_indexes finds it.
 */
static void
test_index_entry_deleted(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	MDB_dbi dbi = db(f, "audit.subject");
	MDB_cursor *c;
	MDB_val k, v;
	char why[256];

	assert_int_equal(verify_indexes(f, why, sizeof(why)), 0);
	assert_int_equal(mdb_cursor_open(f->txn, dbi, &c), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_NEXT), 0);
	assert_int_equal(mdb_cursor_del(c, 0), 0);
	mdb_cursor_close(c);
	done(f);
	assert_int_equal(verify(f, f->key.pk, &res), 0);
	expect_index_differs(f, "subject");
}

/* An entry added: a leaf listed under a time it does not have. */
static void
test_index_entry_added(void **state)
{
	struct fixture *f = *state;
	MDB_dbi dbi = db(f, "audit.time");
	uint8_t key[8], val[8];
	MDB_val k = {8, key}, v = {8, val};

	be64(key, 1);
	be64(val, 5);
	assert_int_equal(mdb_put(f->txn, dbi, &k, &v, 0), 0);
	done(f);
	expect_index_differs(f, "time");
}

/* An entry altered: moved to another agency. */
static void
test_index_entry_moved(void **state)
{
	struct fixture *f = *state;
	MDB_dbi dbi = db(f, "audit.agency");
	MDB_cursor *c;
	MDB_val k, v, other = {5, (void *)(uintptr_t) "zzzzz"};
	uint8_t seq[8];

	assert_int_equal(mdb_cursor_open(f->txn, dbi, &c), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	memcpy(seq, v.mv_data, 8);
	assert_int_equal(mdb_cursor_del(c, 0), 0);
	mdb_cursor_close(c);
	v.mv_size = 8;
	v.mv_data = seq;
	assert_int_equal(mdb_put(f->txn, dbi, &other, &v, 0), 0);
	done(f);
	expect_index_differs(f, "agency");
}

int
main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_untouched),
	    T(test_flip_byte),
	    T(test_delete),
	    T(test_delete_last),
	    T(test_insert),
	    T(test_append_raw),
	    T(test_reorder),
	    T(test_truncate_and_reappend),
	    T(test_truncate_and_resign),
	    T(test_truncate),
	    T(test_rebuilt_tree),
	    T(test_tree_node),
	    T(test_tree_node_missing),
	    T(test_checkpoint_text),
	    T(test_checkpoint_garbage),
	    T(test_size_shrunk),
	    T(test_query_missing_leaf),
	    T(test_query_missing_tail_leaf),
	    T(test_indexed_past_size),
	    T(test_run_missing),
	    T(test_index_entry_deleted),
	    T(test_index_entry_added),
	    T(test_index_entry_moved),
	};
#undef T

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
