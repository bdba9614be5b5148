/*
 * Key lifecycle (issue 12, DESIGN.md §4): a key removed from or replaced
 * in the keyring, and a reload, end that key's session at once, are
 * audited with the fingerprints before and after, and the agent of that
 * session is told why (a Notice: it logs it and writes an alert); the
 * keyring reloads even when the agreement beside it is broken; and a
 * rotation loses no message queued under the old key.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static const char policy[] =
    "agreement: keys-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  triage_advice:\n"
    "    description: Street triage\n"
    "    expires_after: 30m\n"
    "rules:\n"
    "  - id: triage\n"
    "    from: police\n"
    "    to: [mental_health_trust]\n"
    "    purposes: [triage_advice]\n"
    "    share: [identity, risks]\n"
    "    basis: \"MHA 1983 s136(1C)\"\n";

static const char record[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"A\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

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

/* A new key for id in DIR/newkeys; its public identity into *pk. */
static void
new_key(struct h_sys *s, const char *id, struct keys_public *pk)
{
	const char *dir = h_p("%s/newkeys", s->dir);
	const char *gen[] = {
	    s->cli, "keys", "generate", "--agency", id, "--out", dir, NULL};

	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	assert_int_equal(keys_load_public(h_p("%s/%s.pub", dir, id), pk), 0);
}

static void
copy(const char *from, const char *to, mode_t mode)
{
	size_t len;
	char *text = scratch_slurp(from, &len);

	assert_non_null(text);
	scratch_write(to, text, mode);
	free(text);
}

/* A keyring_changed event of agency naming both fingerprints. */
static bool
keyring_audited(
    struct h_sys *s, const char *agency, const char *before, const char *after)
{
	const char *args[] = {"--event", "keyring_changed", NULL};
	json_t *evs = h_audit(s, args);
	bool hit = false;

	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *e = json_array_get(evs, i);
		const char *who =
		    json_string_value(json_object_get(e, "sender"));
		const char *d = json_string_value(json_object_get(e, "detail"));
		hit |= who != NULL && strcmp(who, agency) == 0 && d != NULL &&
		    strstr(d, before) != NULL &&
		    (after == NULL || strstr(d, after) != NULL);
	}
	json_decref(evs);
	return hit;
}

/* The police agent was told its key is revoked: its log and alerts/. */
static void
told(struct h_sys *s, const char *fp)
{
	assert_true(h_wait_log(&s->agent[H_POLICE],
	    h_p("the broker no longer accepts this agency's key "
	        "(fingerprint %s): revoked at",
	        fp),
	    1, H_WAIT_MS));
	assert_true(h_wait_count(
	    h_spool(s, H_POLICE, "alerts"), "-key.json", 1, H_WAIT_MS));
}

/*
 * Police's key is replaced in the keyring and the broker reloads: its
 * running agent's session ends at once, the agent logs why, with the
 * fingerprint, and raises an alert; the change is audited with both
 * fingerprints. (Before: the agent was told nothing, and its messages
 * went unanswered.)
 */
static void
replaced_key_told(void **state)
{
	struct h_sys *s = *state;
	struct keys_public oldpk, newpk;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(
	    keys_load_public(h_p("%s/ring/police.pub", s->dir), &oldpk), 0);
	new_key(s, "police", &newpk);
	copy(h_p("%s/newkeys/police.pub", s->dir),
	    h_p("%s/ring/police.pub", s->dir), 0644);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "reloaded", 1, H_WAIT_MS));
	told(s, oldpk.fingerprint);
	assert_true(h_wait_log(&s->agent[H_POLICE],
	    h_p("replaced by %s", newpk.fingerprint), 1, H_WAIT_MS));
	assert_true(
	    keyring_audited(s, "police", oldpk.fingerprint, newpk.fingerprint));
	/* What police drops now is never accepted under the revoked key. */
	h_drop(s, H_POLICE, "late.json", record);
	assert_false(h_wait_file(
	    h_p("%s/late.receipt.json", h_spool(s, H_POLICE, "sent")), 2000));
	h_agent_kill(s, H_POLICE);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * The agreement file is broken when police's key is removed from the
 * keyring: the reload refuses the agreement (the running one stays) but
 * takes the keyring, so the revocation holds at once: audited, the
 * session ended, the agent told. (Before: the whole reload was refused
 * and the removed key kept working.)
 */
static void
keyring_despite_broken_agreement(void **state)
{
	struct h_sys *s = *state;
	struct keys_public oldpk;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(
	    keys_load_public(h_p("%s/ring/police.pub", s->dir), &oldpk), 0);
	s->no_auto_sign = true;
	scratch_write(s->policy, "agreement: [\n", 0644);
	assert_int_equal(unlink(h_p("%s/ring/police.pub", s->dir)), 0);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "reload refused", 1, H_WAIT_MS));
	assert_true(h_wait_log(
	    &s->broker, "the keyring and key files were taken", 1, H_WAIT_MS));
	assert_true(keyring_audited(s, "police", oldpk.fingerprint, NULL));
	told(s, oldpk.fingerprint);
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "removed from its keyring", 1, H_WAIT_MS));
	/* The refused agreement is audited as before. */
	assert_int_equal(h_audit_count(s, "policy_refused", NULL), 1);
	h_agent_kill(s, H_POLICE);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(replaced_key_told, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        keyring_despite_broken_agreement, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
