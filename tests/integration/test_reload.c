/*
 * SIGHUP (DESIGN.md §6): the broker takes a changed policy and keyring
 * without a restart, logs the new policy's hash when it becomes active and
 * decides by it from then on; a policy file with errors is refused and the
 * running one stays.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "tests/integration/harness.h"

#define POLICY_HEAD                                                            \
	"agreement: reload-test\n"                                             \
	"version: %d\n"                                                        \
	"approved_by: Integration tests\n"                                     \
	"agencies: [police, ambulance, mental_health_trust, social_care]\n"    \
	"purposes:\n"                                                          \
	"  triage_advice:\n"                                                   \
	"    description: Street triage\n"                                     \
	"    expires_after: 30m\n"                                             \
	"rules:\n"                                                             \
	"  - id: triage-v%d\n"                                                 \
	"    from: police\n"                                                   \
	"    to: [mental_health_trust]\n"                                      \
	"    purposes: [triage_advice]\n"                                      \
	"    share: [%s]\n"                                                    \
	"    basis: \"MHA 1983 s136(1C)\"\n"

static const char record[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"A\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

static int
setup(void **state)
{
	char text[2048];

	snprintf(text, sizeof(text), POLICY_HEAD, 1, 1, "identity");
	*state = h_sys_new(text, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

/* Sends the record as name; returns the trust's inbox record of it. */
static json_t *
exchange(struct h_sys *s, const char *name)
{
	const char *receipt =
	    h_p("%s/%s.receipt.json", h_spool(s, H_POLICE, "sent"), name);
	json_t *r, *in;

	h_drop(s, H_POLICE, h_p("%s.json", name), record);
	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no receipt for %s", name);
	r = h_json(receipt);
	const char *inbox = h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"),
	    json_string_value(json_object_get(r, "msg_id")));
	assert_true(h_wait_file(inbox, H_WAIT_MS));
	in = h_json(inbox);
	json_decref(r);
	return in;
}

/* The hex SHA-256 of the policy file as it is now. */
static void
file_sha256(const char *path, char hex[65])
{
	uint8_t h[32];
	size_t len;
	char *text = scratch_slurp(path, &len);

	assert_non_null(text);
	crypto_hash_sha256(h, (const uint8_t *)text, len);
	h_hex(h, 32, hex);
	free(text);
}

static void
check(json_t *in, const char *rule, const char *fields, const char *sha)
{
	char *got = json_dumps(json_object_get(in, "fields"), JSON_SORT_KEYS);

	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(in, "rules"), 0)),
	    rule);
	assert_string_equal(got, fields);
	assert_string_equal(
	    json_string_value(json_object_get(in, "policy_sha256")), sha);
	free(got);
	json_decref(in);
}

static void
reload_on_sighup(void **state)
{
	struct h_sys *s = *state;
	char text[2048], sha1[65], sha2[65];

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	file_sha256(s->policy, sha1);
	check(exchange(s, "before"), "triage-v1",
	    "{\"identity\": {\"name\": \"A\"}}", sha1);

	/* A wider agreement, taken on SIGHUP. */
	snprintf(text, sizeof(text), POLICY_HEAD, 2, 2, "identity, risks");
	scratch_write(s->policy, text, 0644);
	file_sha256(s->policy, sha2);
	assert_string_not_equal(sha1, sha2);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "reloaded: policy", 1, H_WAIT_MS));
	/* The sender decides under the agreement it holds: v2 once the
	 * broker has sent it (before, v1 within agreement_grace). */
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "agreement reload-test v2", 1, H_WAIT_MS));
	check(exchange(s, "after"), "triage-v2",
	    "{\"identity\": {\"name\": \"A\"}, \"risks\": {\"self_harm\": "
	    "\"high\"}}",
	    sha2);
	const char *args[] = {"--event", "policy_activated", NULL};
	json_t *evs = h_audit(s, args);
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(evs, 0), "policy_sha256")),
	    sha1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(evs, 1), "policy_sha256")),
	    sha2);
	json_decref(evs);

	/* A broken file is refused; the running agreement stays. */
	scratch_write(s->policy, "agreement: [\n", 0644);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "reload refused", 1, H_WAIT_MS));
	check(exchange(s, "broken"), "triage-v2",
	    "{\"identity\": {\"name\": \"A\"}, \"risks\": {\"self_harm\": "
	    "\"high\"}}",
	    sha2);
	assert_int_equal(h_audit_count(s, "policy_activated", NULL), 2);

	/* A new agency's key, put in the keyring, is let in on SIGHUP. */
	snprintf(text, sizeof(text), POLICY_HEAD, 2, 2, "identity, risks");
	scratch_write(s->policy, text, 0644);
	const char *gen[] = {s->cli, "keys", "generate", "--agency", "fire",
	    "--out", h_p("%s/keys", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	struct h_client *c = h_client_new(s, h_p("%s/keys/fire.key", s->dir));
	assert_int_equal(
	    h_client_event(c,
	        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
	        H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	h_client_free(c);
	char *pub = scratch_slurp(h_p("%s/keys/fire.pub", s->dir), NULL);
	assert_non_null(pub);
	scratch_write(h_p("%s/ring/fire.pub", s->dir), pub, 0644);
	free(pub);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "5 agencies", 1, H_WAIT_MS));
	c = h_client_new(s, h_p("%s/keys/fire.key", s->dir));
	assert_int_equal(
	    h_client_event(c,
	        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
	        H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	h_client_free(c);
	/* The agencies connected all along still work. */
	check(exchange(s, "last"), "triage-v2",
	    "{\"identity\": {\"name\": \"A\"}, \"risks\": {\"self_harm\": "
	    "\"high\"}}",
	    sha2);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(reload_on_sighup, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
