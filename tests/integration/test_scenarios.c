/*
 * The demo's crisis scenarios S1 to S8 (scripts/demo-data) through a real
 * broker and the four agencies' real agents, with the example agreement: each
 * recipient's inbox holds exactly the fields the agreement allows, with the
 * sender's content, and what was withheld; receipts, status reports and the
 * audit log agree; and no withheld field's content reaches a recipient, the
 * broker or a log.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/fields.h"
#include "tests/integration/harness.h"

#define MAX_SENT 16

/* One record sent, with what the test expects of it. */
struct sent {
	char name[32];
	int sender;
	size_t n_to;
	int to[H_NAG];           /* the recipients */
	fieldset allowed[H_NAG]; /* what each agency may see */
	char msg_id[33];
	char token[FIELDS_COUNT + 1][64]; /* the text in each field */
	fieldset requested;               /* a request asks for these */
	bool rejected;
};

/* Set before send_to_many to send a request; cleared by it. */
static fieldset next_request;

static struct h_sys *sys;
static struct sent sent[MAX_SENT];
static size_t n_sent;
static char s1_msg_id[33];

/* The field names of set, in field order, as a JSON array. */
static json_t *
names(fieldset set)
{
	json_t *a = json_array();

	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(set, f))
			json_array_append_new(a, json_string(fields_name(f)));
	return a;
}

static fieldset
set_of(const char *list)
{
	char buf[512], *save = NULL;
	fieldset s = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL;
	     t = strtok_r(NULL, ", ", &save)) {
		int f = fields_lookup(t);
		assert_true(f > 0);
		s |= FIELDS_BIT(f);
	}
	return s;
}

/* Field f's record content, every text member holding t. */
static json_t *
field_value(int f, const char *t)
{
	switch (f) {
	case 1:
		return json_pack(
		    "{s:s,s:s,s:s}", "name", t, "address", t, "description", t);
	case 2:
		return json_pack("{s:[{s:s,s:s,s:s}],s:s}", "contacts", "name",
		    t, "relationship", "sister", "phone", "0113 496 0000",
		    "school", t);
	case 3:
		return json_pack("{s:s,s:i}", "gender", t, "age", 34);
	case 4:
		return json_pack("{s:s,s:b,s:s}", "language", t,
		    "interpreter_needed", 1, "needs", t);
	case 5:
		return json_pack("{s:s}", "description", t);
	case 6:
		return json_pack(
		    "{s:b,s:b,s:s}", "alcohol", 1, "drugs", 0, "details", t);
	case 7:
		return json_pack("{s:s,s:s,s:s}", "impairments", t, "medicines",
		    t, "dietary", t);
	case 8:
		return json_pack("{s:s,s:b,s:s,s:s}", "gp", t,
		    "known_to_mental_health", 1, "team", t, "professional", t);
	case 9:
		return json_pack("{s:b,s:s,s:s}", "has_plan", 1, "summary", t,
		    "advance_statements", t);
	case 10:
		return json_pack("{s:s,s:s,s:s,s:s}", "diagnosis", t,
		    "medication", t, "therapy", t, "notes", t);
	case 11:
		return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "self_harm", "high", "suicide", "medium", "aggression",
		    "low", "confusion", "none", "impaired_judgement", "unknown",
		    "self_neglect", "low", "missing_from_home", "high",
		    "details", t);
	case 12:
		return json_pack("{s:s,s:s}", "conditions", t, "notes", t);
	case 13:
		return json_pack("{s:s,s:s,s:s,s:s}", "children", t,
		    "dependents", t, "pets", t, "notes", t);
	}
	fail();
	return NULL;
}

/* The strings of a JSON array, sorted, joined: for set comparisons. */
static const char *
joined(const json_t *a)
{
	static char out[2][1024];
	static unsigned k;
	const char *v[32];
	size_t n = json_array_size(a);
	char *o = out[k++ % 2];

	assert_true(json_is_array(a) && n < 32);
	for (size_t i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(a, i));
		assert_non_null(v[i]);
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	o[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(o, v[i]);
		strcat(o, ",");
	}
	return o;
}

static void
assert_list(const json_t *a, const char *expect_sorted)
{
	assert_string_equal(joined(a), expect_sorted);
}

/*
 * Writes a record from sender to the n recipients to[], of which each may
 * see allowed[i], and hands it to the sender's agent with `concordat
 * send`; waits for its receipt (or its failure) and fills in the msg_id.
 */
static struct sent *
send_to_many(const char *name, int sender, size_t n, const int *to,
    const fieldset *allowed, const char *purpose, const char *urgency,
    const char *justification, const char *in_reply_to, bool expect_reject)
{
	struct sent *m;
	json_t *rec, *fields;
	uint8_t rnd[4];
	char rh[9];
	const char *path, *outbox;
	char *printed, *base;

	assert_true(n_sent < MAX_SENT);
	m = &sent[n_sent++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->sender = sender;
	m->n_to = n;
	fieldset any = 0;
	for (size_t k = 0; k < n; k++) {
		m->to[k] = to[k];
		m->allowed[to[k]] = expect_reject ? 0 : allowed[k];
		any |= m->allowed[to[k]];
	}
	m->rejected = expect_reject;
	m->requested = next_request;
	next_request = 0;
	fields = json_object();
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		randombytes_buf(rnd, sizeof(rnd));
		h_hex(rnd, sizeof(rnd), rh);
		/* Withheld content is a canary: it must surface nowhere. */
		snprintf(m->token[f], sizeof(m->token[f]), "%s-%s-%s-%s", name,
		    fields_name(f), fields_has(any, f) ? "shared" : "CANARY",
		    rh);
		json_object_set_new(
		    fields, fields_name(f), field_value(f, m->token[f]));
	}
	json_t *recips = json_array();
	for (size_t k = 0; k < n; k++)
		json_array_append_new(
		    recips, json_string(fixture_agency[to[k]]));
	rec = json_pack("{s:o,s:s,s:s,s:s,s:s,s:{s:s},s:o}", "recipients",
	    recips, "purpose", purpose, "urgency", urgency, "kind",
	    m->requested ? "request" : "record", "local_id", name, "subject",
	    "nhs_number", "9434765919", "fields", fields);
	assert_non_null(rec);
	if (m->requested)
		json_object_set_new(
		    rec, "requested_fields", names(m->requested));
	if (justification != NULL) {
		/* A reason from the list, and the text sealed for them. */
		json_object_set_new(rec, "reason", json_string("risk_to_life"));
		json_object_set_new(
		    rec, "justification", json_string(justification));
	}
	if (in_reply_to != NULL)
		json_object_set_new(
		    rec, "in_reply_to", json_string(in_reply_to));
	path = h_p("%s/%s.json", sys->dir, name);
	assert_int_equal(json_dump_file(rec, path, JSON_INDENT(2)), 0);
	json_decref(rec);

	const char *argv[] = {sys->cli, "send", "--spool",
	    h_p("%s/spool/%s", sys->dir, fixture_agency[sender]), path, NULL};
	outbox = h_p("%s/send.out", sys->dir);
	assert_int_equal(
	    h_run(sys, outbox, h_p("%s/send.err", sys->dir), argv), 0);
	printed = scratch_slurp(outbox, NULL);
	assert_non_null(printed);
	printed[strcspn(printed, "\n")] = '\0';
	base = strrchr(printed, '/');
	assert_non_null(base);
	base++;
	assert_true(strlen(base) > 5);
	base[strlen(base) - 5] = '\0'; /* drop ".json" */

	const char *companion = expect_reject
	    ? h_p("%s/%s.error.json", h_spool(sys, sender, "failed"), base)
	    : h_p("%s/%s.receipt.json", h_spool(sys, sender, "sent"), base);
	if (!h_wait_file(companion, H_WAIT_MS))
		fail_msg("%s: no %s", name, companion);
	/* The record itself moved beside it, unchanged. */
	const char *moved = h_p("%s/%s.json",
	    h_spool(sys, sender, expect_reject ? "failed" : "sent"), base);
	/* (The agent writes the companion first, then moves the record.) */
	assert_true(h_wait_file(moved, H_WAIT_MS));
	assert_false(
	    access(h_p("%s/%s.json", h_spool(sys, sender, "outbox"), base),
	        F_OK) == 0);
	char *orig = scratch_slurp(path, NULL),
	     *now = scratch_slurp(moved, NULL);
	assert_non_null(now);
	assert_string_equal(orig, now);
	free(orig);
	free(now);

	json_t *r = h_json(companion);
	assert_string_equal(json_string_value(json_object_get(r, "outcome")),
	    expect_reject ? "rejected" : "accepted");
	const char *id = json_string_value(json_object_get(r, "msg_id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 32);
	snprintf(m->msg_id, sizeof(m->msg_id), "%s", id);
	if (!expect_reject) {
		/* The receipt tells the sender what each recipient gets. */
		json_t *rs = json_object_get(r, "recipients");
		assert_int_equal(json_array_size(rs), n);
		for (size_t k = 0; k < n; k++) {
			json_t *rk = NULL;
			for (size_t j = 0; j < n; j++) {
				json_t *x = json_array_get(rs, j);
				if (strcmp(json_string_value(
				               json_object_get(x, "agency")),
				        fixture_agency[to[k]]) == 0)
					rk = x;
			}
			assert_non_null(rk);
			assert_string_equal(
			    json_string_value(json_object_get(rk, "state")),
			    allowed[k] != 0 ? "queued (not yet collected)"
			                    : "nothing disclosed: not sent");
			json_t *want = names(allowed[k]);
			assert_true(
			    json_equal(json_object_get(rk, "disclosed"), want));
			json_decref(want);
			want = names((fieldset)(FIELDS_ALL & ~allowed[k]));
			assert_true(
			    json_equal(json_object_get(rk, "withheld"), want));
			json_decref(want);
		}
		assert_true(json_is_true(json_object_get(r, "audit_verified")));
	}
	free(printed);
	json_decref(r);
	return m;
}

/* The common case: one recipient. */
static struct sent *
send_record(const char *name, int sender, int recipient, const char *purpose,
    const char *urgency, const char *justification, const char *in_reply_to,
    fieldset allowed, bool expect_reject)
{
	return send_to_many(name, sender, 1, &recipient, &allowed, purpose,
	    urgency, justification, in_reply_to, expect_reject);
}

/*
 * The recipient's inbox record of m: exactly the allowed fields, each with
 * the sender's content, the rest listed as withheld; and the decision.
 */
static json_t *
check_inbox_of(const struct sent *m, int recipient, const char *urgency,
    const char *rules, const char *obligations, bool breakglass,
    const char *in_reply_to)
{
	fieldset allowed = m->allowed[recipient];
	const char *path =
	    h_p("%s/%s.json", h_spool(sys, recipient, "inbox"), m->msg_id);
	uint8_t ref[32];
	char refhex[65];

	if (!h_wait_file(path, H_WAIT_MS))
		fail_msg("%s: not delivered to %s (%s)", m->name,
		    fixture_agency[recipient], path);
	json_t *in = h_json(path);
	assert_string_equal(
	    json_string_value(json_object_get(in, "msg_id")), m->msg_id);
	assert_string_equal(json_string_value(json_object_get(in, "sender")),
	    fixture_agency[m->sender]);
	json_t *want = json_array();
	for (size_t k = 0; k < m->n_to; k++)
		json_array_append_new(
		    want, json_string(fixture_agency[m->to[k]]));
	assert_true(json_equal(json_object_get(in, "recipients"), want));
	json_decref(want);
	assert_string_equal(
	    json_string_value(json_object_get(in, "urgency")), urgency);
	assert_string_equal(json_string_value(json_object_get(in, "kind")),
	    m->requested ? "request" : "record");
	if (m->requested) {
		json_t *asked = names(m->requested);
		assert_true(
		    json_equal(json_object_get(in, "requested_fields"), asked));
		json_decref(asked);
	} else {
		assert_null(json_object_get(in, "requested_fields"));
	}
	/* The subject is the person's pseudonym under the shared pepper. */
	uint8_t *pepper = NULL;
	assert_int_equal(
	    keys_pepper_load(h_p("%s/keys/pepper", sys->dir), &pepper), 0);
	assert_int_equal(keys_subject_ref_nhs(pepper, "9434765919", ref), 0);
	keys_pepper_free(pepper);
	h_hex(ref, 32, refhex);
	assert_string_equal(
	    json_string_value(json_object_get(in, "subject_ref")), refhex);

	/* Exactly the allowed fields, with the sender's content. */
	json_t *fields = json_object_get(in, "fields");
	assert_true(json_is_object(fields));
	assert_int_equal(json_object_size(fields), fields_count(allowed));
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *got = json_object_get(fields, fields_name(f));
		if (!fields_has(allowed, f)) {
			if (got != NULL)
				fail_msg("%s: %s reached %s", m->name,
				    fields_name(f), fixture_agency[recipient]);
			continue;
		}
		json_t *exp = field_value(f, m->token[f]);
		if (got == NULL || !json_equal(got, exp)) {
			char *g = got ? json_dumps(got, 0) : NULL;
			char *e = json_dumps(exp, 0);
			fail_msg("%s: field %s: got %s, sent %s", m->name,
			    fields_name(f), g ? g : "(none)", e);
		}
		json_decref(exp);
	}
	want = names((fieldset)(FIELDS_ALL & ~allowed));
	assert_true(json_equal(json_object_get(in, "withheld"), want));
	json_decref(want);

	assert_list(json_object_get(in, "rules"), rules);
	assert_list(json_object_get(in, "obligations"), obligations);
	assert_int_equal(
	    json_is_true(json_object_get(in, "breakglass")), breakglass);
	assert_true(json_array_size(json_object_get(in, "bases")) > 0);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(in, "policy_sha256"))),
	    64);
	if (in_reply_to != NULL)
		assert_string_equal(
		    json_string_value(json_object_get(in, "in_reply_to")),
		    in_reply_to);
	else
		assert_true(json_is_null(json_object_get(in, "in_reply_to")));
	json_t *v = json_object_get(in, "verified");
	assert_true(json_is_true(json_object_get(v, "sender_signature")));
	assert_true(json_is_true(json_object_get(v, "field_digests")));
	assert_true(json_is_true(json_object_get(v, "decryption")));
	assert_true(json_is_true(json_object_get(v, "audit_proof")));
	assert_true(json_integer_value(json_object_get(v, "audit_tree_size")) >
	    json_integer_value(json_object_get(v, "audit_leaf")));
	return in;
}

/* check_inbox_of the first recipient. */
static json_t *
check_inbox(const struct sent *m, const char *urgency, const char *rules,
    const char *obligations, bool breakglass, const char *in_reply_to)
{
	return check_inbox_of(
	    m, m->to[0], urgency, rules, obligations, breakglass, in_reply_to);
}

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, NULL, 10);
	h_broker_start(sys);
	for (int i = 0; i < H_NAG; i++)
		h_agent_start(sys, i, true);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/*
 * S1: street triage before a section 136 decision: the officer tells the
 * trust what it may know and asks for what the reply may hold.
 */
static void
s1_street_triage(void **state)
{
	(void)state;
	next_request = set_of("services crisis_plan risks communication");
	struct sent *m = send_record("s1", H_POLICE, H_MHT, "triage_advice",
	    "urgent", NULL, NULL,
	    set_of("identity demographics communication presentation "
	           "substances risks health dependents"),
	    false);
	json_t *in = check_inbox(m, "urgent", "triage-request,",
	    "no_onward_disclosure,", false, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(in, "purpose")), "triage_advice");
	json_decref(in);
	snprintf(s1_msg_id, sizeof(s1_msg_id), "%s", m->msg_id);
	h_pass(sys);
}

/* S2: the trust answers S1; then, in an emergency, breaks the glass. */
static void
s2_triage_reply(void **state)
{
	(void)state;
	assert_int_equal(strlen(s1_msg_id), 32);
	struct sent *m = send_record("s2", H_MHT, H_POLICE, "triage_advice",
	    "urgent", NULL, s1_msg_id,
	    set_of("services crisis_plan risks communication health "
	           "dependents"),
	    false);
	json_t *in = check_inbox(m, "urgent", "triage-reply,",
	    "no_onward_disclosure,review_breakglass,", false, s1_msg_id);
	assert_null(json_object_get(in, "justification"));
	json_decref(in);

	const char *why = "Risk to life: insulin-dependent, not eaten for "
	                  "two days";
	m = send_record("s2e", H_MHT, H_POLICE, "triage_advice", "emergency",
	    why, s1_msg_id,
	    set_of("services crisis_plan risks communication health "
	           "dependents physical_needs"),
	    false);
	in = check_inbox(m, "emergency", "triage-reply,",
	    "no_onward_disclosure,review_breakglass,", true, s1_msg_id);
	assert_string_equal(
	    json_string_value(json_object_get(in, "justification")), why);
	assert_string_equal(
	    json_string_value(json_object_get(in, "reason")), "risk_to_life");
	json_decref(in);

	/* The break-glass disclosure is flagged for review in the log. */
	const char *args[] = {"--breakglass", NULL};
	json_t *evs = h_audit(sys, args);
	size_t hits = 0;
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *e = json_array_get(evs, i);
		const char *id =
		    json_string_value(json_object_get(e, "msg_id"));
		const char *type =
		    json_string_value(json_object_get(e, "type"));
		assert_string_not_equal(id, s1_msg_id);
		if (strcmp(id, m->msg_id) != 0 || strcmp(type, "decision"))
			continue;
		hits++;
		assert_true(json_is_true(json_object_get(e, "breakglass")));
		/* The reason, never the justification (sealed). */
		assert_string_equal(
		    json_string_value(json_object_get(e, "emergency_reason")),
		    "risk_to_life");
		assert_null(json_object_get(e, "justification"));
		assert_string_equal(
		    json_string_value(json_object_get(e, "recipient")),
		    "police");
	}
	assert_int_equal(hits, 1);
	json_decref(evs);
	h_pass(sys);
}

/* S3: handover at a place of safety; the trust acknowledges. */
static void
s3_place_of_safety(void **state)
{
	(void)state;
	struct sent *m = send_record("s3", H_POLICE, H_MHT, "place_of_safety",
	    "urgent", NULL, NULL,
	    set_of("identity demographics communication presentation "
	           "substances physical_needs risks health dependents"),
	    false);
	json_t *in = check_inbox(m, "urgent", "place-of-safety-handover,",
	    "no_onward_disclosure,", false, NULL);
	json_decref(in);
	const char *ack = h_p("%s/%s.mental_health_trust.acknowledged.json",
	    h_spool(sys, H_POLICE, "receipts"), m->msg_id);
	assert_true(h_wait_file(ack, H_WAIT_MS));
	json_t *st = h_json(ack);
	assert_string_equal(
	    json_string_value(json_object_get(st, "state")), "acknowledged");
	assert_string_equal(json_string_value(json_object_get(st, "recipient")),
	    "mental_health_trust");
	assert_true(json_is_true(json_object_get(st, "audit_verified")));
	json_decref(st);
	assert_int_equal(h_audit_count(sys, "acknowledged", m->msg_id), 1);
	h_pass(sys);
}

/* S4: ambulance crew and trust, both ways. */
static void
s4_ambulance(void **state)
{
	(void)state;
	struct sent *m =
	    send_record("s4a", H_AMBULANCE, H_MHT, "emergency_care",
	        "emergency", "Crew on scene: overdose suspected", NULL,
	        set_of("identity demographics presentation substances "
	               "physical_needs risks health"),
	        false);
	json_t *in =
	    check_inbox(m, "emergency", "crew-to-trust,", "", false, NULL);
	json_decref(in);
	m = send_record("s4b", H_MHT, H_AMBULANCE, "emergency_care", "urgent",
	    NULL, NULL,
	    set_of("services crisis_plan risks communication relatives "
	           "clinical"),
	    false);
	in = check_inbox(
	    m, "urgent", "trust-to-crew,", "delete_after_use,", false, NULL);
	json_decref(in);
	h_pass(sys);
}

/*
 * S4 with the police copied in: decided per recipient, the crew gets its
 * fields and the police, whom no rule covers for emergency care, nothing.
 */
static void
s4_copied_to_police(void **state)
{
	(void)state;
	const int to[] = {H_AMBULANCE, H_POLICE};
	const fieldset allowed[] = {set_of("services crisis_plan risks "
	                                   "communication relatives clinical"),
	    0};
	struct sent *m = send_to_many("s4c", H_MHT, 2, to, allowed,
	    "emergency_care", "urgent", NULL, NULL, false);
	json_t *in = check_inbox_of(m, H_AMBULANCE, "urgent", "trust-to-crew,",
	    "delete_after_use,", false, NULL);
	json_decref(in);
	/* Both decisions are logged; one delivery was made. */
	const char *args[] = {
	    "--msg-id", m->msg_id, "--event", "decision", NULL};
	json_t *evs = h_audit(sys, args);
	assert_int_equal(json_array_size(evs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *e = json_array_get(evs, i);
		const char *who =
		    json_string_value(json_object_get(e, "recipient"));
		json_t *want =
		    names(strcmp(who, "police") == 0 ? 0 : allowed[0]);
		assert_true(json_equal(json_object_get(e, "disclosed"), want));
		json_decref(want);
	}
	json_decref(evs);
	assert_true(h_wait_file(h_p("%s/%s.ambulance.acknowledged.json",
	                            h_spool(sys, H_MHT, "receipts"), m->msg_id),
	    H_WAIT_MS));
	assert_int_equal(h_audit_count(sys, "delivered", m->msg_id), 1);
	assert_false(access(h_p("%s/%s.json", h_spool(sys, H_POLICE, "inbox"),
	                        m->msg_id),
	                 F_OK) == 0);
	h_pass(sys);
}

/* S5: an AMHP asks the police to support an assessment at home. */
static void
s5_mha_assessment(void **state)
{
	(void)state;
	struct sent *m = send_record("s5", H_SOCIAL, H_POLICE, "mha_assessment",
	    "routine", NULL, NULL,
	    set_of("identity demographics communication presentation "
	           "substances risks dependents relatives health"),
	    false);
	json_t *in = check_inbox(m, "routine", "amhp-police-support,",
	    "no_onward_disclosure,retain_30_days,", false, NULL);
	json_decref(in);
	h_pass(sys);
}

/* S6: the person is detained; dependents need care. */
static void
s6_safeguarding(void **state)
{
	(void)state;
	struct sent *m = send_record("s6", H_MHT, H_SOCIAL, "safeguarding",
	    "urgent", NULL, NULL,
	    set_of("identity dependents relatives demographics "
	           "communication"),
	    false);
	json_t *in = check_inbox(m, "urgent", "detained-dependents,",
	    "inform_subject,no_onward_disclosure,", false, NULL);
	json_decref(in);
	h_pass(sys);
}

/* S7: missing from a ward. */
static void
s7_missing_person(void **state)
{
	(void)state;
	struct sent *m = send_record("s7", H_MHT, H_POLICE, "missing_person",
	    "urgent", NULL, NULL,
	    set_of("identity demographics communication risks health "
	           "physical_needs relatives dependents substances"),
	    false);
	json_t *in = check_inbox(m, "urgent", "missing-from-ward,",
	    "no_onward_disclosure,retain_30_days,", false, NULL);
	json_decref(in);
	h_pass(sys);
}

/* S8: a purpose the agreement does not cover is rejected and audited. */
static void
s8_undeclared_purpose(void **state)
{
	(void)state;
	/* Refused by the sender's own agent, which holds the agreement and
	 * finds no such purpose in it: nothing leaves the agency (DESIGN.md §8,
	 * the sender grants first). */
	h_drop(sys, H_POLICE, "s8.json",
	    "{\"recipients\": [\"mental_health_trust\"], \"purpose\": "
	    "\"law_enforcement\", \"urgency\": \"urgent\", \"kind\": "
	    "\"record\", \"local_id\": \"s8\", \"subject\": "
	    "{\"nhs_number\": \"9434765919\"}, \"fields\": {\"presentation\": "
	    "{\"description\": \"agitated\"}}}");
	const char *companion =
	    h_p("%s/s8.error.json", h_spool(sys, H_POLICE, "failed"));
	assert_true(h_wait_file(companion, H_WAIT_MS));
	assert_true(h_wait_file(
	    h_p("%s/s8.json", h_spool(sys, H_POLICE, "failed")), H_WAIT_MS));
	json_t *err = h_json(companion);
	json_t *e0 = json_array_get(json_object_get(err, "errors"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(e0, "path")), "purpose");
	assert_non_null(
	    strstr(json_string_value(json_object_get(e0, "message")),
	        "declares no purpose 'law_enforcement'"));
	json_decref(err);

	/* Nothing reached the broker: the log holds no event of that
	 * purpose, and neither it nor the agreement knows the name (66). */
	const char *q[] = {sys->cli, "audit", "query", "--data", sys->data,
	    "--purpose", "law_enforcement", NULL};
	const char *qerr = h_p("%s/s8-query.err", sys->dir);
	assert_int_equal(h_run(sys, NULL, qerr, q), 66);
	char *said = scratch_slurp(qerr, NULL);
	assert_non_null(said);
	assert_non_null(strstr(said,
	    "no purpose 'law_enforcement' in this "
	    "log or agreement"));
	free(said);
	h_pass(sys);
}

/*
 * After every scenario: each inbox holds what was sent to it and nothing
 * else; no withheld field's text is anywhere but with its sender; the
 * broker never held a plaintext; the log verifies; everything stops
 * cleanly.
 */
static void
canaries_and_clean_stop(void **state)
{
	(void)state;
	size_t expect[H_NAG] = {0};
	char found[PATH_MAX];

	for (size_t i = 0; i < n_sent; i++)
		for (int a = 0; a < H_NAG; a++)
			if (sent[i].allowed[a] != 0)
				expect[a]++;
	for (int a = 0; a < H_NAG; a++)
		assert_int_equal(
		    h_count(h_spool(sys, a, "inbox"), ".json"), expect[a]);
	/* Stop first, so every log and LMDB page is on disk. */
	for (int a = 0; a < H_NAG; a++)
		assert_int_equal(h_agent_stop(sys, a), 0);
	assert_int_equal(h_broker_stop(sys), 0);

	for (size_t i = 0; i < n_sent; i++) {
		struct sent *m = &sent[i];
		for (int f = 1; f <= FIELDS_COUNT; f++) {
			const char *t = m->token[f];
			/* The broker never sees any field, shared or not. */
			if (h_tree_grep(sys->data, t, found, sizeof(found)))
				fail_msg("%s: '%s' is in the broker's data: %s",
				    m->name, t, found);
			if (h_tree_grep(sys->logs, t, found, sizeof(found)))
				fail_msg("%s: '%s' is in a log: %s", m->name, t,
				    found);
			/* Nor the sender's own store: only ciphertext. */
			if (h_tree_grep(h_state(sys, m->sender), t, found,
			        sizeof(found)))
				fail_msg("%s: '%s' in the sender's state: %s",
				    m->name, t, found);
			/* Each agency holds only what it may see of it. */
			for (int a = 0; a < H_NAG; a++) {
				if (a == m->sender ||
				    fields_has(m->allowed[a], f))
					continue;
				if (h_tree_grep(h_p("%s/spool/%s", sys->dir,
				                    fixture_agency[a]),
				        t, found, sizeof(found)))
					fail_msg("%s: '%s' reached %s", m->name,
					    t, found);
			}
			/* The search works: the sender's copy holds it. */
			assert_int_equal(
			    h_tree_grep(h_p("%s/spool/%s/%s", sys->dir,
			                    fixture_agency[m->sender],
			                    m->rejected ? "failed" : "sent"),
			        t, NULL, 0),
			    1);
		}
	}
	const char *argv[] = {sys->cli, "audit", "verify", "--data", sys->data,
	    "--broker-key", h_p("%s/keys/broker.pub", sys->dir), NULL};
	assert_int_equal(h_run(sys, h_p("%s/verify.out", sys->dir),
	                     h_p("%s/verify.err", sys->dir), argv),
	    0);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(s1_street_triage),
	    cmocka_unit_test(s2_triage_reply),
	    cmocka_unit_test(s3_place_of_safety),
	    cmocka_unit_test(s4_ambulance),
	    cmocka_unit_test(s4_copied_to_police),
	    cmocka_unit_test(s5_mha_assessment),
	    cmocka_unit_test(s6_safeguarding),
	    cmocka_unit_test(s7_missing_person),
	    cmocka_unit_test(s8_undeclared_purpose),
	    cmocka_unit_test(canaries_and_clean_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
