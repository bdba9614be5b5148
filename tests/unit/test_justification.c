/*
 * Unit tests of the sealed emergency justification (proto/justification.c):
 * seal and open round trips, the text in no byte of the Submit or the
 * Delivery, the broker forwarding it whatever the policy withholds; a
 * digest mismatch, associated data of another message or recipient, an
 * empty text and one over the limit; and every malformed combination of
 * urgency, reason, digest, sealed text and wraps refused by the decoder
 * (the broker's "malformed"). The construction is rebuilt here with
 * libsodium alone, as a second implementation would from DESIGN.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/urgency.h"
#include "common/wipe.h"
#include "proto/envelope.h"
#include "proto/justification.h"
#include "proto/wire.h"
#include "tests/unit/testutil.h"

#define TEXT                                                                   \
	"Type 1 diabetic, no insulin since yesterday: A&E, not a cell. "       \
	"JUSTIFICATION-CANARY-7f3a"

static struct tu_agency police, ambulance, mht;
static const struct tu_agency *two[2] = {&ambulance, &mht};

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	tu_seed(20261202);
	tu_agency_init(&police, "police", 0);
	tu_agency_init(&ambulance, "ambulance", 0);
	tu_agency_init(&mht, "mental_health_trust", 0);
	return 0;
}

/* ------------------------------------------------------------ helpers */

/* An emergency from police to ambulance and the trust, sealed. */
static void
emergency(struct tu_msg *m, const char *text)
{
	tu_msg_init(m, &police, two, 2, NULL);
	m->urgency = URGENCY_EMERGENCY;
	m->reason = EMERGENCY_REASON_RISK_TO_LIFE;
	m->justification = text;
	assert_int_equal(tu_seal(m), 0);
}

static int
decode_rc(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	struct wire_frame *f = NULL;
	int rc = wire_decode(buf, len, &f, why, whylen);

	wire_frame_free(f);
	return rc;
}

static struct wire_frame *
check_ok(const uint8_t *frame, size_t len)
{
	struct wire_frame *f = NULL;
	char why[256] = "";
	int rc =
	    envelope_check(frame, len, police.sign_pk, &f, why, sizeof(why));

	if (rc != 0)
		fail_msg("envelope_check: %s (%s)", error_strerror(rc), why);
	return f;
}

static int
check_rc(const uint8_t *frame, size_t len)
{
	struct wire_frame *f = NULL;
	int rc = envelope_check(frame, len, police.sign_pk, &f, NULL, 0);

	wire_frame_free(f);
	return rc;
}

/* The Delivery message bytes of m for r with the fields allowed. */
static uint8_t *
redact(const struct tu_msg *m, const struct tu_agency *r, fieldset allowed,
    size_t *dlen)
{
	struct wire_frame *f = check_ok(m->frame, m->len);
	fieldset sent;
	uint8_t *d = NULL;

	assert_int_equal(
	    envelope_redact(&f->u.submit, r->id, allowed, &sent, &d, dlen), 0);
	wire_frame_free(f);
	return d;
}

/* memmem, counted: how often needle occurs in hay. */
static size_t
occurrences(const uint8_t *hay, size_t hlen, const char *needle)
{
	size_t n = 0, nlen = strlen(needle);

	for (size_t i = 0; i + nlen <= hlen; i++)
		n += memcmp(hay + i, needle, nlen) == 0;
	return n;
}

/* The shared wrapping key as the recipient r computes it. */
static void
shared_of(const struct tu_agency *r, uint8_t out[32])
{
	assert_int_equal(envelope_shared_key(police.box_pk, r->box_sk, out), 0);
}

/* --------------------------------------------------- round trips, P1 */

static void
test_seal_open(void **state)
{
	struct tu_msg m;
	struct envelope_opened *o = NULL;
	struct wire_frame *f;
	uint8_t *d;
	size_t dlen;

	(void)state;
	emergency(&m, TEXT);
	/* The text is nowhere in the frame the broker receives. */
	assert_int_equal(occurrences(m.frame, m.len, "CANARY"), 0);
	f = check_ok(m.frame, m.len);
	assert_int_equal(f->u.submit.m.version, 2);
	assert_int_equal(f->u.submit.m.reason, EMERGENCY_REASON_RISK_TO_LIFE);
	assert_true(f->u.submit.m.has_justification_digest);
	assert_true(f->u.submit.justification.present);
	/* 87 bytes pad to one block, and the tag. */
	assert_int_equal(f->u.submit.justification.ct_len, WIRE_PAD_BLOCK + 16);
	for (size_t i = 0; i < f->u.submit.n_grants; i++)
		assert_true(f->u.submit.grants[i].justification.present);
	wire_frame_free(f);

	/* Every recipient gets it, whatever the policy withholds. */
	for (size_t r = 0; r < 2; r++) {
		d = redact(&m, two[r], FIELDS_BIT(FIELD_RISKS), &dlen);
		assert_int_equal(occurrences(d, dlen, "CANARY"), 0);
		assert_int_equal(tu_open(d, dlen, two[r], &police, &o), 0);
		assert_int_equal(o->disclosed, FIELDS_BIT(FIELD_RISKS));
		assert_non_null(o->justification);
		assert_int_equal(o->justification_len, strlen(TEXT));
		assert_string_equal(o->justification, TEXT);
		envelope_opened_free(o);
		/* One recipient's delivery does not open as the other's. */
		assert_int_equal(
		    tu_open(d, dlen, two[1 - r], &police, &o), ERROR_DECRYPT);
		free(d);
	}
	tu_msg_release(&m);
}

/* A message that is not an emergency carries none of it. */
static void
test_not_emergency(void **state)
{
	struct tu_msg m;
	struct envelope_opened *o = NULL;
	struct wire_frame *f;
	uint8_t *d;
	size_t dlen;

	(void)state;
	tu_msg_init(&m, &police, two, 2, NULL);
	assert_int_equal(tu_seal(&m), 0);
	f = check_ok(m.frame, m.len);
	assert_int_equal(f->u.submit.m.reason, 0);
	assert_false(f->u.submit.m.has_justification_digest);
	assert_false(f->u.submit.justification.present);
	wire_frame_free(f);
	d = redact(&m, &mht, FIELDS_ALL, &dlen);
	assert_int_equal(tu_open(d, dlen, &mht, &police, &o), 0);
	assert_null(o->justification);
	envelope_opened_free(o);
	free(d);
	tu_msg_release(&m);
}

/* An empty justification seals (one block) and opens empty: the
 * recipient's to alert on. A NULL one is the same. */
static void
test_empty(void **state)
{
	struct tu_msg m;
	struct envelope_opened *o = NULL;
	uint8_t *d;
	size_t dlen;

	(void)state;
	for (int k = 0; k < 2; k++) {
		emergency(&m, k == 0 ? "" : NULL);
		d = redact(&m, &mht, FIELDS_ALL, &dlen);
		assert_int_equal(tu_open(d, dlen, &mht, &police, &o), 0);
		assert_non_null(o->justification);
		assert_int_equal(o->justification_len, 0);
		assert_string_equal(o->justification, "");
		envelope_opened_free(o);
		free(d);
		tu_msg_release(&m);
	}
}

/* 2,048 bytes seal and open; 2,049 are refused by the sender. */
static void
test_too_long(void **state)
{
	static char text[WIRE_JUSTIFICATION_MAX + 2];
	struct tu_msg m;
	struct envelope_opened *o = NULL;
	uint8_t *d;
	size_t dlen;

	(void)state;
	memset(text, 'j', WIRE_JUSTIFICATION_MAX + 1);
	tu_msg_init(&m, &police, two, 2, NULL);
	m.urgency = URGENCY_EMERGENCY;
	m.reason = EMERGENCY_REASON_SAFEGUARDING_CHILD;
	m.justification = text;
	assert_int_equal(tu_seal(&m), ERROR_TOOBIG);
	assert_null(m.frame);
	tu_msg_release(&m);

	text[WIRE_JUSTIFICATION_MAX] = '\0';
	emergency(&m, text);
	d = redact(&m, &ambulance, FIELDS_ALL, &dlen);
	assert_int_equal(tu_open(d, dlen, &ambulance, &police, &o), 0);
	assert_int_equal(o->justification_len, WIRE_JUSTIFICATION_MAX);
	assert_string_equal(o->justification, text);
	envelope_opened_free(o);
	free(d);
	tu_msg_release(&m);
}

/*
 * The largest message: 16 recipients, 13 fields at the 64 KiB limit and
 * the longest justification, so grants of 14 wraps: sealed, decoded and
 * checked whole.
 */
static void
test_largest(void **state)
{
	static char text[WIRE_JUSTIFICATION_MAX + 1];
	static struct tu_agency many[WIRE_MAX_RECIPIENTS];
	const struct tu_agency *to[WIRE_MAX_RECIPIENTS];
	size_t lens[FIELDS_COUNT + 1];
	struct tu_msg m;
	struct wire_frame *f;

	(void)state;
	memset(text, 'x', WIRE_JUSTIFICATION_MAX);
	for (size_t i = 0; i < WIRE_MAX_RECIPIENTS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "agency_%zu", i);
		tu_agency_init(&many[i], id, (uint8_t)(i + 1));
		to[i] = &many[i];
	}
	for (int i = 1; i <= FIELDS_COUNT; i++)
		lens[i] = WIRE_FIELD_MAX;
	tu_msg_init(&m, &police, to, WIRE_MAX_RECIPIENTS, lens);
	m.urgency = URGENCY_EMERGENCY;
	m.reason = EMERGENCY_REASON_SAFEGUARDING_ADULT;
	m.justification = text;
	assert_int_equal(tu_seal(&m), 0);
	assert_true(m.len <= WIRE_MAX_FRAME);
	f = check_ok(m.frame, m.len);
	assert_int_equal(
	    f->u.submit.justification.ct_len, WIRE_JUSTIFICATION_SEALED_MAX);
	assert_int_equal(f->u.submit.n_grants, WIRE_MAX_RECIPIENTS);
	wire_frame_free(f);
	tu_msg_release(&m);
}

/* ------------------------------------------------ tampering, wrong AD */

/* One bit of the sealed text: the broker and the recipient see the
 * digest fail. */
static void
test_digest_mismatch(void **state)
{
	struct tu_msg m;
	struct wire_frame *f, *df = NULL;
	struct envelope_opened *o = NULL;
	uint8_t *d, *c;
	size_t dlen, off;

	(void)state;
	emergency(&m, TEXT);
	f = check_ok(m.frame, m.len);
	off = tu_find(m.frame, m.len, f->u.submit.justification.ct,
	    f->u.submit.justification.ct_len);
	c = malloc(m.len);
	assert_non_null(c);
	memcpy(c, m.frame, m.len);
	c[off + 7] ^= 0x10;
	assert_int_equal(check_rc(c, m.len), ERROR_DIGEST);
	assert_int_equal(
	    wire_reason_from_error(ERROR_DIGEST), WIRE_REASON_DIGEST_MISMATCH);
	free(c);

	d = redact(&m, &mht, FIELDS_ALL, &dlen);
	off = tu_find(d, dlen, f->u.submit.justification.ct,
	    f->u.submit.justification.ct_len);
	d[off + 100] ^= 0x01;
	assert_int_equal(tu_delivery_decode(d, dlen, &df), 0);
	wire_frame_free(df);
	assert_int_equal(tu_open(d, dlen, &mht, &police, &o), ERROR_DIGEST);
	assert_null(o);
	free(d);
	wire_frame_free(f);
	tu_msg_release(&m);
}

/*
 * Seals len bytes of text with libsodium directly under the associated data
 * "concordat/justification/v1" || ad_msg_id, into the delivery d in place
 * of its sealed text, with the digest set to match and the key wrapped
 * for recipient under shared with wrap_msg_id. What a broker, or a sender
 * that is wrong, could make.
 */
static void
reseal(struct wire_delivery *d, const uint8_t ad_msg_id[16],
    const uint8_t wrap_msg_id[16], const char *recipient,
    const uint8_t shared[32], const char *text, size_t len, uint8_t *ct)
{
	uint8_t key[32], ad[64], padded[WIRE_JUSTIFICATION_MAX + 256];
	size_t plen, adlen = strlen(JUSTIFICATION_AD);
	unsigned long long clen;

	memcpy(padded, text, len);
	assert_int_equal(
	    sodium_pad(&plen, padded, len, 256, sizeof(padded)), 0);
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	memcpy(ad, JUSTIFICATION_AD, adlen);
	memcpy(ad + adlen, ad_msg_id, 16);
	randombytes_buf(d->justification.nonce, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, padded, plen, ad,
	    adlen + 16, NULL, d->justification.nonce, key);
	d->justification.ct = ct;
	d->justification.ct_len = (size_t)clen;
	/* The digest, as DESIGN.md gives it: BLAKE2b-256(nonce || ct). */
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, d->justification.nonce, 24);
	crypto_generichash_update(&st, ct, (size_t)clen);
	crypto_generichash_final(&st, d->m.justification_digest, 32);
	/* The wrap: "concordat/wrap/v1" || msg_id || 0x0E || recipient. */
	adlen = tu_ad(ad, wrap_msg_id, 14, recipient);
	randombytes_buf(d->justification_wrap.nonce, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(d->justification_wrap.key,
	    NULL, key, 32, ad, adlen, NULL, d->justification_wrap.nonce,
	    shared);
	sodium_memzero(key, sizeof(key));
}

static void
test_wrong_ad(void **state)
{
	static uint8_t ct[WIRE_JUSTIFICATION_SEALED_MAX];
	struct tu_msg m, other;
	struct wire_frame *df = NULL;
	struct wire_delivery *d;
	uint8_t shared[32], *db;
	size_t dlen, len;
	char *text = NULL;
	static char big[WIRE_JUSTIFICATION_MAX + 200];

	(void)state;
	emergency(&m, TEXT);
	emergency(&other, TEXT);
	db = redact(&m, &mht, FIELDS_ALL, &dlen);
	assert_int_equal(tu_delivery_decode(db, dlen, &df), 0);
	d = &df->u.delivery;
	shared_of(&mht, shared);

	/* Rebuilt from the documented construction: it opens. */
	reseal(d, d->m.msg_id, d->m.msg_id, "mental_health_trust", shared,
	    "rebuilt", 7, ct);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    0);
	assert_string_equal(text, "rebuilt");
	wipe_free(text);
	text = NULL;
	/* Sealed for another message. */
	reseal(d, other.msg_id, d->m.msg_id, "mental_health_trust", shared,
	    "rebuilt", 7, ct);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_DECRYPT);
	/* Its key wrapped for another message, or another recipient. */
	reseal(d, d->m.msg_id, other.msg_id, "mental_health_trust", shared,
	    "rebuilt", 7, ct);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_DECRYPT);
	reseal(
	    d, d->m.msg_id, d->m.msg_id, "ambulance", shared, "rebuilt", 7, ct);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_DECRYPT);
	/* More than 2,048 bytes that seal to the largest size: too long at
	 * the recipient too. */
	memset(big, 'b', WIRE_JUSTIFICATION_MAX + 100);
	reseal(d, d->m.msg_id, d->m.msg_id, "mental_health_trust", shared, big,
	    WIRE_JUSTIFICATION_MAX + 100, ct);
	assert_int_equal(
	    d->justification.ct_len, WIRE_JUSTIFICATION_SEALED_MAX);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_TOOBIG);
	/* A NUL inside is not text. */
	reseal(d, d->m.msg_id, d->m.msg_id, "mental_health_trust", shared,
	    "a\0b", 3, ct);
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_DECODE);
	assert_null(text);
	/* None delivered: ERROR_NOENT, which envelope_open passes over. */
	d->justification.present = false;
	assert_int_equal(
	    justification_open(d, "mental_health_trust", shared, &text, &len),
	    ERROR_NOENT);
	sodium_memzero(shared, sizeof(shared));
	wire_frame_free(df);
	free(db);
	tu_msg_release(&m);
	tu_msg_release(&other);
}

/* ------------------------------------------- malformed combinations */

/*
 * The Submit of m with its manifest changed by edit (and re-signed), or
 * its envelope by eedit: the decoder's code, and the broker's reason.
 */
struct edit {
	const char *what;
	int urgency;     /* 0: unchanged */
	int drop_reason; /* 1: no reason */
	int set_reason;  /* a reason value to set, 0: unchanged */
	int drop_digest;
	int add_digest;
	int drop_sealed;   /* Envelope.justification */
	int add_sealed;    /* from an emergency onto this message */
	int drop_wrap;     /* grant 0's wrap of field 14 */
	int sealed_field;  /* Sealed.field of the justification */
	size_t sealed_len; /* its ciphertext's length, 0: unchanged */
	int want;
};

static int
edited_rc(const struct tu_msg *m, const struct tu_msg *em, const struct edit *e,
    char *why, size_t whylen)
{
	Concordat__Frame *pf = tu_frame_unpack(m->frame, m->len);
	Concordat__Frame *ef = tu_frame_unpack(em->frame, em->len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm =
	    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	static uint8_t zeros[WIRE_JUSTIFICATION_SEALED_MAX + 512];
	uint8_t *mb, *buf;
	size_t mlen, len;
	int rc;

	if (e->urgency != 0)
		pm->urgency = (Concordat__Urgency)e->urgency;
	if (e->drop_reason)
		pm->has_reason = 0;
	if (e->set_reason != 0) {
		pm->has_reason = 1;
		pm->reason = (Concordat__EmergencyReason)e->set_reason;
	}
	if (e->drop_digest)
		pm->has_justification_digest = 0;
	if (e->add_digest) {
		pm->has_justification_digest = 1;
		tu_set_bytes(&pm->justification_digest, zeros, 32);
	}
	mb = tu_pack(&pm->base, &mlen);
	tu_resign(pf, mb, mlen, police.sign_sk);
	free(mb);
	if (e->drop_sealed) {
		concordat__sealed__free_unpacked(pe->justification, NULL);
		pe->justification = NULL;
	}
	if (e->add_sealed) {
		pe->justification = ef->submit->envelope->justification;
		ef->submit->envelope->justification = NULL;
	}
	if (e->drop_wrap) {
		Concordat__Grant *g = pe->grants[0];
		concordat__wrap__free_unpacked(g->wraps[g->n_wraps - 1], NULL);
		g->n_wraps--;
	}
	if (e->sealed_field != 0)
		pe->justification->field = (uint32_t)e->sealed_field;
	if (e->sealed_len != 0)
		tu_set_bytes(
		    &pe->justification->ciphertext, zeros, e->sealed_len);
	buf = tu_pack(&pf->base, &len);
	rc = decode_rc(buf, len, why, whylen);
	if (rc == 0) {
		/* What the decoder lets through, the broker checks whole. */
		struct wire_frame *f = NULL;
		rc = envelope_check(buf, len, police.sign_pk, &f, why, whylen);
		wire_frame_free(f);
	}
	free(buf);
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	concordat__frame__free_unpacked(ef, NULL);
	return rc;
}

static void
test_malformed(void **state)
{
	static const struct edit edits[] = {
	    {"emergency, reason dropped", .drop_reason = 1,
	        .want = ERROR_EMERGENCY},
	    {"emergency, unknown reason", .set_reason = 5,
	        .want = ERROR_DECODE},
	    {"emergency, digest dropped", .drop_digest = 1,
	        .want = ERROR_EMERGENCY},
	    {"emergency, sealed text dropped", .drop_sealed = 1,
	        .want = ERROR_EMERGENCY},
	    {"emergency, a grant without its wrap", .drop_wrap = 1,
	        .want = ERROR_GRANT},
	    {"emergency, sealed text as field 13", .sealed_field = 13,
	        .want = ERROR_DECODE},
	    {"emergency, sealed text of an impossible length",
	        .sealed_len = WIRE_PAD_BLOCK + 17, .want = ERROR_DECODE},
	    {"emergency, sealed text over the limit",
	        .sealed_len = WIRE_JUSTIFICATION_SEALED_MAX + WIRE_PAD_BLOCK,
	        .want = ERROR_TOOBIG},
	    {"emergency, the digest of other bytes", .drop_digest = 0,
	        .add_digest = 1, .want = ERROR_DIGEST},
	    {"urgent, reason and digest kept", .urgency = URGENCY_URGENT,
	        .want = ERROR_EMERGENCY},
	};
	static const struct edit plain_edits[] = {
	    {"urgent with a reason", .set_reason = 1, .want = ERROR_EMERGENCY},
	    {"urgent with a digest", .add_digest = 1, .want = ERROR_EMERGENCY},
	    {"urgent with a sealed text", .add_sealed = 1,
	        .want = ERROR_EMERGENCY},
	    {"emergency without any of it", .urgency = URGENCY_EMERGENCY,
	        .want = ERROR_EMERGENCY},
	    {"unchanged", .want = 0},
	};
	struct tu_msg em, um;
	char why[256];

	(void)state;
	emergency(&em, TEXT);
	tu_msg_init(&um, &police, two, 2, NULL);
	assert_int_equal(tu_seal(&um), 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		why[0] = '\0';
		int rc = edited_rc(&em, &em, &edits[i], why, sizeof(why));
		if (rc != edits[i].want)
			fail_msg("%s: got %s (%s)", edits[i].what,
			    error_strerror(rc), why);
		assert_string_not_equal(why, "");
	}
	for (size_t i = 0; i < sizeof(plain_edits) / sizeof(plain_edits[0]);
	     i++) {
		why[0] = '\0';
		int rc = edited_rc(&um, &em, &plain_edits[i], why, sizeof(why));
		if (rc != plain_edits[i].want)
			fail_msg("%s: got %s (%s)", plain_edits[i].what,
			    error_strerror(rc), why);
	}
	/* The broker answers each with its reason. */
	assert_int_equal(
	    wire_reason_from_error(ERROR_EMERGENCY), WIRE_REASON_MALFORMED);
	/* And says which: the missing reason names the list. */
	struct edit e = {"", .drop_reason = 1};
	assert_int_equal(
	    edited_rc(&em, &em, &e, why, sizeof(why)), ERROR_EMERGENCY);
	assert_string_equal(why,
	    "an emergency message must carry a reason (one of "
	    "risk_to_life, serious_harm, safeguarding_child, "
	    "safeguarding_adult)");
	tu_msg_release(&em);
	tu_msg_release(&um);
}

/* A delivery: the sealed text without its wrap, or on a message that is
 * not an emergency, does not decode; neither, on an emergency, does (the
 * recipient alerts). */
static void
test_delivery_malformed(void **state)
{
	struct tu_msg em, um;
	struct wire_frame *f = NULL;
	Concordat__Delivery *pd, *ed;
	uint8_t *d, *e, *c;
	size_t dlen, elen, clen;

	(void)state;
	emergency(&em, TEXT);
	tu_msg_init(&um, &police, two, 2, NULL);
	assert_int_equal(tu_seal(&um), 0);
	e = redact(&em, &mht, FIELDS_ALL, &elen);

	/* The wrap dropped, the sealed text kept. */
	ed = tu_delivery_unpack(e, elen);
	concordat__wrap__free_unpacked(ed->wraps[ed->n_wraps - 1], NULL);
	ed->n_wraps--;
	c = tu_pack(&ed->base, &clen);
	assert_int_equal(tu_delivery_decode(c, clen, &f), ERROR_DECODE);
	free(c);
	/* Both dropped: decodes, opens with no justification. */
	concordat__sealed__free_unpacked(ed->justification, NULL);
	ed->justification = NULL;
	c = tu_pack(&ed->base, &clen);
	assert_int_equal(tu_delivery_decode(c, clen, &f), 0);
	wire_frame_free(f);
	{
		struct envelope_opened *o = NULL;
		assert_int_equal(tu_open(c, clen, &mht, &police, &o), 0);
		assert_null(o->justification);
		envelope_opened_free(o);
	}
	free(c);
	concordat__delivery__free_unpacked(ed, NULL);

	/* An emergency's sealed text grafted onto a routine delivery. */
	d = redact(&um, &mht, FIELDS_ALL, &dlen);
	pd = tu_delivery_unpack(d, dlen);
	ed = tu_delivery_unpack(e, elen);
	pd->justification = ed->justification;
	ed->justification = NULL;
	c = tu_pack(&pd->base, &clen);
	assert_int_equal(tu_delivery_decode(c, clen, &f), ERROR_EMERGENCY);
	free(c);
	concordat__delivery__free_unpacked(pd, NULL);
	concordat__delivery__free_unpacked(ed, NULL);
	free(d);
	free(e);
	tu_msg_release(&em);
	tu_msg_release(&um);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_open),
	    cmocka_unit_test(test_not_emergency),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_largest),
	    cmocka_unit_test(test_digest_mismatch),
	    cmocka_unit_test(test_wrong_ad),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_delivery_malformed),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
