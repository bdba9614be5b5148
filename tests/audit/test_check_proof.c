/*
 * `concordat audit check-proof` and the broker key (in-process, as
 * test_audit_cli): with --broker-key a proof is valid only when the
 * checkpoint is signed by that key and names the log the broker names,
 * concordat/<the key's fingerprint>; without it the proof may hold, but
 * the output and the exit status (2) say that no signature was checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>
#include <sodium.h>

#include "audittest.h"
#include "keys/keys.h"
#include "tests/lib/scratch.h"

static char *dir;
static char pub[4200], other_pub[4200]; /* dir is short: scratch */

/* DIR/name, in one of two static buffers. */
static const char *
in_dir(const char *name)
{
	static char b[2][4200];
	static unsigned k;
	char *p = b[k++ % 2];

	snprintf(p, sizeof(b[0]), "%s/%s", dir, name);
	return p;
}

/* A log of three events under origin, checkpointed with sk. */
static void
make_log(const char *path, const char *origin, const uint8_t *sk)
{
	struct audit_head head;
	struct event ev;
	struct audit *a;
	MDB_env *env;
	MDB_txn *txn;

	assert_int_equal(audit_env_open(path, 0, 0, &env), 0);
	assert_int_equal(audit_txn_begin(env, 0, &txn), 0);
	assert_int_equal(audit_open(env, txn, origin, 0, &a), 0);
	for (int i = 0; i < 3; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_BROKER_STARTED;
		ev.time_ms = 1795440362123ULL + (uint64_t)i;
		assert_int_equal(audit_append(a, txn, &ev, NULL), 0);
	}
	assert_int_equal(audit_checkpoint(a, txn, checkpoint_sign_key,
	                     (void *)(uintptr_t)sk, &head),
	    0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_free(a);
	audit_env_close(env);
}

/* `audit prove --data log --seq 1 --json` into file. */
static void
prove(const char *log, const char *file)
{
	char *out, *err;

	assert_int_equal(audittest_cli(&out, &err, "prove", "--data", log,
	                     "--seq", "1", "--json", NULL),
	    EX_OK);
	scratch_write(file, out, 0644);
	free(out);
	free(err);
}

static int
setup(void **state)
{
	struct keys_secret *broker;
	char keys[4096], origin[80], log[4200];

	(void)state;
	assert_true(sodium_init() >= 0);
	dir = scratch_dir("check-proof");
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(pub, sizeof(pub), "%s/broker.pub", keys);
	snprintf(other_pub, sizeof(other_pub), "%s/other/broker.pub", dir);
	assert_int_equal(keys_generate(NULL, keys), 0);
	snprintf(log, sizeof(log), "%s/other", dir);
	assert_int_equal(keys_generate(NULL, log), 0);
	snprintf(log, sizeof(log), "%s/broker.key", keys);
	assert_int_equal(keys_load_secret(log, &broker), 0);
	/* the broker's own log, and one its key signs under another name */
	snprintf(
	    origin, sizeof(origin), "concordat/%s", broker->pub.fingerprint);
	snprintf(log, sizeof(log), "%s/log", dir);
	make_log(log, origin, broker->sign_sk);
	prove(log, in_dir("proof.json"));
	snprintf(log, sizeof(log), "%s/elsewhere", dir);
	make_log(log, "concordat/0000:0000:0000:0000:0000:0000:0000:0000",
	    broker->sign_sk);
	prove(log, in_dir("elsewhere.json"));
	keys_secret_free(broker);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	free(dir);
	return 0;
}

static void
expect(int want, const char *text, const char *key, const char *file)
{
	char *out, *err;
	int rc = key != NULL
	    ? audittest_cli(
	          &out, &err, "check-proof", "--broker-key", key, file, NULL)
	    : audittest_cli(&out, &err, "check-proof", file, NULL);

	if (rc != want || strstr(out, text) != out)
		fail_msg("check-proof %s %s: exit %d (want %d): %s%s",
		    key != NULL ? key : "(no key)", file, rc, want, out, err);
	free(out);
	free(err);
}

static void
origin_and_key(void **state)
{
	const char *proof = in_dir("proof.json");
	const char *elsewhere = in_dir("elsewhere.json");

	(void)state;
	/* the broker's key, its log: checked and valid */
	expect(EX_OK, "valid\n", pub, proof);
	/* no key: the proof holds, the signature is not checked, and the
	 * exit status says so */
	expect(2, "valid (signature NOT checked: no --broker-key given)\n",
	    NULL, proof);
	expect(2, "valid (signature NOT checked", NULL, elsewhere);
	/* another key: not its signature */
	expect(1, "invalid: checkpoint is not signed by the broker key\n",
	    other_pub, proof);
	/* its signature, but a log of another name */
	expect(1,
	    "invalid: the checkpoint's origin is "
	    "'concordat/0000:0000:0000:0000:0000:0000:0000:0000', not "
	    "'concordat/",
	    pub, elsewhere);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(origin_and_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
