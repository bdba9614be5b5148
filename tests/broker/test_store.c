/*
 * The broker's queue (broker/store.c) on a real LMDB file: an item is taken
 * out by its agency and sequence number, once; a store from before the
 * in-flight table (DESIGN.md §11), which kept an index of queued items by
 * msg_id in broker.ack, loses that index when the broker opens it, and
 * keeps its queue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "broker/store.h"
#include "db/db.h"
#include "tests/lib/scratch.h"

#define MAP (64u << 20)

static void
put_item(struct store *s, const char *agency, uint8_t id, uint64_t *seq)
{
	struct store_item it;
	MDB_txn *txn;

	memset(&it, 0, sizeof(it));
	it.type = STORE_DELIVERY;
	memset(it.msg_id, id, sizeof(it.msg_id));
	snprintf(it.agency, sizeof(it.agency), "%s", agency);
	snprintf(it.peer, sizeof(it.peer), "%s", "police");
	it.expires_ms = 1000000;
	it.payload = (const uint8_t *)"bytes";
	it.payload_len = 5;
	assert_int_equal(store_begin(s, true, &txn), 0);
	assert_int_equal(store_queue_put(s, txn, &it, seq), 0);
	assert_int_equal(store_commit(txn), 0);
}

/* Whether the environment in dir has a database of that name. */
static bool
has_db(const char *dir, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	assert_int_equal(audit_env_open(dir, MAP, 0, &env), 0);
	assert_int_equal(db_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	db_txn_abort(txn);
	audit_env_close(env);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	return rc == 0;
}

static void
test_take_by_sequence(void **state)
{
	char *dir = scratch_dir("store");
	struct store *s;
	struct store_item it;
	uint64_t a, b;
	MDB_txn *txn;
	uint64_t n;

	(void)state;
	assert_int_equal(store_open(dir, MAP, "test.example/log", &s), 0);
	put_item(s, "ambulance", 1, &a);
	put_item(s, "ambulance", 2, &b);
	assert_true(b > a);
	assert_int_equal(store_begin(s, true, &txn), 0);
	assert_int_equal(store_queue_take(s, txn, "ambulance", b, &it), 0);
	assert_int_equal(it.type, STORE_DELIVERY);
	assert_int_equal(it.msg_id[0], 2);
	assert_string_equal(it.peer, "police");
	/* Once: then it is gone, and no other agency's sequence matches. */
	assert_int_equal(
	    store_queue_take(s, txn, "ambulance", b, &it), ERROR_NOTFOUND);
	assert_int_equal(
	    store_queue_take(s, txn, "police", a, &it), ERROR_NOTFOUND);
	assert_int_equal(
	    store_queue_take(s, txn, "not an agency", a, &it), ERROR_INVAL);
	assert_int_equal(store_queue_count(s, txn, "ambulance", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_commit(txn), 0);
	/* Nor does a taken item leave anything that expires later. */
	assert_int_equal(store_begin(s, true, &txn), 0);
	assert_int_equal(store_queue_expire(s, txn, 2000000, &it), 0);
	assert_int_equal(it.msg_id[0], 1);
	assert_int_equal(
	    store_queue_expire(s, txn, 2000000, &it), ERROR_NOTFOUND);
	store_abort(txn);
	store_close(s);
	assert_false(has_db(dir, "broker.ack"));
	scratch_rmrf(dir);
	free(dir);
}

static void
test_old_index_dropped(void **state)
{
	char *dir = scratch_dir("store");
	struct store *s;
	struct store_item it;
	uint64_t seq;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {3, "key"}, v = {5, "value"};

	(void)state;
	assert_int_equal(store_open(dir, MAP, "test.example/log", &s), 0);
	put_item(s, "social_care", 7, &seq);
	store_close(s);
	/* What an earlier broker left: broker.ack, with an entry. */
	assert_int_equal(audit_env_open(dir, MAP, 0, &env), 0);
	assert_int_equal(db_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "broker.ack", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(db_txn_commit(txn), 0);
	audit_env_close(env);
	assert_true(has_db(dir, "broker.ack"));

	assert_int_equal(store_open(dir, MAP, "test.example/log", &s), 0);
	store_close(s);
	assert_false(has_db(dir, "broker.ack"));
	assert_int_equal(store_open(dir, MAP, "test.example/log", &s), 0);
	assert_int_equal(store_begin(s, true, &txn), 0);
	assert_int_equal(store_queue_take(s, txn, "social_care", seq, &it), 0);
	assert_int_equal(it.msg_id[0], 7);
	store_abort(txn);
	store_close(s);
	scratch_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take_by_sequence),
	    cmocka_unit_test(test_old_index_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
