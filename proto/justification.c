/*
 * The sealed emergency justification (proto/justification.h): sealing,
 * wrapping and opening, and its members of the protobuf messages.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/urgency.h"
#include "common/wipe.h"
#include "proto/justification.h"
#include "proto/justification_pb.h"

#define WRAP_AD "concordat/wrap/v1"
#define AD_MAX  (sizeof(WRAP_AD) + WIRE_MSG_ID_LEN + 1 + IDENT_AGENCY_MAX)

#define WHY(...) pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

_Static_assert(WIRE_JUSTIFICATION_SEALED_MAX ==
        WIRE_JUSTIFICATION_MAX + WIRE_PAD_BLOCK +
            crypto_aead_xchacha20poly1305_ietf_ABYTES,
    "sealed justification size");
_Static_assert(
    (int)CONCORDAT__EMERGENCY_REASON__EMERGENCY_REASON_SAFEGUARDING_ADULT ==
        EMERGENCY_REASON_SAFEGUARDING_ADULT,
    "emergency reason");

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

/* "concordat/justification/v1" || msg_id */
static size_t
sealed_ad(uint8_t *ad, const uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	size_t n = sizeof(JUSTIFICATION_AD) - 1;

	memcpy(ad, JUSTIFICATION_AD, n);
	memcpy(ad + n, msg_id, WIRE_MSG_ID_LEN);
	return n + WIRE_MSG_ID_LEN;
}

/* "concordat/wrap/v1" || msg_id || 0x0E || recipient */
static size_t
wrap_ad(
    uint8_t *ad, const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *recipient)
{
	size_t n = sizeof(WRAP_AD) - 1, r = strlen(recipient);

	memcpy(ad, WRAP_AD, n);
	memcpy(ad + n, msg_id, WIRE_MSG_ID_LEN);
	n += WIRE_MSG_ID_LEN;
	ad[n++] = WIRE_JUSTIFICATION_FIELD;
	memcpy(ad + n, recipient, r);
	return n + r;
}

void
justification_digest(uint8_t out[WIRE_DIGEST_LEN],
    const uint8_t nonce[WIRE_NONCE_LEN], const uint8_t *ct, size_t ct_len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, WIRE_DIGEST_LEN);
	crypto_generichash_update(&st, nonce, WIRE_NONCE_LEN);
	crypto_generichash_update(&st, ct, ct_len);
	crypto_generichash_final(&st, out, WIRE_DIGEST_LEN);
}

int
justification_seal(const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *text,
    size_t len, struct justification_sealed *out)
{
	uint8_t ad[sizeof(JUSTIFICATION_AD) + WIRE_MSG_ID_LEN];
	unsigned long long clen;
	size_t padded_len, adlen;

	if (len > WIRE_JUSTIFICATION_MAX)
		return ERROR_TOOBIG;
	if (len > 0)
		memcpy(out->padded, text, len);
	if (sodium_pad(&padded_len, out->padded, len, WIRE_PAD_BLOCK,
	        sizeof(out->padded)) != 0)
		return ERROR_TOOBIG;
	crypto_aead_xchacha20poly1305_ietf_keygen(out->key);
	randombytes_buf(out->nonce, WIRE_NONCE_LEN);
	adlen = sealed_ad(ad, msg_id);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->ct, &clen, out->padded,
	    padded_len, ad, adlen, NULL, out->nonce, out->key);
	sodium_memzero(out->padded, sizeof(out->padded));
	out->ct_len = (size_t)clen;
	justification_digest(out->digest, out->nonce, out->ct, out->ct_len);
	return ERROR_OK;
}

int
justification_wrap(const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *recipient,
    const uint8_t key[WIRE_KEY_LEN], const uint8_t shared[32],
    struct wire_wrap *out)
{
	uint8_t ad[AD_MAX];
	size_t adlen;

	if (!ident_agency_valid(recipient))
		return ERROR_INVAL;
	adlen = wrap_ad(ad, msg_id, recipient);
	randombytes_buf(out->nonce, WIRE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->key, NULL, key,
	    WIRE_KEY_LEN, ad, adlen, NULL, out->nonce, shared);
	out->present = true;
	return ERROR_OK;
}

int
justification_verify(const struct wire_envelope *e, char *why, size_t whylen)
{
	uint8_t d[WIRE_DIGEST_LEN];

	if (e->m.urgency != URGENCY_EMERGENCY)
		return ERROR_OK;
	justification_digest(d, e->justification.nonce, e->justification.ct,
	    e->justification.ct_len);
	if (sodium_memcmp(d, e->m.justification_digest, WIRE_DIGEST_LEN) != 0)
		return pbutil_why(why, whylen, ERROR_DIGEST,
		    "sealed justification does not match its digest");
	for (size_t i = 0; i < e->n_grants; i++)
		if (!e->grants[i].justification.present)
			return pbutil_why(why, whylen, ERROR_GRANT,
			    "grant for '%s' has no wrap of the justification",
			    e->grants[i].recipient);
	return ERROR_OK;
}

int
justification_open(const struct wire_delivery *d, const char *self,
    const uint8_t shared[32], char **text, size_t *len)
{
	const struct wire_sealed *s = &d->justification;
	uint8_t ad[AD_MAX], dg[WIRE_DIGEST_LEN], key[WIRE_KEY_LEN];
	unsigned long long klen, plen;
	size_t adlen, unpadded;
	char *plain = NULL;
	int rc = ERROR_DECRYPT;

	*text = NULL;
	*len = 0;
	if (!s->present || !d->justification_wrap.present ||
	    !d->m.has_justification_digest)
		return ERROR_NOENT;
	justification_digest(dg, s->nonce, s->ct, s->ct_len);
	if (sodium_memcmp(dg, d->m.justification_digest, WIRE_DIGEST_LEN) != 0)
		return ERROR_DIGEST;
	plain = malloc(s->ct_len + 1);
	if (plain == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	adlen = wrap_ad(ad, d->m.msg_id, self);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &klen, NULL,
	        d->justification_wrap.key, WIRE_WRAPPED_LEN, ad, adlen,
	        d->justification_wrap.nonce, shared) != 0 ||
	    klen != WIRE_KEY_LEN)
		goto out;
	adlen = sealed_ad(ad, d->m.msg_id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)plain, &plen,
	        NULL, s->ct, s->ct_len, ad, adlen, s->nonce, key) != 0)
		goto out;
	if (sodium_unpad(
	        &unpadded, (uint8_t *)plain, (size_t)plen, WIRE_PAD_BLOCK) != 0)
		goto out;
	/* Up to a block more seals to the same size. */
	if (unpadded > WIRE_JUSTIFICATION_MAX) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	if (memchr(plain, '\0', unpadded) != NULL) {
		rc = ERROR_DECODE;
		goto out;
	}
	plain[unpadded] = '\0';
	*text = plain;
	*len = unpadded;
	plain = NULL;
	rc = ERROR_OK;
out:
	sodium_memzero(key, sizeof(key));
	wipe_free(plain);
	return rc;
}

/* ------------------------------------------------------ protobuf members */

int
justification_check_args(int urgency, int reason, const char *justification)
{
	bool text = justification != NULL && justification[0] != '\0';

	if (urgency == URGENCY_EMERGENCY) {
		if (emergency_reason_name(reason)[0] == '?')
			return ERROR_EMERGENCY;
	} else if (reason != 0 || text) {
		return ERROR_EMERGENCY;
	}
	if (text && strlen(justification) > WIRE_JUSTIFICATION_MAX)
		return ERROR_TOOBIG;
	return ERROR_OK;
}

int
justification_decode_manifest(const Concordat__Manifest *pm,
    struct wire_manifest *m, char *why, size_t whylen)
{
	if (pm->has_reason && emergency_reason_name((int)pm->reason)[0] == '?')
		return WHY("emergency reason %d unknown", (int)pm->reason);
	if (m->urgency != URGENCY_EMERGENCY) {
		if (pm->has_reason || pm->has_justification_digest)
			return pbutil_why(why, whylen, ERROR_EMERGENCY,
			    "a reason or a justification on a message that is "
			    "not an emergency");
		return ERROR_OK;
	}
	if (!pm->has_reason)
		return pbutil_why(why, whylen, ERROR_EMERGENCY,
		    "an emergency message must carry a reason (one of %s)",
		    EMERGENCY_REASON_LIST);
	if (!pm->has_justification_digest)
		return pbutil_why(why, whylen, ERROR_EMERGENCY,
		    "an emergency message must carry the digest of its sealed "
		    "justification");
	if (pbutil_bytes(m->justification_digest, WIRE_DIGEST_LEN,
	        pm->justification_digest) != 0)
		return WHY(
		    "justification digest is not %d bytes", WIRE_DIGEST_LEN);
	m->reason = (int)pm->reason;
	m->has_justification_digest = true;
	return ERROR_OK;
}

bool
justification_is_wrap(const Concordat__Wrap *pw)
{
	return pw->has_field && pw->field == WIRE_JUSTIFICATION_FIELD;
}

int
justification_decode_wrap(
    const Concordat__Wrap *pw, struct wire_wrap *w, char *why, size_t whylen)
{
	if (w->present)
		return WHY("two wraps of the justification");
	if (!pw->has_nonce ||
	    pbutil_bytes(w->nonce, WIRE_NONCE_LEN, pw->nonce) != 0 ||
	    !pw->has_wrapped_key ||
	    pbutil_bytes(w->key, WIRE_WRAPPED_LEN, pw->wrapped_key) != 0)
		return WHY("wrap of the justification has a bad nonce or key "
		           "length");
	w->present = true;
	return ERROR_OK;
}

/* A Sealed justification (ps not NULL) into *s. */
static int
decode_sealed(const Concordat__Sealed *ps, struct wire_sealed *s, char *why,
    size_t whylen)
{
	size_t n = ps->ciphertext.len;

	if (!ps->has_field || ps->field != WIRE_JUSTIFICATION_FIELD)
		return WHY("sealed justification is not field %d",
		    WIRE_JUSTIFICATION_FIELD);
	if (!ps->has_nonce ||
	    pbutil_bytes(s->nonce, WIRE_NONCE_LEN, ps->nonce) != 0)
		return WHY("nonce of the justification is not %d bytes",
		    WIRE_NONCE_LEN);
	if (ps->has_ciphertext && n > WIRE_JUSTIFICATION_SEALED_MAX)
		return pbutil_why(why, whylen, ERROR_TOOBIG,
		    "sealed justification of %zu bytes is over the %d-byte "
		    "limit",
		    n, WIRE_JUSTIFICATION_SEALED_MAX);
	if (!ps->has_ciphertext || n < WIRE_PAD_BLOCK + WIRE_TAG_LEN ||
	    (n - WIRE_TAG_LEN) % WIRE_PAD_BLOCK != 0)
		return WHY("sealed justification has an impossible length");
	s->present = true;
	s->ct = ps->ciphertext.data;
	s->ct_len = n;
	return ERROR_OK;
}

int
justification_decode_envelope(const Concordat__Envelope *pe,
    struct wire_envelope *e, char *why, size_t whylen)
{
	if (e->m.urgency != URGENCY_EMERGENCY) {
		if (pe->justification != NULL)
			return pbutil_why(why, whylen, ERROR_EMERGENCY,
			    "a sealed justification on a message that is not "
			    "an emergency");
		for (size_t i = 0; i < e->n_grants; i++)
			if (e->grants[i].justification.present)
				return pbutil_why(why, whylen, ERROR_EMERGENCY,
				    "a wrap of the justification on a message "
				    "that is not an emergency");
		return ERROR_OK;
	}
	if (pe->justification == NULL)
		return pbutil_why(why, whylen, ERROR_EMERGENCY,
		    "an emergency message without its sealed justification");
	return decode_sealed(pe->justification, &e->justification, why, whylen);
}

int
justification_decode_delivery(const Concordat__Delivery *pd,
    struct wire_delivery *d, char *why, size_t whylen)
{
	int rc;

	if (d->m.urgency != URGENCY_EMERGENCY &&
	    (pd->justification != NULL || d->justification_wrap.present))
		return pbutil_why(why, whylen, ERROR_EMERGENCY,
		    "a sealed justification on a message that is not an "
		    "emergency");
	if ((pd->justification != NULL) != d->justification_wrap.present)
		return WHY("sealed justification and its wrap not delivered "
		           "together");
	if (pd->justification == NULL)
		return ERROR_OK;
	if ((rc = decode_sealed(
	         pd->justification, &d->justification, why, whylen)) != 0)
		return rc;
	return ERROR_OK;
}

void
justification_manifest(
    Concordat__Manifest *pm, int reason, const struct justification_sealed *j)
{
	pm->has_reason = 1;
	pm->reason = (Concordat__EmergencyReason)reason;
	pm->has_justification_digest = 1;
	pm->justification_digest = bin(j->digest, WIRE_DIGEST_LEN);
}

void
justification_envelope(Concordat__Envelope *pe, Concordat__Sealed *ps,
    const struct justification_sealed *j)
{
	concordat__sealed__init(ps);
	ps->has_field = 1;
	ps->field = WIRE_JUSTIFICATION_FIELD;
	ps->has_nonce = 1;
	ps->nonce = bin(j->nonce, WIRE_NONCE_LEN);
	ps->has_ciphertext = 1;
	ps->ciphertext = bin(j->ct, j->ct_len);
	pe->justification = ps;
}

static void
describe_wrap(const struct wire_wrap *w, Concordat__Wrap *pw)
{
	concordat__wrap__init(pw);
	pw->has_field = 1;
	pw->field = WIRE_JUSTIFICATION_FIELD;
	pw->has_nonce = 1;
	pw->nonce = bin(w->nonce, WIRE_NONCE_LEN);
	pw->has_wrapped_key = 1;
	pw->wrapped_key = bin(w->key, WIRE_WRAPPED_LEN);
}

int
justification_grant(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, const struct justification_sealed *j,
    const uint8_t shared[32], struct wire_wrap *store, Concordat__Wrap *pw)
{
	int rc = justification_wrap(msg_id, recipient, j->key, shared, store);

	if (rc == 0)
		describe_wrap(store, pw);
	return rc;
}

void
justification_redact(const struct wire_envelope *e, const struct wire_grant *g,
    Concordat__Delivery *pd, Concordat__Sealed *ps, Concordat__Wrap *pw)
{
	/* Not a policy field: every recipient delivered to gets both. */
	if (e->m.urgency != URGENCY_EMERGENCY || !e->justification.present ||
	    !g->justification.present)
		return;
	concordat__sealed__init(ps);
	ps->has_field = 1;
	ps->field = WIRE_JUSTIFICATION_FIELD;
	ps->has_nonce = 1;
	ps->nonce = bin(e->justification.nonce, WIRE_NONCE_LEN);
	ps->has_ciphertext = 1;
	ps->ciphertext = bin(e->justification.ct, e->justification.ct_len);
	pd->justification = ps;
	describe_wrap(&g->justification, pw);
	pd->wraps[pd->n_wraps++] = pw;
}
