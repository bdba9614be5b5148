/*
 * audit/audit_witness.c on a real LMDB log in a scratch folder: the stored
 * checkpoint of a given size, the agencies' cosignatures kept in audit.meta
 * (put, replace, list in agency order, read back after the environment is
 * closed and opened again), and an entry of the wrong shape refused.
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

#include "audit/audit_witness.h"
#include "audit/cosign.h"
#include "audittest.h"
#include "tests/lib/scratch.h"

static int
setup(void **state)
{
	*state = scratch_dir("audit-witness");
	return sodium_init() < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	scratch_rmrf(*state);
	free(*state);
	return 0;
}

struct seen {
	size_t n;
	struct audit_witness w[8];
};

static int
collect(void *arg, const struct audit_witness *w)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->w[s->n++] = *w;
	return 0;
}

static void
test_kept(void **state)
{
	struct audittest_log l;
	struct audittest_key k, police;
	struct audit_head *head = malloc(sizeof(*head));
	struct audit_witness w, got;
	struct event ev;
	struct seen seen;
	MDB_txn *txn;
	uint64_t rng = 1;

	assert_non_null(head);
	audittest_key(&k, 1);
	audittest_key(&police, 2);
	audittest_open(&l, *state, 0);
	for (uint64_t i = 0; i < 5; i++) {
		audittest_event(&ev, i, 3, &rng);
		(void)audittest_append_one(&l, &k, &ev);
	}
	/* The checkpoints of every size were stored. */
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	assert_int_equal(audit_checkpoint_at(l.a, txn, 3, head), 0);
	assert_true(head->cp.size == 3);
	assert_string_equal(head->cp.origin, AUDITTEST_ORIGIN);
	assert_int_equal(
	    audit_checkpoint_at(l.a, txn, 9, head), ERROR_NOTFOUND);
	assert_int_equal(audit_checkpoint_at(l.a, txn, 3, head), 0);

	memset(&w, 0, sizeof(w));
	snprintf(w.agency, sizeof(w.agency), "police");
	w.size = 3;
	w.timestamp = 1764662400;
	assert_int_equal(
	    cosign_sign(&head->cp, w.timestamp, police.sk, w.sig), 0);
	assert_int_equal(audit_witness_put(l.a, txn, &w), 0);
	snprintf(w.agency, sizeof(w.agency), "ambulance");
	assert_int_equal(audit_witness_put(l.a, txn, &w), 0);
	/* Replaced by a later one. */
	snprintf(w.agency, sizeof(w.agency), "police");
	w.size = 5;
	w.timestamp++;
	assert_int_equal(audit_witness_put(l.a, txn, &w), 0);
	snprintf(w.agency, sizeof(w.agency), "Bad Id");
	assert_int_equal(audit_witness_put(l.a, txn, &w), ERROR_INVAL);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audittest_close(&l);

	/* After a restart: the latest of each, in agency order. */
	audittest_open(&l, *state, 0);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_witness_get(l.a, txn, "police", &got), 0);
	assert_true(got.size == 5 && got.timestamp == 1764662401);
	assert_memory_equal(got.sig, w.sig, 64);
	assert_int_equal(
	    audit_witness_get(l.a, txn, "social_care", &got), ERROR_NOTFOUND);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(audit_witness_each(l.a, txn, collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.w[0].agency, "ambulance");
	assert_true(seen.w[0].size == 3);
	assert_string_equal(seen.w[1].agency, "police");
	/* What was kept is what was signed, on the checkpoint of 3. */
	assert_int_equal(audit_checkpoint_at(l.a, txn, 3, head), 0);
	assert_int_equal(cosign_verify(&head->cp, seen.w[0].timestamp,
	                     police.pk, seen.w[0].sig),
	    0);
	mdb_txn_abort(txn);

	/* An entry of another length is damage, not a cosignature. */
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	MDB_dbi meta;
	MDB_val mk = {19, (void *)(uintptr_t) "witness/social_care"};
	MDB_val mv = {5, (void *)(uintptr_t) "short"};
	assert_int_equal(mdb_dbi_open(txn, "audit.meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &mk, &mv, 0), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(
	    audit_witness_each(l.a, txn, collect, &seen), ERROR_TAMPERED);
	mdb_txn_abort(txn);
	audittest_close(&l);
	free(head);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
