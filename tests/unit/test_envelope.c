/*
 * Unit tests of proto/envelope.c: seal, check, redact and open round trips
 * for many field subsets and recipients, the largest message, every
 * tampering rejected with its own reason, a field over the size limit
 * refused by broker and recipient alike, and a broker holding every broker
 * secret that fails to make a recipient accept anything the sender never
 * sealed.
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
#include "keys/keys.h"
#include "proto/envelope.h"
#include "proto/wire.h"
#include "tests/lib/scratch.h"
#include "tests/unit/testutil.h"

static struct tu_agency police, ambulance, mht, social, housing, fire;
/* The recipients, in the order tests pick them; fire is never listed. */
static const struct tu_agency *peers[4] = {&ambulance, &mht, &social, &housing};

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	tu_seed(20261123);
	tu_agency_init(&police, "police", 0);
	tu_agency_init(&ambulance, "ambulance", 0);
	tu_agency_init(&mht, "mental_health_trust", 0);
	tu_agency_init(&social, "social_care", 0);
	tu_agency_init(&housing, "housing", 0);
	tu_agency_init(&fire, "fire", 0);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static struct wire_frame *
check_ok(const uint8_t *frame, size_t len, const uint8_t pk[32])
{
	struct wire_frame *f = NULL;
	char why[256] = "";
	int rc = envelope_check(frame, len, pk, &f, why, sizeof(why));

	if (rc != 0)
		print_message(
		    "envelope_check: %s (%s)\n", error_strerror(rc), why);
	assert_int_equal(rc, 0);
	assert_non_null(f);
	return f;
}

/* envelope_check's code; asserts *out stays NULL on failure. */
static int
check_rc(const uint8_t *frame, size_t len, const uint8_t pk[32], char *why,
    size_t whylen)
{
	struct wire_frame *f = (struct wire_frame *)&f; /* not NULL */
	int rc = envelope_check(frame, len, pk, &f, why, whylen);

	if (rc != 0)
		assert_null(f);
	wire_frame_free(f);
	return rc;
}

/* The Delivery message bytes of m for r with the fields allowed. */
static uint8_t *
redact(const struct tu_msg *m, const struct tu_agency *r, fieldset allowed,
    size_t *dlen)
{
	struct wire_frame *f = check_ok(m->frame, m->len, m->sender->sign_pk);
	fieldset sent;
	uint8_t *d = NULL;

	assert_int_equal(
	    envelope_redact(&f->u.submit, r->id, allowed, &sent, &d, dlen), 0);
	wire_frame_free(f);
	return d;
}

static void
assert_opened(
    const struct envelope_opened *o, const struct tu_msg *m, fieldset want)
{
	assert_int_equal(o->disclosed, want);
	assert_int_equal(o->withheld, FIELDS_ALL & ~want);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (fields_has(want, f)) {
			assert_non_null(o->plain[f]);
			assert_int_equal(o->plain_len[f], m->plain_len[f]);
			if (m->plain_len[f] > 0)
				assert_memory_equal(
				    o->plain[f], m->plain[f], m->plain_len[f]);
		} else {
			assert_null(o->plain[f]);
			assert_int_equal(o->plain_len[f], 0);
		}
	}
}

/*
 * Seal from police to the first nrec peers, check at the broker, redact
 * per recipient and open; each recipient must get exactly allowed[i] ∩
 * granted[i], byte for byte, and see the rest as withheld.
 */
static void
roundtrip(size_t nrec, const fieldset *grants, const fieldset *allowed,
    const size_t *lens)
{
	struct tu_msg m;
	struct wire_frame *f;
	const struct wire_envelope *e;

	tu_msg_init(&m, &police, peers, nrec, lens);
	m.grants = grants;
	assert_int_equal(tu_seal(&m), 0);
	assert_true(m.len <= WIRE_MAX_FRAME);
	f = check_ok(m.frame, m.len, police.sign_pk);
	e = &f->u.submit;
	assert_memory_equal(e->m.msg_id, m.msg_id, WIRE_MSG_ID_LEN);
	assert_string_equal(e->m.sender, "police");
	assert_string_equal(e->m.purpose, "triage_advice");
	assert_int_equal(e->m.kind, KIND_RECORD);
	assert_int_equal(e->m.urgency, URGENCY_URGENT);
	assert_int_equal(e->m.created_at_ms, m.created_at_ms);
	assert_memory_equal(e->m.subject_ref, m.subject_ref, WIRE_REF_LEN);
	assert_int_equal(e->m.n_recipients, nrec);
	assert_int_equal(e->n_grants, nrec);
	for (int fl = 1; fl <= FIELDS_COUNT; fl++) {
		/* Padded to 256-byte blocks: the size leaks only coarsely. */
		size_t padded =
		    (m.plain_len[fl] / WIRE_PAD_BLOCK + 1) * WIRE_PAD_BLOCK;
		assert_int_equal(e->sealed[fl].ct_len, padded + 16);
	}

	for (size_t i = 0; i < nrec; i++) {
		const struct tu_agency *r = peers[i];
		fieldset g = grants != NULL ? grants[i] : FIELDS_ALL;
		fieldset want = (fieldset)(allowed[i] & g & FIELDS_ALL);
		struct envelope_opened *o = NULL;
		struct wire_frame *df = NULL;
		fieldset sent = 0xffff;
		uint8_t *d = NULL;
		size_t dlen = 0;

		assert_string_equal(e->m.recipients[i], r->id);
		assert_string_equal(e->grants[i].recipient, r->id);
		assert_int_equal(e->grants[i].fields, g & FIELDS_ALL);
		assert_int_equal(
		    envelope_redact(e, r->id, allowed[i], &sent, &d, &dlen), 0);
		assert_int_equal(sent, want);

		/* The broker forwards nothing of the other fields. */
		for (int fl = 1; fl <= FIELDS_COUNT; fl++)
			if (!fields_has(want, fl))
				assert_null(memmem(d, dlen, e->sealed[fl].ct,
				    e->sealed[fl].ct_len));
		assert_int_equal(tu_delivery_decode(d, dlen, &df), 0);
		assert_int_equal(df->u.delivery.fields, want);
		assert_int_equal(df->u.delivery.manifest_len, e->manifest_len);
		assert_memory_equal(
		    df->u.delivery.manifest, e->manifest, e->manifest_len);
		wire_frame_free(df);

		assert_int_equal(tu_open(d, dlen, r, &police, &o), 0);
		assert_opened(o, &m, want);
		envelope_opened_free(o);

		/* Another listed recipient cannot open this one's delivery. */
		if (nrec > 1) {
			const struct tu_agency *other = peers[(i + 1) % nrec];
			int rc = tu_open(d, dlen, other, &police, &o);
			if (want != 0) {
				assert_int_equal(rc, ERROR_DECRYPT);
			} else {
				assert_int_equal(rc, 0);
				assert_int_equal(o->disclosed, 0);
				envelope_opened_free(o);
			}
		}
		free(d);
	}
	wire_frame_free(f);
	tu_msg_release(&m);
}

/* ------------------------------------------------------- round trips */

static void
test_roundtrip_all_fields(void **state)
{
	fieldset all[4] = {FIELDS_ALL, FIELDS_ALL, FIELDS_ALL, FIELDS_ALL};

	(void)state;
	for (size_t n = 1; n <= 4; n++)
		roundtrip(n, NULL, all, NULL);
}

static void
test_roundtrip_no_field(void **state)
{
	fieldset none[4] = {0, 0, 0, 0};

	(void)state;
	for (size_t n = 1; n <= 4; n++)
		roundtrip(n, NULL, none, NULL);
}

static void
test_roundtrip_single_fields(void **state)
{
	(void)state;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		fieldset one[4];
		for (int i = 0; i < 4; i++)
			one[i] = FIELDS_BIT(f);
		roundtrip((size_t)(f % 4) + 1, NULL, one, NULL);
		/* Each recipient a different single field. */
		for (int i = 0; i < 4; i++)
			one[i] = FIELDS_BIT((f + i - 1) % FIELDS_COUNT + 1);
		roundtrip(4, NULL, one, NULL);
	}
}

static void
test_roundtrip_random_subsets(void **state)
{
	(void)state;
	for (int iter = 0; iter < 150; iter++) {
		size_t n = tu_below(4) + 1;
		fieldset allowed[4], grants[4];
		bool all_granted = tu_below(3) == 0;

		for (size_t i = 0; i < 4; i++) {
			/* Sometimes bits beyond field 13: ignored. */
			allowed[i] = (fieldset)tu_rand();
			if (tu_below(2))
				allowed[i] &= FIELDS_ALL;
			do
				grants[i] = (fieldset)(tu_rand() & FIELDS_ALL);
			while (grants[i] == 0);
		}
		roundtrip(n, all_granted ? NULL : grants, allowed, NULL);
	}
}

static void
test_roundtrip_grants_bound_disclosure(void **state)
{
	/* The sender's grants bound what any policy can disclose. */
	fieldset grants[3] = {FIELDS_BIT(FIELD_RISKS),
	    FIELDS_BIT(FIELD_IDENTITY) | FIELDS_BIT(FIELD_HEALTH),
	    FIELDS_ALL & ~FIELDS_BIT(FIELD_CLINICAL)};
	fieldset allowed[3] = {0xffff, FIELDS_BIT(FIELD_HEALTH), FIELDS_ALL};

	(void)state;
	roundtrip(3, grants, allowed, NULL);
}

static void
test_roundtrip_plaintext_sizes(void **state)
{
	static const size_t edge[] = {0, 1, 15, 16, 239, 240, 241, 255, 256,
	    257, 511, 512, 513, 4095, 4096, 4097};
	fieldset all[4] = {FIELDS_ALL, FIELDS_ALL, FIELDS_ALL, FIELDS_ALL};
	size_t lens[FIELDS_COUNT + 1] = {0};
	struct tu_msg m;

	(void)state;
	for (size_t start = 0; start < 4; start++) {
		for (int f = 1; f <= FIELDS_COUNT; f++)
			lens[f] = edge[(start + (size_t)f) %
			    (sizeof(edge) / sizeof(edge[0]))];
		roundtrip(2, NULL, all, lens);
	}
	/* The largest field allowed, and one byte more. */
	for (int f = 1; f <= FIELDS_COUNT; f++)
		lens[f] = 10;
	lens[FIELD_CLINICAL] = ENVELOPE_FIELD_MAX;
	roundtrip(1, NULL, all, lens);
	lens[FIELD_CLINICAL] = ENVELOPE_FIELD_MAX + 1;
	tu_msg_init(&m, &police, peers, 1, lens);
	assert_int_equal(tu_seal(&m), ERROR_TOOBIG);
	assert_null(m.frame);
	tu_msg_release(&m);
}

/*
 * The largest message there is: all thirteen fields at the limit, for the
 * most recipients. It fits a frame, the broker checks it, and each
 * recipient's delivery decodes and opens to what was sealed.
 */
static void
test_roundtrip_largest_message(void **state)
{
	static struct tu_agency many[WIRE_MAX_RECIPIENTS];
	const struct tu_agency *rcpt[WIRE_MAX_RECIPIENTS];
	size_t lens[FIELDS_COUNT + 1];
	struct wire_frame *f;
	struct tu_msg m;

	(void)state;
	for (size_t i = 0; i < WIRE_MAX_RECIPIENTS; i++) {
		char id[IDENT_AGENCY_MAX + 1];
		snprintf(
		    id, sizeof(id), "agency_%02zu_abcdefghijklmnopqrstu", i);
		tu_agency_init(&many[i], id, 0);
		rcpt[i] = &many[i];
	}
	for (int fl = 0; fl <= FIELDS_COUNT; fl++)
		lens[fl] = ENVELOPE_FIELD_MAX;
	tu_msg_init(&m, &police, rcpt, WIRE_MAX_RECIPIENTS, lens);
	assert_int_equal(tu_seal(&m), 0);
	assert_true(m.len <= WIRE_MAX_FRAME);
	print_message("largest message: %zu bytes\n", m.len);
	f = check_ok(m.frame, m.len, police.sign_pk);
	for (int fl = 1; fl <= FIELDS_COUNT; fl++)
		assert_int_equal(
		    f->u.submit.sealed[fl].ct_len, WIRE_SEALED_MAX);
	for (size_t i = 0; i < WIRE_MAX_RECIPIENTS; i++) {
		struct envelope_opened *o = NULL;
		fieldset sent;
		uint8_t *d;
		size_t dlen;

		assert_int_equal(envelope_redact(&f->u.submit, many[i].id,
		                     FIELDS_ALL, &sent, &d, &dlen),
		    0);
		assert_int_equal(sent, FIELDS_ALL);
		assert_int_equal(tu_open(d, dlen, &many[i], &police, &o), 0);
		assert_opened(o, &m, FIELDS_ALL);
		envelope_opened_free(o);
		free(d);
	}
	wire_frame_free(f);
	tu_msg_release(&m);
}

static void
test_roundtrip_request_emergency_reply(void **state)
{
	static const uint8_t reply_to[16] = "0123456789abcdef";
	struct envelope_seal_args a;
	const char *ids[1] = {"ambulance"};
	uint8_t shared[1][32], ref[32] = {1}, msg_id[16], *frame = NULL;
	struct wire_frame *f;
	size_t len = 0;

	(void)state;
	tu_shared(&police, &ambulance, shared[0]);
	memset(&a, 0, sizeof(a));
	a.sender = "police";
	a.sign_sk = police.sign_sk;
	a.created_at_ms = 1;
	a.kind = KIND_REQUEST;
	a.urgency = URGENCY_EMERGENCY;
	a.purpose = "place_of_safety";
	a.reason = EMERGENCY_REASON_RISK_TO_LIFE;
	a.justification = "imminent risk to life";
	a.subject_ref = ref;
	a.in_reply_to = reply_to;
	a.requested = FIELDS_BIT(FIELD_CRISIS_PLAN) | FIELDS_BIT(FIELD_RISKS);
	a.n_recipients = 1;
	a.recipients = ids;
	a.shared = (const uint8_t(*)[32])shared;
	assert_int_equal(envelope_seal(&a, msg_id, &frame, &len), 0);
	f = check_ok(frame, len, police.sign_pk);
	assert_int_equal(f->u.submit.m.kind, KIND_REQUEST);
	assert_int_equal(f->u.submit.m.urgency, URGENCY_EMERGENCY);
	assert_int_equal(f->u.submit.m.reason, EMERGENCY_REASON_RISK_TO_LIFE);
	assert_true(f->u.submit.m.has_in_reply_to);
	assert_memory_equal(f->u.submit.m.in_reply_to, reply_to, 16);
	assert_int_equal(f->u.submit.m.requested, a.requested);
	wire_frame_free(f);
	free(frame);

	/* Emergency without a reason is refused by the sender. */
	a.reason = 0;
	assert_int_equal(
	    envelope_seal(&a, msg_id, &frame, &len), ERROR_EMERGENCY);
	assert_null(frame);
}

/*
 * envelope_seal refuses whatever wire_decode would refuse, rather than
 * produce a frame no broker accepts: a recipient granted nothing, listed
 * twice, the sender listing itself, bad ids and control characters.
 */
static void
test_seal_refuses_what_decode_refuses(void **state)
{
	struct tu_msg m;
	fieldset grants[2] = {FIELDS_ALL, 0};
	const struct tu_agency *dup[2] = {&ambulance, &ambulance};
	const struct tu_agency *self[2] = {&ambulance, &police};
	struct tu_agency bad;

	(void)state;
	tu_msg_init(&m, &police, peers, 2, NULL);
	m.grants = grants;
	assert_int_equal(tu_seal(&m), 0); /* a grant of nothing: no wraps */
	free(m.frame);
	m.frame = NULL;
	grants[1] = FIELDS_BIT(FIELD_RISKS);
	assert_int_equal(tu_seal(&m), 0);
	free(m.frame);
	m.frame = NULL;
	grants[1] = (fieldset)~FIELDS_ALL;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.grants = NULL;

	m.recipients[0] = dup[0];
	m.recipients[1] = dup[1];
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.recipients[0] = self[0];
	m.recipients[1] = self[1];
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.recipients[1] = &mht;
	assert_int_equal(tu_seal(&m), 0);
	free(m.frame);
	m.frame = NULL;

	tu_agency_init(&bad, "Police", 0);
	m.recipients[1] = &bad;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.recipients[1] = &mht;
	m.purpose = "Triage";
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.purpose = "triage_advice";
	/* A reason or a justification without an emergency. */
	m.justification = "line one\nline two\tand a tab";
	assert_int_equal(tu_seal(&m), ERROR_EMERGENCY);
	m.justification = NULL;
	m.reason = EMERGENCY_REASON_RISK_TO_LIFE;
	assert_int_equal(tu_seal(&m), ERROR_EMERGENCY);
	m.reason = 0;
	m.n_recipients = 0;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.n_recipients = 2;
	/* Kinds and urgencies (the longest justification:
	 * test_justification). */
	m.kind = 0;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.kind = 3;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.kind = KIND_RECORD;
	m.urgency = 0;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.urgency = 4;
	assert_int_equal(tu_seal(&m), ERROR_INVAL);
	m.urgency = URGENCY_ROUTINE;
	tu_msg_release(&m);
}

/* ------------------------------------------------- tampering fixture */

struct fixture {
	struct tu_msg m;
	struct wire_frame *f; /* the checked submit */
};

static void
fixture_init(struct fixture *x)
{
	size_t lens[FIELDS_COUNT + 1];

	for (int f = 1; f <= FIELDS_COUNT; f++)
		lens[f] = 100 + (size_t)f; /* one 256-byte block each */
	tu_msg_init(&x->m, &police, peers, 2, lens);
	assert_int_equal(tu_seal(&x->m), 0);
	x->f = check_ok(x->m.frame, x->m.len, police.sign_pk);
}

static void
fixture_release(struct fixture *x)
{
	wire_frame_free(x->f);
	tu_msg_release(&x->m);
}

/* A copy of the frame with byte off xor'ed with mask. */
static uint8_t *
flipped(const uint8_t *buf, size_t len, size_t off, uint8_t mask)
{
	uint8_t *c = malloc(len);

	assert_non_null(c);
	memcpy(c, buf, len);
	assert_true(off < len);
	c[off] ^= mask;
	return c;
}

static void
test_flip_manifest(void **state)
{
	struct fixture x;
	const struct wire_envelope *e;
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	int n_sig = 0, n_decode = 0;

	(void)state;
	fixture_init(&x);
	e = &x.f->u.submit;
	size_t off = tu_find(x.m.frame, x.m.len, e->manifest, e->manifest_len);
	for (size_t i = 0; i < e->manifest_len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			uint8_t *c =
			    flipped(x.m.frame, x.m.len, off + i, masks[k]);
			struct wire_manifest wm;
			int want = wire_manifest_decode(
			    c + off, e->manifest_len, &wm, NULL, 0);
			/* A manifest that still decodes is not the one
			 * signed; one that does not fails decoding first. */
			if (want == 0) {
				want = ERROR_SIGNATURE;
				n_sig++;
			} else {
				assert_true(want == ERROR_DECODE ||
				    want == ERROR_UNKNOWN_FIELD ||
				    want == ERROR_EMERGENCY);
				n_decode++;
			}
			assert_int_equal(
			    check_rc(c, x.m.len, police.sign_pk, NULL, 0),
			    want);
			free(c);
		}
	}
	assert_true(n_sig > 0);
	assert_true(n_decode > 0);

	/* Targeted: one letter of the purpose, one digest bit. */
	size_t p = tu_find(x.m.frame, x.m.len, "triage_advice", 13);
	uint8_t *c = flipped(x.m.frame, x.m.len, p, 'a' ^ 'b');
	assert_int_equal(
	    check_rc(c, x.m.len, police.sign_pk, NULL, 0), ERROR_SIGNATURE);
	free(c);
	p = tu_find(x.m.frame, x.m.len, e->m.digests[FIELD_RISKS], 32);
	c = flipped(x.m.frame, x.m.len, p + 31, 0x01);
	assert_int_equal(
	    check_rc(c, x.m.len, police.sign_pk, NULL, 0), ERROR_SIGNATURE);
	free(c);
	fixture_release(&x);
}

static void
test_flip_signature(void **state)
{
	struct fixture x;
	char why[256];

	(void)state;
	fixture_init(&x);
	size_t off =
	    tu_find(x.m.frame, x.m.len, x.f->u.submit.signature, WIRE_SIG_LEN);
	for (size_t i = 0; i < WIRE_SIG_LEN; i++) {
		uint8_t *c = flipped(
		    x.m.frame, x.m.len, off + i, (uint8_t)(1u << (i % 8)));
		assert_int_equal(
		    check_rc(c, x.m.len, police.sign_pk, why, sizeof(why)),
		    ERROR_SIGNATURE);
		free(c);
	}
	fixture_release(&x);
}

static void
test_flip_ciphertext_at_broker(void **state)
{
	struct fixture x;
	char why[256];

	(void)state;
	fixture_init(&x);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_sealed *s = &x.f->u.submit.sealed[f];
		size_t off = tu_find(x.m.frame, x.m.len, s->ct, s->ct_len);
		size_t pos[] = {0, s->ct_len / 2, s->ct_len - 1};
		for (size_t k = 0; k < 3; k++) {
			uint8_t *c =
			    flipped(x.m.frame, x.m.len, off + pos[k], 0x04);
			why[0] = '\0';
			assert_int_equal(check_rc(c, x.m.len, police.sign_pk,
			                     why, sizeof(why)),
			    ERROR_DIGEST);
			/* The reason names the field. */
			assert_non_null(strstr(why, fields_name(f)));
			free(c);
		}
		/* The nonce is under the digest too. */
		off = tu_find(x.m.frame, x.m.len, s->nonce, WIRE_NONCE_LEN);
		uint8_t *c = flipped(x.m.frame, x.m.len, off + 5, 0x10);
		assert_int_equal(check_rc(c, x.m.len, police.sign_pk, NULL, 0),
		    ERROR_DIGEST);
		free(c);
	}
	fixture_release(&x);
}

static void
test_flip_ciphertext_at_recipient(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	uint8_t *d;
	size_t dlen;

	(void)state;
	fixture_init(&x);
	/* The broker is bypassed: the recipient checks digests itself. */
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_sealed *s = &x.f->u.submit.sealed[f];
		size_t off = tu_find(d, dlen, s->ct, s->ct_len);
		for (size_t pos = 0; pos < s->ct_len; pos += 97) {
			uint8_t *c = flipped(d, dlen, off + pos, 0x20);
			assert_int_equal(
			    tu_open(c, dlen, &ambulance, &police, &o),
			    ERROR_DIGEST);
			free(c);
		}
		off = tu_find(d, dlen, s->nonce, WIRE_NONCE_LEN);
		uint8_t *c = flipped(d, dlen, off + WIRE_NONCE_LEN - 1, 0x01);
		assert_int_equal(
		    tu_open(c, dlen, &ambulance, &police, &o), ERROR_DIGEST);
		free(c);
	}
	free(d);
	fixture_release(&x);
}

static void
test_flip_wrap_at_recipient(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	uint8_t *d;
	size_t dlen;

	(void)state;
	fixture_init(&x);
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	assert_int_equal(tu_open(d, dlen, &ambulance, &police, &o), 0);
	envelope_opened_free(o);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_wrap *w = &x.f->u.submit.grants[0].wraps[f];
		size_t off = tu_find(d, dlen, w->key, WIRE_WRAPPED_LEN);
		for (size_t pos = 0; pos < WIRE_WRAPPED_LEN; pos += 7) {
			uint8_t *c = flipped(d, dlen, off + pos, 0x02);
			assert_int_equal(
			    tu_open(c, dlen, &ambulance, &police, &o),
			    ERROR_DECRYPT);
			free(c);
		}
		off = tu_find(d, dlen, w->nonce, WIRE_NONCE_LEN);
		uint8_t *c = flipped(d, dlen, off, 0x80);
		assert_int_equal(
		    tu_open(c, dlen, &ambulance, &police, &o), ERROR_DECRYPT);
		free(c);
	}
	free(d);
	fixture_release(&x);
}

static void
test_flip_wrap_in_submission(void **state)
{
	struct fixture x;
	struct envelope_opened *o;

	(void)state;
	fixture_init(&x);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_wrap *w = &x.f->u.submit.grants[0].wraps[f];
		size_t off =
		    tu_find(x.m.frame, x.m.len, w->key, WIRE_WRAPPED_LEN);
		uint8_t *c = flipped(x.m.frame, x.m.len, off + 3, 0x40);
		struct tu_msg m2 = x.m;
		uint8_t *d;
		size_t dlen;

		/* Wraps are not the broker's to check: it accepts, and the
		 * recipient whose wrap was damaged refuses; the other
		 * recipient is unaffected. */
		m2.frame = c;
		d = redact(&m2, &ambulance, FIELDS_ALL, &dlen);
		assert_int_equal(
		    tu_open(d, dlen, &ambulance, &police, &o), ERROR_DECRYPT);
		free(d);
		d = redact(&m2, &ambulance, FIELDS_ALL & ~FIELDS_BIT(f), &dlen);
		assert_int_equal(tu_open(d, dlen, &ambulance, &police, &o), 0);
		envelope_opened_free(o);
		free(d);
		d = redact(&m2, &mht, FIELDS_ALL, &dlen);
		assert_int_equal(tu_open(d, dlen, &mht, &police, &o), 0);
		assert_opened(o, &x.m, FIELDS_ALL);
		envelope_opened_free(o);
		free(d);
		free(c);
	}
	fixture_release(&x);
}

/* --------------------------------------------- ciphertexts moved */

static void
swap_sealed(Concordat__Sealed *a, Concordat__Sealed *b)
{
	ProtobufCBinaryData t = a->ciphertext;
	a->ciphertext = b->ciphertext;
	b->ciphertext = t;
	t = a->nonce;
	a->nonce = b->nonce;
	b->nonce = t;
}

static void
test_move_ciphertext_between_fields(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	for (int a = 1; a <= FIELDS_COUNT; a++) {
		int b = a % FIELDS_COUNT + 1;
		Concordat__Frame *pf = tu_frame_unpack(x.m.frame, x.m.len);
		Concordat__Envelope *pe = pf->submit->envelope;
		char why[256] = "";
		size_t len;

		swap_sealed(pe->sealed[a - 1], pe->sealed[b - 1]);
		uint8_t *c = tu_pack(&pf->base, &len);
		assert_int_equal(
		    check_rc(c, len, police.sign_pk, why, sizeof(why)),
		    ERROR_DIGEST);
		assert_non_null(strstr(why, fields_name(a < b ? a : b)));
		free(c);
		concordat__frame__free_unpacked(pf, NULL);
	}
	fixture_release(&x);
}

/* The broker, after its check, swaps ciphertexts in a Delivery. */
static void
test_move_ciphertext_in_delivery(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	uint8_t *d;
	size_t dlen;

	(void)state;
	fixture_init(&x);
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	for (int a = 1; a <= FIELDS_COUNT; a++) {
		int b = (a + 4) % FIELDS_COUNT + 1;
		for (int with_wraps = 0; with_wraps < 2; with_wraps++) {
			Concordat__Delivery *pd = tu_delivery_unpack(d, dlen);
			size_t len;

			swap_sealed(pd->sealed[a - 1], pd->sealed[b - 1]);
			if (with_wraps) {
				Concordat__Wrap *t = pd->wraps[a - 1];
				pd->wraps[a - 1] = pd->wraps[b - 1];
				pd->wraps[b - 1] = t;
				pd->wraps[a - 1]->field = (uint32_t)a;
				pd->wraps[b - 1]->field = (uint32_t)b;
			}
			uint8_t *c = tu_pack(&pd->base, &len);
			assert_int_equal(
			    tu_open(c, len, &ambulance, &police, &o),
			    ERROR_DIGEST);
			free(c);
			concordat__delivery__free_unpacked(pd, NULL);
		}
	}
	/* Only the disclosed fields are in a delivery: move a disclosed
	 * ciphertext into the slot of a withheld one. */
	free(d);
	d = redact(&x.m, &ambulance, FIELDS_BIT(FIELD_CLINICAL), &dlen);
	{
		Concordat__Delivery *pd = tu_delivery_unpack(d, dlen);
		size_t len;
		pd->sealed[0]->field = FIELD_RISKS;
		pd->wraps[0]->field = FIELD_RISKS;
		uint8_t *c = tu_pack(&pd->base, &len);
		assert_int_equal(
		    tu_open(c, len, &ambulance, &police, &o), ERROR_DIGEST);
		free(c);
		concordat__delivery__free_unpacked(pd, NULL);
	}
	free(d);
	fixture_release(&x);
}

static void
test_move_ciphertext_from_other_message(void **state)
{
	struct fixture a, b;
	struct envelope_opened *o;

	(void)state;
	fixture_init(&a);
	fixture_init(&b);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		/* At the broker: B's field f in A. */
		Concordat__Frame *pa = tu_frame_unpack(a.m.frame, a.m.len);
		Concordat__Frame *pb = tu_frame_unpack(b.m.frame, b.m.len);
		size_t len;
		swap_sealed(pa->submit->envelope->sealed[f - 1],
		    pb->submit->envelope->sealed[f - 1]);
		uint8_t *c = tu_pack(&pa->base, &len);
		assert_int_equal(
		    check_rc(c, len, police.sign_pk, NULL, 0), ERROR_DIGEST);
		free(c);
		concordat__frame__free_unpacked(pa, NULL);
		concordat__frame__free_unpacked(pb, NULL);

		/* At the recipient, with and without B's wrap. */
		size_t alen, blen;
		uint8_t *da = redact(&a.m, &ambulance, FIELDS_ALL, &alen);
		uint8_t *db = redact(&b.m, &ambulance, FIELDS_ALL, &blen);
		for (int with_wrap = 0; with_wrap < 2; with_wrap++) {
			Concordat__Delivery *qa = tu_delivery_unpack(da, alen);
			Concordat__Delivery *qb = tu_delivery_unpack(db, blen);
			swap_sealed(qa->sealed[f - 1], qb->sealed[f - 1]);
			if (with_wrap) {
				Concordat__Wrap *t = qa->wraps[f - 1];
				qa->wraps[f - 1] = qb->wraps[f - 1];
				qb->wraps[f - 1] = t;
			}
			c = tu_pack(&qa->base, &len);
			assert_int_equal(
			    tu_open(c, len, &ambulance, &police, &o),
			    ERROR_DIGEST);
			free(c);
			concordat__delivery__free_unpacked(qa, NULL);
			concordat__delivery__free_unpacked(qb, NULL);
		}
		free(da);
		free(db);
	}
	fixture_release(&a);
	fixture_release(&b);
}

/* Field key k of a wrap, unwrapped with the spec's associated data. */
static void
unwrap_key(const uint8_t msg_id[16], int f, const char *recipient,
    const uint8_t shared[32], const Concordat__Wrap *w, uint8_t key[32])
{
	uint8_t ad[128];
	unsigned long long klen;
	size_t adlen = tu_ad(ad, msg_id, f, recipient);

	assert_int_equal(w->wrapped_key.len, WIRE_WRAPPED_LEN);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(key, &klen,
	                     NULL, w->wrapped_key.data, w->wrapped_key.len, ad,
	                     adlen, w->nonce.data, shared),
	    0);
	assert_int_equal(klen, 32);
}

static void
rewrap_key(const uint8_t msg_id[16], int f, const char *recipient,
    const uint8_t shared[32], const uint8_t key[32], Concordat__Wrap *w)
{
	uint8_t ad[128], nonce[24], out[48];
	size_t adlen = tu_ad(ad, msg_id, f, recipient);

	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    out, NULL, key, 32, ad, adlen, NULL, nonce, shared);
	tu_set_bytes(&w->nonce, nonce, sizeof(nonce));
	tu_set_bytes(&w->wrapped_key, out, sizeof(out));
}

static Concordat__Wrap *
wrap_of(Concordat__Grant *g, int f)
{
	for (size_t i = 0; i < g->n_wraps; i++)
		if (g->wraps[i]->field == (uint32_t)f)
			return g->wraps[i];
	fail();
	return NULL;
}

/*
 * The stronger case: the sender itself signs a manifest whose digests
 * follow ciphertexts swapped between fields, and re-wraps the keys so that
 * every unwrap succeeds. The broker cannot tell; the recipient must still
 * refuse, because each ciphertext is bound to its field by its associated
 * data (DESIGN.md §5).
 */
static void
test_field_bound_by_associated_data(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	const int a = FIELD_RISKS, b = FIELD_CLINICAL;

	(void)state;
	fixture_init(&x);
	Concordat__Frame *pf = tu_frame_unpack(x.m.frame, x.m.len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm =
	    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	ProtobufCBinaryData t = pm->digests[a - 1];
	pm->digests[a - 1] = pm->digests[b - 1];
	pm->digests[b - 1] = t;
	size_t mlen;
	uint8_t *mb = tu_pack(&pm->base, &mlen);
	swap_sealed(pe->sealed[a - 1], pe->sealed[b - 1]);
	for (size_t i = 0; i < pe->n_grants; i++) {
		Concordat__Grant *g = pe->grants[i];
		const struct tu_agency *r = peers[i];
		uint8_t shared[32], ka[32], kb[32];
		tu_shared(&police, r, shared);
		assert_string_equal(g->recipient, r->id);
		unwrap_key(x.m.msg_id, a, r->id, shared, wrap_of(g, a), ka);
		unwrap_key(x.m.msg_id, b, r->id, shared, wrap_of(g, b), kb);
		rewrap_key(x.m.msg_id, a, r->id, shared, kb, wrap_of(g, a));
		rewrap_key(x.m.msg_id, b, r->id, shared, ka, wrap_of(g, b));
	}
	tu_resign(pf, mb, mlen, police.sign_sk);
	size_t len;
	uint8_t *c = tu_pack(&pf->base, &len);
	struct tu_msg m2 = x.m;
	m2.frame = c;
	m2.len = len;
	uint8_t *d;
	size_t dlen;
	d = redact(&m2, &ambulance, FIELDS_ALL, &dlen);
	assert_int_equal(
	    tu_open(d, dlen, &ambulance, &police, &o), ERROR_DECRYPT);
	free(d);
	/* The untouched fields still open. */
	d = redact(&m2, &ambulance,
	    FIELDS_ALL & ~(FIELDS_BIT(a) | FIELDS_BIT(b)), &dlen);
	assert_int_equal(tu_open(d, dlen, &ambulance, &police, &o), 0);
	envelope_opened_free(o);
	free(d);
	free(c);
	free(mb);
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	fixture_release(&x);
}

/* Likewise for a ciphertext from another message: bound by msg_id. */
static void
test_message_bound_by_associated_data(void **state)
{
	struct fixture x, y;
	struct envelope_opened *o;
	const int f = FIELD_IDENTITY;
	uint8_t shared[32], k[32];

	(void)state;
	fixture_init(&x);
	fixture_init(&y);
	tu_shared(&police, &ambulance, shared);
	Concordat__Frame *px = tu_frame_unpack(x.m.frame, x.m.len);
	Concordat__Frame *py = tu_frame_unpack(y.m.frame, y.m.len);
	Concordat__Envelope *ex = px->submit->envelope;
	Concordat__Envelope *ey = py->submit->envelope;
	Concordat__Manifest *mx =
	    tu_manifest_unpack(ex->manifest.data, ex->manifest.len);
	Concordat__Manifest *my =
	    tu_manifest_unpack(ey->manifest.data, ey->manifest.len);
	tu_set_bytes(&mx->digests[f - 1], my->digests[f - 1].data, 32);
	swap_sealed(ex->sealed[f - 1], ey->sealed[f - 1]);
	unwrap_key(
	    y.m.msg_id, f, "ambulance", shared, wrap_of(ey->grants[0], f), k);
	rewrap_key(
	    x.m.msg_id, f, "ambulance", shared, k, wrap_of(ex->grants[0], f));
	size_t mlen, len, dlen;
	uint8_t *mb = tu_pack(&mx->base, &mlen);
	tu_resign(px, mb, mlen, police.sign_sk);
	uint8_t *c = tu_pack(&px->base, &len);
	struct tu_msg m2 = x.m;
	m2.frame = c;
	m2.len = len;
	uint8_t *d = redact(&m2, &ambulance, FIELDS_ALL, &dlen);
	assert_int_equal(
	    tu_open(d, dlen, &ambulance, &police, &o), ERROR_DECRYPT);
	free(d);
	free(c);
	free(mb);
	concordat__manifest__free_unpacked(mx, NULL);
	concordat__manifest__free_unpacked(my, NULL);
	concordat__frame__free_unpacked(px, NULL);
	concordat__frame__free_unpacked(py, NULL);
	fixture_release(&x);
	fixture_release(&y);
}

/*
 * A sender whose field plaintext is not padded (no 0x80 marker): signed,
 * digests right, wraps right; the recipient refuses it when unpadding
 * rather than hand over a plaintext of the wrong length.
 */
static void
test_bad_padding_refused(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	const int f = FIELD_HEALTH;
	uint8_t shared[32], key[32], nonce[24], ad[128], dg[32];
	uint8_t plain[WIRE_PAD_BLOCK] = {0}, ct[WIRE_PAD_BLOCK + 16];
	crypto_generichash_state st;

	(void)state;
	fixture_init(&x);
	tu_shared(&police, &ambulance, shared);
	Concordat__Frame *pf = tu_frame_unpack(x.m.frame, x.m.len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm =
	    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	randombytes_buf(nonce, sizeof(nonce));
	size_t adlen = tu_ad(ad, x.m.msg_id, f, NULL);
	tu_set_bytes(&pe->sealed[f - 1]->nonce, nonce, sizeof(nonce));
	rewrap_key(
	    x.m.msg_id, f, "ambulance", shared, key, wrap_of(pe->grants[0], f));
	for (int padded = 0; padded < 2; padded++) {
		size_t mlen, len, dlen;
		if (padded) {
			plain[0] = 'h';
			plain[1] = 0x80;
		}
		crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain,
		    sizeof(plain), ad, adlen, NULL, nonce, key);
		tu_set_bytes(&pe->sealed[f - 1]->ciphertext, ct, sizeof(ct));
		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st, nonce, sizeof(nonce));
		crypto_generichash_update(&st, ct, sizeof(ct));
		crypto_generichash_final(&st, dg, 32);
		tu_set_bytes(&pm->digests[f - 1], dg, 32);
		uint8_t *mb = tu_pack(&pm->base, &mlen);
		tu_resign(pf, mb, mlen, police.sign_sk);
		uint8_t *c = tu_pack(&pf->base, &len);
		struct tu_msg m2 = x.m;
		m2.frame = c;
		m2.len = len;
		uint8_t *d = redact(&m2, &ambulance, FIELDS_ALL, &dlen);
		if (!padded) {
			assert_int_equal(
			    tu_open(d, dlen, &ambulance, &police, &o),
			    ERROR_DECRYPT);
		} else {
			/* Properly padded, the same construction opens. */
			assert_int_equal(
			    tu_open(d, dlen, &ambulance, &police, &o), 0);
			assert_int_equal(o->plain_len[f], 1);
			assert_int_equal(o->plain[f][0], 'h');
			envelope_opened_free(o);
		}
		free(d);
		free(c);
		free(mb);
	}
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	fixture_release(&x);
}

/* -------------------------------------------------- recipients, grants */

static void
test_not_recipient(void **state)
{
	struct fixture x;
	struct envelope_opened *o;
	fieldset sent = 0xffff;
	uint8_t *d = (uint8_t *)&sent;
	size_t dlen = 1;

	(void)state;
	fixture_init(&x);
	/* The broker will not redact for an agency not listed. */
	assert_int_equal(envelope_redact(&x.f->u.submit, "fire", FIELDS_ALL,
	                     &sent, &d, &dlen),
	    ERROR_NOT_RECIPIENT);
	assert_null(d);
	assert_int_equal(dlen, 0);
	assert_int_equal(sent, 0);
	/* An unlisted agency handed a listed one's delivery refuses it
	 * before looking at anything else. */
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	assert_int_equal(
	    tu_open(d, dlen, &fire, &police, &o), ERROR_NOT_RECIPIENT);
	assert_int_equal(
	    tu_open(d, dlen, &police, &police, &o), ERROR_NOT_RECIPIENT);
	free(d);
	fixture_release(&x);
}

static void
test_grant_for_unlisted_recipient(void **state)
{
	struct fixture x;
	Concordat__Frame *pf;
	Concordat__Envelope *pe;
	struct wire_frame *f;
	char why[256] = "";
	uint8_t *c;
	size_t len;

	(void)state;
	fixture_init(&x);

	/* A grant renamed to an agency that is not listed. */
	pf = tu_frame_unpack(x.m.frame, x.m.len);
	pe = pf->submit->envelope;
	tu_set_str(&pe->grants[1]->recipient, "fire");
	c = tu_pack(&pf->base, &len);
	f = tu_decode(c, len, WIRE_SUBMIT);
	assert_int_equal(
	    envelope_verify_signature(&f->u.submit, police.sign_pk), 0);
	assert_int_equal(
	    envelope_verify_contents(&f->u.submit, why, sizeof(why)),
	    ERROR_GRANT);
	assert_non_null(strstr(why, "'fire'"));
	wire_frame_free(f);
	assert_int_equal(
	    check_rc(c, len, police.sign_pk, NULL, 0), ERROR_GRANT);
	free(c);

	/* One grant dropped: a listed recipient with no grant. */
	pe->n_grants = 1;
	c = tu_pack(&pf->base, &len);
	pe->n_grants = 2;
	f = tu_decode(c, len, WIRE_SUBMIT);
	assert_int_equal(
	    envelope_verify_contents(&f->u.submit, why, sizeof(why)),
	    ERROR_GRANT);
	assert_non_null(strstr(why, "'mental_health_trust'"));
	wire_frame_free(f);
	free(c);
	concordat__frame__free_unpacked(pf, NULL);

	/* Properly signed by the sender: sealed for ambulance and fire,
	 * then the sender drops fire from the manifest and signs again. */
	{
		const struct tu_agency *two[2] = {&ambulance, &fire};
		struct tu_msg m;
		tu_msg_init(&m, &police, two, 2, NULL);
		assert_int_equal(tu_seal(&m), 0);
		pf = tu_frame_unpack(m.frame, m.len);
		pe = pf->submit->envelope;
		Concordat__Manifest *pm =
		    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
		assert_string_equal(pm->recipients[1], "fire");
		pm->n_recipients = 1;
		size_t mlen;
		uint8_t *mb = tu_pack(&pm->base, &mlen);
		pm->n_recipients = 2;
		tu_resign(pf, mb, mlen, police.sign_sk);
		c = tu_pack(&pf->base, &len);
		f = tu_decode(c, len, WIRE_SUBMIT);
		assert_int_equal(
		    envelope_verify_signature(&f->u.submit, police.sign_pk), 0);
		assert_int_equal(
		    envelope_verify_contents(&f->u.submit, why, sizeof(why)),
		    ERROR_GRANT);
		assert_non_null(strstr(why, "'fire'"));
		/* And the broker will not redact for it. */
		fieldset sent;
		uint8_t *d;
		size_t dlen;
		assert_int_equal(envelope_redact(&f->u.submit, "fire",
		                     FIELDS_ALL, &sent, &d, &dlen),
		    ERROR_NOT_RECIPIENT);
		wire_frame_free(f);
		assert_int_equal(
		    check_rc(c, len, police.sign_pk, NULL, 0), ERROR_GRANT);
		free(c);
		free(mb);
		concordat__manifest__free_unpacked(pm, NULL);
		concordat__frame__free_unpacked(pf, NULL);
		tu_msg_release(&m);
	}
	fixture_release(&x);
}

/* --------------------------------------------- prefixes, unknown, size */

static void
test_every_prefix_fails(void **state)
{
	struct fixture x;
	uint8_t *d, *df = NULL;
	size_t dlen, dflen = 0;
	struct wire_audit_proof p;

	(void)state;
	fixture_init(&x);
	for (size_t n = 0; n < x.m.len; n++) {
		/* An exact-size copy, so that ASan sees any over-read. */
		uint8_t *c = malloc(n ? n : 1);
		struct wire_frame *f = NULL;
		assert_non_null(c);
		memcpy(c, x.m.frame, n);
		int rc = wire_decode(c, n, &f, NULL, 0);
		if (rc == 0) {
			assert_non_null(f);
			wire_frame_free(f);
			assert_int_not_equal(
			    check_rc(c, n, police.sign_pk, NULL, 0), 0);
		} else {
			assert_null(f);
			assert_true(
			    rc == ERROR_DECODE || rc == ERROR_UNKNOWN_FIELD);
			assert_int_equal(
			    check_rc(c, n, police.sign_pk, NULL, 0), rc);
		}
		free(c);
	}
	/* And every prefix of a delivery frame. */
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	tu_dummy_proof(&p);
	assert_int_equal(wire_delivery_frame(d, dlen, &p, &df, &dflen), 0);
	for (size_t n = 0; n < dflen; n++) {
		uint8_t *c = malloc(n ? n : 1);
		struct wire_frame *f = NULL;
		assert_non_null(c);
		memcpy(c, df, n);
		assert_int_not_equal(wire_decode(c, n, &f, NULL, 0), 0);
		assert_null(f);
		free(c);
	}
	free(df);
	free(d);
	fixture_release(&x);
}

static int
decode_rc(const uint8_t *buf, size_t len)
{
	struct wire_frame *f = NULL;
	int rc = wire_decode(buf, len, &f, NULL, 0);

	wire_frame_free(f);
	return rc;
}

/* Packs pf, which carries an unknown field: refused by the decoder and
 * (with a key) by envelope_check, with ERROR_UNKNOWN_FIELD. */
static void
expect_unknown(Concordat__Frame *pf, const uint8_t pk[32])
{
	size_t len;
	uint8_t *c = tu_pack(&pf->base, &len);

	assert_int_equal(decode_rc(c, len), ERROR_UNKNOWN_FIELD);
	if (pk != NULL)
		assert_int_equal(
		    check_rc(c, len, pk, NULL, 0), ERROR_UNKNOWN_FIELD);
	free(c);
}

static void
test_unknown_fields_submit(void **state)
{
	static const ProtobufCWireType types[] = {PROTOBUF_C_WIRE_TYPE_VARINT,
	    PROTOBUF_C_WIRE_TYPE_64BIT, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
	    PROTOBUF_C_WIRE_TYPE_32BIT};
	struct fixture x;
	Concordat__Frame *pf;

	(void)state;
	fixture_init(&x);

	/* Raw bytes after the frame: field 15, varint. */
	{
		uint8_t *c = malloc(x.m.len + 2);
		memcpy(c, x.m.frame, x.m.len);
		c[x.m.len] = 15 << 3;
		c[x.m.len + 1] = 1;
		assert_int_equal(
		    decode_rc(c, x.m.len + 2), ERROR_UNKNOWN_FIELD);
		free(c);
	}
	for (size_t t = 0; t < 4; t++) {
		/* Frame level: an unused number of the oneof, and beyond. */
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(&pf->base, 20, types[t]);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(&pf->base, 536870911, types[t]);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
		/* Submit, Envelope. */
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(&pf->submit->base, 2, types[t]);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(&pf->submit->envelope->base, 30, types[t]);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
	}
	/* Each Sealed entry; a Grant; each Wrap of a grant. */
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(&pf->submit->envelope->sealed[f - 1]->base, 4,
		    PROTOBUF_C_WIRE_TYPE_VARINT);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		tu_add_unknown(
		    &pf->submit->envelope->grants[1]->wraps[f - 1]->base, 9,
		    PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		expect_unknown(pf, police.sign_pk);
		concordat__frame__free_unpacked(pf, NULL);
	}
	pf = tu_frame_unpack(x.m.frame, x.m.len);
	tu_add_unknown(&pf->submit->envelope->grants[0]->base, 3,
	    PROTOBUF_C_WIRE_TYPE_VARINT);
	expect_unknown(pf, police.sign_pk);
	concordat__frame__free_unpacked(pf, NULL);

	/* Inside the manifest, re-signed by the sender, so that the unknown
	 * field is the only thing wrong with it. */
	for (size_t t = 0; t < 4; t++) {
		pf = tu_frame_unpack(x.m.frame, x.m.len);
		Concordat__Envelope *pe = pf->submit->envelope;
		Concordat__Manifest *pm =
		    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
		tu_add_unknown(&pm->base, 30 + (uint32_t)t, types[t]);
		size_t mlen;
		uint8_t *mb = tu_pack(&pm->base, &mlen);
		tu_resign(pf, mb, mlen, police.sign_sk);
		assert_true(tu_verify_manifest(pe->manifest.data,
		    pe->manifest.len, pe->signature.data, police.sign_pk));
		struct wire_manifest wm;
		assert_int_equal(wire_manifest_decode(mb, mlen, &wm, NULL, 0),
		    ERROR_UNKNOWN_FIELD);
		expect_unknown(pf, police.sign_pk);
		free(mb);
		concordat__manifest__free_unpacked(pm, NULL);
		concordat__frame__free_unpacked(pf, NULL);
	}
	fixture_release(&x);
}

static void
test_unknown_fields_delivery(void **state)
{
	struct fixture x;
	struct wire_audit_proof p;
	uint8_t *d, *df;
	size_t dlen, dflen;
	Concordat__Frame *pf;

	(void)state;
	fixture_init(&x);
	d = redact(&x.m, &ambulance, FIELDS_ALL, &dlen);
	tu_dummy_proof(&p);
	assert_int_equal(wire_delivery_frame(d, dlen, &p, &df, &dflen), 0);
	assert_int_equal(decode_rc(df, dflen), 0);

	pf = tu_frame_unpack(df, dflen);
	tu_add_unknown(&pf->delivery->base, 30, PROTOBUF_C_WIRE_TYPE_VARINT);
	expect_unknown(pf, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	pf = tu_frame_unpack(df, dflen);
	tu_add_unknown(
	    &pf->delivery->sealed[3]->base, 7, PROTOBUF_C_WIRE_TYPE_32BIT);
	expect_unknown(pf, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	pf = tu_frame_unpack(df, dflen);
	tu_add_unknown(
	    &pf->delivery->wraps[12]->base, 4, PROTOBUF_C_WIRE_TYPE_64BIT);
	expect_unknown(pf, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	pf = tu_frame_unpack(df, dflen);
	tu_add_unknown(/* 5 and 6 are the tie's */
	    &pf->delivery->decision->base, 9, PROTOBUF_C_WIRE_TYPE_VARINT);
	expect_unknown(pf, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	free(df);
	free(d);
	fixture_release(&x);
}

static void
test_oversized_frame(void **state)
{
	struct fixture x;
	size_t big = (size_t)WIRE_MAX_FRAME + 1;
	struct wire_frame *f = (struct wire_frame *)&f;
	char why[128] = "";
	uint8_t *p;

	(void)state;
	/* Memory that cannot be read: refused on its size alone, or the
	 * test dies of SIGSEGV. */
	p = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(
	    wire_decode(p, big, &f, why, sizeof(why)), ERROR_TOOBIG);
	assert_null(f);
	assert_non_null(strstr(why, "1048577"));
	assert_int_equal(
	    check_rc(p, big, police.sign_pk, NULL, 0), ERROR_TOOBIG);
	assert_int_equal(
	    check_rc(p, SIZE_MAX, police.sign_pk, NULL, 0), ERROR_TOOBIG);
	munmap(p, big);

	/* A frame that is not a submission. */
	{
		uint8_t id[16] = {0}, *ack;
		size_t alen;
		assert_int_equal(wire_ack_encode(id, &ack, &alen), 0);
		assert_int_equal(
		    check_rc(ack, alen, police.sign_pk, why, sizeof(why)),
		    ERROR_DECODE);
		assert_string_equal(why, "frame is not a submission");
		free(ack);
	}

	/* A real frame grown past the limit by an unknown field is refused
	 * for its size, not its content; at exactly the limit, for its
	 * content. */
	fixture_init(&x);
	for (size_t target = WIRE_MAX_FRAME; target <= big; target++) {
		Concordat__Frame *pf = tu_frame_unpack(x.m.frame, x.m.len);
		size_t len;
		tu_add_unknown(
		    &pf->base, 15, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		ProtobufCMessageUnknownField *u = &pf->base.unknown_fields[0];
		/* Tag (1) + length varint (3) + payload. */
		size_t payload = target - x.m.len - 1 - 3;
		free(u->data);
		u->data = calloc(1, payload + 3);
		u->data[0] = (uint8_t)(0x80 | (payload & 0x7f));
		u->data[1] = (uint8_t)(0x80 | ((payload >> 7) & 0x7f));
		u->data[2] = (uint8_t)(payload >> 14);
		u->len = payload + 3;
		uint8_t *c = tu_pack(&pf->base, &len);
		assert_int_equal(len, target);
		assert_int_equal(decode_rc(c, len),
		    target > WIRE_MAX_FRAME ? ERROR_TOOBIG
		                            : ERROR_UNKNOWN_FIELD);
		free(c);
		concordat__frame__free_unpacked(pf, NULL);
	}
	fixture_release(&x);
}

/*
 * A sender that seals field f of m again by hand, as envelope_seal would
 * but with a plaintext of any length (envelope_seal refuses more than
 * ENVELOPE_FIELD_MAX): a fresh key, the ciphertext, its digest in the
 * manifest, the signature, and a wrap of the key for every recipient, so
 * that nothing but the size is wrong. Returns the new Submit frame.
 */
static uint8_t *
reseal_field(const struct tu_msg *m, int f, const uint8_t *plain,
    size_t plain_len, size_t *len)
{
	Concordat__Frame *pf = tu_frame_unpack(m->frame, m->len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm;
	crypto_generichash_state st;
	uint8_t k[32], nonce[24], ad[128], dig[32], *buf, *ct, *mb, *out;
	unsigned long long clen;
	size_t padded, adlen, mlen;

	buf = malloc(plain_len + WIRE_PAD_BLOCK);
	ct = malloc(plain_len + WIRE_PAD_BLOCK + 16);
	assert_non_null(buf);
	assert_non_null(ct);
	memcpy(buf, plain, plain_len);
	assert_int_equal(sodium_pad(&padded, buf, plain_len, WIRE_PAD_BLOCK,
	                     plain_len + WIRE_PAD_BLOCK),
	    0);
	crypto_aead_xchacha20poly1305_ietf_keygen(k);
	randombytes_buf(nonce, sizeof(nonce));
	adlen = tu_ad(ad, m->msg_id, f, NULL);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    ct, &clen, buf, padded, ad, adlen, NULL, nonce, k);
	tu_set_bytes(&pe->sealed[f - 1]->nonce, nonce, sizeof(nonce));
	tu_set_bytes(&pe->sealed[f - 1]->ciphertext, ct, (size_t)clen);

	crypto_generichash_init(&st, NULL, 0, sizeof(dig));
	crypto_generichash_update(&st, nonce, sizeof(nonce));
	crypto_generichash_update(&st, ct, (size_t)clen);
	crypto_generichash_final(&st, dig, sizeof(dig));
	pm = tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	tu_set_bytes(&pm->digests[f - 1], dig, sizeof(dig));

	for (size_t i = 0; i < pe->n_grants; i++) {
		Concordat__Grant *g = pe->grants[i];
		const struct tu_agency *r = NULL;
		uint8_t shared[32], wn[24], wk[48];
		for (size_t j = 0; j < m->n_recipients; j++)
			if (strcmp(m->recipients[j]->id, g->recipient) == 0)
				r = m->recipients[j];
		assert_non_null(r);
		tu_shared(m->sender, r, shared);
		for (size_t j = 0; j < g->n_wraps; j++) {
			if (g->wraps[j]->field != (uint32_t)f)
				continue;
			randombytes_buf(wn, sizeof(wn));
			adlen = tu_ad(ad, m->msg_id, f, r->id);
			crypto_aead_xchacha20poly1305_ietf_encrypt(wk, NULL, k,
			    sizeof(k), ad, adlen, NULL, wn, shared);
			tu_set_bytes(&g->wraps[j]->nonce, wn, sizeof(wn));
			tu_set_bytes(&g->wraps[j]->wrapped_key, wk, sizeof(wk));
		}
	}
	mb = tu_pack(&pm->base, &mlen);
	tu_resign(pf, mb, mlen, m->sender->sign_sk);
	out = tu_pack(&pf->base, len);
	free(mb);
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	free(ct);
	free(buf);
	return out;
}

/*
 * The Delivery message bytes a broker that does not check sizes (an old
 * one, or a compromised one) would make of frame for recipient r: every
 * field, with r's wraps.
 */
static uint8_t *
forward_unchecked(const uint8_t *frame, size_t len, const char *r, size_t *dlen)
{
	Concordat__Frame *pf = tu_frame_unpack(frame, len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Delivery d = CONCORDAT__DELIVERY__INIT;
	uint8_t *out;

	d.has_manifest = d.has_signature = 1;
	d.manifest = pe->manifest;
	d.signature = pe->signature;
	d.n_sealed = pe->n_sealed;
	d.sealed = pe->sealed;
	for (size_t i = 0; i < pe->n_grants; i++) {
		if (strcmp(pe->grants[i]->recipient, r) == 0) {
			d.n_wraps = pe->grants[i]->n_wraps;
			d.wraps = pe->grants[i]->wraps;
		}
	}
	out = tu_pack(&d.base, dlen);
	concordat__frame__free_unpacked(pf, NULL);
	return out;
}

/*
 * ENVELOPE_FIELD_MAX holds for what arrives, not only for what an honest
 * sender seals: a field sealed by hand from 200 KiB is refused as too big
 * by the broker in the Submit, and by the recipient in a Delivery that a
 * broker forwarded without looking; the same hand seal of the largest
 * allowed field is accepted by both and opens.
 */
static void
test_field_limit_both_sides(void **state)
{
	size_t lens[FIELDS_COUNT + 1], len, dlen;
	uint8_t *frame, *d, *plain, id[WIRE_MSG_ID_LEN];
	struct envelope_opened *o = NULL;
	struct wire_frame *f = NULL;
	char why[256] = "";
	struct tu_msg m;

	(void)state;
	for (int fl = 0; fl <= FIELDS_COUNT; fl++)
		lens[fl] = 10;
	tu_msg_init(&m, &police, peers, 2, lens);
	assert_int_equal(tu_seal(&m), 0);
	plain = malloc(200 * 1024);
	assert_non_null(plain);
	tu_fill(plain, 200 * 1024);

	/* 200 KiB less a byte: 800 blocks padded, and the tag. */
	frame = reseal_field(&m, FIELD_IDENTITY, plain, 200 * 1024 - 1, &len);
	assert_int_equal(check_rc(frame, len, police.sign_pk, why, sizeof(why)),
	    ERROR_TOOBIG);
	assert_string_equal(why,
	    "field 'identity': ciphertext of 204816 "
	    "bytes is over the 64 KiB field limit");
	assert_int_equal(
	    wire_reason_from_error(ERROR_TOOBIG), WIRE_REASON_TOO_BIG);
	/* The receipt that refuses it can still name the message. */
	assert_int_equal(wire_frame_msg_id(frame, len, id), 0);
	assert_memory_equal(id, m.msg_id, WIRE_MSG_ID_LEN);
	d = forward_unchecked(frame, len, peers[0]->id, &dlen);
	assert_int_equal(tu_delivery_decode(d, dlen, &f), ERROR_TOOBIG);
	assert_null(f);
	free(d);
	free(frame);

	/* One block over the limit: refused too. */
	frame = reseal_field(&m, FIELD_CLINICAL, plain,
	    ENVELOPE_FIELD_MAX + WIRE_PAD_BLOCK, &len);
	assert_int_equal(check_rc(frame, len, police.sign_pk, why, sizeof(why)),
	    ERROR_TOOBIG);
	assert_string_equal(why,
	    "field 'clinical': ciphertext of 66064 "
	    "bytes is over the 64 KiB field limit");
	d = forward_unchecked(frame, len, peers[1]->id, &dlen);
	assert_int_equal(tu_delivery_decode(d, dlen, &f), ERROR_TOOBIG);
	free(d);
	free(frame);

	/* One byte over pads to the limit's own sealed size, so the broker
	 * cannot tell; the recipient can, once it has unpadded. */
	frame = reseal_field(
	    &m, FIELD_CLINICAL, plain, ENVELOPE_FIELD_MAX + 1, &len);
	f = check_ok(frame, len, police.sign_pk);
	assert_int_equal(
	    f->u.submit.sealed[FIELD_CLINICAL].ct_len, WIRE_SEALED_MAX);
	wire_frame_free(f);
	d = forward_unchecked(frame, len, peers[1]->id, &dlen);
	assert_int_equal(tu_open(d, dlen, peers[1], &police, &o), ERROR_TOOBIG);
	assert_null(o);
	free(d);
	free(frame);

	/* At the limit, the same hand seal is a good message. */
	frame =
	    reseal_field(&m, FIELD_CLINICAL, plain, ENVELOPE_FIELD_MAX, &len);
	f = check_ok(frame, len, police.sign_pk);
	assert_int_equal(
	    f->u.submit.sealed[FIELD_CLINICAL].ct_len, WIRE_SEALED_MAX);
	wire_frame_free(f);
	d = forward_unchecked(frame, len, peers[1]->id, &dlen);
	assert_int_equal(tu_open(d, dlen, peers[1], &police, &o), 0);
	assert_int_equal(o->plain_len[FIELD_CLINICAL], ENVELOPE_FIELD_MAX);
	assert_memory_equal(
	    o->plain[FIELD_CLINICAL], plain, ENVELOPE_FIELD_MAX);
	envelope_opened_free(o);
	free(d);
	free(frame);
	free(plain);
	tu_msg_release(&m);
}

static void
test_signed_by_another_agency(void **state)
{
	struct tu_msg m;
	struct envelope_opened *o;
	struct wire_frame *f;
	uint8_t *d;
	size_t dlen;
	fieldset sent;

	(void)state;
	tu_msg_init(&m, &police, peers, 2, NULL);
	m.sign_sk = ambulance.sign_sk; /* claims police, signed by ambulance */
	assert_int_equal(tu_seal(&m), 0);
	assert_int_equal(
	    check_rc(m.frame, m.len, police.sign_pk, NULL, 0), ERROR_SIGNATURE);
	/* The recipient refuses too, whatever the broker did. */
	f = check_ok(m.frame, m.len, ambulance.sign_pk);
	assert_int_equal(envelope_redact(&f->u.submit, "mental_health_trust",
	                     FIELDS_ALL, &sent, &d, &dlen),
	    0);
	assert_int_equal(tu_open(d, dlen, &mht, &police, &o), ERROR_SIGNATURE);
	free(d);
	wire_frame_free(f);
	tu_msg_release(&m);
}

/* The constructions of DESIGN.md §5, recomputed independently. */
static void
test_spec_constructions(void **state)
{
	struct fixture x;
	const struct wire_envelope *e;
	uint8_t shared[32];

	(void)state;
	fixture_init(&x);
	e = &x.f->u.submit;
	assert_true(tu_verify_manifest(
	    e->manifest, e->manifest_len, e->signature, police.sign_pk));
	/* Not a bare signature over the manifest: the context is in it. */
	assert_int_not_equal(crypto_sign_verify_detached(e->signature,
	                         e->manifest, e->manifest_len, police.sign_pk),
	    0);
	tu_shared(&ambulance, &police, shared);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_sealed *s = &e->sealed[f];
		const struct wire_wrap *w = &e->grants[0].wraps[f];
		uint8_t dg[32], key[32], ad[128], *plain;
		unsigned long long klen, plen;
		size_t unpadded, adlen;
		crypto_generichash_state st;

		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st, s->nonce, WIRE_NONCE_LEN);
		crypto_generichash_update(&st, s->ct, s->ct_len);
		crypto_generichash_final(&st, dg, 32);
		assert_memory_equal(dg, e->m.digests[f], 32);

		adlen = tu_ad(ad, e->m.msg_id, f, "ambulance");
		assert_int_equal(
		    crypto_aead_xchacha20poly1305_ietf_decrypt(key, &klen, NULL,
		        w->key, WIRE_WRAPPED_LEN, ad, adlen, w->nonce, shared),
		    0);
		plain = malloc(s->ct_len);
		adlen = tu_ad(ad, e->m.msg_id, f, NULL);
		assert_int_equal(
		    crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen,
		        NULL, s->ct, s->ct_len, ad, adlen, s->nonce, key),
		    0);
		assert_int_equal(
		    sodium_unpad(&unpadded, plain, plen, WIRE_PAD_BLOCK), 0);
		assert_int_equal(unpadded, x.m.plain_len[f]);
		assert_memory_equal(plain, x.m.plain[f], unpadded);
		free(plain);
	}
	fixture_release(&x);
}

/* ------------------------------------------------ the compromised broker */

/*
 * What a broker holds: its own secrets and every public identity. It may
 * do anything with the bytes that pass through it.
 */
struct broker {
	char dir[64];
	struct keys_secret *sk;
	struct keys_public pub[4]; /* police, ambulance, mht, social */
	struct keyring *kr;
};

/* An agency from its generated key files. */
static void
load_agency(const char *dir, const char *id, struct tu_agency *a)
{
	struct keys_secret *s = NULL;
	char name[64];

	snprintf(name, sizeof(name), "%s.key", id);
	assert_int_equal(keys_load_secret(tu_path(dir, name), &s), 0);
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	memcpy(a->sign_pk, s->pub.sign_pk, 32);
	memcpy(a->sign_sk, s->sign_sk, 64);
	memcpy(a->box_pk, s->pub.box_pk, 32);
	memcpy(a->box_sk, s->box_sk, 32);
	keys_secret_free(s);
}

static const char *const cb_ids[4] = {
    "police", "ambulance", "mental_health_trust", "social_care"};

struct cb_world {
	struct broker b;
	char agencies[64];
	struct tu_agency pol, amb, mh, soc;
	struct tu_msg a, b2;   /* two genuine messages police -> amb, mh */
	struct wire_frame *fa; /* A as the broker checked it */
	uint8_t *da, *db, *dm; /* A and B for amb; A for mh, all fields */
	size_t dalen, dblen, dmlen;
};

static void
cb_setup(struct cb_world *w)
{
	const struct tu_agency *two[2];
	char keyring[128];

	memset(w, 0, sizeof(*w));
	scratch_dir_in(w->b.dir, sizeof(w->b.dir), "unit");
	snprintf(keyring, sizeof(keyring), "%s/keyring", w->b.dir);
	snprintf(w->agencies, sizeof(w->agencies), "%s", w->b.dir);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(keys_generate(cb_ids[i], w->agencies), 0);
	}
	assert_int_equal(keys_generate(NULL, keyring), 0);
	/* The broker: its secret, every public identity, the keyring. */
	assert_int_equal(
	    keys_load_secret(tu_path(keyring, "broker.key"), &w->b.sk), 0);
	assert_true(w->b.sk->pub.is_broker);
	for (int i = 0; i < 4; i++) {
		char name[64], dst[256];
		size_t n;
		snprintf(name, sizeof(name), "%s.pub", cb_ids[i]);
		uint8_t *t = scratch_read(tu_path(w->agencies, name), &n);
		snprintf(dst, sizeof(dst), "%s/%s", keyring, name);
		scratch_spit(dst, t, n, 0644);
		free(t);
		assert_int_equal(keys_load_public(dst, &w->b.pub[i]), 0);
	}
	assert_int_equal(keyring_load(keyring, &w->b.kr, NULL, 0), 0);
	assert_int_equal(keyring_count(w->b.kr), 4);

	/* The agencies. */
	load_agency(w->agencies, "police", &w->pol);
	load_agency(w->agencies, "ambulance", &w->amb);
	load_agency(w->agencies, "mental_health_trust", &w->mh);
	load_agency(w->agencies, "social_care", &w->soc);
	assert_memory_equal(w->pol.sign_pk, w->b.pub[0].sign_pk, 32);
	two[0] = &w->amb;
	two[1] = &w->mh;
	tu_msg_init(&w->a, &w->pol, two, 2, NULL);
	tu_msg_init(&w->b2, &w->pol, two, 2, NULL);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		/* Same sizes, so that swaps are not caught by length. */
		free(w->b2.plain[f]);
		w->b2.plain[f] = malloc(w->a.plain_len[f] + 1);
		tu_fill(w->b2.plain[f], w->a.plain_len[f]);
		w->b2.plain_len[f] = w->a.plain_len[f];
	}
	memcpy(w->b2.subject_ref, w->a.subject_ref, 32);
	assert_int_equal(tu_seal(&w->a), 0);
	assert_int_equal(tu_seal(&w->b2), 0);
	w->fa = check_ok(w->a.frame, w->a.len, w->b.pub[0].sign_pk);
	w->da = redact(&w->a, &w->amb, FIELDS_ALL, &w->dalen);
	w->db = redact(&w->b2, &w->amb, FIELDS_ALL, &w->dblen);
	w->dm = redact(&w->a, &w->mh, FIELDS_ALL, &w->dmlen);
}

static void
cb_release(struct cb_world *w)
{
	free(w->da);
	free(w->db);
	free(w->dm);
	wire_frame_free(w->fa);
	tu_msg_release(&w->a);
	tu_msg_release(&w->b2);
	keyring_free(w->b.kr);
	keys_secret_free(w->b.sk);
	scratch_rmrf(w->b.dir);
}

/* ambulance opens what the broker made; the sender's key from the
 * keyring, by the name the manifest gives. */
static int
cb_deliver(struct cb_world *w, Concordat__Delivery *pd)
{
	struct envelope_opened *o = NULL;
	struct wire_frame *f = NULL;
	const struct keys_public *sender;
	uint8_t shared[32], *c;
	size_t len;
	int rc;

	c = tu_pack(&pd->base, &len);
	rc = tu_delivery_decode(c, len, &f);
	free(c);
	if (rc != 0)
		return rc;
	sender = keyring_find(w->b.kr, f->u.delivery.m.sender);
	if (sender == NULL) {
		wire_frame_free(f);
		return ERROR_UNKNOWN_AGENCY;
	}
	assert_int_equal(
	    envelope_shared_key(sender->box_pk, w->amb.box_sk, shared), 0);
	rc = envelope_open(
	    &f->u.delivery, "ambulance", sender->sign_pk, shared, &o);
	if (rc == 0) {
		/* Anything accepted must be what police sealed. */
		for (int fl = 1; fl <= FIELDS_COUNT; fl++) {
			if (!fields_has(o->disclosed, fl))
				continue;
			assert_int_equal(o->plain_len[fl], w->a.plain_len[fl]);
			assert_memory_equal(
			    o->plain[fl], w->a.plain[fl], w->a.plain_len[fl]);
		}
		envelope_opened_free(o);
	} else {
		assert_null(o);
	}
	wire_frame_free(f);
	return rc;
}

static void
cb_sign(
    struct cb_world *w, Concordat__Delivery *pd, const uint8_t *m, size_t mlen)
{
	uint8_t sig[64];

	/* Signed first: m may be pd's own manifest, replaced below. */
	tu_sign_manifest(m, mlen, w->b.sk->sign_sk, sig);
	tu_set_bytes(&pd->manifest, m, mlen);
	tu_set_bytes(&pd->signature, sig, sizeof(sig));
}

static void
test_compromised_broker(void **state)
{
	struct cb_world w;
	Concordat__Delivery *pd, *pb;
	Concordat__Manifest *pm;
	uint8_t *mb;
	size_t mlen;

	(void)state;
	cb_setup(&w);

	/* What it may do: withhold. Visible to the recipient as such. */
	pd = tu_delivery_unpack(w.da, w.dalen);
	assert_int_equal(cb_deliver(&w, pd), 0);
	pd->n_sealed = pd->n_wraps = 5;
	assert_int_equal(cb_deliver(&w, pd), 0);
	pd->n_sealed = pd->n_wraps = 13;
	concordat__delivery__free_unpacked(pd, NULL);

	/* 1. Change the manifest (purpose, urgency, recipients), re-sign
	 * with the broker's own key. */
	for (int v = 0; v < 4; v++) {
		pd = tu_delivery_unpack(w.da, w.dalen);
		pm = tu_manifest_unpack(pd->manifest.data, pd->manifest.len);
		if (v == 0)
			tu_set_str(&pm->purpose, "place_of_safety");
		else if (v == 1)
			pm->urgency = CONCORDAT__URGENCY__URGENCY_ROUTINE;
		else if (v == 2)
			tu_set_str(&pm->recipients[1], "social_care");
		else
			pm->created_at_ms += 1;
		mb = tu_pack(&pm->base, &mlen);
		cb_sign(&w, pd, mb, mlen);
		assert_int_equal(cb_deliver(&w, pd), ERROR_SIGNATURE);
		free(mb);
		concordat__manifest__free_unpacked(pm, NULL);
		concordat__delivery__free_unpacked(pd, NULL);
	}
	/* 2. The genuine manifest under the broker's signature, or none. */
	pd = tu_delivery_unpack(w.da, w.dalen);
	cb_sign(&w, pd, pd->manifest.data, pd->manifest.len);
	assert_int_equal(cb_deliver(&w, pd), ERROR_SIGNATURE);
	memset(pd->signature.data, 0, 64);
	assert_int_equal(cb_deliver(&w, pd), ERROR_SIGNATURE);
	concordat__delivery__free_unpacked(pd, NULL);

	/* 3. The same manifest re-encoded (a duplicate field appended):
	 * decodes to the same thing, is not the bytes signed. */
	pd = tu_delivery_unpack(w.da, w.dalen);
	{
		struct wire_manifest m1, m2;
		uint8_t *re = malloc(pd->manifest.len + 2);
		memcpy(re, pd->manifest.data, pd->manifest.len);
		re[pd->manifest.len] = 1 << 3; /* version */
		re[pd->manifest.len + 1] = 2;
		assert_int_equal(wire_manifest_decode(pd->manifest.data,
		                     pd->manifest.len, &m1, NULL, 0),
		    0);
		assert_int_equal(wire_manifest_decode(
		                     re, pd->manifest.len + 2, &m2, NULL, 0),
		    0);
		assert_memory_equal(&m1, &m2, sizeof(m1));
		tu_set_bytes(&pd->manifest, re, pd->manifest.len + 2);
		free(re);
	}
	assert_int_equal(cb_deliver(&w, pd), ERROR_SIGNATURE);
	concordat__delivery__free_unpacked(pd, NULL);

	/* 4. A Delivery of its own: its own manifest naming police as the
	 * sender, its own ciphertexts and keys, wrapped with a box key of
	 * its own, signed with its key. */
	{
		struct tu_agency fake = w.pol;
		const struct tu_agency *one[1] = {&w.amb};
		struct tu_msg f;
		memcpy(fake.sign_sk, w.b.sk->sign_sk, 64);
		crypto_box_keypair(fake.box_pk, fake.box_sk);
		tu_msg_init(&f, &fake, one, 1, NULL);
		for (int fl = 1; fl <= FIELDS_COUNT; fl++)
			memset(f.plain[fl], 'X', f.plain_len[fl]);
		assert_int_equal(tu_seal(&f), 0);
		/* The broker's own check passes with its own key. */
		struct wire_frame *ff =
		    check_ok(f.frame, f.len, w.b.sk->pub.sign_pk);
		fieldset sent;
		uint8_t *d;
		size_t dlen;
		assert_int_equal(envelope_redact(&ff->u.submit, "ambulance",
		                     FIELDS_ALL, &sent, &d, &dlen),
		    0);
		pd = tu_delivery_unpack(d, dlen);
		assert_int_equal(cb_deliver(&w, pd), ERROR_SIGNATURE);
		/* Claiming to be the sender itself names no agency. */
		pm = tu_manifest_unpack(pd->manifest.data, pd->manifest.len);
		tu_set_str(&pm->sender, "broker");
		mb = tu_pack(&pm->base, &mlen);
		cb_sign(&w, pd, mb, mlen);
		assert_null(keyring_find(w.b.kr, "broker"));
		assert_int_equal(cb_deliver(&w, pd), ERROR_UNKNOWN_AGENCY);
		free(mb);
		concordat__manifest__free_unpacked(pm, NULL);
		concordat__delivery__free_unpacked(pd, NULL);
		/* Its own ciphertexts under the genuine manifest. */
		pd = tu_delivery_unpack(w.da, w.dalen);
		Concordat__Delivery *pf = tu_delivery_unpack(d, dlen);
		for (size_t i = 0; i < 13; i++) {
			swap_sealed(pd->sealed[i], pf->sealed[i]);
			Concordat__Wrap *t = pd->wraps[i];
			pd->wraps[i] = pf->wraps[i];
			pf->wraps[i] = t;
		}
		assert_int_equal(cb_deliver(&w, pd), ERROR_DIGEST);
		concordat__delivery__free_unpacked(pf, NULL);
		concordat__delivery__free_unpacked(pd, NULL);
		free(d);
		wire_frame_free(ff);
		tu_msg_release(&f);
	}

	/* 5. Ciphertexts swapped between fields. */
	for (int a = 1; a <= FIELDS_COUNT; a++) {
		pd = tu_delivery_unpack(w.da, w.dalen);
		swap_sealed(pd->sealed[a - 1], pd->sealed[a % 13]);
		assert_int_equal(cb_deliver(&w, pd), ERROR_DIGEST);
		concordat__delivery__free_unpacked(pd, NULL);
	}

	/* 6. Between messages: B's ciphertext (and wrap) in A, A's manifest
	 * with B's contents, B's manifest with A's. */
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		pd = tu_delivery_unpack(w.da, w.dalen);
		pb = tu_delivery_unpack(w.db, w.dblen);
		swap_sealed(pd->sealed[f - 1], pb->sealed[f - 1]);
		assert_int_equal(cb_deliver(&w, pd), ERROR_DIGEST);
		Concordat__Wrap *t = pd->wraps[f - 1];
		pd->wraps[f - 1] = pb->wraps[f - 1];
		pb->wraps[f - 1] = t;
		assert_int_equal(cb_deliver(&w, pd), ERROR_DIGEST);
		concordat__delivery__free_unpacked(pd, NULL);
		concordat__delivery__free_unpacked(pb, NULL);
	}
	pd = tu_delivery_unpack(w.da, w.dalen);
	pb = tu_delivery_unpack(w.db, w.dblen);
	{
		ProtobufCBinaryData t = pd->manifest;
		pd->manifest = pb->manifest;
		pb->manifest = t;
		t = pd->signature;
		pd->signature = pb->signature;
		pb->signature = t;
	}
	assert_int_equal(cb_deliver(&w, pd), ERROR_DIGEST);
	assert_int_equal(cb_deliver(&w, pb), ERROR_DIGEST);
	concordat__delivery__free_unpacked(pd, NULL);
	concordat__delivery__free_unpacked(pb, NULL);

	/* 7. Another recipient's wrap of the same field, of the same
	 * message; and wraps moved between fields. */
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		Concordat__Delivery *pm2 = tu_delivery_unpack(w.dm, w.dmlen);
		pd = tu_delivery_unpack(w.da, w.dalen);
		Concordat__Wrap *t = pd->wraps[f - 1];
		pd->wraps[f - 1] = pm2->wraps[f - 1];
		pm2->wraps[f - 1] = t;
		assert_int_equal(cb_deliver(&w, pd), ERROR_DECRYPT);
		concordat__delivery__free_unpacked(pd, NULL);
		concordat__delivery__free_unpacked(pm2, NULL);

		pd = tu_delivery_unpack(w.da, w.dalen);
		int g = f % FIELDS_COUNT + 1;
		ProtobufCBinaryData k = pd->wraps[f - 1]->wrapped_key;
		ProtobufCBinaryData n = pd->wraps[f - 1]->nonce;
		pd->wraps[f - 1]->wrapped_key = pd->wraps[g - 1]->wrapped_key;
		pd->wraps[f - 1]->nonce = pd->wraps[g - 1]->nonce;
		pd->wraps[g - 1]->wrapped_key = k;
		pd->wraps[g - 1]->nonce = n;
		assert_int_equal(cb_deliver(&w, pd), ERROR_DECRYPT);
		concordat__delivery__free_unpacked(pd, NULL);
	}

	/* 8. The whole of mental_health_trust's delivery handed to
	 * ambulance, which is listed too; and to an agency that is not. */
	pd = tu_delivery_unpack(w.dm, w.dmlen);
	assert_int_equal(cb_deliver(&w, pd), ERROR_DECRYPT);
	concordat__delivery__free_unpacked(pd, NULL);
	{
		struct envelope_opened *o;
		assert_int_equal(tu_open(w.da, w.dalen, &w.soc, &w.pol, &o),
		    ERROR_NOT_RECIPIENT);
	}

	/* 9. Its only X25519 secret (the CURVE transport key) unwraps no
	 * field key. */
	{
		uint8_t s[32], key[32], ad[128];
		unsigned long long klen;
		const struct wire_wrap *wr = &w.fa->u.submit.grants[0].wraps[1];
		assert_int_equal(
		    envelope_shared_key(w.pol.box_pk, w.b.sk->transport_sk, s),
		    0);
		size_t adlen = tu_ad(ad, w.a.msg_id, 1, "ambulance");
		assert_int_not_equal(
		    crypto_aead_xchacha20poly1305_ietf_decrypt(key, &klen, NULL,
		        wr->key, WIRE_WRAPPED_LEN, ad, adlen, wr->nonce, s),
		    0);
	}
	cb_release(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_all_fields),
	    cmocka_unit_test(test_roundtrip_no_field),
	    cmocka_unit_test(test_roundtrip_single_fields),
	    cmocka_unit_test(test_roundtrip_random_subsets),
	    cmocka_unit_test(test_roundtrip_grants_bound_disclosure),
	    cmocka_unit_test(test_roundtrip_plaintext_sizes),
	    cmocka_unit_test(test_roundtrip_largest_message),
	    cmocka_unit_test(test_roundtrip_request_emergency_reply),
	    cmocka_unit_test(test_seal_refuses_what_decode_refuses),
	    cmocka_unit_test(test_flip_manifest),
	    cmocka_unit_test(test_flip_signature),
	    cmocka_unit_test(test_flip_ciphertext_at_broker),
	    cmocka_unit_test(test_flip_ciphertext_at_recipient),
	    cmocka_unit_test(test_flip_wrap_at_recipient),
	    cmocka_unit_test(test_flip_wrap_in_submission),
	    cmocka_unit_test(test_move_ciphertext_between_fields),
	    cmocka_unit_test(test_move_ciphertext_in_delivery),
	    cmocka_unit_test(test_move_ciphertext_from_other_message),
	    cmocka_unit_test(test_field_bound_by_associated_data),
	    cmocka_unit_test(test_message_bound_by_associated_data),
	    cmocka_unit_test(test_bad_padding_refused),
	    cmocka_unit_test(test_not_recipient),
	    cmocka_unit_test(test_grant_for_unlisted_recipient),
	    cmocka_unit_test(test_every_prefix_fails),
	    cmocka_unit_test(test_unknown_fields_submit),
	    cmocka_unit_test(test_unknown_fields_delivery),
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_field_limit_both_sides),
	    cmocka_unit_test(test_signed_by_another_agency),
	    cmocka_unit_test(test_spec_constructions),
	    cmocka_unit_test(test_compromised_broker),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
