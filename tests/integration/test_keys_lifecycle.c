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
#include <signal.h>
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
	scratch_spit(to, text, len, mode);
	free(text);
}

/* A keyring_changed event of agency naming both fingerprints, in its
 * detail and as key_before and key_after (after NULL: removed). */
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
		const char *kb =
		    json_string_value(json_object_get(e, "key_before"));
		const char *ka =
		    json_string_value(json_object_get(e, "key_after"));
		hit |= who != NULL && strcmp(who, agency) == 0 && d != NULL &&
		    strstr(d, before) != NULL &&
		    (after == NULL || strstr(d, after) != NULL) && kb != NULL &&
		    strcmp(kb, before) == 0 && ka != NULL &&
		    strcmp(ka, after != NULL ? after : "") == 0;
	}
	json_decref(evs);
	return hit;
}

struct audited_arg {
	struct h_sys *s;
	const char *agency, *before, *after;
};

static bool
audited_pred(void *arg)
{
	struct audited_arg *a = arg;

	return keyring_audited(a->s, a->agency, a->before, a->after);
}

/* keyring_audited, waiting for the event's commit. */
static bool
wait_audited(
    struct h_sys *s, const char *agency, const char *before, const char *after)
{
	struct audited_arg a = {s, agency, before, after};

	return h_wait(H_WAIT_MS, audited_pred, &a);
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
	/* The log with its new members verifies. */
	char key[PATH_MAX];
	snprintf(key, sizeof(key), "%s", h_p("%s/keys/broker.pub", s->dir));
	const char *verify[] = {s->cli, "audit", "verify", "--data", s->data,
	    "--broker-key", key, NULL};
	assert_int_equal(h_run(s, NULL, NULL, verify), 0);
	h_pass(s);
}

/*
 * Police's key is removed from the keyring (the agreement, which names
 * police, unchanged) and the broker reloads: the removal holds at once,
 * audited with the fingerprint before and none after, and the agent is
 * told.
 */
static void
removed_key_told(void **state)
{
	struct h_sys *s = *state;
	struct keys_public oldpk;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(
	    keys_load_public(h_p("%s/ring/police.pub", s->dir), &oldpk), 0);
	assert_int_equal(unlink(h_p("%s/ring/police.pub", s->dir)), 0);
	h_broker_reload(s);
	assert_true(wait_audited(s, "police", oldpk.fingerprint, NULL));
	told(s, oldpk.fingerprint);
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "removed from its keyring", 1, H_WAIT_MS));
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
	assert_true(h_wait_log(&s->broker,
	    h_p("keyring: police key %s removed", oldpk.fingerprint), 1,
	    H_WAIT_MS));
	assert_true(wait_audited(s, "police", oldpk.fingerprint, NULL));
	assert_int_equal(
	    h_log_count(&s->broker, "the keyring and key files were taken"), 1);
	told(s, oldpk.fingerprint);
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "removed from its keyring", 1, H_WAIT_MS));
	/* The refused agreement is audited as before. */
	assert_int_equal(h_audit_count(s, "policy_refused", NULL), 1);
	h_agent_kill(s, H_POLICE);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* `concordat keys rotate STEP` for the mental health trust's keys/. */
static void
rotate(struct h_sys *s, const char *step)
{
	const char *argv[] = {s->cli, "keys", "rotate", step, "--agency",
	    "mental_health_trust", "--keys", h_p("%s/keys", s->dir), NULL};

	assert_int_equal(h_run(s, NULL, NULL, argv), 0);
}

/*
 * A rotation loses nothing: police queues messages for the mental health
 * trust while its agent is down; the trust begins a rotation (its next
 * key goes into the keyring as mental_health_trust.next.pub and the
 * broker reloads), promotes it, and comes back with its new key: the
 * broker takes the new key's session and the agent opens every message
 * (sealed to the old box key) with its retired key. The window then
 * closes (the new key becomes the keyring's .pub) without ending the
 * session, and a message sealed to the new key opens too.
 */
static void
rotation_loses_nothing(void **state)
{
	struct h_sys *s = *state;
	enum { N = 5 };
	struct keys_public oldpk, newpk;
	const char *ring = h_p("%s/ring", s->dir);
	char ring_s[PATH_MAX], keys_s[PATH_MAX], inbox[PATH_MAX];

	snprintf(ring_s, sizeof(ring_s), "%s", ring);
	snprintf(keys_s, sizeof(keys_s), "%s", h_p("%s/keys", s->dir));
	snprintf(inbox, sizeof(inbox), "%s", h_spool(s, H_MHT, "inbox"));
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	for (int i = 0; i < N; i++)
		h_drop(s, H_POLICE, h_p("m%d.json", i), record);
	for (int i = 0; i < N; i++)
		assert_true(h_wait_file(
		    h_p("%s/m%d.receipt.json", h_spool(s, H_POLICE, "sent"), i),
		    H_WAIT_MS));
	assert_int_equal(
	    keys_load_public(h_p("%s/mental_health_trust.pub", ring_s), &oldpk),
	    0);

	/* The window opens: the next key in the keyring, the broker
	 * reloaded. */
	rotate(s, "begin");
	assert_int_equal(
	    keys_load_public(
	        h_p("%s/mental_health_trust.next.pub", keys_s), &newpk),
	    0);
	copy(h_p("%s/mental_health_trust.next.pub", keys_s),
	    h_p("%s/mental_health_trust.next.pub", ring_s), 0644);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker,
	    h_p("next key %s added", newpk.fingerprint), 1, H_WAIT_MS));
	/* The trust promotes it and comes back with it. */
	rotate(s, "promote");
	char hex[33];
	size_t o = 0;
	for (const char *p = oldpk.fingerprint; *p != '\0'; p++)
		if (*p != ':')
			hex[o++] = *p;
	hex[o] = '\0';
	struct stat st;
	assert_int_equal(
	    stat(
	        h_p("%s/mental_health_trust.retired-%s.key", keys_s, hex), &st),
	    0);
	assert_int_equal(st.st_mode & 0777, 0600);
	h_agent_start(s, H_MHT, true);
	assert_true(h_wait_count(inbox, ".json", N, H_WAIT_MS));
	assert_true(
	    h_log_count(&s->agent[H_MHT], "opened with our retired key") >= N);
	assert_int_equal(h_count(h_spool(s, H_MHT, "alerts"), ".json"), 0);

	/* The window closes: the new key is the keyring's; the session
	 * stays. */
	copy(h_p("%s/mental_health_trust.pub", keys_s),
	    h_p("%s/mental_health_trust.pub", ring_s), 0644);
	assert_int_equal(
	    unlink(h_p("%s/mental_health_trust.next.pub", ring_s)), 0);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "(its next key)", 1, H_WAIT_MS));
	assert_int_equal(h_log_count(&s->broker, "session ended"), 0);
	assert_true(wait_audited(
	    s, "mental_health_trust", oldpk.fingerprint, newpk.fingerprint));
	kill(s->agent[H_POLICE].pid, SIGHUP);
	assert_true(h_wait_log(&s->agent[H_POLICE], "reloaded:", 1, H_WAIT_MS));
	h_drop(s, H_POLICE, "after.json", record);
	assert_true(h_wait_count(inbox, ".json", N + 1, H_WAIT_MS));
	/* The trust's cosignatures, by its next key, counted all along. */
	assert_int_equal(
	    h_log_count(&s->agent[H_POLICE], "that does not verify"), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

static void
mode_is(const char *path, mode_t want)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != want)
		fail_msg("%s: mode %04o, want %04o", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)want);
}

/*
 * The spool permission model: the record system, in the spool's group,
 * may write outbox/ and tmp/ (setgid, group-writable), take records out
 * of inbox/, and read the rest;
 * the state folder is the agent's alone. A folder made too open before
 * the agent starts is brought to its mode. (Before: every folder 0750.)
 */
static void
spool_modes(void **state)
{
	struct h_sys *s = *state;
	static const char *const writable[] = {"outbox", "tmp", "inbox"};
	static const char *const readable[] = {
	    "sent", "failed", "receipts", "alerts"};
	const char *inbox = h_spool(s, H_POLICE, "inbox");

	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", inbox);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(inbox, 0777), 0);
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	for (size_t i = 0; i < 3; i++)
		mode_is(h_spool(s, H_POLICE, writable[i]), 02770);
	for (size_t i = 0; i < 4; i++)
		mode_is(h_spool(s, H_POLICE, readable[i]), 02750);
	mode_is(h_p("%s/spool/police", s->dir), 02750);
	mode_is(h_state(s, H_POLICE), 0700);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* concordat-agent -n for police: its status, stderr into *err. */
static int
agent_check(struct h_sys *s, char **err)
{
	char yaml[PATH_MAX], errpath[PATH_MAX];
	snprintf(yaml, sizeof(yaml), "%s", h_agent_yaml(s, H_POLICE));
	snprintf(errpath, sizeof(errpath), "%s", h_p("%s/check.err", s->dir));
	const char *argv[] = {s->agent_bin, "-n", "-c", yaml, NULL};
	int st = h_run(s, NULL, errpath, argv);
	*err = scratch_slurp(errpath, NULL);
	assert_non_null(*err);
	return st;
}

/*
 * A retired key the agent cannot trust refuses the start, naming the
 * file: one named after another fingerprint, one others can read; a good
 * one is taken.
 */
static void
bad_retired_key(void **state)
{
	struct h_sys *s = *state;
	struct keys_public pk;
	char *err = NULL, good[PATH_MAX], hex[33];
	size_t o = 0;
	const char *wrong = h_p("%s/keys/police.retired-"
	                        "00000000000000000000000000000000.key",
	    s->dir);
	char wrong_s[PATH_MAX];

	snprintf(wrong_s, sizeof(wrong_s), "%s", wrong);
	assert_int_equal(agent_check(s, &err), 0);
	free(err);
	assert_int_equal(
	    keys_load_public(h_p("%s/keys/police.pub", s->dir), &pk), 0);
	for (const char *p = pk.fingerprint; *p != '\0'; p++)
		if (*p != ':')
			hex[o++] = *p;
	hex[o] = '\0';
	snprintf(good, sizeof(good), "%s",
	    h_p("%s/keys/police.retired-%s.key", s->dir, hex));
	copy(h_p("%s/keys/police.key", s->dir), wrong_s, 0600);
	assert_int_not_equal(agent_check(s, &err), 0);
	if (strstr(err, wrong_s) == NULL ||
	    strstr(err, h_p("police.retired-%s.key", hex)) == NULL)
		fail_msg("stderr: %s", err);
	free(err);
	assert_int_equal(rename(wrong_s, good), 0);
	assert_int_equal(chmod(good, 0640), 0);
	assert_int_not_equal(agent_check(s, &err), 0);
	if (strstr(err, good) == NULL || strstr(err, "0600") == NULL)
		fail_msg("stderr: %s", err);
	free(err);
	assert_int_equal(chmod(good, 0600), 0);
	assert_int_equal(agent_check(s, &err), 0);
	free(err);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(replaced_key_told, setup, teardown),
	    cmocka_unit_test_setup_teardown(removed_key_told, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        keyring_despite_broken_agreement, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        rotation_loses_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(spool_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_retired_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
