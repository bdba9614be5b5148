/*
 * Break-glass reviews on the record (DESIGN.md §7): a break-glass
 * decision, the sending agency's guardian signs a review of it (`concordat
 * audit review`), the agency's agent takes it from SPOOL/reviews/ and the
 * broker logs it as a breakglass_reviewed event, which `audit verify
 * --keyring` checks and `audit query --breakglass --unreviewed` then
 * leaves out. The broker refuses, with the reason and a message, a review
 * by the wrong key, of a decision that is not break-glass, of another
 * agency's decision, with a wrong leaf hash, and with an unknown outcome;
 * the agent refuses a file its guardian did not sign.
 */
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

#include "common/urgency.h"
#include "keys/keys.h"
#include "proto/review.h"
#include "tests/integration/harness.h"

/* Both ways break glass, so that each agency has a decision to review. */
static const char policy[] =
    "agreement: review-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "review_breakglass_within: 2s\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  triage_advice:\n"
    "    description: Street triage advice\n"
    "    expires_after: 30m\n"
    "rules:\n"
    "  - id: reply\n"
    "    from: mental_health_trust\n"
    "    to: [police]\n"
    "    purposes: [triage_advice]\n"
    "    share: [risks]\n"
    "    emergency_share: [physical_needs]\n"
    "    basis: \"Caldicott principle 7\"\n"
    "    obligations: [review_breakglass]\n"
    "  - id: request\n"
    "    from: police\n"
    "    to: [mental_health_trust]\n"
    "    purposes: [triage_advice]\n"
    "    share: [identity]\n"
    "    emergency_share: [risks]\n"
    "    basis: \"MHA 1983 s136\"\n"
    "    obligations: [review_breakglass]\n";

static struct h_sys *sys;

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(policy,
	    "metrics_file: metrics.prom\nmetrics_interval: 1s\n", NULL, 3);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/* A decision of sender (to its one recipient); its leaf and leaf bytes. */
static uint64_t
decide(struct h_client *c, int sender, int to, bool emergency, uint8_t hash[32])
{
	struct h_msg m = {.sender = sender,
	    .signer = -1,
	    .urgency = emergency ? URGENCY_EMERGENCY : URGENCY_URGENT,
	    .reason = emergency ? EMERGENCY_REASON_RISK_TO_LIFE : 0,
	    .justification = emergency ? "a risk to life" : NULL,
	    .n_recipients = 1,
	    .recipients = {to}};
	struct wire_frame *r = h_submit(sys, c, &m, NULL);
	const struct wire_audit_proof *p;
	uint64_t seq;

	assert_int_equal(r->u.receipt.outcome, WIRE_ACCEPTED);
	assert_int_equal(r->u.receipt.n_decisions, 1);
	p = &r->u.receipt.decisions[0];
	seq = p->leaf_index;
	if (hash != NULL) {
		/* RFC 6962: SHA-256(0x00 || leaf). */
		crypto_hash_sha256_state st;
		uint8_t zero = 0;
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, &zero, 1);
		crypto_hash_sha256_update(&st, p->leaf, p->leaf_len);
		crypto_hash_sha256_final(&st, hash);
	}
	wire_frame_free(r);
	return seq;
}

/* `concordat audit review` by keyfile of leaf seq into out: its status. */
static int
sign_review(const char *keyfile, uint64_t seq, const char *outcome,
    const char *out, const char *err)
{
	char n[24];
	const char *note = h_p("%s/note.txt", sys->dir);
	FILE *f = fopen(note, "w");

	assert_non_null(f);
	fputs("Reviewed with the crisis team: sharing was right.\n", f);
	fclose(f);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)seq);
	const char *argv[] = {sys->cli, "audit", "review", "--data", sys->data,
	    "--seq", n, "--outcome", outcome, "--reviewer",
	    "Dr A. Khan, Caldicott Guardian", "--note-file", note,
	    "--guardian-key", keyfile, "--out", out, NULL};
	return h_run(sys, NULL, err, argv);
}

static bool
file_holds(const char *path, const char *needle)
{
	size_t len;
	char *text = scratch_slurp(path, &len);
	bool ok = text != NULL && strstr(text, needle) != NULL;

	if (!ok)
		print_error("%s does not hold '%s': %s\n", path, needle,
		    text ? text : "(none)");
	free(text);
	return ok;
}

/*
 * The whole path: signed by the guardian, taken by the agent, logged,
 * verified, and no longer unreviewed.
 */
static void
review_through_agent(void **state)
{
	uint8_t hash[32];
	struct h_client *c;
	uint64_t mine, theirs;
	const char *reviews, *err = h_p("%s/review.err", sys->dir);

	(void)state;
	h_broker_start(sys);
	h_agent_start(sys, H_MHT, true);
	c = h_client_of(sys, H_MHT);
	mine = decide(c, H_MHT, H_POLICE, true, hash);
	h_client_free(c);
	c = h_client_of(sys, H_POLICE);
	theirs = decide(c, H_POLICE, H_MHT, true, NULL);
	h_client_free(c);

	/* Both unreviewed. */
	const char *unrev[] = {"--breakglass", "--unreviewed", NULL};
	json_t *evs = h_audit(sys, unrev);
	assert_int_equal(json_array_size(evs), 2);
	json_decref(evs);

	/* Another agency's decision: refused by the verb, with the log. */
	assert_int_equal(
	    sign_review(
	        h_p("%s/keys/mental_health_trust.guardian.key", sys->dir),
	        theirs, "justified", h_p("%s/x.json", sys->dir), err),
	    65);
	assert_true(file_holds(err, "was sent by 'police'"));

	reviews = h_spool(sys, H_MHT, "reviews");
	assert_int_equal(
	    sign_review(
	        h_p("%s/keys/mental_health_trust.guardian.key", sys->dir), mine,
	        "justified", h_p("%s/r1.json", reviews), err),
	    0);
	assert_true(h_wait_file(
	    h_p("%s/sent/r1.json.receipt.json", reviews), H_WAIT_MS));
	assert_true(h_wait_none(reviews, ".json", H_WAIT_MS));
	assert_true(file_holds(
	    h_p("%s/sent/r1.json.receipt.json", reviews), "\"accepted\""));

	/* In the log, with the review's members and the decision's msg_id. */
	const char *args[] = {"--event", "breakglass_reviewed", NULL};
	evs = h_audit(sys, args);
	assert_int_equal(json_array_size(evs), 1);
	json_t *rv = json_object_get(json_array_get(evs, 0), "review");
	assert_non_null(rv);
	assert_string_equal(
	    json_string_value(json_object_get(rv, "outcome")), "justified");
	assert_int_equal(
	    json_integer_value(json_object_get(rv, "leaf_seq")), (int)mine);
	char hex[65];
	h_hex(hash, 32, hex);
	assert_string_equal(
	    json_string_value(json_object_get(rv, "leaf_hash")), hex);
	assert_non_null(json_object_get(rv, "note_digest"));
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(evs, 0), "sender")),
	    "mental_health_trust");
	json_decref(evs);

	/* Verified against the guardians' keys. */
	const char *out = h_p("%s/verify.out", sys->dir);
	const char *vargv[] = {sys->cli, "audit", "verify", "--data", sys->data,
	    "--broker-key", h_p("%s/keys/broker.pub", sys->dir), "--keyring",
	    h_p("%s/ring", sys->dir), "--witnesses", "0", NULL};
	assert_int_equal(h_run(sys, out, NULL, vargv), 0);
	assert_true(
	    file_holds(out, "1 break-glass review signatures verified"));

	/* The subject access report says how each disclosure was reviewed. */
	const char *bg[] = {"--breakglass", NULL};
	evs = h_audit(sys, bg);
	assert_true(json_array_size(evs) >= 1);
	const char *ref = json_string_value(
	    json_object_get(json_array_get(evs, 0), "subject_ref"));
	assert_non_null(ref);
	const char *rout = h_p("%s/report.out", sys->dir);
	const char *rargv[] = {sys->cli, "audit", "report", "--data", sys->data,
	    "--subject-ref", ref, NULL};
	assert_int_equal(h_run(sys, rout, NULL, rargv), 0);
	assert_true(file_holds(
	    rout, "Review: justified, by Dr A. Khan, Caldicott Guardian"));
	assert_true(file_holds(
	    rout, "Review: not yet reviewed by the sending agency's guardian"));
	json_decref(evs);

	/* Only police's decision is still unreviewed. */
	evs = h_audit(sys, unrev);
	assert_int_equal(json_array_size(evs), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(evs, 0), "seq")),
	    (int)theirs);
	json_decref(evs);

	/* Police's decision is overdue (2s): the live status says so. */
	const char *sout = h_p("%s/status.json", sys->dir);
	const char *sargv[] = {
	    sys->cli, "status", "-c", sys->broker_yaml, "--json", NULL};
	json_int_t overdue = -1;
	for (uint64_t end = h_now_ms() + H_WAIT_MS;
	     overdue != 1 && h_now_ms() < end;) {
		assert_int_equal(h_run(sys, sout, NULL, sargv), 0);
		json_t *st = h_json(sout);
		json_t *br = json_object_get(st, "breakglass_reviews");
		assert_true(json_is_object(br));
		assert_int_equal(
		    json_integer_value(json_object_get(br, "due_within_ms")),
		    2000);
		overdue = json_integer_value(json_object_get(br, "overdue"));
		json_decref(st);
		if (overdue != 1)
			usleep(200 * 1000);
	}
	assert_int_equal(overdue, 1);
	const char *targv[] = {
	    sys->cli, "status", "-c", sys->broker_yaml, NULL};
	assert_int_equal(h_run(sys, sout, NULL, targv), 0);
	assert_true(
	    file_holds(sout, "break-glass reviews overdue: 1 (due within 2s)"));
	h_pass(sys);
}

/* A review of seq by key sk, signed, sent on c: the broker's receipt. */
static void
expect_refusal(struct h_client *c, struct review *r, const uint8_t *sk,
    int reason, const char *detail)
{
	struct wire_frame *f;
	uint8_t *frame;
	size_t len;

	randombytes_buf(r->review_id, REVIEW_ID_LEN);
	assert_int_equal(review_sign(r, sk), 0);
	assert_int_equal(review_frame_encode(r, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
	f = h_client_receipt(c, r->review_id, H_WAIT_MS);
	if (f == NULL) {
		fail_msg("%s: no receipt", detail);
		return; /* cmocka's fail_msg is not known not to return */
	}
	if (f->u.receipt.outcome != WIRE_REJECTED ||
	    f->u.receipt.reason != reason ||
	    strstr(f->u.receipt.detail, detail) == NULL)
		fail_msg("expected %s '%s', got outcome %d %s '%s'",
		    wire_reason_name(reason), detail, f->u.receipt.outcome,
		    wire_reason_name(f->u.receipt.reason), f->u.receipt.detail);
	assert_int_equal(f->u.receipt.n_decisions, 0);
	wire_frame_free(f);
}

static void
refusals_at_broker(void **state)
{
	struct keys_secret *g = NULL, *rogue = NULL;
	struct h_client *c;
	struct review r, base;
	uint8_t hash[32], rhash[32];
	uint64_t bg, routine, theirs;
	size_t before;

	(void)state;
	h_guardian_new(sys, "mental_health_trust", false);
	assert_int_equal(keys_load_guardian(h_p("%s/keys/mental_health_trust"
	                                        ".guardian.key",
	                                        sys->dir),
	                     &g),
	    0);
	assert_int_equal(keys_load_guardian(h_p("%s/rogue/mental_health_trust"
	                                        ".guardian.key",
	                                        sys->dir),
	                     &rogue),
	    0);
	c = h_client_of(sys, H_POLICE);
	theirs = decide(c, H_POLICE, H_MHT, true, NULL);
	h_client_free(c);
	c = h_client_of(sys, H_MHT);
	bg = decide(c, H_MHT, H_POLICE, true, hash);
	routine = decide(c, H_MHT, H_POLICE, false, rhash);
	before = h_audit_count(sys, "breakglass_reviewed", NULL);

	memset(&base, 0, sizeof(base));
	snprintf(base.agency, sizeof(base.agency), "mental_health_trust");
	base.leaf_seq = bg;
	memcpy(base.leaf_hash, hash, 32);
	base.outcome = REVIEW_NOT_JUSTIFIED;
	snprintf(base.reviewer, sizeof(base.reviewer), "Caldicott Guardian");
	base.reviewed_at_ms = 1;
	snprintf(
	    base.guardian, sizeof(base.guardian), "%s", g->pub.fingerprint);

	/* The wrong key, naming itself or the right one. */
	r = base;
	snprintf(r.guardian, sizeof(r.guardian), "%s", rogue->pub.fingerprint);
	expect_refusal(c, &r, rogue->sign_sk, WIRE_REASON_BAD_SIGNATURE,
	    "not by the guardian key of 'mental_health_trust'");
	r = base;
	expect_refusal(c, &r, rogue->sign_sk, WIRE_REASON_BAD_SIGNATURE,
	    "does not verify under the guardian key");
	/* Not break-glass; another agency's; a leaf that is not there. */
	r = base;
	r.leaf_seq = routine;
	memcpy(r.leaf_hash, rhash, 32);
	expect_refusal(c, &r, g->sign_sk, WIRE_REASON_NOT_REVIEWABLE,
	    "is a routine decision event, not a break-glass decision");
	r = base;
	r.leaf_seq = theirs;
	expect_refusal(c, &r, g->sign_sk, WIRE_REASON_SENDER_MISMATCH,
	    "a decision on a message of 'police', not of "
	    "'mental_health_trust'");
	r = base;
	r.leaf_seq = 1000000;
	expect_refusal(c, &r, g->sign_sk, WIRE_REASON_NOT_REVIEWABLE,
	    "the log has no leaf 1000000");
	/* A wrong leaf hash; an outcome not in the list. */
	r = base;
	r.leaf_hash[0] ^= 1;
	expect_refusal(c, &r, g->sign_sk, WIRE_REASON_DIGEST_MISMATCH,
	    "leaf hash is not that of leaf");
	r = base;
	r.outcome = 7;
	expect_refusal(
	    c, &r, g->sign_sk, WIRE_REASON_MALFORMED, "unknown outcome 7");
	/* Another agency's guardian, sent on this agency's session. */
	r = base;
	snprintf(r.agency, sizeof(r.agency), "police");
	expect_refusal(c, &r, g->sign_sk, WIRE_REASON_SENDER_MISMATCH,
	    "a review by the guardian of 'police', sent by "
	    "'mental_health_trust'");
	/* Nothing of that was logged. */
	assert_int_equal(
	    h_audit_count(sys, "breakglass_reviewed", NULL), before);

	/* The right key: accepted, a second review of the same leaf too;
	 * the same review sent again is answered with its first leaf. */
	uint64_t leaves[3];
	for (int i = 0; i < 3; i++) {
		struct wire_frame *f;
		uint8_t *frame;
		size_t len;
		if (i < 2) {
			r = base;
			r.outcome = i == 0 ? REVIEW_NOT_JUSTIFIED
			                   : REVIEW_NEEDS_FOLLOW_UP;
			randombytes_buf(r.review_id, REVIEW_ID_LEN);
		}
		assert_int_equal(review_sign(&r, g->sign_sk), 0);
		assert_int_equal(review_frame_encode(&r, &frame, &len), 0);
		h_client_send(c, frame, len);
		free(frame);
		f = h_client_receipt(c, r.review_id, H_WAIT_MS);
		assert_non_null(f);
		assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
		assert_int_equal(f->u.receipt.n_decisions, 1);
		leaves[i] = f->u.receipt.decisions[0].leaf_index;
		wire_frame_free(f);
	}
	assert_true(leaves[1] > leaves[0]);
	assert_int_equal(leaves[2], leaves[1]);
	assert_int_equal(
	    h_audit_count(sys, "breakglass_reviewed", NULL), before + 2);
	h_client_free(c);
	keys_secret_free(g);
	keys_secret_free(rogue);
	h_pass(sys);
}

/* A review file the agency's guardian did not sign fails at the agent. */
static void
refusal_at_agent(void **state)
{
	struct h_client *c;
	const char *reviews = h_spool(sys, H_MHT, "reviews");
	const char *err = h_p("%s/review.err", sys->dir);
	uint64_t bg;

	(void)state;
	c = h_client_of(sys, H_MHT);
	bg = decide(c, H_MHT, H_POLICE, true, NULL);
	h_client_free(c);
	/* The rogue key of refusals_at_broker, made with the agency's id. */
	assert_int_equal(
	    sign_review(
	        h_p("%s/rogue/mental_health_trust.guardian.key", sys->dir), bg,
	        "justified", h_p("%s/rogue.json", reviews), err),
	    0);
	assert_true(h_wait_file(
	    h_p("%s/failed/rogue.json.error.json", reviews), H_WAIT_MS));
	assert_true(file_holds(h_p("%s/failed/rogue.json.error.json", reviews),
	    "not signed by the guardian key of 'mental_health_trust'"));
	assert_true(h_wait_file(h_p("%s/failed/rogue.json", reviews), 1000));

	/* A name used before: filed beside the first, which stays. */
	assert_int_equal(
	    sign_review(
	        h_p("%s/keys/mental_health_trust.guardian.key", sys->dir), bg,
	        "needs_follow_up", h_p("%s/r1.json", reviews), err),
	    0);
	assert_true(h_wait_count(
	    h_p("%s/sent", reviews), ".receipt.json", 2, H_WAIT_MS));
	assert_true(
	    file_holds(h_p("%s/sent/r1.json", reviews), "\"justified\""));
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(review_through_agent),
	    cmocka_unit_test(refusals_at_broker),
	    cmocka_unit_test(refusal_at_agent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
