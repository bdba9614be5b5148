/*
 * The demo's scenario S9 (scripts/demo-data), a recipient offline: the message
 * waits at the broker; the sender's receipt says it is not yet collected; a
 * message whose purpose expires first gives the sender a non-delivery report
 * and an expired event; the late agent collects what is still queued,
 * acknowledged and audited, and never what expired.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

/* A short expiry for one purpose; an hour for the other. */
static const char policy[] =
    "agreement: offline-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  safeguarding:\n"
    "    description: Care for dependents, collected within the hour\n"
    "    expires_after: 1h\n"
    "  welfare_check:\n"
    "    description: A check that must be collected at once\n"
    "    expires_after: 2s\n"
    "rules:\n"
    "  - id: dependents\n"
    "    from: mental_health_trust\n"
    "    to: [social_care]\n"
    "    purposes: [safeguarding, welfare_check]\n"
    "    share: [identity, dependents]\n"
    "    basis: \"Care Act 2014 s42\"\n";

static const char record_fmt[] =
    "{\"recipients\": [\"social_care\"], \"purpose\": \"%s\",\n"
    " \"urgency\": \"urgent\", \"kind\": \"record\", \"local_id\": \"%s\",\n"
    " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},\n"
    "   \"dependents\": {\"pets\": \"two dogs at home\"}}}\n";

/* Drops a record and returns its receipt, checked: queued, not collected. */
static json_t *
send_and_receipt(
    struct h_sys *s, const char *name, const char *purpose, char msg_id[33])
{
	char text[1024];
	const char *receipt =
	    h_p("%s/%s.receipt.json", h_spool(s, H_MHT, "sent"), name);

	snprintf(text, sizeof(text), record_fmt, purpose, name, name);
	h_drop(s, H_MHT, h_p("%s.json", name), text);
	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no receipt for %s", name);
	json_t *r = h_json(receipt);
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	json_t *r0 = json_array_get(json_object_get(r, "recipients"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(r0, "agency")), "social_care");
	assert_string_equal(json_string_value(json_object_get(r0, "state")),
	    "queued (not yet collected)");
	json_t *want = json_pack("[s,s]", "identity", "dependents");
	assert_true(json_equal(json_object_get(r0, "disclosed"), want));
	json_decref(want);
	snprintf(
	    msg_id, 33, "%s", json_string_value(json_object_get(r, "msg_id")));
	assert_int_equal(strlen(msg_id), 32);
	return r;
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
recipient_offline(void **state)
{
	struct h_sys *s = *state;
	char keep[33], lapse[33], receipts[PATH_MAX];

	snprintf(
	    receipts, sizeof(receipts), "%s", h_spool(s, H_MHT, "receipts"));

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	/* Social care's agent is down. */
	json_decref(send_and_receipt(s, "keep", "safeguarding", keep));
	json_decref(send_and_receipt(s, "lapse", "welfare_check", lapse));

	/* The short one expires: a non-delivery report, and the event. */
	const char *ndr =
	    h_p("%s/%s.social_care.expired.json", receipts, lapse);
	if (!h_wait_file(ndr, H_WAIT_MS))
		fail_msg("no non-delivery report %s", ndr);
	json_t *st = h_json(ndr);
	assert_string_equal(
	    json_string_value(json_object_get(st, "state")), "expired");
	assert_string_equal(
	    json_string_value(json_object_get(st, "recipient")), "social_care");
	assert_string_equal(
	    json_string_value(json_object_get(st, "file")), "lapse.json");
	assert_true(json_is_true(json_object_get(st, "audit_verified")));
	assert_non_null(strstr(
	    json_string_value(json_object_get(st, "note")), "non-delivery"));
	json_decref(st);
	const char *args[] = {"--msg-id", lapse, "--event", "expired", NULL};
	json_t *evs = h_audit(s, args);
	assert_int_equal(json_array_size(evs), 1);
	json_t *e = json_array_get(evs, 0);
	assert_string_equal(
	    json_string_value(json_object_get(e, "recipient")), "social_care");
	assert_string_equal(json_string_value(json_object_get(e, "sender")),
	    "mental_health_trust");
	json_decref(evs);
	/* The other still waits: nothing delivered or expired of it. */
	assert_int_equal(h_audit_count(s, "delivered", keep), 0);
	assert_int_equal(h_audit_count(s, "expired", keep), 0);
	assert_int_equal(h_count(receipts, ".json"), 1);

	/* What waits, waits in the broker's store: a restart keeps it. */
	assert_int_equal(h_broker_stop(s), 0);
	h_broker_start(s);
	assert_true(h_wait_log(
	    &s->broker, "mental_health_trust connected", 1, H_WAIT_MS));

	/* The late agent collects what waited, and only that. */
	h_agent_start(s, H_SOCIAL, true);
	const char *got =
	    h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), keep);
	assert_true(h_wait_file(got, H_WAIT_MS));
	json_t *in = h_json(got);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(in, "fields"), "identity"),
	        "name")),
	    "keep");
	json_decref(in);
	assert_true(h_wait_file(
	    h_p("%s/%s.social_care.acknowledged.json", receipts, keep),
	    H_WAIT_MS));
	assert_true(
	    h_wait_file(h_p("%s/%s.social_care.delivered.json", receipts, keep),
	        H_WAIT_MS));
	/* By now the broker has pumped social care's whole queue. */
	assert_int_equal(h_count(h_spool(s, H_SOCIAL, "inbox"), ".json"), 1);
	assert_false(
	    access(h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), lapse),
	        F_OK) == 0);
	assert_int_equal(h_audit_count(s, "delivered", keep), 1);
	assert_int_equal(h_audit_count(s, "acknowledged", keep), 1);
	assert_int_equal(h_audit_count(s, "delivered", lapse), 0);
	assert_int_equal(h_audit_count(s, "acknowledged", lapse), 0);
	assert_int_equal(h_count(receipts, ".json"), 3);
	assert_int_equal(h_count(h_spool(s, H_SOCIAL, "alerts"), ".json"), 0);

	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(recipient_offline, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
