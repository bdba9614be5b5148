/*
 * The backup and restore drill of docs/operations.md, on a running broker:
 * the head file copied first, then the data folder by mdb_copy while the
 * broker serves; the copy passes `concordat audit verify`; after more
 * traffic the broker is stopped, the folder and the head restored from the
 * copy, and the broker starts on them and serves again. The order matters:
 * the same copy restored under the newer head is refused as lost commits
 * (exit 65).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static const char policy[] =
    "agreement: restore-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  safeguarding:\n"
    "    description: Care for dependents\n"
    "    expires_after: 1h\n"
    "rules:\n"
    "  - id: dependents\n"
    "    from: mental_health_trust\n"
    "    to: [social_care]\n"
    "    purposes: [safeguarding]\n"
    "    share: [identity, dependents]\n"
    "    basis: \"Care Act 2014 s42\"\n";

static const char record_fmt[] =
    "{\"recipients\": [\"social_care\"], \"purpose\": \"safeguarding\",\n"
    " \"urgency\": \"urgent\", \"kind\": \"record\", \"local_id\": \"%s\",\n"
    " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},\n"
    "   \"dependents\": {\"pets\": \"two dogs at home\"}}}\n";

/* Sends NAME from the trust to social care and waits for its delivery. */
static void
deliver(struct h_sys *s, const char *name)
{
	char text[1024];
	const char *receipt =
	    h_p("%s/%s.receipt.json", h_spool(s, H_MHT, "sent"), name);

	snprintf(text, sizeof(text), record_fmt, name, name);
	h_drop(s, H_MHT, h_p("%s.json", name), text);
	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no receipt for %s", name);
	json_t *r = h_json(receipt);
	const char *id = json_string_value(json_object_get(r, "msg_id"));
	assert_non_null(id);
	if (!h_wait_file(h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), id),
	        H_WAIT_MS))
		fail_msg("%s was not delivered", name);
	json_decref(r);
}

/* A shell command, as the operator types it; its exit status. */
static int
sh(struct h_sys *s, const char *cmd)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	return h_run(
	    s, h_p("%s/sh.out", s->dir), h_p("%s/sh.err", s->dir), argv);
}

/* `concordat audit verify` on folder; its exit status. */
static int
verify(struct h_sys *s, const char *folder)
{
	const char *argv[] = {s->cli, "audit", "verify", "--data", folder,
	    "--broker-key", h_p("%s/keys/broker.pub", s->dir), NULL};

	return h_run(s, h_p("%s/verify.out", s->dir),
	    h_p("%s/verify.err", s->dir), argv);
}

static int
setup(void **state)
{
	*state = h_sys_new(policy, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

static void
backup_restore_drill(void **state)
{
	struct h_sys *s = *state;
	char backup[PATH_MAX], head[PATH_MAX];
	const char *cmd;

	snprintf(backup, sizeof(backup), "%s", h_p("%s/backup", s->dir));
	snprintf(head, sizeof(head), "%s", h_p("%s/keys/broker.head", s->dir));
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_SOCIAL, true);
	deliver(s, "before1");
	deliver(s, "before2");

	/* The backup, while the broker runs: the head, then the folder. */
	cmd = h_p("set -e; mkdir -p '%s/data'; cp -p '%s' '%s/'; "
	          "mdb_copy '%s' '%s/data'; "
	          "if [ -d '%s/agreements' ]; then cp -pr '%s/agreements' "
	          "'%s/data/'; fi",
	    backup, head, backup, s->data, backup, s->data, s->data, backup);
	assert_int_equal(sh(s, cmd), 0);
	assert_true(h_proc_running(&s->broker));
	assert_int_equal(verify(s, h_p("%s/data", backup)), 0);

	/* Later traffic, which the restore will lose. */
	deliver(s, "after");
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	assert_int_equal(h_broker_stop(s), 0);

	/* The copy restored under the live, newer head: lost commits. */
	cmd = h_p("set -e; mv '%s' '%s.old'; mkdir -m 0700 '%s'; "
	          "cp -p '%s/data/data.mdb' '%s/'; "
	          "if [ -d '%s/data/agreements' ]; then cp -pr "
	          "'%s/data/agreements' '%s/'; fi",
	    s->data, s->data, s->data, backup, s->data, backup, backup,
	    s->data);
	assert_int_equal(sh(s, cmd), 0);
	assert_int_equal(
	    h_broker_refused(s, h_p("%s/refused.log", s->dir)), 65);

	/* With the head of the same backup: the broker starts and serves. */
	cmd = h_p("cp -p '%s/broker.head' '%s'", backup, head);
	assert_int_equal(sh(s, cmd), 0);
	assert_int_equal(verify(s, s->data), 0);
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_SOCIAL, true);
	deliver(s, "restored");
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(verify(s, s->data), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        backup_restore_drill, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
