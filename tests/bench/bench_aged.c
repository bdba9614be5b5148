/*
 * bench_aged: the first part of an aged broker store for scripts/bench, a
 * data folder whose audit log already holds LEAVES random events
 * (audittest_fill: mostly decisions, with accepted, delivered,
 * acknowledged, rejected and expired events) under the origin of the
 * broker key, each batch of 5,000 committed with a checkpoint signed by
 * that key. The script then relays the messages of history through a
 * broker started on the folder. With --size it only prints the log's
 * size. Run by scripts/bench; not a test.
 *
 *	bench_aged DATA BROKER.key LEAVES
 *	bench_aged --size DATA
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "tests/audit/audittest.h"

static int
size_of(const char *data)
{
	struct audittest_log l;
	MDB_txn *txn;
	uint64_t size = 0;

	if (audit_env_open(data, 0, AUDIT_RDONLY, &l.env) != 0 ||
	    audit_txn_begin(l.env, MDB_RDONLY, &txn) != 0)
		return 1;
	if (audit_open(l.env, txn, NULL, AUDIT_RDONLY, &l.a) != 0 ||
	    audit_size(l.a, txn, &size) != 0) {
		mdb_txn_abort(txn);
		return 1;
	}
	mdb_txn_abort(txn);
	audittest_close(&l);
	printf("RESULT leaves=%" PRIu64 "\n", size);
	return 0;
}

int
main(int argc, char **argv)
{
	struct keys_secret *key = NULL;
	struct audittest_log l;
	struct audittest_key k;
	MDB_txn *txn;
	uint64_t rng = 1, leaves;
	char origin[128];
	int rc;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "--size") == 0)
		return size_of(argv[2]);
	if (argc != 4) {
		fputs("usage: bench_aged DATA BROKER.key LEAVES\n"
		      "       bench_aged --size DATA\n",
		    stderr);
		return 64;
	}
	leaves = strtoull(argv[3], NULL, 10);
	if ((rc = keys_load_secret(argv[2], &key)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[2], error_strerror(rc));
		return 1;
	}
	snprintf(origin, sizeof(origin), "concordat/%s", key->pub.fingerprint);
	memcpy(k.pk, key->pub.sign_pk, sizeof(k.pk));
	memcpy(k.sk, key->sign_sk, sizeof(k.sk));
	keys_secret_free(key);
	if ((rc = audit_env_open(argv[1], 0, 0, &l.env)) != 0 ||
	    (rc = audit_txn_begin(l.env, 0, &txn)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], error_strerror(rc));
		return 1;
	}
	if ((rc = audit_open(l.env, txn, origin, 0, &l.a)) != 0 ||
	    (rc = audit_mdb_error(mdb_txn_commit(txn))) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], error_strerror(rc));
		return 1;
	}
	audittest_fill(&l, &k, 0, leaves, 5000, leaves / 3 + 1, &rng);
	audittest_close(&l);
	sodium_memzero(&k, sizeof(k));
	printf("RESULT leaves=%" PRIu64 "\n", leaves);
	return 0;
}
