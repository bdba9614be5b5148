/*
 * The sealed emergency justification with the real broker and agents
 *: the broker refuses, as malformed, every combination of
 * urgency, reason, digest and sealed text that is not an emergency with
 * all three or a message with none, and the old format that carried the
 * text in the manifest; a recipient given an empty justification alerts
 * and still writes the delivery; and a canary placed in the justification
 * of an emergency record appears in no byte of the broker's data folder,
 * in no log, in no output of `concordat audit` (query --json, report,
 * stats), in nothing but the recipient's inbox record (and the sender's
 * own copy of its record).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/urgency.h"
#include "tests/integration/harness.h"

#define CANARY "JUSTIFICATION-CANARY-4c1d9e"
#define NHS    "9434765919"

static struct h_sys *sys;

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, NULL, 3);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/* ------------------------------------------- raw protobuf, rewritten */

/*
 * A message's bytes rewritten member by member (protobuf wire format:
 * varint keys and lengths), so that a test can build what envelope_seal
 * refuses to make. Nothing here knows the schema beyond field numbers.
 */
struct pbw {
	uint8_t *b;
	size_t n, cap;
};

static void
put(struct pbw *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2 + 64;
		w->b = realloc(w->b, w->cap);
		assert_non_null(w->b);
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
put_varint(struct pbw *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	put(w, b, n);
}

static void
put_bytes(struct pbw *w, unsigned field, const void *p, size_t n)
{
	put_varint(w, (uint64_t)field << 3 | 2);
	put_varint(w, n);
	put(w, p, n);
}

static uint64_t
get_varint(const uint8_t *b, size_t len, size_t *pos)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		assert_true(*pos < len);
		v |= (uint64_t)(b[*pos] & 0x7f) << shift;
		if ((b[(*pos)++] & 0x80) == 0)
			return v;
	}
	fail_msg("varint too long");
	return 0;
}

/*
 * Walks msg: copies every member whose number is not in drop (a bit per
 * number) to w (when not NULL), and points *out at the contents of the
 * first length-delimited member numbered want (when not 0).
 */
static void
walk(const uint8_t *msg, size_t len, uint32_t drop, struct pbw *w,
    unsigned want, const uint8_t **out, size_t *outlen)
{
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos;
		uint64_t key = get_varint(msg, len, &pos), n = 0;
		unsigned field = (unsigned)(key >> 3);

		switch (key & 7) {
		case 0:
			(void)get_varint(msg, len, &pos);
			break;
		case 1:
			pos += 8;
			break;
		case 5:
			pos += 4;
			break;
		case 2:
			n = get_varint(msg, len, &pos);
			if (field == want && out != NULL && *out == NULL) {
				*out = msg + pos;
				*outlen = (size_t)n;
			}
			pos += (size_t)n;
			break;
		default:
			fail_msg("wire type %u", (unsigned)(key & 7));
		}
		assert_true(pos <= len);
		if (w != NULL && (field >= 32 || !(drop & (1u << field))))
			put(w, msg + start, pos - start);
	}
}

static const uint8_t *
member(const uint8_t *msg, size_t len, unsigned field, size_t *outlen)
{
	const uint8_t *out = NULL;

	walk(msg, len, 0, NULL, field, &out, outlen);
	assert_non_null(out);
	return out;
}

/* What rewrite changes. */
struct change {
	const char *what;
	uint32_t drop_manifest; /* members of the manifest dropped */
	const uint8_t *add;     /* raw members appended to it */
	size_t add_len;
	bool drop_sealed; /* Envelope.justification (5) */
};

/*
 * The Submit frame sealed by agency sender, with its manifest changed and
 * signed again with the sender's key (so that only the change is wrong).
 */
static uint8_t *
rewrite(const uint8_t *frame, size_t len, int sender, const struct change *c,
    size_t *outlen)
{
	static const char ctx[] = "concordat/manifest/v1";
	struct pbw man = {0}, signed_msg = {0}, env = {0}, sub = {0}, out = {0};
	size_t slen, elen, mlen;
	const uint8_t *s = member(frame, len, 1, &slen);
	const uint8_t *e = member(s, slen, 1, &elen);
	const uint8_t *m = member(e, elen, 1, &mlen);
	uint8_t sig[64];

	walk(m, mlen, c->drop_manifest, &man, 0, NULL, NULL);
	if (c->add != NULL)
		put(&man, c->add, c->add_len);
	put(&signed_msg, ctx, sizeof(ctx) - 1);
	put(&signed_msg, man.b, man.n);
	crypto_sign_detached(
	    sig, NULL, signed_msg.b, signed_msg.n, sys->sk[sender]->sign_sk);
	put_bytes(&env, 1, man.b, man.n);
	put_bytes(&env, 2, sig, sizeof(sig));
	walk(e, elen, 1u << 1 | 1u << 2 | (c->drop_sealed ? 1u << 5 : 0), &env,
	    0, NULL, NULL);
	put_bytes(&sub, 1, env.b, env.n);
	put_bytes(&out, 1, sub.b, sub.n);
	free(man.b);
	free(signed_msg.b);
	free(env.b);
	free(sub.b);
	*outlen = out.n;
	return out.b;
}

/* ----------------------------------------------------------- the tests */

/* The receipt of frame (msg_id id) sent on c: its outcome and reason. */
static void
expect_receipt(struct h_client *c, const uint8_t *frame, size_t len,
    const uint8_t id[WIRE_MSG_ID_LEN], int reason, const char *what)
{
	struct wire_frame *r;

	h_client_send(c, frame, len);
	r = h_client_receipt(c, id, H_WAIT_MS);
	if (r == NULL)
		fail_msg("%s: no receipt", what);
	if (reason == 0 && r->u.receipt.outcome != WIRE_ACCEPTED)
		fail_msg("%s: rejected, %s (%s)", what,
		    wire_reason_name(r->u.receipt.reason), r->u.receipt.detail);
	if (reason != 0 &&
	    (r->u.receipt.outcome != WIRE_REJECTED ||
	        r->u.receipt.reason != reason))
		fail_msg("%s: outcome %d, reason %s (%s), not %s", what,
		    r->u.receipt.outcome, wire_reason_name(r->u.receipt.reason),
		    r->u.receipt.detail, wire_reason_name(reason));
	wire_frame_free(r);
}

/*
 * The broker refuses, as malformed, an emergency without its reason, its
 * digest or its sealed text; a message that is not an emergency with a
 * reason or a digest; and the old manifest (version 1, the text in member
 * 8). The well-formed emergency is accepted, and its leaves carry the
 * reason.
 */
static void
malformed_at_broker(void **state)
{
	static const uint8_t reason[] = {15 << 3, 1};
	static const uint8_t digest[] = {0x82, 0x01, 32}; /* 16, bytes */
	uint8_t add_digest[sizeof(digest) + 32], old[64];
	const struct change emergency_changes[] = {
	    {"emergency without a reason", 1u << 15, NULL, 0, false},
	    {"emergency without a digest", 1u << 16, NULL, 0, false},
	    {"emergency without its sealed text", 0, NULL, 0, true},
	};
	const struct change urgent_changes[] = {
	    {"urgent with a reason", 0, reason, sizeof(reason), false},
	    {"urgent with a digest", 0, add_digest, sizeof(add_digest), false},
	    {"the old manifest: version 1, plaintext in 8", 1u << 1, old, 0,
	        false},
	};
	struct h_msg em = {.sender = H_MHT,
	    .signer = -1,
	    .urgency = URGENCY_EMERGENCY,
	    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
	    .justification = "sealed, then refused",
	    .n_recipients = 1,
	    .recipients = {H_POLICE}};
	struct h_msg um = em;
	struct h_client *c;
	struct change oldc;
	uint8_t id[WIRE_MSG_ID_LEN], *frame, *bad;
	size_t len, blen, n = 0;
	char hex[33];

	(void)state;
	um.urgency = URGENCY_URGENT;
	um.reason = 0;
	um.justification = NULL;
	memcpy(add_digest, digest, sizeof(digest));
	memset(add_digest + sizeof(digest), 0x42, 32);
	/* version = 1, justification = "..." */
	old[n++] = 1 << 3;
	old[n++] = 1;
	old[n++] = 8 << 3 | 2;
	old[n++] = 14;
	memcpy(old + n, "risk to life!!", 14);
	n += 14;
	oldc = urgent_changes[2];
	oldc.add_len = n;

	h_broker_start(sys);
	c = h_client_of(sys, H_MHT);
	for (size_t i = 0; i < 3; i++) {
		h_seal(sys, &em, id, &frame, &len);
		bad = rewrite(frame, len, H_MHT, &emergency_changes[i], &blen);
		expect_receipt(c, bad, blen, id, WIRE_REASON_MALFORMED,
		    emergency_changes[i].what);
		free(bad);
		free(frame);
	}
	for (size_t i = 0; i < 3; i++) {
		const struct change *ch = i == 2 ? &oldc : &urgent_changes[i];
		h_seal(sys, &um, id, &frame, &len);
		bad = rewrite(frame, len, H_MHT, ch, &blen);
		expect_receipt(
		    c, bad, blen, id, WIRE_REASON_MALFORMED, ch->what);
		free(bad);
		free(frame);
	}
	/* Unchanged but for the signature made again: accepted. */
	h_seal(sys, &em, id, &frame, &len);
	const struct change none = {"none", 0, NULL, 0, false};
	bad = rewrite(frame, len, H_MHT, &none, &blen);
	expect_receipt(c, bad, blen, id, 0, "the emergency as sealed");
	free(bad);
	free(frame);
	h_client_free(c);

	/* The accepted one's leaves name the reason. */
	h_hex(id, WIRE_MSG_ID_LEN, hex);
	const char *args[] = {"--msg-id", hex, NULL};
	json_t *evs = h_audit(sys, args);
	assert_int_equal(json_array_size(evs), 2); /* accepted, decision */
	for (size_t i = 0; i < json_array_size(evs); i++)
		assert_string_equal(
		    json_string_value(json_object_get(
		        json_array_get(evs, i), "emergency_reason")),
		    "risk_to_life");
	json_decref(evs);
	h_pass(sys);
}

/* An emergency whose sealed justification is empty: delivered to inbox/
 * all the same, and alerted. */
static void
empty_justification_alerts(void **state)
{
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .urgency = URGENCY_EMERGENCY,
	    .reason = EMERGENCY_REASON_SAFEGUARDING_ADULT,
	    .justification = NULL,
	    .n_recipients = 1,
	    .recipients = {H_POLICE}};
	struct h_client *c;
	struct wire_frame *r;
	uint8_t id[WIRE_MSG_ID_LEN];
	char hex[33], *alert;
	json_t *in;

	(void)state;
	h_agent_start(sys, H_POLICE, true);
	c = h_client_of(sys, H_MHT);
	r = h_submit(sys, c, &m, id);
	assert_int_equal(r->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(r);
	h_hex(id, WIRE_MSG_ID_LEN, hex);
	const char *path =
	    h_p("%s/%s.json", h_spool(sys, H_POLICE, "inbox"), hex);
	if (!h_wait_file(path, H_WAIT_MS))
		fail_msg("no inbox record %s", path);
	in = h_json(path);
	assert_string_equal(json_string_value(json_object_get(in, "reason")),
	    "safeguarding_adult");
	assert_string_equal(
	    json_string_value(json_object_get(in, "justification")), "");
	assert_true(json_is_true(json_object_get(in, "justification_missing")));
	json_decref(in);
	assert_true(h_wait_count(
	    h_spool(sys, H_POLICE, "alerts"), ".json", 1, H_WAIT_MS));
	assert_true(h_wait_log(&sys->agent[H_POLICE],
	    "emergency without a justification", 1, H_WAIT_MS));
	/* The alert names the message and what is wrong. */
	char found[PATH_MAX];
	assert_int_equal(
	    h_tree_grep(h_spool(sys, H_POLICE, "alerts"),
	        "sealed justification is empty", found, sizeof(found)),
	    1);
	alert = scratch_slurp(found, NULL);
	assert_non_null(alert);
	assert_non_null(strstr(alert, hex));
	free(alert);
	h_client_free(c);
	h_pass(sys);
}

/* Runs `concordat audit ARGS...` into DIR/name; returns its output. */
static char *
audit_out(const char *name, const char *const args[])
{
	const char *argv[16] = {sys->cli, "audit"};
	const char *out = h_p("%s/%s", sys->dir, name);
	size_t n = 2;
	char *text;

	for (size_t i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(
	    h_run(sys, out, h_p("%s/%s.err", sys->dir, name), argv), 0);
	text = scratch_slurp(out, NULL);
	assert_non_null(text);
	return text;
}

/*
 * The canary: in the recipient's inbox record, and in no byte the broker
 * holds, no log, no audit output. Fails on the old code, which signed the
 * text into the manifest that the broker stores and logged it in every
 * decision leaf.
 */
static void
canary_nowhere_but_the_inbox(void **state)
{
	static const char record[] =
	    "{\"recipients\": [\"police\"], \"purpose\": \"triage_advice\",\n"
	    " \"urgency\": \"emergency\", \"kind\": \"record\",\n"
	    " \"local_id\": \"MHT-BG-1\", \"reason\": \"risk_to_life\",\n"
	    " \"justification\": \"Type 1 diabetic, no insulin since "
	    "yesterday. " CANARY "\",\n"
	    " \"subject\": {\"nhs_number\": \"" NHS "\"},\n"
	    " \"fields\": {\"risks\": {\"self_harm\": \"high\"},\n"
	    "            \"physical_needs\": {\"medicines\": \"insulin\"}}}\n";
	char sent[PATH_MAX], found[PATH_MAX], hex[33];
	json_t *r, *in;

	(void)state;
	snprintf(sent, sizeof(sent), "%s", h_spool(sys, H_MHT, "sent"));
	h_agent_start(sys, H_MHT, true);
	h_drop(sys, H_MHT, "glass.json", record);
	assert_true(h_wait_file(h_p("%s/glass.receipt.json", sent), H_WAIT_MS));
	r = h_json(h_p("%s/glass.receipt.json", sent));
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	snprintf(hex, sizeof(hex), "%s",
	    json_string_value(json_object_get(r, "msg_id")));
	json_decref(r);
	const char *inbox =
	    h_p("%s/%s.json", h_spool(sys, H_POLICE, "inbox"), hex);
	assert_true(h_wait_file(inbox, H_WAIT_MS));
	in = h_json(inbox);
	assert_string_equal(
	    json_string_value(json_object_get(in, "reason")), "risk_to_life");
	assert_non_null(strstr(
	    json_string_value(json_object_get(in, "justification")), CANARY));
	assert_true(json_is_true(json_object_get(in, "breakglass")));
	json_decref(in);
	assert_true(h_wait_file(h_p("%s/%s.police.acknowledged.json",
	                            h_spool(sys, H_MHT, "receipts"), hex),
	    H_WAIT_MS));

	/* Every audit output: the reason, in words where for people. */
	const char *q[] = {"query", "--data", sys->data, "--json", NULL};
	const char *rep[] = {"report", "--data", sys->data, "--subject", NHS,
	    "--pepper", h_p("%s/keys/pepper", sys->dir), NULL};
	const char *repj[] = {"report", "--data", sys->data, "--subject", NHS,
	    "--pepper", h_p("%s/keys/pepper", sys->dir), "--json", NULL};
	const char *table[] = {
	    "query", "--data", sys->data, "--breakglass", NULL};
	const char *stats[] = {"stats", "--data", sys->data, NULL};
	char *outs[5] = {audit_out("q.json", q), audit_out("report.txt", rep),
	    audit_out("report.json", repj), audit_out("table.txt", table),
	    audit_out("stats.txt", stats)};
	for (int i = 0; i < 5; i++)
		if (strstr(outs[i], CANARY) != NULL)
			fail_msg("the canary is in audit output %d:\n%s", i,
			    outs[i]);
	assert_non_null(
	    strstr(outs[0], "\"emergency_reason\":\"risk_to_life\""));
	assert_non_null(strstr(outs[1], "in an emergency (risk to life)"));
	assert_non_null(strstr(outs[3], "risk to life"));
	for (int i = 0; i < 5; i++)
		free(outs[i]);

	/* Stopped, so that every log line and LMDB page is on disk. */
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	assert_int_equal(h_agent_stop(sys, H_POLICE), 0);
	assert_int_equal(h_broker_stop(sys), 0);
	if (h_tree_grep(sys->data, CANARY, found, sizeof(found)))
		fail_msg(
		    "the canary is in the broker's data folder: %s", found);
	if (h_tree_grep(sys->logs, CANARY, found, sizeof(found)))
		fail_msg("the canary is in a log: %s", found);
	if (h_tree_grep(h_state(sys, H_POLICE), CANARY, found, sizeof(found)))
		fail_msg("the canary is in the recipient's state: %s", found);
	if (h_tree_grep(h_state(sys, H_MHT), CANARY, found, sizeof(found)))
		fail_msg("the canary is in the sender's state: %s", found);
	/* Anywhere at all: the inbox record and the sender's own record
	 * (in sent/), and nothing else; the search finds both. */
	assert_int_equal(
	    h_tree_grep(h_spool(sys, H_POLICE, "inbox"), CANARY, NULL, 0), 1);
	assert_int_equal(h_tree_grep(sent, CANARY, NULL, 0), 1);
	assert_int_equal(
	    h_tree_grep(sys->dir, CANARY, found, sizeof(found)), 2);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(malformed_at_broker),
	    cmocka_unit_test(empty_justification_alerts),
	    cmocka_unit_test(canary_nowhere_but_the_inbox),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
