/*
 * The agents hold the agreement and decide by it themselves (P3
 * and P3), against a broker that does not: a rogue ROUTER with the
 * broker's own key that forwards every sealed field and every wrap, that
 * captures what a sender submits, and that hands agents agreements some
 * guardian did not sign; and the real broker, which rejects a message
 * sealed under an agreement no longer in force so that the agent seals it
 * again under the new one.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/urgency.h"
#include "tests/integration/harness.h"

/* Waits for the next frame of type from the agent, skipping others. */
static struct wire_frame *
next_of(struct h_rogue *r, int type, unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	while (h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		if (f != NULL && (int)f->type == type)
			return f;
		wire_frame_free(f);
	}
	return NULL;
}

/* A rogue broker the agent of agency has greeted. */
static struct h_rogue *
rogue_for(struct h_sys *s, int agency)
{
	struct h_rogue *r = h_rogue_new(s);
	struct wire_frame *hello;

	h_agent_start(s, agency, true);
	hello = next_of(r, WIRE_PROOF_REQUEST, H_WAIT_MS);
	assert_non_null(hello);
	wire_frame_free(hello);
	return r;
}

/* A record of every field of the street triage referral. */
static char *
record(int to, const char *purpose, const char *kind, const char *requested)
{
	char *buf = malloc(16384);
	size_t n = 0;

	assert_non_null(buf);
	n += (size_t)snprintf(buf + n, 16384 - n,
	    "{\"recipients\": [\"%s\"], \"purpose\": \"%s\", \"urgency\": "
	    "\"urgent\", \"kind\": \"%s\", \"local_id\": \"t\", \"subject\": "
	    "{\"nhs_number\": \"9434765919\"},%s%s%s \"fields\": {",
	    fixture_agency[to], purpose, kind,
	    requested ? " \"requested_fields\": [" : "",
	    requested ? requested : "", requested ? "]," : "");
	for (int f = 1; f <= FIELDS_COUNT; f++)
		n += (size_t)snprintf(buf + n, 16384 - n, "%s\"%s\": %s",
		    f > 1 ? ", " : "", fields_name(f), fixture_record_field(f));
	snprintf(buf + n, 16384 - n, "}}");
	return buf;
}

/* Whether the agent sent anything but greetings within ms. */
static struct wire_frame *
submitted(struct h_rogue *r, unsigned ms)
{
	return next_of(r, WIRE_SUBMIT, ms);
}

/*
 * A broker that redacts nothing: the trust's reply to police with every
 * field sealed and wrapped for police, clinical among them, which the
 * agreement's `never` entry withholds from police. Police's agent
 * quarantines it (an alert naming the fields), acknowledges it, and writes
 * nothing to inbox/; the same message redacted as the agreement says goes
 * through, its rules and obligations the agent's own.
 */
static void
rogue_redacts_nothing(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);
	struct h_rogue *r = rogue_for(s, H_POLICE);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .n_recipients = 1,
	    .recipients = {H_POLICE},
	    .fields = "{\"clinical\": {\"diagnosis\": \"CANARY-clinical\"}, "
	              "\"risks\": {\"self_harm\": \"high\"}}",
	    .unredacted = true};
	uint8_t id[16], *frame;
	size_t len;
	char hex[33];

	h_rogue_agreement(r, s->policy);
	h_delivery(s, &m, H_POLICE, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	h_hex(id, 16, hex);
	struct wire_frame *ack = next_of(r, WIRE_DELIVERY_ACK, H_WAIT_MS);
	assert_non_null(ack);
	assert_memory_equal(ack->u.ack_msg_id, id, 16);
	wire_frame_free(ack);
	const char *alert =
	    h_p("%s/%s-quarantine.json", h_spool(s, H_POLICE, "alerts"), hex);
	assert_true(h_wait_file(alert, H_WAIT_MS));
	json_t *a = h_json(alert);
	json_t *fields = json_object_get(a, "fields");
	bool clinical = false;
	for (size_t i = 0; i < json_array_size(fields); i++)
		clinical |= strcmp(json_string_value(json_array_get(fields, i)),
		                "clinical") == 0;
	assert_true(clinical);
	json_decref(a);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "inbox"), ".json"), 0);
	assert_int_equal(h_tree_grep(h_spool(s, H_POLICE, "inbox"),
	                     "CANARY-clinical", NULL, 0),
	    0);

	/* Redacted as the agreement says: into inbox/, decided locally. */
	m.unredacted = false;
	h_delivery(s, &m, H_POLICE, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	h_hex(id, 16, hex);
	const char *in = h_p("%s/%s.json", h_spool(s, H_POLICE, "inbox"), hex);
	assert_true(h_wait_file(in, H_WAIT_MS));
	json_t *rec = h_json(in);
	json_t *rules = json_object_get(rec, "rules");
	assert_int_equal(json_array_size(rules), 1);
	assert_string_equal(
	    json_string_value(json_array_get(rules, 0)), "triage-reply");
	assert_null(
	    json_object_get(json_object_get(rec, "fields"), "clinical"));
	json_decref(rec);
	assert_int_equal(h_tree_grep(h_spool(s, H_POLICE, "inbox"),
	                     "CANARY-clinical", NULL, 0),
	    0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * The sender wraps only what the agreement allows each recipient: the
 * trust's record for police, captured as submitted, holds wraps for the
 * six fields of rule triage-reply and none for clinical. A record that
 * would disclose nothing to anyone (police get nothing for a place of
 * safety from the trust) fails into failed/ with the explanation, and is
 * never submitted.
 */
static void
sender_grants(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);
	struct h_rogue *r = rogue_for(s, H_MHT);
	char *rec;

	h_rogue_agreement(r, s->policy);
	rec = record(H_POLICE, "triage_advice", "record", NULL);
	h_drop(s, H_MHT, "reply.json", rec);
	free(rec);
	struct wire_frame *f = submitted(r, H_WAIT_MS);
	assert_non_null(f);
	const struct wire_envelope *e = &f->u.submit;
	assert_int_equal(e->n_grants, 1);
	assert_string_equal(e->grants[0].recipient, "police");
	fieldset want = h_allowed(s, H_MHT, H_POLICE, "triage_advice", 0, 0);
	assert_true(want != 0);
	assert_int_equal(e->grants[0].fields, want);
	assert_false(fields_has(e->grants[0].fields, FIELD_CLINICAL));
	uint8_t sha[32];
	h_file_sha(s->policy, sha);
	assert_true(e->m.has_agreement);
	assert_memory_equal(e->m.agreement, sha, 32);
	wire_frame_free(f);

	rec = record(H_POLICE, "place_of_safety", "record", NULL);
	h_drop(s, H_MHT, "nothing.json", rec);
	free(rec);
	const char *err =
	    h_p("%s/nothing.error.json", h_spool(s, H_MHT, "failed"));
	assert_true(h_wait_file(err, H_WAIT_MS));
	json_t *o = h_json(err);
	json_t *e0 = json_array_get(json_object_get(o, "errors"), 0);
	assert_non_null(
	    strstr(json_string_value(json_object_get(e0, "message")),
	        "lets 'police' see no field"));
	json_t *why = json_object_get(e0, "explanation");
	assert_non_null(strstr(
	    json_string_value(json_object_get(why, "clinical")), "withheld"));
	json_decref(o);
	f = submitted(r, 1500);
	assert_null(f);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/* Writes a copy of the agreement at dst, with line appended (a new SHA). */
static void
variant(struct h_sys *s, const char *dst, const char *line)
{
	size_t len = 0;
	char *text = scratch_slurp(s->policy, &len), *out;

	assert_non_null(text);
	out = malloc(len + strlen(line) + 2);
	assert_non_null(out);
	snprintf(out, len + strlen(line) + 2, "%s%s\n", text, line);
	scratch_write(dst, out, 0644);
	free(out);
	free(text);
}

static size_t
agreement_alerts(struct h_sys *s, int agency)
{
	return h_count(h_spool(s, agency, "alerts"), "-agreement.json");
}

/*
 * Agreements the broker hands an agent that not every guardian signed:
 * one guardian's signature missing, one signed by a guardian key the
 * agent's keyring does not hold, one with a byte of the YAML changed after
 * signing. Each is refused (an alert in alerts/) and never used: the
 * record in the outbox waits. The one every guardian signed is taken, and
 * the record goes.
 */
static void
agreement_refused(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);
	struct h_rogue *r = rogue_for(s, H_MHT);
	char missing[PATH_MAX], unknown[PATH_MAX], changed[PATH_MAX];

	snprintf(
	    missing, sizeof(missing), "%s", h_p("%s/missing.yaml", s->dir));
	snprintf(
	    unknown, sizeof(unknown), "%s", h_p("%s/unknown.yaml", s->dir));
	snprintf(
	    changed, sizeof(changed), "%s", h_p("%s/changed.yaml", s->dir));
	char *rec;

	const unsigned others = (1u << H_AMBULANCE) | (1u << H_SOCIAL);
	variant(s, missing, "# missing the trust's guardian");
	h_agreement_sign(s, missing, others | (1u << H_POLICE));
	/* The police line by a guardian key no keyring holds. */
	variant(s, unknown, "# the police line by a stranger's key");
	h_guardian_new(s, "police", false);
	h_agreement_sign_key(
	    s, unknown, h_p("%s/rogue/police.guardian.key", s->dir));
	h_agreement_sign(s, unknown, others | (1u << H_MHT));
	variant(s, changed, "# signed, then changed");
	h_agreement_sign(s, changed, H_ALL_GUARDIANS);
	{
		size_t len = 0;
		char *t = scratch_slurp(changed, &len);
		char *p = strstr(t, "signed, then changed");
		assert_non_null(p);
		p[0] = 'S'; /* one byte */
		scratch_write(changed, t, 0644);
		free(t);
	}

	rec = record(H_POLICE, "triage_advice", "record", NULL);
	h_drop(s, H_MHT, "waits.json", rec);
	free(rec);
	const char *bad[] = {missing, unknown, changed};
	for (size_t i = 0; i < 3; i++) {
		h_rogue_agreement(r, bad[i]);
		uint64_t end = h_now_ms() + H_WAIT_MS;
		while (agreement_alerts(s, H_MHT) < i + 1 && h_now_ms() < end)
			usleep(20000);
		assert_int_equal(agreement_alerts(s, H_MHT), i + 1);
	}
	/* Not used: nothing sealed under any of them. */
	struct wire_frame *f = submitted(r, 1500);
	assert_null(f);
	assert_int_equal(h_count(h_p("%s/spool/%s.state/agreements", s->dir,
	                             fixture_agency[H_MHT]),
	                     ".yaml"),
	    0);
	assert_true(h_log_count(&s->agent[H_MHT],
	                "no valid signature by the guardian "
	                "of mental_health_trust") >= 1);
	assert_true(h_log_count(&s->agent[H_MHT],
	                "no valid signature by the "
	                "guardian of police") >= 1);
	assert_true(
	    h_log_count(&s->agent[H_MHT], "signed for other bytes") >= 1);

	/* Signed by every guardian: taken, and the record goes. */
	h_rogue_agreement(r, s->policy);
	f = submitted(r, H_WAIT_MS);
	assert_non_null(f);
	wire_frame_free(f);
	assert_int_equal(agreement_alerts(s, H_MHT), 3);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A keyring that loses a party's guardian, taken on SIGHUP: the agreement
 * in force no longer verifies under it, so the agent drops it (an alert)
 * and a new record waits.
 */
static void
keyring_loses_a_guardian(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);
	struct h_rogue *r = rogue_for(s, H_MHT);
	char *rec;

	h_rogue_agreement(r, s->policy);
	assert_true(h_wait_log(&s->agent[H_MHT], "is current", 1, H_WAIT_MS));
	assert_int_equal(agreement_alerts(s, H_MHT), 0);
	assert_int_equal(
	    unlink(h_p("%s/ring/social_care.guardian.pub", s->dir)), 0);
	assert_int_equal(kill(s->agent[H_MHT].pid, SIGHUP), 0);
	assert_true(h_wait_log(
	    &s->agent[H_MHT], "not verified by the new keyring", 1, H_WAIT_MS));
	assert_int_equal(agreement_alerts(s, H_MHT), 1);
	rec = record(H_POLICE, "triage_advice", "record", NULL);
	h_drop(s, H_MHT, "waits.json", rec);
	free(rec);
	struct wire_frame *f = submitted(r, 1500);
	assert_null(f);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A delivery under an agreement the agent does not hold waits
 * unacknowledged while the agent asks for it; once it has it, the
 * delivery sent again goes through. A delivery older than its purpose's
 * expires_after and the clock skew, or from the future, is quarantined.
 */
static void
unheld_and_stale(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);
	struct h_rogue *r = rogue_for(s, H_MHT);
	char other[PATH_MAX];
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t id[16], sha[32], *frame;
	size_t len;
	char hex[33];

	snprintf(other, sizeof(other), "%s", h_p("%s/other.yaml", s->dir));
	h_rogue_agreement(r, s->policy);
	variant(s, other, "# another agreement");
	h_agreement_sign(s, other, H_ALL_GUARDIANS);
	h_file_sha(other, sha);
	m.agreement = sha;
	h_delivery(s, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len);
	struct wire_frame *q = next_of(r, WIRE_AGREEMENT_REQUEST, H_WAIT_MS);
	assert_non_null(q);
	assert_true(q->u.agreement.has_sha);
	assert_memory_equal(q->u.agreement.sha256, sha, 32);
	wire_frame_free(q);
	h_hex(id, 16, hex);
	assert_int_equal(h_count(h_spool(s, H_MHT, "inbox"), ".json"), 0);
	h_rogue_agreement(r, other);
	h_rogue_send(r, frame, len);
	free(frame);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"), hex), H_WAIT_MS));

	/* Triage advice expires after 30 minutes; the skew is 5. */
	m.agreement = NULL;
	m.age_ms = 40 * 60 * 1000;
	h_delivery(s, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s-quarantine.json", h_spool(s, H_MHT, "alerts"), hex),
	    H_WAIT_MS));
	m.age_ms = -10 * 60 * 1000;
	h_delivery(s, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s-quarantine.json", h_spool(s, H_MHT, "alerts"), hex),
	    H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_MHT, "inbox"), ".json"), 1);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * agreement_grace at the real broker: after a reload, a message sealed
 * under the old agreement is decided under it for the grace, then
 * rejected agreement_mismatch, retryable, the receipt naming the new one.
 * An agent whose record was sealed under an agreement the broker no longer
 * holds in force gets the current one and seals the record again: it is
 * accepted, and the recipient has it.
 */
static void
agreement_mismatch(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, "agreement_grace: 2s\n", NULL, 1);
	struct h_client *c;
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t old[32], now[32];
	struct wire_frame *f;

	h_broker_start(s);
	c = h_client_of(s, H_POLICE);
	h_file_sha(s->policy, old);
	f = h_submit(s, c, &m, NULL);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	/* No agreement named: retryable, told the current one. */
	m.no_agreement = true;
	f = h_submit(s, c, &m, NULL);
	assert_int_equal(f->u.receipt.reason, WIRE_REASON_AGREEMENT_MISMATCH);
	assert_true(f->u.receipt.retryable);
	assert_true(f->u.receipt.has_agreement);
	assert_memory_equal(f->u.receipt.agreement, old, 32);
	wire_frame_free(f);
	m.no_agreement = false;

	variant(s, s->policy, "# version two, every guardian signed");
	h_file_sha(s->policy, now);
	h_broker_reload(s); /* signed by every guardian first */
	assert_true(h_wait_log(&s->broker, "reloaded: policy", 1, H_WAIT_MS));
	m.agreement = old;
	f = h_submit(s, c, &m, NULL); /* within the grace */
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	usleep(2500 * 1000);
	f = h_submit(s, c, &m, NULL); /* after it */
	assert_int_equal(f->u.receipt.outcome, WIRE_REJECTED);
	assert_int_equal(f->u.receipt.reason, WIRE_REASON_AGREEMENT_MISMATCH);
	assert_true(f->u.receipt.retryable);
	assert_true(f->u.receipt.has_agreement);
	assert_memory_equal(f->u.receipt.agreement, now, 32);
	wire_frame_free(f);
	m.agreement = now;
	f = h_submit(s, c, &m, NULL);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	h_client_free(c);

	/* The agent: a record sealed while the broker was down, under the
	 * agreement of then; the broker comes back under a new one. */
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	assert_true(
	    h_wait_log(&s->agent[H_POLICE], "is current", 1, H_WAIT_MS));
	assert_int_equal(h_broker_stop(s), 0);
	char *rec = record(H_MHT, "triage_advice", "record", NULL);
	h_drop(s, H_POLICE, "resealed.json", rec);
	free(rec);
	assert_true(h_wait_log(&s->agent[H_POLICE], "sealed as", 1, H_WAIT_MS));
	variant(s, s->policy, "# version three");
	h_broker_start(s); /* signed by every guardian first */
	const char *receipt =
	    h_p("%s/resealed.receipt.json", h_spool(s, H_POLICE, "sent"));
	assert_true(h_wait_file(receipt, H_WAIT_MS));
	json_t *o = h_json(receipt);
	assert_string_equal(
	    json_string_value(json_object_get(o, "outcome")), "accepted");
	assert_int_equal(json_array_size(json_object_get(o, "supersedes")), 1);
	const char *first = json_string_value(
	    json_array_get(json_object_get(o, "supersedes"), 0));
	const char *args[] = {"--msg-id", first, NULL};
	json_t *evs = h_audit(s, args);
	assert_true(json_array_size(evs) >= 1);
	for (size_t i = 0; i < json_array_size(evs); i++)
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(evs, i), "reason")),
		    "agreement_mismatch");
	json_decref(evs);
	const char *msg = json_string_value(json_object_get(o, "msg_id"));
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"), msg), H_WAIT_MS));
	json_decref(o);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A request for fields the agreement never returns: police ask the trust
 * for clinical (which no rule, and a `never` entry, keeps from police) and
 * risks; the sender's receipt in sent/ says clinical will not come back.
 */
static void
request_never_returned(void **state)
{
	(void)state;
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	assert_true(
	    h_wait_log(&s->agent[H_POLICE], "is current", 1, H_WAIT_MS));
	char *rec = record(
	    H_MHT, "triage_advice", "request", "\"clinical\", \"risks\"");
	h_drop(s, H_POLICE, "ask.json", rec);
	free(rec);
	const char *receipt =
	    h_p("%s/ask.receipt.json", h_spool(s, H_POLICE, "sent"));
	assert_true(h_wait_file(receipt, H_WAIT_MS));
	json_t *o = h_json(receipt);
	json_t *nr = json_object_get(o, "never_returned");
	assert_int_equal(json_array_size(nr), 1);
	json_t *e = json_array_get(nr, 0);
	assert_string_equal(json_string_value(json_object_get(e, "agency")),
	    "mental_health_trust");
	json_t *fl = json_object_get(e, "fields");
	assert_int_equal(json_array_size(fl), 1);
	assert_string_equal(
	    json_string_value(json_array_get(fl, 0)), "clinical");
	assert_non_null(
	    json_object_get(json_object_get(e, "explanation"), "clinical"));
	json_decref(o);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
	h_sys_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rogue_redacts_nothing),
	    cmocka_unit_test(sender_grants),
	    cmocka_unit_test(agreement_refused),
	    cmocka_unit_test(keyring_loses_a_guardian),
	    cmocka_unit_test(unheld_and_stale),
	    cmocka_unit_test(agreement_mismatch),
	    cmocka_unit_test(request_never_returned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
