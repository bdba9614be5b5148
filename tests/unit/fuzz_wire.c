/*
 * libFuzzer target over everything that reads bytes from the network or
 * from a sender: wire_decode of every frame type, then, for a Submit, the
 * broker's checks and redaction; for a Delivery, envelope_open and the
 * record decoder; the audit leaves in receipts and statuses; and the same
 * input as an audit event and as a record field plaintext (first byte:
 * the field). Besides not crashing, leaking or tripping UBSan, the
 * decoders must agree with the encoders: whatever decodes, re-encodes to
 * something that decodes to the same thing; no field over the size limit
 * gets through; and wire_frame_msg_id reads the msg_id of every frame that
 * decodes as a Submit, and nothing when it fails.
 *
 * Built with -fsanitize=fuzzer when CONCORDAT_FUZZ is on (clang), and
 * replayed over tests/unit/corpus by fuzz_replay.c in every build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "proto/envelope.h"
#include "proto/event.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "tests/unit/fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
			    __FILE__, __LINE__, #c);                           \
			abort();                                               \
		}                                                              \
	} while (0)

static int verbose; /* FUZZ_WIRE_VERBOSE set: say what each input did */
static uint8_t sender_sign_pk[32];
static uint8_t shared[32]; /* the recipient's view */

static void
init(void)
{
	static int done;
	uint8_t sk[64], box_pk[32], box_sk[32], r_sign_pk[32], r_box_pk[32],
	    r_box_sk[32];

	if (done)
		return;
	done = 1;
	verbose = getenv("FUZZ_WIRE_VERBOSE") != NULL;
	if (sodium_init() < 0)
		abort();
	fuzz_keys(FUZZ_SENDER_SEED, sender_sign_pk, sk, box_pk, box_sk);
	fuzz_keys(FUZZ_RECIPIENT_SEED, r_sign_pk, sk, r_box_pk, r_box_sk);
	CHECK(envelope_shared_key(box_pk, r_box_sk, shared) == 0);
}

/* A field plaintext: decodes, and what re-encodes decodes the same. */
static void
record_one(int f, const uint8_t *plain, size_t len)
{
	json_t *j = NULL, *back = NULL;
	uint8_t *again = NULL;
	size_t alen = 0;

	int rc = record_field_decode(f, plain, len, &j);

	if (verbose)
		fprintf(
		    stderr, "fuzz_wire: record %s: %d\n", fields_name(f), rc);
	if (rc != 0) {
		CHECK(j == NULL);
		return;
	}
	CHECK(json_is_object(j));
	/* The encoder may refuse what a sender wrote (an age of 300), but
	 * what it takes must come back unchanged. */
	if (record_field_encode(f, j, &again, &alen, NULL, 0) == 0) {
		CHECK(record_field_decode(f, again, alen, &back) == 0);
		CHECK(json_equal(j, back));
		json_decref(back);
		free(again);
	}
	json_decref(j);
}

static void
event_one(const uint8_t *buf, size_t len)
{
	struct event ev, back;
	uint8_t *again = NULL;
	size_t alen = 0;

	if (event_decode(buf, len, &ev) != 0)
		return;
	CHECK(event_encode(&ev, &again, &alen) == 0);
	CHECK(event_decode(again, alen, &back) == 0);
	CHECK(memcmp(&ev, &back, sizeof(ev)) == 0);
	free(again);
}

static void
proof_one(const struct wire_audit_proof *p)
{
	CHECK(p->leaf_len > 0 && p->checkpoint_len > 0);
	CHECK(p->n_path <= WIRE_MAX_PATH);
	CHECK(p->n_tie <= WIRE_MAX_PATH && (p->has_tie || p->n_tie == 0));
	event_one(p->leaf, p->leaf_len);
}

static bool
proof_equal(const struct wire_audit_proof *a, const struct wire_audit_proof *b)
{
	return a->leaf_index == b->leaf_index && a->leaf_len == b->leaf_len &&
	    memcmp(a->leaf, b->leaf, a->leaf_len) == 0 &&
	    a->n_path == b->n_path &&
	    memcmp(a->path, b->path, a->n_path * WIRE_HASH_LEN) == 0 &&
	    a->checkpoint_len == b->checkpoint_len &&
	    memcmp(a->checkpoint, b->checkpoint, a->checkpoint_len) == 0 &&
	    a->has_tie == b->has_tie && a->tie_size == b->tie_size &&
	    a->n_tie == b->n_tie &&
	    (a->n_tie == 0 ||
	        memcmp(a->tie_path, b->tie_path, a->n_tie * WIRE_HASH_LEN) ==
	            0);
}

static bool
cosig_equal(const struct wire_cosignature *a, const struct wire_cosignature *b)
{
	return strcmp(a->agency, b->agency) == 0 &&
	    a->tree_size == b->tree_size && a->timestamp == b->timestamp &&
	    memcmp(a->root, b->root, WIRE_HASH_LEN) == 0 &&
	    memcmp(a->signature, b->signature, WIRE_SIG_LEN) == 0 &&
	    a->n_path == b->n_path &&
	    (a->n_path == 0 ||
	        memcmp(a->path, b->path, a->n_path * WIRE_HASH_LEN) == 0);
}

static struct wire_frame *
redecode(uint8_t *buf, size_t len, int type)
{
	struct wire_frame *g = NULL;

	CHECK(wire_decode(buf, len, &g, NULL, 0) == 0);
	CHECK(g->type == (enum wire_frame_type)type);
	return g;
}

static void
open_one(const struct wire_delivery *d, const char *self)
{
	struct envelope_opened *o = NULL;

	int rc = envelope_open(d, self, sender_sign_pk, shared, &o);

	if (verbose)
		fprintf(stderr, "fuzz_wire: open as %s: %d\n", self, rc);
	if (rc != 0) {
		CHECK(o == NULL);
		return;
	}
	CHECK(o->disclosed == d->fields);
	CHECK((o->disclosed & o->withheld) == 0);
	CHECK((o->disclosed | o->withheld) == FIELDS_ALL);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (!fields_has(o->disclosed, f))
			continue;
		CHECK(o->plain_len[f] <= ENVELOPE_FIELD_MAX);
		record_one(f, o->plain[f], o->plain_len[f]);
	}
	envelope_opened_free(o);
}

static void
submit_one(const struct wire_envelope *e)
{
	struct wire_audit_proof p;
	static const uint8_t leaf[] = {0x08, 0x03};
	int rc;

	for (int f = 1; f <= FIELDS_COUNT; f++)
		CHECK(e->sealed[f].ct_len <= WIRE_SEALED_MAX);
	rc = envelope_verify_signature(e, sender_sign_pk);
	CHECK(rc == 0 || rc == ERROR_SIGNATURE || rc == ERROR_NOMEM);
	rc = envelope_verify_contents(e, NULL, 0);
	if (verbose)
		fprintf(stderr, "fuzz_wire: submit contents %d\n", rc);
	if (rc != 0) {
		CHECK(rc == ERROR_DIGEST || rc == ERROR_GRANT);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.leaf = leaf;
	p.leaf_len = sizeof(leaf);
	p.checkpoint = "c";
	p.checkpoint_len = 1;
	/* What the broker would send each recipient, and what it opens. */
	for (size_t i = 0; i < e->m.n_recipients; i++) {
		fieldset sent = 0, allowed = (fieldset)(FIELDS_ALL >> (i % 4));
		uint8_t *d = NULL, *fr = NULL;
		size_t dlen = 0, flen = 0;
		struct wire_frame *g;

		CHECK(envelope_redact(e, e->m.recipients[i], allowed, &sent, &d,
		          &dlen) == 0);
		CHECK((sent & ~allowed) == 0);
		CHECK(wire_delivery_frame(d, dlen, &p, &fr, &flen) == 0);
		g = redecode(fr, flen, WIRE_DELIVERY);
		CHECK(g->u.delivery.fields == sent);
		CHECK(memcmp(&g->u.delivery.m, &e->m, sizeof(e->m)) == 0);
		open_one(&g->u.delivery, e->m.recipients[i]);
		wire_frame_free(g);
		free(fr);
		free(d);
	}
	{
		fieldset sent;
		uint8_t *d = NULL;
		size_t dlen;
		if (wire_manifest_recipient(&e->m, "zz_unlisted") < 0)
			CHECK(envelope_redact(e, "zz_unlisted", FIELDS_ALL,
			          &sent, &d, &dlen) == ERROR_NOT_RECIPIENT);
		CHECK(d == NULL);
	}
}

/* Decoded frames of the simple types re-encode to the same frame. */
static void
reencode(const struct wire_frame *f)
{
	struct wire_frame *g = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	switch (f->type) {
	case WIRE_RECEIPT: {
		const struct wire_receipt *r = &f->u.receipt;
		CHECK(wire_receipt_encode(r, &buf, &len) == 0);
		g = redecode(buf, len, WIRE_RECEIPT);
		CHECK(memcmp(g->u.receipt.msg_id, r->msg_id, 16) == 0);
		CHECK(g->u.receipt.outcome == r->outcome);
		CHECK(g->u.receipt.reason == r->reason);
		CHECK(g->u.receipt.retryable == r->retryable);
		CHECK(strcmp(g->u.receipt.detail, r->detail) == 0);
		CHECK(g->u.receipt.n_decisions == r->n_decisions);
		for (size_t i = 0; i < r->n_decisions; i++) {
			CHECK(proof_equal(
			    &g->u.receipt.decisions[i], &r->decisions[i]));
			proof_one(&r->decisions[i]);
		}
		break;
	}
	case WIRE_STATUS: {
		const struct wire_status *s = &f->u.status;
		CHECK(wire_status_encode(s, &buf, &len) == 0);
		g = redecode(buf, len, WIRE_STATUS);
		CHECK(memcmp(g->u.status.msg_id, s->msg_id, 16) == 0);
		CHECK(strcmp(g->u.status.recipient, s->recipient) == 0);
		CHECK(g->u.status.state == s->state);
		CHECK(g->u.status.at_ms == s->at_ms);
		CHECK(g->u.status.has_event == s->has_event);
		if (s->has_event) {
			CHECK(proof_equal(&g->u.status.event, &s->event));
			proof_one(&s->event);
		}
		break;
	}
	case WIRE_DELIVERY_ACK:
		if (f->u.ack_recipient[0] == '\0') {
			CHECK(f->u.ack_state == 0);
			CHECK(
			    wire_ack_encode(f->u.ack_msg_id, &buf, &len) == 0);
		} else {
			CHECK(wire_status_ack_encode(f->u.ack_msg_id,
			          f->u.ack_recipient, f->u.ack_state, &buf,
			          &len) == 0);
		}
		g = redecode(buf, len, WIRE_DELIVERY_ACK);
		CHECK(memcmp(g->u.ack_msg_id, f->u.ack_msg_id, 16) == 0);
		CHECK(strcmp(g->u.ack_recipient, f->u.ack_recipient) == 0);
		CHECK(g->u.ack_state == f->u.ack_state);
		break;
	case WIRE_PROOF_REQUEST:
		CHECK(wire_proof_request_between(f->u.proof_request_size,
		          f->u.proof_request_to, &buf, &len) == 0);
		g = redecode(buf, len, WIRE_PROOF_REQUEST);
		CHECK(g->u.proof_request_size == f->u.proof_request_size);
		CHECK(g->u.proof_request_to == f->u.proof_request_to);
		break;
	case WIRE_COSIGNATURE:
		CHECK(wire_cosignature_encode(&f->u.cosignature, &buf, &len) ==
		    0);
		g = redecode(buf, len, WIRE_COSIGNATURE);
		CHECK(cosig_equal(&g->u.cosignature, &f->u.cosignature));
		break;
	case WIRE_PROOF: {
		const struct wire_proof *p = &f->u.proof;
		CHECK(wire_proof_encode(p, &buf, &len) == 0);
		g = redecode(buf, len, WIRE_PROOF);
		CHECK(g->u.proof.from_size == p->from_size);
		CHECK(g->u.proof.n_path == p->n_path);
		CHECK(memcmp(g->u.proof.path, p->path,
		          p->n_path * WIRE_HASH_LEN) == 0);
		CHECK(g->u.proof.checkpoint_len == p->checkpoint_len);
		CHECK(memcmp(g->u.proof.checkpoint, p->checkpoint,
		          p->checkpoint_len) == 0);
		CHECK(g->u.proof.to_size == p->to_size);
		CHECK(g->u.proof.n_witnesses == p->n_witnesses);
		for (size_t i = 0; i < p->n_witnesses; i++)
			CHECK(cosig_equal(
			    &g->u.proof.witnesses[i], &p->witnesses[i]));
		break;
	}
	default:
		return;
	}
	wire_frame_free(g);
	free(buf);
}

/* The msg_id of a frame, for the receipt that refuses it. */
static void
msg_id_one(const uint8_t *data, size_t size, const struct wire_frame *f)
{
	static const uint8_t zero[WIRE_MSG_ID_LEN];
	uint8_t id[WIRE_MSG_ID_LEN];
	int rc = wire_frame_msg_id(data, size, id);

	CHECK(rc == 0 || rc == ERROR_DECODE);
	if (rc != 0)
		CHECK(memcmp(id, zero, sizeof(id)) == 0);
	if (f != NULL && f->type == WIRE_SUBMIT)
		CHECK(rc == 0 &&
		    memcmp(id, f->u.submit.m.msg_id, sizeof(id)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_frame *f = NULL;
	char why[256];
	int rc;

	init();
	why[0] = '\0';
	rc = wire_decode(data, size, &f, why, sizeof(why));
	if (verbose)
		fprintf(stderr, "fuzz_wire: %zu bytes: decode %d %s type %d\n",
		    size, rc, why, f != NULL ? (int)f->type : 0);
	if (rc != 0) {
		CHECK(f == NULL);
		CHECK(rc == ERROR_DECODE || rc == ERROR_UNKNOWN_FIELD ||
		    rc == ERROR_EMERGENCY || rc == ERROR_TOOBIG ||
		    rc == ERROR_NOMEM);
		/* Every refusal says why. */
		CHECK(rc == ERROR_NOMEM || why[0] != '\0');
		msg_id_one(data, size, NULL);
	} else {
		msg_id_one(data, size, f);
		switch (f->type) {
		case WIRE_SUBMIT:
			submit_one(&f->u.submit);
			break;
		case WIRE_DELIVERY:
			for (int fl = 1; fl <= FIELDS_COUNT; fl++)
				CHECK(f->u.delivery.sealed[fl].ct_len <=
				    WIRE_SEALED_MAX);
			open_one(&f->u.delivery, FUZZ_RECIPIENT);
			if (f->u.delivery.has_decision)
				proof_one(&f->u.delivery.decision);
			break;
		default:
			reencode(f);
			break;
		}
		wire_frame_free(f);
	}
	event_one(data, size);
	if (size > 0)
		record_one(data[0] % FIELDS_COUNT + 1, data + 1, size - 1);
	return 0;
}
