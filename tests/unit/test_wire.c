/*
 * Unit tests of proto/wire.c and proto/event.c: every frame type through
 * its encoder and wire_decode, the structural checks of wire_decode each
 * with its code, the per-field size limit, the decode budget (floods of
 * tiny entries refused at a bounded cost, the largest legitimate frames
 * still decoded), the msg_id of a frame that does not decode, and audit
 * events to leaf bytes and back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include <sodium.h>

#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/event.h"
#include "proto/wire.h"
#include "tests/unit/testutil.h"

static int
group_setup(void **state)
{
	(void)state;
	tu_seed(6962);
	return sodium_init() < 0 ? -1 : 0;
}

/* wire_decode's code; the frame, if any, is freed. */
static int
decode_rc(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	struct wire_frame *f = (struct wire_frame *)&f;
	int rc = wire_decode(buf, len, &f, why, whylen);

	if (rc != 0)
		assert_null(f);
	wire_frame_free(f);
	return rc;
}

static int
pack_rc(const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *b = tu_pack(m, &len);
	char why[256] = "";
	int rc = decode_rc(b, len, why, sizeof(why));

	if (rc != 0 && why[0] == '\0')
		fail_msg("no reason given for %s", error_strerror(rc));
	free(b);
	return rc;
}

/* ----------------------------------------------------- round trips */

static void
fill_proof(struct wire_audit_proof *p, size_t n_path, uint64_t index)
{
	static const uint8_t leaf[] = {0x08, 0x03, 0x10, 0x2a};
	static const char cp[] = "concordat.example/log\n42\nq83vEjRWeJo=\n\n"
	                         "\xe2\x80\x94 broker AAAA\n";

	memset(p, 0, sizeof(*p));
	p->leaf_index = index;
	p->leaf = leaf;
	p->leaf_len = sizeof(leaf);
	p->n_path = n_path;
	for (size_t i = 0; i < n_path; i++)
		memset(p->path[i], (int)(i + 1), WIRE_HASH_LEN);
	p->checkpoint = cp;
	p->checkpoint_len = sizeof(cp) - 1;
}

static void
assert_proof_equal(
    const struct wire_audit_proof *a, const struct wire_audit_proof *b)
{
	assert_int_equal(a->leaf_index, b->leaf_index);
	assert_int_equal(a->leaf_len, b->leaf_len);
	assert_memory_equal(a->leaf, b->leaf, a->leaf_len);
	assert_int_equal(a->n_path, b->n_path);
	if (a->n_path > 0)
		assert_memory_equal(
		    a->path, b->path, a->n_path * WIRE_HASH_LEN);
	assert_int_equal(a->checkpoint_len, b->checkpoint_len);
	assert_memory_equal(a->checkpoint, b->checkpoint, a->checkpoint_len);
}

static void
test_receipt_roundtrip(void **state)
{
	struct wire_receipt r;
	struct wire_frame *f;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* Accepted, with one decision per recipient. */
	memset(&r, 0, sizeof(r));
	randombytes_buf(r.msg_id, sizeof(r.msg_id));
	r.outcome = WIRE_ACCEPTED;
	r.n_decisions = 3;
	fill_proof(&r.decisions[0], 0, 0);
	fill_proof(&r.decisions[1], 5, 17);
	fill_proof(&r.decisions[2], WIRE_MAX_PATH, UINT64_MAX);
	assert_int_equal(wire_receipt_encode(&r, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_RECEIPT);
	assert_memory_equal(f->u.receipt.msg_id, r.msg_id, 16);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	assert_int_equal(f->u.receipt.reason, 0);
	assert_false(f->u.receipt.retryable);
	assert_string_equal(f->u.receipt.detail, "");
	assert_int_equal(f->u.receipt.n_decisions, 3);
	for (size_t i = 0; i < 3; i++)
		assert_proof_equal(&f->u.receipt.decisions[i], &r.decisions[i]);
	wire_frame_free(f);
	free(buf);

	/* Rejected, retryable, with a detail and the most proofs. */
	r.outcome = WIRE_REJECTED;
	r.reason = WIRE_REASON_STORAGE_FULL;
	r.retryable = true;
	snprintf(r.detail, sizeof(r.detail), "map full: 'data.mdb'");
	r.n_decisions = WIRE_MAX_PROOFS;
	for (size_t i = 0; i < WIRE_MAX_PROOFS; i++)
		fill_proof(&r.decisions[i], i, i * 1000);
	assert_int_equal(wire_receipt_encode(&r, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_RECEIPT);
	assert_int_equal(f->u.receipt.outcome, WIRE_REJECTED);
	assert_int_equal(f->u.receipt.reason, WIRE_REASON_STORAGE_FULL);
	assert_true(f->u.receipt.retryable);
	assert_string_equal(f->u.receipt.detail, r.detail);
	assert_int_equal(f->u.receipt.n_decisions, WIRE_MAX_PROOFS);
	for (size_t i = 0; i < WIRE_MAX_PROOFS; i++)
		assert_proof_equal(&f->u.receipt.decisions[i], &r.decisions[i]);
	wire_frame_free(f);
	free(buf);

	/* The encoder refuses more proofs than the decoder takes. */
	r.n_decisions = WIRE_MAX_PROOFS + 1;
	assert_int_equal(wire_receipt_encode(&r, &buf, &len), ERROR_INVAL);
}

static void
test_status_roundtrip(void **state)
{
	struct wire_status s;
	struct wire_frame *f;
	uint8_t *buf;
	size_t len;

	(void)state;
	for (int st = WIRE_STATE_QUEUED; st <= WIRE_STATE_EXPIRED; st++) {
		memset(&s, 0, sizeof(s));
		randombytes_buf(s.msg_id, sizeof(s.msg_id));
		snprintf(
		    s.recipient, sizeof(s.recipient), "mental_health_trust");
		s.state = st;
		s.at_ms = 1795000000123ull + (uint64_t)st;
		s.has_event = st % 2 == 0;
		if (s.has_event)
			fill_proof(&s.event, (size_t)st, 99);
		assert_int_equal(wire_status_encode(&s, &buf, &len), 0);
		f = tu_decode(buf, len, WIRE_STATUS);
		assert_memory_equal(f->u.status.msg_id, s.msg_id, 16);
		assert_string_equal(
		    f->u.status.recipient, "mental_health_trust");
		assert_int_equal(f->u.status.state, st);
		assert_int_equal(f->u.status.at_ms, s.at_ms);
		assert_int_equal(f->u.status.has_event, s.has_event);
		if (s.has_event)
			assert_proof_equal(&f->u.status.event, &s.event);
		wire_frame_free(f);
		free(buf);
	}
	/* The encoder refuses a path longer than the decoder takes. */
	s.has_event = true;
	fill_proof(&s.event, WIRE_MAX_PATH, 1);
	s.event.n_path = WIRE_MAX_PATH + 1;
	assert_int_equal(wire_status_encode(&s, &buf, &len), ERROR_INVAL);
	assert_string_equal(wire_state_name(WIRE_STATE_EXPIRED), "expired");
	assert_string_equal(wire_state_name(0), "?");
	assert_string_equal(wire_state_name(5), "?");
}

static void
test_ack_and_proof_request_roundtrip(void **state)
{
	static const uint64_t sizes[] = {0, 1, 1000000, UINT64_MAX};
	uint8_t id[16], *buf;
	struct wire_frame *f;
	size_t len;

	(void)state;
	randombytes_buf(id, sizeof(id));
	assert_int_equal(wire_ack_encode(id, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_DELIVERY_ACK);
	assert_memory_equal(f->u.ack_msg_id, id, 16);
	/* A delivery ack: no recipient, no state. */
	assert_string_equal(f->u.ack_recipient, "");
	assert_int_equal(f->u.ack_state, 0);
	wire_frame_free(f);
	free(buf);
	/* A status ack: the recipient and state acknowledged. */
	for (int st = WIRE_STATE_QUEUED; st <= WIRE_STATE_EXPIRED; st++) {
		assert_int_equal(wire_status_ack_encode(
		                     id, "mental_health_trust", st, &buf, &len),
		    0);
		f = tu_decode(buf, len, WIRE_DELIVERY_ACK);
		assert_memory_equal(f->u.ack_msg_id, id, 16);
		assert_string_equal(f->u.ack_recipient, "mental_health_trust");
		assert_int_equal(f->u.ack_state, st);
		wire_frame_free(f);
		free(buf);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(
		    wire_proof_request_encode(sizes[i], &buf, &len), 0);
		f = tu_decode(buf, len, WIRE_PROOF_REQUEST);
		assert_int_equal(f->u.proof_request_size, sizes[i]);
		wire_frame_free(f);
		free(buf);
	}
}

static void
test_proof_roundtrip(void **state)
{
	struct wire_proof p;
	struct wire_frame *f;
	uint8_t *buf;
	size_t len;

	(void)state;
	for (size_t n = 0; n <= WIRE_MAX_PATH; n += 16) {
		memset(&p, 0, sizeof(p));
		p.checkpoint = "log\n8\nAAAA\n";
		p.checkpoint_len = strlen(p.checkpoint);
		p.from_size = n * 3;
		p.n_path = n;
		for (size_t i = 0; i < n; i++)
			randombytes_buf(p.path[i], WIRE_HASH_LEN);
		assert_int_equal(wire_proof_encode(&p, &buf, &len), 0);
		f = tu_decode(buf, len, WIRE_PROOF);
		assert_int_equal(f->u.proof.from_size, p.from_size);
		assert_int_equal(f->u.proof.n_path, n);
		if (n > 0)
			assert_memory_equal(
			    f->u.proof.path, p.path, n * WIRE_HASH_LEN);
		assert_int_equal(f->u.proof.checkpoint_len, p.checkpoint_len);
		assert_memory_equal(
		    f->u.proof.checkpoint, p.checkpoint, p.checkpoint_len);
		wire_frame_free(f);
		free(buf);
	}
	p.n_path = WIRE_MAX_PATH + 1;
	assert_int_equal(wire_proof_encode(&p, &buf, &len), ERROR_INVAL);
}

static void
test_delivery_frame_roundtrip(void **state)
{
	struct tu_agency pol, amb;
	const struct tu_agency *one[1] = {&amb};
	struct wire_audit_proof p;
	struct wire_frame *f, *df;
	struct tu_msg m;
	fieldset sent;
	uint8_t *d, *buf;
	size_t dlen, len;

	(void)state;
	tu_agency_init(&pol, "police", 0);
	tu_agency_init(&amb, "ambulance", 0);
	tu_msg_init(&m, &pol, one, 1, NULL);
	assert_int_equal(tu_seal(&m), 0);
	f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
	const fieldset allowed = FIELDS_BIT(FIELD_RISKS) |
	    FIELDS_BIT(FIELD_IDENTITY) | FIELDS_BIT(FIELD_DEPENDENTS);
	assert_int_equal(envelope_redact(&f->u.submit, "ambulance", allowed,
	                     &sent, &d, &dlen),
	    0);
	assert_int_equal(sent, allowed);
	fill_proof(&p, 7, 12345);
	assert_int_equal(wire_delivery_frame(d, dlen, &p, &buf, &len), 0);
	df = tu_decode(buf, len, WIRE_DELIVERY);
	const struct wire_delivery *dv = &df->u.delivery;
	assert_int_equal(dv->fields, allowed);
	assert_true(dv->has_decision);
	assert_proof_equal(&dv->decision, &p);
	assert_int_equal(dv->manifest_len, f->u.submit.manifest_len);
	assert_memory_equal(
	    dv->manifest, f->u.submit.manifest, dv->manifest_len);
	assert_memory_equal(dv->signature, f->u.submit.signature, 64);
	assert_memory_equal(&dv->m, &f->u.submit.m, sizeof(dv->m));
	for (int fl = 1; fl <= FIELDS_COUNT; fl++) {
		if (!fields_has(allowed, fl)) {
			assert_false(dv->sealed[fl].present);
			assert_false(dv->wraps[fl].present);
			continue;
		}
		assert_true(dv->sealed[fl].present);
		assert_int_equal(
		    dv->sealed[fl].ct_len, f->u.submit.sealed[fl].ct_len);
		assert_memory_equal(dv->sealed[fl].ct,
		    f->u.submit.sealed[fl].ct, dv->sealed[fl].ct_len);
		assert_memory_equal(dv->sealed[fl].nonce,
		    f->u.submit.sealed[fl].nonce, WIRE_NONCE_LEN);
		assert_memory_equal(&dv->wraps[fl],
		    &f->u.submit.grants[0].wraps[fl], sizeof(dv->wraps[fl]));
	}
	wire_frame_free(df);
	free(buf);
	/* Not delivery bytes. */
	assert_int_equal(
	    wire_delivery_frame((const uint8_t *)"\xff\xff", 2, &p, &buf, &len),
	    ERROR_DECODE);
	p.n_path = WIRE_MAX_PATH + 1;
	assert_int_equal(
	    wire_delivery_frame(d, dlen, &p, &buf, &len), ERROR_INVAL);
	free(d);
	wire_frame_free(f);
	tu_msg_release(&m);
}

static void
test_reason_names(void **state)
{
	(void)state;
	for (int r = 1; r <= WIRE_REASON_AGREEMENT_MISMATCH; r++) {
		const char *n = wire_reason_name(r);
		assert_string_not_equal(n, "?");
		assert_int_equal(wire_reason_parse(n), r);
		/* storage_full, internal, rate_limited, agreement_mismatch */
		assert_int_equal(
		    wire_reason_retryable(r), r >= WIRE_REASON_STORAGE_FULL);
	}
	assert_string_equal(
	    wire_reason_name(WIRE_REASON_RATE_LIMITED), "rate_limited");
	assert_string_equal(
	    wire_reason_name(WIRE_REASON_DIGEST_MISMATCH), "digest_mismatch");
	assert_string_equal(wire_reason_name(0), "?");
	assert_string_equal(wire_reason_name(16), "agreement_mismatch");
	assert_string_equal(wire_reason_name(18), "?");
	assert_int_equal(wire_reason_parse("nonsense"), 0);
	assert_int_equal(
	    wire_reason_from_error(ERROR_TOOBIG), WIRE_REASON_TOO_BIG);
	assert_int_equal(
	    wire_reason_from_error(ERROR_UNKNOWN_FIELD), WIRE_REASON_MALFORMED);
	assert_int_equal(
	    wire_reason_from_error(ERROR_EMERGENCY), WIRE_REASON_MALFORMED);
	assert_int_equal(
	    wire_reason_from_error(ERROR_SIGNATURE), WIRE_REASON_BAD_SIGNATURE);
	assert_int_equal(
	    wire_reason_from_error(ERROR_DIGEST), WIRE_REASON_DIGEST_MISMATCH);
	assert_int_equal(
	    wire_reason_from_error(ERROR_GRANT), WIRE_REASON_BAD_GRANT);
	assert_int_equal(
	    wire_reason_from_error(ERROR_NOSPC), WIRE_REASON_STORAGE_FULL);
	assert_int_equal(
	    wire_reason_from_error(ERROR_IO), WIRE_REASON_INTERNAL);
	assert_int_equal(
	    wire_reason_from_error(ERROR_DECODE), WIRE_REASON_MALFORMED);
	assert_int_equal(
	    wire_reason_from_error(ERROR_SENDER), WIRE_REASON_SENDER_MISMATCH);
	assert_int_equal(
	    wire_reason_from_error(ERROR_STALE), WIRE_REASON_STALE);
	assert_int_equal(
	    wire_reason_from_error(ERROR_REPLAY), WIRE_REASON_REPLAY);
	assert_int_equal(wire_reason_from_error(ERROR_UNKNOWN_AGENCY),
	    WIRE_REASON_UNKNOWN_RECIPIENT);
	assert_int_equal(wire_reason_from_error(ERROR_PURPOSE),
	    WIRE_REASON_UNDECLARED_PURPOSE);
	assert_int_equal(
	    wire_reason_from_error(ERROR_MAPFULL), WIRE_REASON_STORAGE_FULL);
	assert_int_equal(
	    wire_reason_from_error(ERROR_NOMEM), WIRE_REASON_INTERNAL);
}

/* ------------------------------------------- a submit, built by hand */

/*
 * A structurally valid Submit frame on the stack of generated types, for
 * one member at a time to be broken. No signature is checked by
 * wire_decode, so none is made.
 */
struct sb {
	Concordat__Frame f;
	Concordat__Submit s;
	Concordat__Envelope e;
	Concordat__Manifest m;
	char *recipients[WIRE_MAX_RECIPIENTS + 2];
	char rnames[WIRE_MAX_RECIPIENTS + 2][16];
	uint32_t requested[FIELDS_COUNT + 2];
	ProtobufCBinaryData digests[FIELDS_COUNT + 2];
	uint8_t dig[FIELDS_COUNT + 2][32];
	uint8_t msg_id[16], ref[32], sig[64];
	Concordat__Sealed sealed[FIELDS_COUNT + 1], *sealedp[FIELDS_COUNT + 1];
	uint8_t nonce[24], ct[WIRE_PAD_BLOCK * 2 + 16];
	Concordat__Grant grants[WIRE_MAX_RECIPIENTS + 1];
	Concordat__Grant *grantsp[WIRE_MAX_RECIPIENTS + 1];
	Concordat__Wrap wraps[FIELDS_COUNT + 1];
	Concordat__Wrap *wrapsp[FIELDS_COUNT + 1];
	uint8_t wkey[48];
	uint8_t *mbytes;
	bool no_manifest;
};

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

static struct sb *
sb_new(void)
{
	struct sb *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	concordat__manifest__init(&b->m);
	b->m.has_version = 1;
	b->m.version = 2;
	b->m.has_msg_id = 1;
	b->m.msg_id = bin(b->msg_id, 16);
	b->m.sender = "police";
	b->m.has_created_at_ms = 1;
	b->m.created_at_ms = 1795000000000ull;
	b->m.has_kind = 1;
	b->m.kind = CONCORDAT__KIND__KIND_RECORD;
	b->m.purpose = "triage_advice";
	b->m.has_urgency = 1;
	b->m.urgency = CONCORDAT__URGENCY__URGENCY_URGENT;
	b->m.has_subject_ref = 1;
	b->m.subject_ref = bin(b->ref, 32);
	for (size_t i = 0; i < WIRE_MAX_RECIPIENTS + 2; i++) {
		snprintf(b->rnames[i], sizeof(b->rnames[i]), "agency_%zu", i);
		b->recipients[i] = b->rnames[i];
	}
	b->m.n_recipients = 1;
	b->m.recipients = b->recipients;
	b->m.requested_fields = b->requested;
	for (size_t i = 0; i < FIELDS_COUNT + 2; i++)
		b->digests[i] = bin(b->dig[i], 32);
	b->m.n_digests = FIELDS_COUNT;
	b->m.digests = b->digests;

	for (int f = 1; f <= FIELDS_COUNT + 1; f++) {
		Concordat__Sealed *s = &b->sealed[f - 1];
		concordat__sealed__init(s);
		s->has_field = 1;
		s->field = (uint32_t)f;
		s->has_nonce = 1;
		s->nonce = bin(b->nonce, 24);
		s->has_ciphertext = 1;
		s->ciphertext = bin(b->ct, WIRE_PAD_BLOCK + 16);
		b->sealedp[f - 1] = s;
	}
	for (int f = 1; f <= FIELDS_COUNT + 1; f++) {
		Concordat__Wrap *w = &b->wraps[f - 1];
		concordat__wrap__init(w);
		w->has_field = 1;
		w->field = (uint32_t)f;
		w->has_nonce = 1;
		w->nonce = bin(b->nonce, 24);
		w->has_wrapped_key = 1;
		w->wrapped_key = bin(b->wkey, 48);
		b->wrapsp[f - 1] = w;
	}
	for (size_t i = 0; i < WIRE_MAX_RECIPIENTS + 1; i++) {
		Concordat__Grant *g = &b->grants[i];
		concordat__grant__init(g);
		g->recipient = b->rnames[i];
		g->n_wraps = 1;
		g->wraps = b->wrapsp;
		b->grantsp[i] = g;
	}
	concordat__envelope__init(&b->e);
	b->e.has_signature = 1;
	b->e.signature = bin(b->sig, 64);
	b->e.n_sealed = FIELDS_COUNT;
	b->e.sealed = b->sealedp;
	b->e.n_grants = 1;
	b->e.grants = b->grantsp;
	concordat__submit__init(&b->s);
	b->s.envelope = &b->e;
	concordat__frame__init(&b->f);
	b->f.body_case = CONCORDAT__FRAME__BODY_SUBMIT;
	b->f.submit = &b->s;
	return b;
}

/* Packs the manifest into the envelope, then decodes the frame. */
static int
sb_rc(struct sb *b, char *why, size_t whylen)
{
	size_t mlen, len;
	uint8_t *buf;
	int rc;

	free(b->mbytes);
	b->mbytes = tu_pack(&b->m.base, &mlen);
	b->e.has_manifest = !b->no_manifest;
	b->e.manifest = bin(b->mbytes, mlen);
	buf = tu_pack(&b->f.base, &len);
	rc = decode_rc(buf, len, why, whylen);
	free(buf);
	return rc;
}

static void
sb_free(struct sb *b)
{
	free(b->mbytes);
	free(b);
}

/* Expects rc from a fresh builder changed by the statement given. */
#define EXPECT(rc, change)                                                     \
	do {                                                                   \
		struct sb *b = sb_new();                                       \
		char why_[256] = "";                                           \
		change;                                                        \
		int got_ = sb_rc(b, why_, sizeof(why_));                       \
		if (got_ != (rc))                                              \
			fail_msg("%s: got %s (%s)", #change,                   \
			    error_strerror(got_), why_);                       \
		if (got_ != 0)                                                 \
			assert_string_not_equal(why_, "");                     \
		sb_free(b);                                                    \
	} while (0)

static void
test_submit_builder_is_valid(void **state)
{
	(void)state;
	EXPECT(0, (void)0);
	EXPECT(0, b->m.n_recipients = WIRE_MAX_RECIPIENTS;
	       b->e.n_grants = WIRE_MAX_RECIPIENTS);
	EXPECT(0, b->m.has_in_reply_to = 1; b->m.in_reply_to = bin(b->ref, 16));
	EXPECT(0, b->m.kind = CONCORDAT__KIND__KIND_REQUEST;
	       b->m.n_requested_fields = 2; b->requested[0] = 13;
	       b->requested[1] = 1);
	EXPECT(0, b->sealed[4].ciphertext = bin(b->ct, sizeof(b->ct)));
	EXPECT(0, b->grants[0].n_wraps = FIELDS_COUNT);
	/* An emergency that decodes: test_justification. */
	/* A 32-character agency id, the longest. */
	EXPECT(0, b->m.sender = "abcdefghijklmnopqrstuvwxyz012345");
}

static void
test_manifest_rejections(void **state)
{
	(void)state;
	EXPECT(
	    ERROR_DECODE, b->m.version = 1); /* the plaintext justification's */
	EXPECT(ERROR_DECODE, b->m.has_version = 0);
	EXPECT(ERROR_DECODE, b->m.msg_id = bin(b->ref, 15));
	EXPECT(ERROR_DECODE, b->m.msg_id = bin(b->ref, 17));
	EXPECT(ERROR_DECODE, b->m.has_msg_id = 0);
	EXPECT(ERROR_DECODE, b->m.sender = "Police");
	EXPECT(ERROR_DECODE, b->m.sender = NULL);
	EXPECT(ERROR_DECODE, b->m.sender = "../police");
	EXPECT(ERROR_DECODE, b->m.sender = "abcdefghijklmnopqrstuvwxyz0123456");
	EXPECT(ERROR_DECODE, b->m.has_created_at_ms = 0);
	EXPECT(ERROR_DECODE, b->m.kind = 0);
	EXPECT(ERROR_DECODE, b->m.kind = 3);
	EXPECT(ERROR_DECODE, b->m.has_kind = 0);
	EXPECT(ERROR_DECODE, b->m.purpose = NULL);
	EXPECT(ERROR_DECODE, b->m.purpose = "Triage");
	EXPECT(ERROR_DECODE, b->m.purpose = "triage advice");
	EXPECT(ERROR_DECODE, b->m.urgency = 0);
	EXPECT(ERROR_DECODE, b->m.urgency = 4);
	EXPECT(ERROR_DECODE, b->m.urgency = (Concordat__Urgency)-1);
	EXPECT(ERROR_DECODE, b->m.has_urgency = 0);
	/* EMERGENCY without a reason and a digest, or a non-emergency with
	 * either, has its own code (the rest: test_justification). */
	EXPECT(ERROR_EMERGENCY,
	    b->m.urgency = CONCORDAT__URGENCY__URGENCY_EMERGENCY);
	EXPECT(ERROR_EMERGENCY, b->m.has_reason = 1; b->m.reason = 1);
	EXPECT(ERROR_EMERGENCY, b->m.has_justification_digest = 1;
	       b->m.justification_digest = bin(b->dig[0], 32));
	EXPECT(ERROR_DECODE, b->m.has_subject_ref = 0);
	EXPECT(ERROR_DECODE, b->m.subject_ref = bin(b->ref, 31));
	EXPECT(ERROR_DECODE, b->m.has_in_reply_to = 1;
	       b->m.in_reply_to = bin(b->ref, 15));
	EXPECT(ERROR_DECODE, b->m.has_in_reply_to = 1;
	       b->m.in_reply_to = bin(b->ref, 0));
	/* Recipients: none, too many, invalid, twice, the sender. */
	EXPECT(ERROR_DECODE, b->m.n_recipients = 0);
	EXPECT(ERROR_DECODE, b->m.n_recipients = WIRE_MAX_RECIPIENTS + 1;
	       b->e.n_grants = WIRE_MAX_RECIPIENTS);
	EXPECT(ERROR_DECODE, b->rnames[0][0] = 'A');
	EXPECT(ERROR_DECODE, b->m.n_recipients = 3;
	       b->recipients[2] = b->rnames[0]);
	EXPECT(ERROR_DECODE, b->m.n_recipients = 2;
	       b->recipients[1] = "police");
	EXPECT(ERROR_DECODE, b->recipients[0] = "police");
	/* requested_fields: only on a request, known, once each. */
	EXPECT(ERROR_DECODE, b->m.n_requested_fields = 1; b->requested[0] = 3);
	EXPECT(ERROR_DECODE, b->m.kind = CONCORDAT__KIND__KIND_REQUEST;
	       b->m.n_requested_fields = 1; b->requested[0] = 0);
	EXPECT(ERROR_DECODE, b->m.kind = CONCORDAT__KIND__KIND_REQUEST;
	       b->m.n_requested_fields = 1; b->requested[0] = 14);
	EXPECT(ERROR_DECODE, b->m.kind = CONCORDAT__KIND__KIND_REQUEST;
	       b->m.n_requested_fields = 2; b->requested[0] = 5;
	       b->requested[1] = 5);
	/* Digests: 12, 14, one of 31 bytes. */
	EXPECT(ERROR_DECODE, b->m.n_digests = 12);
	EXPECT(ERROR_DECODE, b->m.n_digests = 14);
	EXPECT(ERROR_DECODE, b->m.n_digests = 0);
	EXPECT(ERROR_DECODE, b->digests[6] = bin(b->dig[6], 31));
	EXPECT(ERROR_DECODE, b->digests[12] = bin(b->dig[12], 33));
}

static void
test_manifest_why(void **state)
{
	struct sb *b = sb_new();
	char why[256];

	(void)state;
	b->m.n_digests = 12;
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_DECODE);
	assert_string_equal(why, "12 digests, not 13");
	b->m.n_digests = 13;
	b->m.n_recipients = 2;
	b->recipients[1] = "police";
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_DECODE);
	assert_string_equal(why, "sender 'police' lists itself as a recipient");
	b->recipients[1] = b->rnames[0];
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_DECODE);
	assert_string_equal(why, "recipient 'agency_0' listed twice");
	b->m.n_recipients = 1;
	b->m.urgency = CONCORDAT__URGENCY__URGENCY_EMERGENCY;
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_EMERGENCY);
	assert_string_equal(why,
	    "an emergency message must carry a reason (one "
	    "of " EMERGENCY_REASON_LIST ")");
	/* A NULL why is allowed. */
	assert_int_equal(sb_rc(b, NULL, 0), ERROR_EMERGENCY);
	sb_free(b);
}

static void
test_envelope_rejections(void **state)
{
	(void)state;
	EXPECT(ERROR_DECODE, b->no_manifest = true);
	EXPECT(ERROR_DECODE, b->f.submit->envelope = NULL);
	EXPECT(ERROR_DECODE, b->e.signature = bin(b->sig, 63));
	EXPECT(ERROR_DECODE, b->e.signature = bin(b->sig, 65));
	EXPECT(ERROR_DECODE, b->e.has_signature = 0);
	/* Sealed: all thirteen, in order, each well formed. */
	EXPECT(ERROR_DECODE, b->e.n_sealed = 12);
	EXPECT(ERROR_DECODE, b->e.n_sealed = 14);
	EXPECT(ERROR_DECODE, b->e.n_sealed = 0);
	EXPECT(ERROR_DECODE, b->sealed[2].field = 4);
	EXPECT(ERROR_DECODE, b->sealed[0].field = 0);
	EXPECT(ERROR_DECODE, b->sealed[12].field = 14);
	EXPECT(ERROR_DECODE, b->sealed[1].has_field = 0);
	EXPECT(ERROR_DECODE, b->sealedp[3] = &b->sealed[4]);
	EXPECT(ERROR_DECODE, b->sealed[5].nonce = bin(b->nonce, 23));
	EXPECT(ERROR_DECODE, b->sealed[5].has_nonce = 0);
	EXPECT(ERROR_DECODE, b->sealed[7].has_ciphertext = 0);
	EXPECT(ERROR_DECODE, b->sealed[7].ciphertext = bin(b->ct, 0));
	EXPECT(ERROR_DECODE, b->sealed[7].ciphertext = bin(b->ct, 16));
	EXPECT(ERROR_DECODE,
	    b->sealed[7].ciphertext = bin(b->ct, WIRE_PAD_BLOCK + 15));
	EXPECT(ERROR_DECODE,
	    b->sealed[7].ciphertext = bin(b->ct, WIRE_PAD_BLOCK + 17));
	EXPECT(
	    ERROR_DECODE, b->sealed[7].ciphertext = bin(b->ct, WIRE_PAD_BLOCK));
	/* Grants. */
	EXPECT(ERROR_DECODE, b->e.n_grants = 0);
	EXPECT(ERROR_DECODE, b->e.n_grants = WIRE_MAX_RECIPIENTS + 1);
	EXPECT(ERROR_DECODE, b->grants[0].recipient = NULL);
	EXPECT(ERROR_DECODE, b->grants[0].recipient = "Agency_0");
	EXPECT(ERROR_DECODE, b->m.n_recipients = 2; b->e.n_grants = 2;
	       b->grants[1].recipient = b->rnames[0]);
	/* A grant of no wraps: the agreement lets that recipient see
	 * nothing of this message. */
	EXPECT(ERROR_OK, b->grants[0].n_wraps = 0);
	/* The 14th wrap is the justification's, an emergency's only. */
	EXPECT(ERROR_EMERGENCY, b->grants[0].n_wraps = FIELDS_COUNT + 1);
	EXPECT(ERROR_DECODE, b->wraps[0].field = 0);
	EXPECT(ERROR_DECODE, b->wraps[0].field = 15);
	EXPECT(ERROR_DECODE, b->wraps[0].has_field = 0);
	EXPECT(ERROR_DECODE, b->grants[0].n_wraps = 2; b->wraps[1].field = 1);
	EXPECT(ERROR_DECODE, b->wraps[0].nonce = bin(b->nonce, 25));
	EXPECT(ERROR_DECODE, b->wraps[0].wrapped_key = bin(b->wkey, 47));
	EXPECT(ERROR_DECODE, b->wraps[0].wrapped_key = bin(b->wkey, 32));
	EXPECT(ERROR_DECODE, b->wraps[0].has_wrapped_key = 0);
	/* Grants naming unlisted recipients are the contents check's
	 * business (ERROR_GRANT), not the decoder's. */
	EXPECT(0, b->grants[0].recipient = "fire");
}

static void
test_frame_rejections(void **state)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__DeliveryAck a = CONCORDAT__DELIVERY_ACK__INIT;
	Concordat__Status s = CONCORDAT__STATUS__INIT;
	Concordat__Proof p = CONCORDAT__PROOF__INIT;
	Concordat__ProofRequest pr = CONCORDAT__PROOF_REQUEST__INIT;
	uint8_t id[17] = {0}, hash[33] = {0};
	ProtobufCBinaryData path[WIRE_MAX_PATH + 1];
	static char cp[WIRE_CHECKPOINT_MAX + 1];

	(void)state;
	memset(cp, 'c', sizeof(cp));
	/* Empty, garbage, no body. */
	assert_int_equal(
	    decode_rc((const uint8_t *)"", 0, NULL, 0), ERROR_DECODE);
	assert_int_equal(decode_rc((const uint8_t *)"\xff\xff\xff", 3, NULL, 0),
	    ERROR_DECODE);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	/* A known field with the wrong wire type. */
	assert_int_equal(
	    decode_rc((const uint8_t *)"\x08\x01", 2, NULL, 0), ERROR_DECODE);

	/* Ack. */
	f.body_case = CONCORDAT__FRAME__BODY_DELIVERY_ACK;
	f.delivery_ack = &a;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.has_msg_id = 1;
	a.msg_id = bin(id, 15);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.msg_id = bin(id, 17);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.msg_id = bin(id, 16);
	assert_int_equal(pack_rc(&f.base), 0);
	/* A status ack needs both a valid recipient and a known state. */
	a.recipient = "ambulance";
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.has_state = 1;
	a.state = CONCORDAT__STATE__STATE_EXPIRED;
	assert_int_equal(pack_rc(&f.base), 0);
	a.state = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.state = 5;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.state = CONCORDAT__STATE__STATE_DELIVERED;
	a.recipient = "Ambulance";
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.recipient = "";
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.recipient = NULL;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	a.has_state = 0;
	assert_int_equal(pack_rc(&f.base), 0);

	/* Proof request: an empty one is tree size 0. */
	f.body_case = CONCORDAT__FRAME__BODY_PROOF_REQUEST;
	f.proof_request = &pr;
	assert_int_equal(pack_rc(&f.base), 0);

	/* Status. */
	f.body_case = CONCORDAT__FRAME__BODY_STATUS;
	f.status = &s;
	s.has_msg_id = 1;
	s.msg_id = bin(id, 16);
	s.recipient = "ambulance";
	s.has_state = 1;
	s.state = CONCORDAT__STATE__STATE_DELIVERED;
	assert_int_equal(pack_rc(&f.base), 0);
	s.state = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s.state = 5;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s.state = CONCORDAT__STATE__STATE_EXPIRED;
	s.recipient = "Ambulance";
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s.recipient = NULL;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s.recipient = "ambulance";
	s.msg_id = bin(id, 0);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s.msg_id = bin(id, 16);
	assert_int_equal(pack_rc(&f.base), 0);
	/* Its event proof, when present, must be whole. */
	{
		Concordat__AuditProof ev = CONCORDAT__AUDIT_PROOF__INIT;
		s.event = &ev;
		assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
		ev.has_leaf_index = ev.has_leaf = ev.has_checkpoint = 1;
		ev.leaf = bin("l", 1);
		ev.checkpoint = bin("c", 1);
		assert_int_equal(pack_rc(&f.base), 0);
		s.event = NULL;
	}

	/* Proof. */
	f.body_case = CONCORDAT__FRAME__BODY_PROOF;
	f.proof = &p;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	p.has_checkpoint = 1;
	p.checkpoint = bin(cp, WIRE_CHECKPOINT_MAX);
	assert_int_equal(pack_rc(&f.base), 0);
	p.checkpoint = bin(cp, WIRE_CHECKPOINT_MAX + 1);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	p.checkpoint = bin(cp, 0);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	p.checkpoint = bin(cp, 10);
	for (size_t i = 0; i <= WIRE_MAX_PATH; i++)
		path[i] = bin(hash, 32);
	p.path = path;
	p.n_path = WIRE_MAX_PATH;
	assert_int_equal(pack_rc(&f.base), 0);
	p.n_path = WIRE_MAX_PATH + 1;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	p.n_path = 3;
	path[2] = bin(hash, 31);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	path[2] = bin(hash, 33);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
}

static void
test_receipt_rejections(void **state)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Receipt r = CONCORDAT__RECEIPT__INIT;
	Concordat__AuditProof ap[WIRE_MAX_PROOFS + 1],
	    *app[WIRE_MAX_PROOFS + 1];
	ProtobufCBinaryData path[WIRE_MAX_PATH + 1];
	uint8_t id[16] = {0}, hash[32] = {0};
	static char detail[WIRE_DETAIL_MAX + 1];
	static uint8_t leaf[64 * 1024 + 1];

	(void)state;
	memset(detail, 'd', sizeof(detail) - 1);
	f.body_case = CONCORDAT__FRAME__BODY_RECEIPT;
	f.receipt = &r;
	r.has_msg_id = 1;
	r.msg_id = bin(id, 16);
	r.has_outcome = 1;
	r.outcome = CONCORDAT__OUTCOME__OUTCOME_ACCEPTED;
	assert_int_equal(pack_rc(&f.base), 0);
	r.msg_id = bin(id, 15);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.msg_id = bin(id, 16);
	r.outcome = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.outcome = 3;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.has_outcome = 0;
	r.outcome = CONCORDAT__OUTCOME__OUTCOME_ACCEPTED;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.has_outcome = 1;
	/* A rejection needs a known reason; no reason is out of range. */
	r.outcome = CONCORDAT__OUTCOME__OUTCOME_REJECTED;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.has_reason = 1;
	r.reason = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.reason = 18;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.reason = CONCORDAT__REASON__REASON_REPLAY;
	assert_int_equal(pack_rc(&f.base), 0);
	/* An acceptance carries no reason: out of range (this was once
	 * let through), or in range. REASON_NONE is no reason. */
	r.outcome = CONCORDAT__OUTCOME__OUTCOME_ACCEPTED;
	r.reason = 99;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.reason = (Concordat__Reason)-3;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.reason = CONCORDAT__REASON__REASON_REPLAY;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.reason = CONCORDAT__REASON__REASON_NONE;
	assert_int_equal(pack_rc(&f.base), 0);
	r.has_reason = 0;
	r.detail = detail;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	detail[WIRE_DETAIL_MAX - 1] = '\0';
	assert_int_equal(pack_rc(&f.base), 0);
	r.detail = NULL;

	/* Decisions: at most 16, each with a leaf and a checkpoint. */
	for (size_t i = 0; i <= WIRE_MAX_PATH; i++)
		path[i] = bin(hash, 32);
	for (size_t i = 0; i <= WIRE_MAX_PROOFS; i++) {
		concordat__audit_proof__init(&ap[i]);
		ap[i].has_leaf_index = 1;
		ap[i].has_leaf = 1;
		ap[i].leaf = bin(leaf, 10);
		ap[i].has_checkpoint = 1;
		ap[i].checkpoint = bin("cp", 2);
		ap[i].n_path = 2;
		ap[i].path = path;
		app[i] = &ap[i];
	}
	r.decisions = app;
	r.n_decisions = WIRE_MAX_PROOFS;
	assert_int_equal(pack_rc(&f.base), 0);
	r.n_decisions = WIRE_MAX_PROOFS + 1;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	r.n_decisions = 1;
	ap[0].has_leaf = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].has_leaf = 1;
	ap[0].leaf = bin(leaf, 0);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].leaf = bin(leaf, sizeof(leaf));
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].leaf = bin(leaf, sizeof(leaf) - 1);
	assert_int_equal(pack_rc(&f.base), 0);
	ap[0].has_leaf_index = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].has_leaf_index = 1;
	ap[0].has_checkpoint = 0;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].has_checkpoint = 1;
	ap[0].n_path = WIRE_MAX_PATH + 1;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap[0].n_path = WIRE_MAX_PATH;
	assert_int_equal(pack_rc(&f.base), 0);
	path[WIRE_MAX_PATH - 1] = bin(hash, 31);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
}

/* A delivery built by hand: sealed/wrap pairs for the fields given. */
static void
test_delivery_rejections(void **state)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Delivery d = CONCORDAT__DELIVERY__INIT;
	Concordat__Sealed s[FIELDS_COUNT + 1], *sp[FIELDS_COUNT + 1];
	Concordat__Wrap w[FIELDS_COUNT + 1], *wp[FIELDS_COUNT + 1];
	Concordat__AuditProof ap = CONCORDAT__AUDIT_PROOF__INIT;
	struct sb *b = sb_new();
	uint8_t nonce[24] = {0}, ct[272] = {0}, key[48] = {0}, sig[64] = {0};
	size_t mlen;

	(void)state;
	b->mbytes = tu_pack(&b->m.base, &mlen);
	f.body_case = CONCORDAT__FRAME__BODY_DELIVERY;
	f.delivery = &d;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE); /* no manifest */
	d.has_manifest = 1;
	d.manifest = bin(b->mbytes, mlen);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE); /* no signature */
	d.has_signature = 1;
	d.signature = bin(sig, 64);
	/* Nothing disclosed is a valid delivery. */
	assert_int_equal(pack_rc(&f.base), 0);
	for (int i = 0; i <= FIELDS_COUNT; i++) {
		concordat__sealed__init(&s[i]);
		s[i].has_field = s[i].has_nonce = s[i].has_ciphertext = 1;
		s[i].field = (uint32_t)i + 1;
		s[i].nonce = bin(nonce, 24);
		s[i].ciphertext = bin(ct, sizeof(ct));
		sp[i] = &s[i];
		concordat__wrap__init(&w[i]);
		w[i].has_field = w[i].has_nonce = w[i].has_wrapped_key = 1;
		w[i].field = (uint32_t)i + 1;
		w[i].nonce = bin(nonce, 24);
		w[i].wrapped_key = bin(key, 48);
		wp[i] = &w[i];
	}
	d.sealed = sp;
	d.wraps = wp;
	d.n_sealed = d.n_wraps = FIELDS_COUNT;
	assert_int_equal(pack_rc(&f.base), 0);
	d.n_sealed = d.n_wraps = FIELDS_COUNT + 1;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	/* Fields 3 and 7 only; out of order; repeated. */
	d.n_sealed = d.n_wraps = 2;
	sp[0] = &s[2];
	sp[1] = &s[6];
	wp[0] = &w[6];
	wp[1] = &w[2];
	assert_int_equal(pack_rc(&f.base), 0);
	sp[0] = &s[6];
	sp[1] = &s[2];
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	sp[0] = &s[2];
	sp[1] = &s[2];
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	sp[1] = &s[6];
	/* Wraps must match the fields delivered, one each. */
	wp[1] = &w[3];
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	wp[1] = &w[6];
	d.n_wraps = 1;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	d.n_wraps = 2;
	wp[0] = &w[2];
	wp[1] = &w[2];
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	wp[1] = &w[6];
	/* A bad sealed entry. */
	s[6].ciphertext = bin(ct, 100);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	s[6].ciphertext = bin(ct, sizeof(ct));
	/* The decision proof, when present, must be whole. */
	d.decision = &ap;
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	ap.has_leaf_index = ap.has_leaf = ap.has_checkpoint = 1;
	ap.leaf = bin("l", 1);
	ap.checkpoint = bin("c", 1);
	assert_int_equal(pack_rc(&f.base), 0);
	/* Its manifest is checked like a submission's. */
	b->m.n_digests = 12;
	free(b->mbytes);
	b->mbytes = tu_pack(&b->m.base, &mlen);
	d.manifest = bin(b->mbytes, mlen);
	assert_int_equal(pack_rc(&f.base), ERROR_DECODE);
	b->m.n_digests = 13;
	b->m.urgency = CONCORDAT__URGENCY__URGENCY_EMERGENCY;
	free(b->mbytes);
	b->mbytes = tu_pack(&b->m.base, &mlen);
	d.manifest = bin(b->mbytes, mlen);
	assert_int_equal(pack_rc(&f.base), ERROR_EMERGENCY);
	sb_free(b);
}

/* --------------------------------------------------- the field limit */

/* A field's ciphertext longer than the largest plaintext seals to. */
static void
test_field_limit(void **state)
{
	static uint8_t big[204816];
	char why[256];

	(void)state;
	/* The largest a seal makes is taken, and a block more is not. */
	EXPECT(0, b->sealed[0].ciphertext = bin(big, WIRE_SEALED_MAX));
	EXPECT(0,
	    for (int f = 0; f < FIELDS_COUNT; f++) b->sealed[f].ciphertext =
	        bin(big, WIRE_SEALED_MAX));
	EXPECT(ERROR_TOOBIG,
	    b->sealed[0].ciphertext =
	        bin(big, WIRE_SEALED_MAX + WIRE_PAD_BLOCK));
	/* Too big comes first, whatever the length's shape. */
	EXPECT(ERROR_TOOBIG,
	    b->sealed[12].ciphertext = bin(big, WIRE_SEALED_MAX + 1));
	EXPECT(ERROR_TOOBIG, b->sealed[5].ciphertext = bin(big, sizeof(big)));

	struct sb *b = sb_new();
	b->sealed[0].ciphertext = bin(big, sizeof(big));
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_TOOBIG);
	assert_string_equal(why,
	    "field 'identity': ciphertext of 204816 "
	    "bytes is over the 64 KiB field limit");
	b->sealed[0].ciphertext = bin(b->ct, WIRE_PAD_BLOCK + 16);
	b->sealed[10].ciphertext = bin(big, WIRE_SEALED_MAX + WIRE_PAD_BLOCK);
	assert_int_equal(sb_rc(b, why, sizeof(why)), ERROR_TOOBIG);
	assert_string_equal(why,
	    "field 'risks': ciphertext of 66064 bytes "
	    "is over the 64 KiB field limit");
	sb_free(b);
	/* What the broker then tells the sender. */
	assert_int_equal(
	    wire_reason_from_error(ERROR_TOOBIG), WIRE_REASON_TOO_BIG);

	/* A delivery, as an agent receives it: the same limit. */
	{
		Concordat__Frame f = CONCORDAT__FRAME__INIT;
		Concordat__Delivery d = CONCORDAT__DELIVERY__INIT;
		Concordat__Sealed sl = CONCORDAT__SEALED__INIT, *slp = &sl;
		Concordat__Wrap w = CONCORDAT__WRAP__INIT, *wp = &w;
		uint8_t nonce[24] = {0}, key[48] = {0}, sig[64] = {0};
		size_t mlen, len;
		uint8_t *buf;

		b = sb_new();
		b->mbytes = tu_pack(&b->m.base, &mlen);
		d.has_manifest = d.has_signature = 1;
		d.manifest = bin(b->mbytes, mlen);
		d.signature = bin(sig, 64);
		sl.has_field = sl.has_nonce = sl.has_ciphertext = 1;
		sl.field = FIELD_CLINICAL;
		sl.nonce = bin(nonce, 24);
		w.has_field = w.has_nonce = w.has_wrapped_key = 1;
		w.field = FIELD_CLINICAL;
		w.nonce = bin(nonce, 24);
		w.wrapped_key = bin(key, 48);
		d.n_sealed = d.n_wraps = 1;
		d.sealed = &slp;
		d.wraps = &wp;
		f.body_case = CONCORDAT__FRAME__BODY_DELIVERY;
		f.delivery = &d;
		sl.ciphertext = bin(big, WIRE_SEALED_MAX);
		assert_int_equal(pack_rc(&f.base), 0);
		sl.ciphertext = bin(big, sizeof(big));
		buf = tu_pack(&f.base, &len);
		assert_int_equal(
		    decode_rc(buf, len, why, sizeof(why)), ERROR_TOOBIG);
		assert_string_equal(why,
		    "field 'clinical': ciphertext of "
		    "204816 bytes is over the 64 KiB "
		    "field limit");
		free(buf);
		sb_free(b);
	}
}

/* --------------------------------------------- msg_id of a bad frame */

/* Packs b as sb_rc does, without decoding: a new buffer. */
static uint8_t *
sb_pack(struct sb *b, size_t *len)
{
	size_t mlen;

	free(b->mbytes);
	b->mbytes = tu_pack(&b->m.base, &mlen);
	b->e.has_manifest = !b->no_manifest;
	b->e.manifest = bin(b->mbytes, mlen);
	return tu_pack(&b->f.base, len);
}

/*
 * wire_decode refuses buf (any code but 0), yet wire_frame_msg_id reads
 * the msg_id of b, or (want false) reads none.
 */
static void
assert_msg_id(const uint8_t *buf, size_t len, const struct sb *b, bool want,
    const char *what)
{
	uint8_t id[WIRE_MSG_ID_LEN], zero[WIRE_MSG_ID_LEN] = {0};

	if (decode_rc(buf, len, NULL, 0) == 0)
		fail_msg("%s: the frame decodes", what);
	memset(id, 0xee, sizeof(id));
	if (want) {
		if (wire_frame_msg_id(buf, len, id) != 0)
			fail_msg("%s: no msg_id", what);
		assert_memory_equal(id, b->msg_id, WIRE_MSG_ID_LEN);
	} else {
		if (wire_frame_msg_id(buf, len, id) != ERROR_DECODE)
			fail_msg("%s: a msg_id", what);
		assert_memory_equal(id, zero, WIRE_MSG_ID_LEN);
	}
}

/* A Submit whose member is changed by the statement given. */
#define MSG_ID(want, change)                                                   \
	do {                                                                   \
		struct sb *b = sb_new();                                       \
		uint8_t *buf_;                                                 \
		size_t len_;                                                   \
		randombytes_buf(b->msg_id, sizeof(b->msg_id));                 \
		change;                                                        \
		buf_ = sb_pack(b, &len_);                                      \
		assert_msg_id(buf_, len_, b, want, #change);                   \
		free(buf_);                                                    \
		sb_free(b);                                                    \
	} while (0)

/* A good frame, and the same with unknown fields in each message. */
static void
msg_id_good_and_unknown(void)
{
	struct sb *b;
	uint8_t id[WIRE_MSG_ID_LEN], *buf, *c;
	size_t len, clen;

	/* A good frame: the msg_id wire_decode gives. */
	b = sb_new();
	randombytes_buf(b->msg_id, sizeof(b->msg_id));
	buf = sb_pack(b, &len);
	{
		struct wire_frame *f = tu_decode(buf, len, WIRE_SUBMIT);
		assert_int_equal(wire_frame_msg_id(buf, len, id), 0);
		assert_memory_equal(id, f->u.submit.m.msg_id, WIRE_MSG_ID_LEN);
		assert_memory_equal(id, b->msg_id, WIRE_MSG_ID_LEN);
		wire_frame_free(f);
	}

	/* Unknown fields: in the frame, the envelope, the manifest. */
	{
		Concordat__Frame *pf = tu_frame_unpack(buf, len);
		tu_add_unknown(&pf->base, 20, PROTOBUF_C_WIRE_TYPE_VARINT);
		c = tu_pack(&pf->base, &clen);
		assert_int_equal(
		    decode_rc(c, clen, NULL, 0), ERROR_UNKNOWN_FIELD);
		assert_msg_id(c, clen, b, true, "unknown field");
		free(c);
		concordat__frame__free_unpacked(pf, NULL);

		pf = tu_frame_unpack(buf, len);
		tu_add_unknown(&pf->submit->envelope->base, 9,
		    PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		c = tu_pack(&pf->base, &clen);
		assert_msg_id(c, clen, b, true, "unknown field");
		free(c);
		concordat__frame__free_unpacked(pf, NULL);

		size_t mlen;
		Concordat__Manifest *pm =
		    tu_manifest_unpack(b->mbytes, b->e.manifest.len);
		tu_add_unknown(&pm->base, 40, PROTOBUF_C_WIRE_TYPE_32BIT);
		uint8_t *mb = tu_pack(&pm->base, &mlen);
		concordat__manifest__free_unpacked(pm, NULL);
		b->e.manifest = bin(mb, mlen);
		c = tu_pack(&b->f.base, &clen);
		assert_int_equal(
		    decode_rc(c, clen, NULL, 0), ERROR_UNKNOWN_FIELD);
		assert_msg_id(c, clen, b, true, "unknown field");
		free(c);
		free(mb);
	}
	free(buf);
	sb_free(b);
}

/* Not a Submit, not protobuf, cut short, too long. */
static void
msg_id_unreadable(void)
{
	static const uint8_t garbage[] = {
	    0x0f, 0x8a, 0x33, 0x01, 0x7c, 0xe2, 0x90, 0x11};
	uint8_t id[WIRE_MSG_ID_LEN], zero[WIRE_MSG_ID_LEN] = {0}, *buf, *c, *p;
	struct wire_receipt r;
	size_t len, clen;
	struct sb *b;

	memset(&r, 0, sizeof(r));
	r.outcome = WIRE_REJECTED;
	r.reason = WIRE_REASON_MALFORMED;
	memset(r.msg_id, 0x42, sizeof(r.msg_id));
	assert_int_equal(wire_receipt_encode(&r, &c, &clen), 0);
	assert_int_equal(wire_frame_msg_id(c, clen, id), ERROR_DECODE);
	assert_memory_equal(id, zero, WIRE_MSG_ID_LEN);
	free(c);
	assert_int_equal(
	    wire_frame_msg_id(garbage, sizeof(garbage), id), ERROR_DECODE);
	assert_int_equal(wire_frame_msg_id(garbage, 0, id), ERROR_DECODE);
	for (int i = 0; i < 64; i++) {
		uint8_t rnd[256];
		randombytes_buf(rnd, sizeof(rnd));
		rnd[0] = 0x0f; /* an invalid wire type */
		assert_int_equal(
		    wire_frame_msg_id(rnd, sizeof(rnd), id), ERROR_DECODE);
	}
	/* Cut short: read leniently down to the msg_id, which must be whole
	 * (the manifest comes first, its msg_id second). */
	b = sb_new();
	buf = sb_pack(b, &len);
	uint8_t whole[WIRE_MSG_ID_LEN];
	assert_int_equal(wire_frame_msg_id(buf, len, whole), 0);
	assert_int_equal(wire_frame_msg_id(buf, len - 1, id), 0);
	assert_memory_equal(id, whole, WIRE_MSG_ID_LEN);
	uint8_t *at = memmem(buf, len, whole, WIRE_MSG_ID_LEN);
	assert_non_null(at);
	size_t upto = (size_t)(at - buf) + WIRE_MSG_ID_LEN;
	assert_int_equal(wire_frame_msg_id(buf, upto, id), 0);
	assert_memory_equal(id, whole, WIRE_MSG_ID_LEN);
	assert_int_equal(wire_frame_msg_id(buf, upto - 1, id), ERROR_DECODE);
	assert_memory_equal(id, zero, WIRE_MSG_ID_LEN);
	assert_int_equal(wire_frame_msg_id(buf, 3, id), ERROR_DECODE);
	free(buf);
	sb_free(b);
	/* Refused on its size alone, without a read. */
	p = mmap(NULL, WIRE_MAX_FRAME + 1, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(
	    wire_frame_msg_id(p, WIRE_MAX_FRAME + 1, id), ERROR_DECODE);
	munmap(p, WIRE_MAX_FRAME + 1);
}

static void
test_frame_msg_id(void **state)
{
	static uint8_t big[204816];

	(void)state;
	msg_id_good_and_unknown();
	/* Structural faults in the manifest, the envelope, its members. */
	MSG_ID(true, b->m.version = 1);
	MSG_ID(true, b->m.sender = "Police");
	MSG_ID(true, b->m.n_recipients = 0);
	MSG_ID(true, b->m.n_digests = 12);
	MSG_ID(true, b->m.urgency = CONCORDAT__URGENCY__URGENCY_EMERGENCY);
	MSG_ID(true, b->m.subject_ref = bin(b->ref, 31));
	MSG_ID(true, b->e.signature = bin(b->sig, 63));
	MSG_ID(true, b->e.n_sealed = 12);
	MSG_ID(true, b->sealed[7].ciphertext = bin(b->ct, 100));
	MSG_ID(true, b->sealed[3].ciphertext = bin(big, sizeof(big)));
	MSG_ID(true, b->e.n_grants = 0);
	MSG_ID(true, b->grants[0].recipient = "Agency_0");
	MSG_ID(true, b->wraps[0].wrapped_key = bin(b->wkey, 47));

	/* No msg_id to read. */
	MSG_ID(false, b->m.has_msg_id = 0);
	MSG_ID(false, b->m.msg_id = bin(b->ref, 15));
	MSG_ID(false, b->m.msg_id = bin(b->ref, 17));
	MSG_ID(false, b->m.msg_id = bin(b->ref, 0));
	MSG_ID(false, b->no_manifest = true);
	MSG_ID(false, b->f.submit->envelope = NULL);
	{
		/* Manifest bytes that are not protobuf. */
		struct sb *b = sb_new();
		Concordat__Frame *pf;
		uint8_t *buf, *c;
		size_t len, clen;

		buf = sb_pack(b, &len);
		pf = tu_frame_unpack(buf, len);
		tu_set_bytes(&pf->submit->envelope->manifest, "\xff\xff", 2);
		c = tu_pack(&pf->base, &clen);
		assert_msg_id(c, clen, b, false, "manifest not protobuf");
		concordat__frame__free_unpacked(pf, NULL);
		free(c);
		free(buf);
		sb_free(b);
	}

	msg_id_unreadable();
}

/* --------------------------------------------------- the decode budget */

/* Tag (field number n < 16, length-delimited) and length. */
static size_t
put_ld(uint8_t *p, uint32_t n, size_t len)
{
	size_t i = 0;

	p[i++] = (uint8_t)(n << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
	do {
		p[i] = (uint8_t)(len & 0x7f);
		len >>= 7;
		p[i++] |= len ? 0x80 : 0;
	} while (len);
	return i;
}

/*
 * A flood: a frame of at most WIRE_MAX_FRAME bytes that is as many copies
 * of a two-byte entry as fit, inside the messages of path (outermost
 * first; the last may be a bytes member, such as Envelope.manifest).
 */
struct flood_case {
	const char *what; /* the message that runs out of budget */
	const char *desc;
	size_t depth;
	uint32_t path[3];
	uint8_t entry[2];
};

static const struct flood_case floods[] = {
    {"frame", "Submit: empty sealed fields", 2, {1, 1}, {0x1a, 0}},
    {"frame", "Submit: empty grants", 2, {1, 1}, {0x22, 0}},
    {"frame", "Submit: a grant of empty wraps", 3, {1, 1, 4}, {0x12, 0}},
    {"frame", "Submit: unknown fields in the envelope", 2, {1, 1}, {0x78, 0}},
    {"manifest", "Submit: empty recipients", 3, {1, 1, 1}, {0x5a, 0}},
    {"manifest", "Submit: empty digests", 3, {1, 1, 1}, {0x6a, 0}},
    {"manifest", "Submit: unpacked requested fields", 3, {1, 1, 1}, {0x60, 1}},
    {"frame", "Delivery: empty sealed fields", 1, {3}, {0x1a, 0}},
    {"frame", "Delivery: empty wraps", 1, {3}, {0x22, 0}},
    {"manifest", "Delivery: empty recipients", 2, {3, 1}, {0x5a, 0}},
    {"frame", "Receipt: empty decisions", 1, {2}, {0x32, 0}},
    {"frame", "Receipt: a decision of empty hashes", 2, {2, 6}, {0x1a, 0}},
    {"frame", "Status: an event of empty hashes", 2, {5, 5}, {0x1a, 0}},
    {"frame", "Proof: empty hashes", 1, {7}, {0x1a, 0}},
    {"frame", "unknown fields in the frame", 0, {0}, {0x78, 0}},
};

/* *inner: the length of the innermost message. */
static uint8_t *
flood_frame(const struct flood_case *c, size_t *len, size_t *inner)
{
	/* Each message around costs a tag and at most 3 bytes of length. */
	size_t n = (WIRE_MAX_FRAME - 4 * c->depth) / 2, used = 2 * n;
	uint8_t *buf = malloc(WIRE_MAX_FRAME);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + 2 * i, c->entry, 2);
	*inner = used;
	for (size_t d = c->depth; d-- > 0;) {
		uint8_t head[8];
		size_t h = put_ld(head, c->path[d], used);
		memmove(buf + h, buf, used);
		memcpy(buf, head, h);
		used += h;
	}
	assert_true(used <= WIRE_MAX_FRAME);
	*len = used;
	return buf;
}

struct input {
	const uint8_t *buf;
	size_t len;
};

static int
decode_in_child(void *arg)
{
	const struct input *in = arg;
	struct wire_frame *f = NULL;
	int rc = wire_decode(in->buf, in->len, &f, NULL, 0);

	wire_frame_free(f);
	return rc;
}

static int
event_in_child(void *arg)
{
	const struct input *in = arg;
	struct event ev;

	return event_decode(in->buf, in->len, &ev);
}

/* Well under what the floods cost unbudgeted (some 68 MiB). */
#define FLOOD_PEAK_MAX (16 * 1024 * 1024)

/*
 * Every message type from untrusted bytes, flooded with half a million
 * two-byte entries: refused as needing more than the budget, at a cost
 * measured in a child process.
 */
static void
test_flood_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(floods) / sizeof(floods[0]); i++) {
		const struct flood_case *c = &floods[i];
		char why[256] = "", want[128];
		uint8_t id[WIRE_MSG_ID_LEN];
		struct input in;
		size_t len, inner, grown;
		uint8_t *buf = flood_frame(c, &len, &inner);
		int rc;

		in.buf = buf;
		in.len = len;
		rc = tu_peak_growth(decode_in_child, &in, &grown);
		print_message("%s (%zu bytes): peak grew %zu KiB\n", c->desc,
		    len, grown / 1024);
		assert_int_equal(rc, ERROR_DECODE);
		assert_int_equal(
		    decode_rc(buf, len, why, sizeof(why)), ERROR_DECODE);
		/* The budget of wire.h: 4 bytes a byte, and 64 KiB. */
		snprintf(want, sizeof(want),
		    "%s needs more than %zu bytes to decode: too many entries",
		    c->what,
		    4 * (strcmp(c->what, "frame") == 0 ? len : inner) +
		        64 * 1024);
		if (strcmp(why, want) != 0)
			fail_msg("%s: %s", c->desc, why);
		assert_int_equal(wire_frame_msg_id(buf, len, id), ERROR_DECODE);
		assert_true(grown < FLOOD_PEAK_MAX);
		free(buf);
	}

	/* An audit leaf of empty recipients. */
	{
		size_t n = WIRE_MAX_FRAME / 2, grown;
		uint8_t *buf = malloc(2 * n);
		struct input in = {buf, 2 * n};
		struct event ev;

		assert_non_null(buf);
		for (size_t i = 0; i < n; i++) {
			buf[2 * i] = 0x52; /* recipients = 10 */
			buf[2 * i + 1] = 0;
		}
		assert_int_equal(event_decode(buf, 2 * n, &ev), ERROR_DECODE);
		assert_int_equal(
		    tu_peak_growth(event_in_child, &in, &grown), ERROR_DECODE);
		print_message("audit event: empty recipients (%zu bytes): "
		              "peak grew %zu KiB\n",
		    2 * n, grown / 1024);
		assert_true(grown < FLOOD_PEAK_MAX);
		free(buf);
	}
}

/*
 * The largest legitimate frame of each type still decodes: the biggest
 * members, and the most entries the checks allow (which cost the most
 * heap per byte).
 */
static void
test_largest_frames_decode(void **state)
{
	static uint8_t leaf[64 * 1024], big[WIRE_SEALED_MAX];
	static char cp[WIRE_CHECKPOINT_MAX];
	static struct wire_receipt r;
	struct wire_status st;
	struct wire_proof pr;
	struct wire_frame *f;
	uint8_t *buf = NULL;
	size_t len = 0, leaf_len;

	(void)state;
	tu_fill(leaf, sizeof(leaf));
	memset(cp, 'c', sizeof(cp));

	/* A receipt of 16 proofs, each with the longest path and
	 * checkpoint and the longest leaf that still fits. */
	memset(&r, 0, sizeof(r));
	r.outcome = WIRE_ACCEPTED;
	r.n_decisions = WIRE_MAX_PROOFS;
	for (leaf_len = sizeof(leaf);; leaf_len -= 64) {
		for (size_t i = 0; i < WIRE_MAX_PROOFS; i++) {
			fill_proof(&r.decisions[i], WIRE_MAX_PATH, i);
			r.decisions[i].leaf = leaf;
			r.decisions[i].leaf_len = leaf_len;
			r.decisions[i].checkpoint = cp;
			r.decisions[i].checkpoint_len = sizeof(cp);
		}
		assert_int_equal(wire_receipt_encode(&r, &buf, &len), 0);
		if (len <= WIRE_MAX_FRAME)
			break;
		free(buf);
	}
	assert_true(len > WIRE_MAX_FRAME - WIRE_MAX_PROOFS * 64 - 64);
	f = tu_decode(buf, len, WIRE_RECEIPT);
	assert_int_equal(f->u.receipt.n_decisions, WIRE_MAX_PROOFS);
	assert_proof_equal(&f->u.receipt.decisions[15], &r.decisions[15]);
	wire_frame_free(f);
	free(buf);
	/* The same with one-byte leaves and checkpoints: the most entries
	 * for its size. */
	for (size_t i = 0; i < WIRE_MAX_PROOFS; i++)
		r.decisions[i].leaf_len = r.decisions[i].checkpoint_len = 1;
	assert_int_equal(wire_receipt_encode(&r, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_RECEIPT);
	assert_proof_equal(&f->u.receipt.decisions[3], &r.decisions[3]);
	wire_frame_free(f);
	free(buf);

	/* A status with the longest event proof. */
	memset(&st, 0, sizeof(st));
	snprintf(st.recipient, sizeof(st.recipient), "%s",
	    "abcdefghijklmnopqrstuvwxyz012345");
	st.state = WIRE_STATE_ACKNOWLEDGED;
	st.has_event = true;
	fill_proof(&st.event, WIRE_MAX_PATH, UINT64_MAX);
	st.event.leaf = leaf;
	st.event.leaf_len = sizeof(leaf);
	st.event.checkpoint = cp;
	st.event.checkpoint_len = sizeof(cp);
	assert_int_equal(wire_status_encode(&st, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_STATUS);
	assert_proof_equal(&f->u.status.event, &st.event);
	wire_frame_free(f);
	free(buf);

	/* A consistency proof: longest path and checkpoint. */
	memset(&pr, 0, sizeof(pr));
	pr.checkpoint = cp;
	pr.checkpoint_len = sizeof(cp);
	pr.n_path = WIRE_MAX_PATH;
	assert_int_equal(wire_proof_encode(&pr, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_PROOF);
	assert_int_equal(f->u.proof.n_path, WIRE_MAX_PATH);
	wire_frame_free(f);
	free(buf);

	/* A submission with every list at its longest (16 recipients and
	 * grants of 13 wraps, 13 fields requested) and all 13 ciphertexts at
	 * the field limit; with the justification: test_justification. */
	EXPECT(
	    0, b->m.n_recipients = WIRE_MAX_RECIPIENTS;
	    b->e.n_grants = WIRE_MAX_RECIPIENTS;
	    for (size_t i = 0; i < WIRE_MAX_RECIPIENTS; i++) b->grants[i]
	        .n_wraps = FIELDS_COUNT;
	    b->m.kind = CONCORDAT__KIND__KIND_REQUEST;
	    b->m.n_requested_fields = FIELDS_COUNT;
	    for (uint32_t i = 0; i < FIELDS_COUNT; i++) b->requested[i] = i + 1;
	    b->m.has_in_reply_to = 1; b->m.in_reply_to = bin(b->ref, 16);
	    for (int i = 0; i < FIELDS_COUNT; i++) b->sealed[i].ciphertext =
	        bin(big, sizeof(big)));
	/* The same with the smallest ciphertexts. */
	EXPECT(0, b->m.n_recipients = WIRE_MAX_RECIPIENTS;
	       b->e.n_grants = WIRE_MAX_RECIPIENTS;
	       for (size_t i = 0; i < WIRE_MAX_RECIPIENTS; i++) b->grants[i]
	           .n_wraps = FIELDS_COUNT);
}

/* ------------------------------------------------------------ events */

static void
full_event(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->time_ms = 1795000000999ull;
	ev->has_msg_id = true;
	randombytes_buf(ev->msg_id, sizeof(ev->msg_id));
	snprintf(ev->sender, sizeof(ev->sender), "police");
	snprintf(ev->recipient, sizeof(ev->recipient), "mental_health_trust");
	snprintf(ev->purpose, sizeof(ev->purpose), "triage_advice");
	ev->urgency = URGENCY_EMERGENCY;
	ev->kind = KIND_REQUEST;
	ev->has_subject_ref = true;
	randombytes_buf(ev->subject_ref, sizeof(ev->subject_ref));
	ev->n_recipients = EVENT_MAX_LIST;
	for (size_t i = 0; i < EVENT_MAX_LIST; i++)
		snprintf(ev->recipients[i], sizeof(ev->recipients[i]),
		    "agency_%zu", i);
	ev->disclosed = FIELDS_BIT(FIELD_RISKS) | FIELDS_BIT(FIELD_HEALTH);
	ev->withheld = FIELDS_ALL & ~ev->disclosed;
	ev->n_rules = 2;
	snprintf(ev->rules[0], sizeof(ev->rules[0]), "triage-request");
	memset(ev->rules[1], 'r', IDENT_NAME_MAX);
	ev->n_bases = 1;
	memset(ev->bases[0], 'b', EVENT_TEXT_MAX - 1);
	ev->n_obligations = 1;
	snprintf(ev->obligations[0], sizeof(ev->obligations[0]),
	    "no_onward_disclosure");
	ev->has_policy_sha256 = true;
	memset(ev->policy_sha256, 0x5a, 32);
	ev->breakglass = true;
	ev->emergency_reason = EMERGENCY_REASON_SAFEGUARDING_ADULT;
	ev->reason = WIRE_REASON_NOT_PERMITTED;
	snprintf(ev->detail, sizeof(ev->detail), "a detail\twith a tab");
	snprintf(ev->peer, sizeof(ev->peer), "tcp://127.0.0.1:5555");
	ev->count = 12345;
}

static void
test_event_roundtrip(void **state)
{
	struct event ev, back;
	uint8_t *buf;
	size_t len;

	(void)state;
	full_event(&ev);
	assert_int_equal(event_encode(&ev, &buf, &len), 0);
	assert_int_equal(event_decode(buf, len, &back), 0);
	assert_memory_equal(&ev, &back, sizeof(ev));
	free(buf);

	/* Each type alone, nothing else: empty stays empty. */
	for (int t = EVENT_ACCEPTED; t <= EVENT_POLICY_REFUSED; t++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = (enum event_type)t;
		ev.time_ms = (uint64_t)t;
		assert_int_equal(event_encode(&ev, &buf, &len), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(event_decode(buf, len, &back), 0);
		assert_memory_equal(&ev, &back, sizeof(ev));
		free(buf);
		assert_int_equal(event_type_parse(event_type_name(t)), t);
	}
	assert_string_equal(
	    event_type_name(EVENT_POLICY_ACTIVATED), "policy_activated");
	assert_string_equal(event_type_name(0), "?");
	assert_string_equal(
	    event_type_name(EVENT_KEYRING_CHANGED), "keyring_changed");
	assert_string_equal(event_type_name(14), "?");
	assert_int_equal(event_type_parse("Accepted"), 0);

	/* A decision that disclosed nothing still says so. */
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_DECISION;
	ev.withheld = FIELDS_ALL;
	assert_int_equal(event_encode(&ev, &buf, &len), 0);
	assert_int_equal(event_decode(buf, len, &back), 0);
	assert_int_equal(back.disclosed, 0);
	assert_int_equal(back.withheld, FIELDS_ALL);
	free(buf);

	/* The encoder refuses lists longer than the decoder takes. */
	full_event(&ev);
	ev.n_rules = EVENT_MAX_LIST + 1;
	assert_int_equal(event_encode(&ev, &buf, &len), ERROR_INVAL);
	full_event(&ev);
	ev.n_recipients = EVENT_MAX_LIST + 1;
	assert_int_equal(event_encode(&ev, &buf, &len), ERROR_INVAL);
}

/* Decodes the AuditEvent ae; on failure *ev must be all zero. */
static int
event_rc(const Concordat__AuditEvent *ae)
{
	struct event ev, zero;
	size_t len;
	uint8_t *buf = tu_pack(&ae->base, &len);
	int rc = event_decode(buf, len, &ev);

	memset(&zero, 0, sizeof(zero));
	if (rc != 0)
		assert_memory_equal(&ev, &zero, sizeof(ev));
	free(buf);
	return rc;
}

static void
test_event_rejections(void **state)
{
	Concordat__AuditEvent ae = CONCORDAT__AUDIT_EVENT__INIT;
	char *list[EVENT_MAX_LIST + 1];
	static char text[EVENT_TEXT_MAX + 1], name[IDENT_NAME_MAX + 2],
	    agency[IDENT_AGENCY_MAX + 2];
	uint8_t bytes[33] = {0};
	struct event ev;

	(void)state;
	memset(text, 't', sizeof(text) - 1);
	memset(name, 'n', sizeof(name) - 1);
	memset(agency, 'a', sizeof(agency) - 1);
	for (size_t i = 0; i <= EVENT_MAX_LIST; i++)
		list[i] = "x";
	ae.has_type = 1;
	ae.type = CONCORDAT__EVENT_TYPE__EVENT_ACCEPTED;
	assert_int_equal(event_rc(&ae), 0);
	/* Garbage; unknown fields. */
	assert_int_equal(
	    event_decode((const uint8_t *)"\xff", 1, &ev), ERROR_DECODE);
	tu_add_unknown(&ae.base, 99, PROTOBUF_C_WIRE_TYPE_VARINT);
	assert_int_equal(event_rc(&ae), ERROR_UNKNOWN_FIELD);
	free(ae.base.unknown_fields[0].data);
	free(ae.base.unknown_fields);
	ae.base.unknown_fields = NULL;
	ae.base.n_unknown_fields = 0;
	/* Types and enums out of range. */
	ae.has_type = 0;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.has_type = 1;
	ae.type = 0;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.type = 14;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.type = CONCORDAT__EVENT_TYPE__EVENT_REJECTED;
	ae.has_urgency = 1;
	ae.urgency = 4;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.urgency = 0;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.has_urgency = 0;
	ae.has_kind = 1;
	ae.kind = 3;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.has_kind = 0;
	ae.has_reason = 1;
	ae.reason = 18;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.reason = CONCORDAT__REASON__REASON_STALE;
	assert_int_equal(event_rc(&ae), 0);
	ae.has_reason = 0;
	/* Field sets with bits beyond field 13. */
	ae.has_disclosed = 1;
	ae.disclosed = 1u << 13;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.disclosed = FIELDS_ALL;
	ae.has_withheld = 1;
	ae.withheld = 0x80000000u;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.has_disclosed = ae.has_withheld = 0;
	/* Fixed-size byte strings. */
	ae.has_msg_id = 1;
	ae.msg_id = bin(bytes, 15);
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.msg_id = bin(bytes, 16);
	assert_int_equal(event_rc(&ae), 0);
	ae.has_subject_ref = 1;
	ae.subject_ref = bin(bytes, 33);
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.subject_ref = bin(bytes, 32);
	ae.has_policy_sha256 = 1;
	ae.policy_sha256 = bin(bytes, 31);
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.policy_sha256 = bin(bytes, 32);
	assert_int_equal(event_rc(&ae), 0);
	/* Over-long strings, each member. */
	ae.sender = agency;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	agency[IDENT_AGENCY_MAX] = '\0';
	assert_int_equal(event_rc(&ae), 0);
	ae.recipient = "a\x01";
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.recipient = NULL;
	ae.purpose = name;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	name[IDENT_NAME_MAX] = '\0';
	assert_int_equal(event_rc(&ae), 0);
	ae.has_emergency_reason = 1; /* known codes only */
	ae.emergency_reason = (Concordat__EmergencyReason)5;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.has_emergency_reason = 0;
	ae.detail = text;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.detail = NULL;
	ae.peer = text;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.peer = NULL;
	/* Over-long lists, each list; and an over-long entry. */
	ae.recipients = ae.rules = ae.bases = ae.obligations = list;
	ae.n_recipients = EVENT_MAX_LIST + 1;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.n_recipients = EVENT_MAX_LIST;
	assert_int_equal(event_rc(&ae), 0);
	ae.n_rules = EVENT_MAX_LIST + 1;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.n_rules = EVENT_MAX_LIST;
	ae.n_bases = EVENT_MAX_LIST + 1;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.n_bases = EVENT_MAX_LIST;
	ae.n_obligations = EVENT_MAX_LIST + 1;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	ae.n_obligations = EVENT_MAX_LIST;
	assert_int_equal(event_rc(&ae), 0);
	list[3] = text;
	assert_int_equal(event_rc(&ae), ERROR_DECODE);
	list[3] = "x";
	ae.n_bases = 0;
	ae.n_recipients = 0;
	ae.n_obligations = 0;
	ae.purpose = NULL;
	list[5] = name;
	name[IDENT_NAME_MAX] = 'n';
	assert_int_equal(event_rc(&ae), ERROR_DECODE); /* a rule of 65 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_receipt_roundtrip),
	    cmocka_unit_test(test_status_roundtrip),
	    cmocka_unit_test(test_ack_and_proof_request_roundtrip),
	    cmocka_unit_test(test_proof_roundtrip),
	    cmocka_unit_test(test_delivery_frame_roundtrip),
	    cmocka_unit_test(test_reason_names),
	    cmocka_unit_test(test_submit_builder_is_valid),
	    cmocka_unit_test(test_manifest_rejections),
	    cmocka_unit_test(test_manifest_why),
	    cmocka_unit_test(test_envelope_rejections),
	    cmocka_unit_test(test_frame_rejections),
	    cmocka_unit_test(test_receipt_rejections),
	    cmocka_unit_test(test_delivery_rejections),
	    cmocka_unit_test(test_field_limit),
	    cmocka_unit_test(test_frame_msg_id),
	    cmocka_unit_test(test_flood_refused),
	    cmocka_unit_test(test_largest_frames_decode),
	    cmocka_unit_test(test_event_roundtrip),
	    cmocka_unit_test(test_event_rejections),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
