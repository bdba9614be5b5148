/*
 * What `audit verify` says of a folder whose list of databases (LMDB's
 * main database) does not name the log's. LMDB shows a damaged list only
 * as a name not found, and verify used to call every such folder "not an
 * audit log" (66), which sends an auditor looking for another folder: a
 * page of random bytes over the list did it in test_damage. Now a list
 * that names only some of the audit databases, or does not read whole,
 * is damage (65); a whole list that names none is still no audit log.
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
#include <sysexits.h>

#include "audittest.h"
#include "keys/keys.h"
#include "tests/lib/scratch.h"

struct fixture {
	char *dir;
	char key[4096]; /* a broker.pub: not the log's signer */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char keys[2048];

	assert_non_null(f);
	f->dir = scratch_dir("catalog");
	snprintf(keys, sizeof(keys), "%s/keys", f->dir);
	assert_int_equal(keys_generate(NULL, keys), 0);
	snprintf(f->key, sizeof(f->key), "%s/broker.pub", keys);
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

/* The fixture's folder name, into out. */
static const char *
sub(const struct fixture *f, const char *name, char out[4096])
{
	snprintf(out, 4096, "%s/%s", f->dir, name);
	return out;
}

/* Replaces every copy of from in dir's data.mdb with to (as long). */
static size_t
rewrite(const char *dir, const char *from, const char *to)
{
	char file[4096];
	size_t len, n = strlen(from), copies = 0;
	uint8_t *b, *at;
	FILE *fp;

	assert_int_equal(strlen(to), n);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	b = (uint8_t *)scratch_slurp(file, &len);
	assert_non_null(b);
	for (at = b; (at = memmem(at, len - (size_t)(at - b), from, n)) != NULL;
	     at += n, copies++)
		memcpy(at, to, n);
	fp = fopen(file, "r+");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	free(b);
	return copies;
}

/* audit verify of dir: its exit, and stderr holding want. */
static void
verify_says(
    const struct fixture *f, const char *dir, int want_rc, const char *want)
{
	char *out = NULL, *err = NULL;
	int rc = audittest_cli(&out, &err, "verify", "--data", dir,
	    "--broker-key", f->key, (char *)NULL);

	if (rc != want_rc || strstr(err, want) == NULL)
		fail_msg("%s: exit %d (want %d, saying '%s'): %s", dir, rc,
		    want_rc, want, err);
	free(out);
	free(err);
}

/* The log's meta database renamed in the list: damage, not another
 * folder. Before, the log reads (its checkpoints are another key's). */
static void
test_name_altered(void **state)
{
	struct fixture *f = *state;
	struct audittest_log l;
	struct audittest_key k;
	char dir[4096];
	uint64_t rng = 5;

	audittest_key(&k, 1);
	audittest_open(&l, sub(f, "log", dir), 0);
	audittest_fill(&l, &k, 0, 300, 50, 10, &rng);
	audittest_close(&l);
	verify_says(f, dir, EX_DATAERR, "not signed by the broker key");
	/* "audit.mexa" keeps the list in order */
	assert_true(rewrite(dir, "audit.meta", "audit.mexa") >= 1);
	verify_says(f, dir, EX_DATAERR,
	    "the log is damaged: LMDB finds a page of data.mdb corrupt");
}

/* Another program's LMDB: no audit log, while its list reads whole; a
 * name in it garbled (a control byte, out of order): damaged. */
static void
test_other_databases(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {"agent.msgs", "agent.seen"};
	char dir[4096];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(audit_env_open(sub(f, "other", dir), 0, 0, &env), 0);
	assert_int_equal(audit_txn_begin(env, 0, &txn), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(
		    mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_env_close(env);
	verify_says(
	    f, dir, EX_NOINPUT, "not an audit log (no audit databases)");
	assert_true(rewrite(dir, "agent.msgs", "agent\001msgs") >= 1);
	verify_says(f, dir, EX_DATAERR, "the log is damaged");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_name_altered, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_other_databases, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
