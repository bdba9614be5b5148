/*
 * Every verb of `concordat` that writes to standard output, run as the
 * real binary with stdout on /dev/full: each must exit 74 (EX_IOERR) and
 * say so on stderr, never exit 0 having lost its output. The fixtures are
 * real files in a scratch folder: keys, the example policy and its cases,
 * an audit log on LMDB signed with a broker key, a spool and a proof.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "common/fileio.h"
#include "keys/keys.h"
#include "proto/event.h"
#include "tests/audit/audittest.h"
#include "tests/lib/scratch.h"

#define NHS "9434765919"

static char *dir;
static char bin[4096], policy[4096], cases[4096], log_dir[4096],
    broker_pub[4096], agency_pub[4096], agency_key[4096], pepper[4096],
    spool[4096], record[4096], proof[4096];

static void
join(char *out, const char *a, const char *b)
{
	if (snprintf(out, 4096, "%s/%s", a, b) >= 4096)
		fail_msg("path too long");
}

/*
 * Runs bin with argv (NULL-terminated, argv[0] the program), stdout on
 * the file out (opened for writing) and stderr into *err (malloc'd).
 * Returns the exit status.
 */
static int
run_to(const char *out, char **err, char *const *argv)
{
	char errpath[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	int status;
	pid_t pid;

	join(errpath, dir, "stderr");
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(bin, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(fileio_read(errpath, 1 << 20, &buf, &len), 0);
	*err = calloc(1, len + 1);
	assert_non_null(*err);
	memcpy(*err, buf, len);
	free(buf);
	return WEXITSTATUS(status);
}

static void
build_log(void)
{
	struct keys_secret *broker = NULL;
	struct audittest_log l;
	struct event ev;
	char key[4096];
	uint64_t rng = 7;
	uint8_t *pep = NULL, ref[32];

	join(key, dir, "keys/broker.key");
	assert_int_equal(keys_load_secret(key, &broker), 0);
	assert_int_equal(keys_pepper_load(pepper, &pep), 0);
	assert_int_equal(keys_subject_ref_nhs(pep, NHS, ref), 0);
	keys_pepper_free(pep);
	/* Under the origin the broker names its log by, which check-proof
	 * holds a proof's checkpoint to with --broker-key. */
	char origin[64];
	MDB_txn *otxn;
	snprintf(
	    origin, sizeof(origin), "concordat/%s", broker->pub.fingerprint);
	assert_int_equal(audit_env_open(log_dir, 0, 0, &l.env), 0);
	assert_int_equal(audit_txn_begin(l.env, 0, &otxn), 0);
	assert_int_equal(audit_open(l.env, otxn, origin, 0, &l.a), 0);
	assert_int_equal(mdb_txn_commit(otxn), 0);
	for (uint64_t i = 0; i < 12; i++) {
		struct audit_head head;
		MDB_txn *txn;

		audittest_event(&ev, i, 2, &rng);
		if (ev.has_subject_ref)
			memcpy(ev.subject_ref, ref, sizeof(ref));
		assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
		assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
		assert_int_equal(audit_checkpoint(l.a, txn, checkpoint_sign_key,
		                     broker->sign_sk, &head),
		    0);
		assert_int_equal(mdb_txn_commit(txn), 0);
	}
	audittest_close(&l);
	keys_secret_free(broker);
}

static int
setup(void **state)
{
	const char *src = getenv("CONCORDAT_SOURCE_DIR");
	const char *build = getenv("CONCORDAT_BUILD_DIR");
	char keys_dir[4096], outbox[4096], *err = NULL;
	static const char rec[] =
	    "{\"recipients\": [\"mental_health_trust\"], "
	    "\"purpose\": \"triage_advice\", \"urgency\": \"urgent\", "
	    "\"subject\": {\"nhs_number\": \"" NHS "\"}, "
	    "\"fields\": {\"risks\": {\"details\": \"on the bridge\"}}}\n";

	(void)state;
	assert_non_null(src);
	assert_non_null(build);
	assert_true(sodium_init() >= 0);
	dir = scratch_dir("devfull");
	snprintf(bin, sizeof(bin), "%s/cli/concordat", build);
	snprintf(
	    policy, sizeof(policy), "%s/policy/examples/crisis-care.yaml", src);
	snprintf(cases, sizeof(cases),
	    "%s/policy/examples/crisis-care.cases.yaml", src);
	join(keys_dir, dir, "keys");
	join(log_dir, dir, "log");
	join(broker_pub, keys_dir, "broker.pub");
	join(agency_pub, keys_dir, "police.pub");
	join(agency_key, keys_dir, "police.key");
	join(pepper, dir, "pepper");
	join(spool, dir, "spool");
	join(outbox, spool, "outbox");
	join(record, dir, "record.json");
	join(proof, dir, "proof.json");
	assert_int_equal(keys_generate(NULL, keys_dir), 0);
	assert_int_equal(keys_generate("police", keys_dir), 0);
	assert_int_equal(keys_pepper_generate(pepper), 0);
	build_log();
	assert_int_equal(mkdir(spool, 0750), 0);
	assert_int_equal(mkdir(outbox, 0750), 0);
	scratch_write(record, rec, 0644);
	/* A real proof, written by the real binary, for check-proof. */
	char *prove[] = {bin, "audit", "prove", "--data", log_dir, "--seq", "3",
	    "--json", NULL};
	if (run_to(proof, &err, prove) != 0)
		fail_msg("audit prove: %s", err);
	free(err);
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

/*
 * Runs the verb (NULL-terminated arguments after "concordat") once to a
 * file, where it must succeed with some output, then with stdout on
 * /dev/full, where it must exit 74 and say why on stderr.
 */
static void
devfull(int ok_code, const char *first, ...)
{
	char *argv[32], *err = NULL, outpath[4096], words[512] = "";
	struct stat st;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = bin;
	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 31;
	     a = va_arg(ap, const char *))
		argv[argc++] = (char *)(uintptr_t)a;
	va_end(ap);
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++) {
		size_t used = strlen(words);

		snprintf(words + used, sizeof(words) - used, "%s%s",
		    i > 1 ? " " : "", argv[i]);
	}

	join(outpath, dir, "stdout");
	rc = run_to(outpath, &err, argv);
	if (rc != ok_code)
		fail_msg("concordat %s: exit %d (want %d): %s", words, rc,
		    ok_code, err);
	assert_int_equal(stat(outpath, &st), 0);
	if (st.st_size == 0)
		fail_msg("concordat %s: printed nothing", words);
	free(err);

	rc = run_to("/dev/full", &err, argv);
	if (rc != 74)
		fail_msg("concordat %s > /dev/full: exit %d (want 74): %s",
		    words, rc, err);
	/*
	 * The line of the top level, or (until audit/ uses the kit) the
	 * line an audit verb prints itself from the process that reads the
	 * log, which the top level cannot see.
	 */
	if (strstr(err, "concordat: write error on standard output: ") ==
	        NULL &&
	    !(strncmp(words, "audit ", 6) == 0 &&
	        strncmp(err, "concordat: audit ", 17) == 0))
		fail_msg("concordat %s > /dev/full: stderr: %s", words, err);
	free(err);
}

static void
test_top(void **state)
{
	(void)state;
	devfull(0, "--help", NULL);
	devfull(0, "-h", NULL);
	devfull(0, "help", NULL);
	devfull(0, "--version", NULL);
	devfull(0, "-V", NULL);
}

static void
test_keys(void **state)
{
	char out1[4096], out2[4096], pep1[4096], pep2[4096];

	(void)state;
	join(out1, dir, "gen1");
	join(out2, dir, "gen2");
	join(pep1, dir, "pepper1");
	join(pep2, dir, "pepper2");
	devfull(0, "keys", "--help", NULL);
	devfull(0, "keys", "generate", "--help", NULL);
	devfull(0, "keys", "show", "--help", NULL);
	devfull(0, "keys", "show", broker_pub, NULL);
	devfull(0, "keys", "show", agency_pub, NULL);
	devfull(0, "keys", "show", agency_key, NULL);
	/* Each writes new files, so each run gets its own. */
	char *argv1[] = {bin, "keys", "generate", "--agency", "ambulance",
	    "--out", out1, NULL};
	char *argv2[] = {bin, "keys", "pepper", "--out", pep1, NULL};
	char *err = NULL;
	assert_int_equal(run_to("/dev/full", &err, argv1), 74);
	assert_non_null(strstr(err, "write error on standard output"));
	free(err);
	assert_int_equal(run_to("/dev/full", &err, argv2), 74);
	assert_non_null(strstr(err, "write error on standard output"));
	free(err);
	argv1[4] = "social_care";
	argv1[6] = out2;
	argv2[4] = pep2;
	assert_int_equal(run_to("/dev/full", &err, argv1), 74);
	free(err);
	assert_int_equal(run_to("/dev/full", &err, argv2), 74);
	free(err);
	/* What they wrote is there: only the message was lost. */
	char made[4096];
	join(made, out2, "social_care.pub");
	assert_int_equal(access(made, R_OK), 0);
	assert_int_equal(access(pep2, R_OK), 0);
}

static void
test_policy(void **state)
{
	(void)state;
	devfull(0, "policy", "--help", NULL);
	devfull(0, "policy", "--version", NULL);
	devfull(0, "policy", "check", "--help", NULL);
	devfull(0, "policy", "check", policy, NULL);
	devfull(0, "policy", "explain", policy, "--from", "police", "--to",
	    "mental_health_trust", "--purpose", "triage_advice", NULL);
	devfull(0, "policy", "explain", policy, "--from", "police", "--to",
	    "mental_health_trust", "--purpose", "triage_advice", "--json",
	    NULL);
	devfull(0, "policy", "diff", policy, policy, NULL);
	devfull(0, "policy", "diff", policy, policy, "--json", NULL);
	devfull(0, "policy", "diff", policy, policy, "--html", NULL);
	devfull(0, "policy", "test", policy, cases, NULL);
	devfull(0, "policy", "summary", policy, NULL);
	devfull(0, "policy", "summary", policy, "--html", NULL);
}

static void
test_audit(void **state)
{
	(void)state;
	devfull(0, "audit", "--help", NULL);
	devfull(0, "audit", "query", "--data", log_dir, NULL);
	devfull(0, "audit", "query", "--data", log_dir, "--json", NULL);
	devfull(0, "audit", "query", "--data", log_dir, "--csv", NULL);
	devfull(0, "audit", "query", "--data", log_dir, "--html", NULL);
	devfull(0, "audit", "report", "--data", log_dir, "--subject", NHS,
	    "--pepper", pepper, NULL);
	devfull(0, "audit", "report", "--data", log_dir, "--subject", NHS,
	    "--pepper", pepper, "--json", NULL);
	devfull(0, "audit", "verify", "--data", log_dir, "--broker-key",
	    broker_pub, NULL);
	devfull(0, "audit", "prove", "--data", log_dir, "--seq", "3", NULL);
	devfull(0, "audit", "prove", "--data", log_dir, "--from", "4", NULL);
	devfull(0, "audit", "stats", "--data", log_dir, NULL);
	devfull(0, "audit", "stats", "--data", log_dir, "--json", NULL);
	devfull(
	    0, "audit", "check-proof", "--broker-key", broker_pub, proof, NULL);
}

/*
 * An audit verb's --help is printed from the child process that reads the
 * log, which checks its own standard output before it exits.
 */
static void
test_audit_help(void **state)
{
	static const char *const verbs[] = {"query", "report", "verify",
	    "reindex", "prove", "stats", "check-proof"};

	(void)state;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		devfull(0, "audit", verbs[i], "--help", NULL);
}

static void
test_send(void **state)
{
	(void)state;
	devfull(0, "send", "--help", NULL);
	devfull(0, "send", "--spool", spool, record, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_top),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_audit),
	    cmocka_unit_test(test_audit_help),
	    cmocka_unit_test(test_send),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
