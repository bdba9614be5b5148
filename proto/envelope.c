/*
 * Seal (sender), verify and redact (broker), open (recipient): the
 * constructions of DESIGN.md §5, all from libsodium.
 *
 *	field:     XChaCha20-Poly1305 under a random key k, associated data
 *	           "concordat/field/v1" || msg_id || field
 *	digest:    BLAKE2b-256(nonce || ciphertext), listed in the manifest
 *	wrap:      k under crypto_box_beforenm(recipient, sender) with
 *	           XChaCha20-Poly1305, associated data
 *	           "concordat/wrap/v1" || msg_id || field || recipient
 *	signature: Ed25519 over "concordat/manifest/v1" || manifest bytes
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/urgency.h"
#include "common/wipe.h"
#include "proto/envelope.h"
#include "proto/justification_pb.h"
#include "proto/pbutil.h"

#define FIELD_AD "concordat/field/v1"
#define WRAP_AD  "concordat/wrap/v1"
#define SIGN_CTX "concordat/manifest/v1"
#define AD_MAX   (sizeof(WRAP_AD) + WIRE_MSG_ID_LEN + 1 + IDENT_AGENCY_MAX)

/* What wire_decode lets in is what the largest field seals to. */
_Static_assert(WIRE_SEALED_MAX ==
        ENVELOPE_FIELD_MAX + WIRE_PAD_BLOCK +
            crypto_aead_xchacha20poly1305_ietf_ABYTES,
    "sealed size");

/* Associated data for a field (recipient NULL) or a wrap. */
static size_t
make_ad(uint8_t *ad, const uint8_t msg_id[WIRE_MSG_ID_LEN], int field,
    const char *recipient)
{
	const char *ctx = recipient != NULL ? WRAP_AD : FIELD_AD;
	size_t n = strlen(ctx);

	memcpy(ad, ctx, n);
	memcpy(ad + n, msg_id, WIRE_MSG_ID_LEN);
	n += WIRE_MSG_ID_LEN;
	ad[n++] = (uint8_t)field;
	if (recipient != NULL) {
		size_t r = strlen(recipient);
		memcpy(ad + n, recipient, r);
		n += r;
	}
	return n;
}

static void
digest(uint8_t out[WIRE_DIGEST_LEN], const uint8_t nonce[WIRE_NONCE_LEN],
    const uint8_t *ct, size_t ct_len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, WIRE_DIGEST_LEN);
	crypto_generichash_update(&st, nonce, WIRE_NONCE_LEN);
	crypto_generichash_update(&st, ct, ct_len);
	crypto_generichash_final(&st, out, WIRE_DIGEST_LEN);
}

/*
 * SIGN_CTX || manifest in a new malloc'd buffer. Plain Ed25519
 * (crypto_sign_detached) signs one contiguous message; libsodium's
 * multi-part crypto_sign_init/update/final is Ed25519ph, a different
 * signature that DESIGN.md §5 does not specify.
 */
static uint8_t *
signed_message(const uint8_t *manifest, size_t len, size_t *n)
{
	size_t ctx = sizeof(SIGN_CTX) - 1;
	uint8_t *m = malloc(ctx + len);

	if (m == NULL)
		return NULL;
	memcpy(m, SIGN_CTX, ctx);
	if (len > 0)
		memcpy(m + ctx, manifest, len);
	*n = ctx + len;
	return m;
}

static int
verify_manifest(const uint8_t *manifest, size_t len,
    const uint8_t sig[WIRE_SIG_LEN], const uint8_t pk[32])
{
	size_t n;
	uint8_t *m = signed_message(manifest, len, &n);
	int rc;

	if (m == NULL)
		return ERROR_NOMEM;
	/* The exact bytes received, never a re-encoding. */
	rc = crypto_sign_verify_detached(sig, m, n, pk) == 0 ? ERROR_OK
	                                                     : ERROR_SIGNATURE;
	free(m);
	return rc;
}

int
envelope_shared_key(const uint8_t peer_box_pk[32], const uint8_t own_box_sk[32],
    uint8_t out[32])
{
	return crypto_box_beforenm(out, peer_box_pk, own_box_sk) == 0
	    ? ERROR_OK
	    : ERROR_CRYPTO;
}

/* Working memory of envelope_seal, all of it in one guarded allocation. */
struct seal_work {
	uint8_t keys[FIELDS_COUNT + 1][32];
	uint8_t ad[AD_MAX];
	uint8_t padded[ENVELOPE_FIELD_MAX + WIRE_PAD_BLOCK];
	struct justification_sealed j; /* an emergency's */
	struct wire_wrap jwraps[WIRE_MAX_RECIPIENTS];
};

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

static int
check_seal_args(const struct envelope_seal_args *a)
{
	if (a->sender == NULL || !ident_agency_valid(a->sender) ||
	    a->purpose == NULL || !ident_name_valid(a->purpose) ||
	    a->n_recipients == 0 || a->n_recipients > WIRE_MAX_RECIPIENTS ||
	    a->subject_ref == NULL || a->sign_sk == NULL || a->shared == NULL ||
	    a->recipients == NULL)
		return ERROR_INVAL;
	if (a->kind != KIND_RECORD && a->kind != KIND_REQUEST)
		return ERROR_INVAL;
	if (a->urgency < URGENCY_ROUTINE || a->urgency > URGENCY_EMERGENCY)
		return ERROR_INVAL;
	int rc =
	    justification_check_args(a->urgency, a->reason, a->justification);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < a->n_recipients; i++) {
		if (!ident_agency_valid(a->recipients[i]) ||
		    strcmp(a->recipients[i], a->sender) == 0)
			return ERROR_INVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->recipients[i], a->recipients[j]) == 0)
				return ERROR_INVAL;
		if (a->grants != NULL && (a->grants[i] & ~FIELDS_ALL) != 0)
			return ERROR_INVAL;
	}
	/* A grant of nothing is a grant without wraps: that recipient may
	 * see nothing of this message. */
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (a->plain_len[f] > ENVELOPE_FIELD_MAX)
			return ERROR_TOOBIG;
	return ERROR_OK;
}

/* The grants of a Submit: the protobuf descriptions and their bytes. */
struct grant_work {
	Concordat__Grant grants[WIRE_MAX_RECIPIENTS];
	Concordat__Grant *grantsp[WIRE_MAX_RECIPIENTS];
	Concordat__Wrap wraps[WIRE_MAX_RECIPIENTS * (FIELDS_COUNT + 1)];
	Concordat__Wrap *wrapsp[WIRE_MAX_RECIPIENTS * (FIELDS_COUNT + 1)];
	uint8_t wrapped[WIRE_MAX_RECIPIENTS * FIELDS_COUNT][WIRE_WRAPPED_LEN];
	uint8_t wnonces[WIRE_MAX_RECIPIENTS * FIELDS_COUNT][WIRE_NONCE_LEN];
};

/*
 * Grants: each field key a->grants allows wrapped for each recipient, and
 * an emergency's justification key for every one.
 */
static int
wrap_grants(const struct envelope_seal_args *a,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], struct seal_work *w,
    struct grant_work *gw)
{
	size_t nw = 0, nk = 0;

	for (size_t i = 0; i < a->n_recipients; i++) {
		fieldset g = a->grants != NULL ? a->grants[i] : FIELDS_ALL;
		size_t first = nw;
		Concordat__Grant *pg = &gw->grants[i];

		concordat__grant__init(pg);
		pg->recipient = (char *)(uintptr_t)a->recipients[i];
		for (int f = 1; f <= FIELDS_COUNT; f++) {
			if (!fields_has(g, f))
				continue;
			uint8_t *wn = gw->wnonces[nk], *wk = gw->wrapped[nk++];
			Concordat__Wrap *pw = &gw->wraps[nw];
			size_t adlen =
			    make_ad(w->ad, msg_id, f, a->recipients[i]);
			randombytes_buf(wn, WIRE_NONCE_LEN);
			crypto_aead_xchacha20poly1305_ietf_encrypt(wk, NULL,
			    w->keys[f], 32, w->ad, adlen, NULL, wn,
			    a->shared[i]);
			concordat__wrap__init(pw);
			pw->has_field = 1;
			pw->field = (uint32_t)f;
			pw->has_nonce = 1;
			pw->nonce = bin(wn, WIRE_NONCE_LEN);
			pw->has_wrapped_key = 1;
			pw->wrapped_key = bin(wk, WIRE_WRAPPED_LEN);
			gw->wrapsp[nw] = pw;
			nw++;
		}
		if (a->urgency == URGENCY_EMERGENCY && (g & FIELDS_ALL) != 0) {
			int rc = justification_grant(msg_id, a->recipients[i],
			    &w->j, a->shared[i], &w->jwraps[i], &gw->wraps[nw]);
			if (rc != 0)
				return rc;
			gw->wrapsp[nw] = &gw->wraps[nw];
			nw++;
		}
		pg->n_wraps = nw - first;
		pg->wraps = gw->wrapsp + first;
		gw->grantsp[i] = pg;
	}
	return ERROR_OK;
}

/* An emergency's justification, sealed for msg_id into *j. */
static int
seal_justification(const struct envelope_seal_args *a,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], struct justification_sealed *j)
{
	const char *text = a->justification != NULL ? a->justification : "";

	if (a->urgency != URGENCY_EMERGENCY)
		return ERROR_OK;
	return justification_seal(msg_id, text, strlen(text), j);
}

/* The manifest's version, and the agreement decided under when given. */
static void
manifest_head(Concordat__Manifest *pm, const struct envelope_seal_args *a)
{
	pm->has_version = 1;
	pm->version = WIRE_VERSION;
	if (a->agreement != NULL) {
		pm->has_agreement = 1;
		pm->agreement = bin(a->agreement, WIRE_HASH_LEN);
	}
}

int
envelope_seal(const struct envelope_seal_args *a,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len)
{
	Concordat__Manifest pm = CONCORDAT__MANIFEST__INIT;
	Concordat__Envelope pe = CONCORDAT__ENVELOPE__INIT;
	Concordat__Submit ps = CONCORDAT__SUBMIT__INIT;
	Concordat__Frame pf = CONCORDAT__FRAME__INIT;
	Concordat__Sealed sealed[FIELDS_COUNT], *sealedp[FIELDS_COUNT], jsealed;
	ProtobufCBinaryData digests[FIELDS_COUNT];
	uint8_t nonces[FIELDS_COUNT + 1][WIRE_NONCE_LEN];
	uint8_t dig[FIELDS_COUNT + 1][WIRE_DIGEST_LEN];
	uint8_t *ct[FIELDS_COUNT + 1] = {0};
	uint8_t *manifest = NULL;
	uint8_t sig[WIRE_SIG_LEN];
	uint32_t requested[FIELDS_COUNT];
	struct seal_work *w = NULL;
	struct grant_work *gw = NULL;
	size_t manifest_len = 0, nreq = 0;
	int rc;

	*frame = NULL;
	*len = 0;
	if ((rc = check_seal_args(a)) != 0)
		return rc;
	w = malloc(sizeof(*w));
	gw = calloc(1, sizeof(*gw));
	if (w == NULL || gw == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if (a->msg_id != NULL)
		memcpy(msg_id, a->msg_id, WIRE_MSG_ID_LEN);
	else
		randombytes_buf(msg_id, WIRE_MSG_ID_LEN);
	if ((rc = seal_justification(a, msg_id, &w->j)) != 0)
		goto out;

	/* Fields: pad, seal under a fresh key, digest. */
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		size_t plen = a->plain_len[f], padded_len;
		unsigned long long clen;

		if (plen > 0)
			memcpy(w->padded, a->plain[f], plen);
		if (sodium_pad(&padded_len, w->padded, plen, WIRE_PAD_BLOCK,
		        sizeof(w->padded)) != 0) {
			rc = ERROR_TOOBIG;
			goto out;
		}
		crypto_aead_xchacha20poly1305_ietf_keygen(w->keys[f]);
		randombytes_buf(nonces[f], WIRE_NONCE_LEN);
		ct[f] = malloc(
		    padded_len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
		if (ct[f] == NULL) {
			rc = ERROR_NOMEM;
			goto out;
		}
		size_t adlen = make_ad(w->ad, msg_id, f, NULL);
		crypto_aead_xchacha20poly1305_ietf_encrypt(ct[f], &clen,
		    w->padded, padded_len, w->ad, adlen, NULL, nonces[f],
		    w->keys[f]);
		digest(dig[f], nonces[f], ct[f], (size_t)clen);
		concordat__sealed__init(&sealed[f - 1]);
		sealed[f - 1].has_field = 1;
		sealed[f - 1].field = (uint32_t)f;
		sealed[f - 1].has_nonce = 1;
		sealed[f - 1].nonce = bin(nonces[f], WIRE_NONCE_LEN);
		sealed[f - 1].has_ciphertext = 1;
		sealed[f - 1].ciphertext = bin(ct[f], (size_t)clen);
		sealedp[f - 1] = &sealed[f - 1];
		digests[f - 1] = bin(dig[f], WIRE_DIGEST_LEN);
	}

	/* The manifest, signed over its exact bytes. */
	manifest_head(&pm, a);
	pm.has_msg_id = 1;
	pm.msg_id = bin(msg_id, WIRE_MSG_ID_LEN);
	pm.sender = (char *)(uintptr_t)a->sender;
	pm.has_created_at_ms = 1;
	pm.created_at_ms = a->created_at_ms;
	pm.has_kind = 1;
	pm.kind = (Concordat__Kind)a->kind;
	pm.purpose = (char *)(uintptr_t)a->purpose;
	pm.has_urgency = 1;
	pm.urgency = (Concordat__Urgency)a->urgency;
	if (a->urgency == URGENCY_EMERGENCY)
		justification_manifest(&pm, a->reason, &w->j);
	pm.has_subject_ref = 1;
	pm.subject_ref = bin(a->subject_ref, WIRE_REF_LEN);
	if (a->in_reply_to != NULL) {
		pm.has_in_reply_to = 1;
		pm.in_reply_to = bin(a->in_reply_to, WIRE_MSG_ID_LEN);
	}
	pm.n_recipients = a->n_recipients;
	pm.recipients = (char **)(uintptr_t)a->recipients;
	if (a->kind == KIND_REQUEST)
		for (int f = 1; f <= FIELDS_COUNT; f++)
			if (fields_has(a->requested, f))
				requested[nreq++] = (uint32_t)f;
	pm.n_requested_fields = nreq;
	pm.requested_fields = requested;
	pm.n_digests = FIELDS_COUNT;
	pm.digests = digests;
	if ((rc = pbutil_pack(&pm.base, &manifest, &manifest_len)) != 0)
		goto out;
	{
		size_t n;
		uint8_t *m = signed_message(manifest, manifest_len, &n);
		if (m == NULL) {
			rc = ERROR_NOMEM;
			goto out;
		}
		crypto_sign_detached(sig, NULL, m, n, a->sign_sk);
		free(m);
	}

	if ((rc = wrap_grants(a, msg_id, w, gw)) != 0)
		goto out;

	pe.has_manifest = 1;
	pe.manifest = bin(manifest, manifest_len);
	pe.has_signature = 1;
	pe.signature = bin(sig, WIRE_SIG_LEN);
	pe.n_sealed = FIELDS_COUNT;
	pe.sealed = sealedp;
	pe.n_grants = a->n_recipients;
	pe.grants = gw->grantsp;
	if (a->urgency == URGENCY_EMERGENCY)
		justification_envelope(&pe, &jsealed, &w->j);
	ps.envelope = &pe;
	pf.body_case = CONCORDAT__FRAME__BODY_SUBMIT;
	pf.submit = &ps;
	if ((rc = pbutil_pack(&pf.base, frame, len)) != 0)
		goto out;
	if (*len > WIRE_MAX_FRAME) {
		free(*frame);
		*frame = NULL;
		*len = 0;
		rc = ERROR_TOOBIG;
	}
out:
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(ct[f]);
	free(manifest);
	free(gw);
	wipe_free(w); /* wipes the field keys and the padded plaintext */
	return rc;
}

int
envelope_verify_signature(
    const struct wire_envelope *e, const uint8_t sign_pk[32])
{
	return verify_manifest(
	    e->manifest, e->manifest_len, e->signature, sign_pk);
}

int
envelope_verify_contents(
    const struct wire_envelope *e, char *why, size_t whylen)
{
	uint8_t d[WIRE_DIGEST_LEN];

	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_sealed *s = &e->sealed[f];
		digest(d, s->nonce, s->ct, s->ct_len);
		if (sodium_memcmp(d, e->m.digests[f], WIRE_DIGEST_LEN) != 0)
			return pbutil_why(why, whylen, ERROR_DIGEST,
			    "ciphertext of %s does not match its digest",
			    fields_name(f));
	}
	for (size_t i = 0; i < e->n_grants; i++)
		if (wire_manifest_recipient(&e->m, e->grants[i].recipient) < 0)
			return pbutil_why(why, whylen, ERROR_GRANT,
			    "grant for '%s', who is not a listed recipient",
			    e->grants[i].recipient);
	for (size_t i = 0; i < e->m.n_recipients; i++) {
		size_t j;
		for (j = 0; j < e->n_grants; j++)
			if (strcmp(e->grants[j].recipient,
			        e->m.recipients[i]) == 0)
				break;
		if (j == e->n_grants)
			return pbutil_why(why, whylen, ERROR_GRANT,
			    "recipient '%s' has no grant", e->m.recipients[i]);
	}
	return justification_verify(e, why, whylen);
}

int
envelope_check(const uint8_t *buf, size_t len, const uint8_t sender_pk[32],
    struct wire_frame **out, char *why, size_t whylen)
{
	struct wire_frame *f = NULL;
	int rc;

	*out = NULL;
	if ((rc = wire_decode(buf, len, &f, why, whylen)) != 0)
		return rc;
	if (f->type != WIRE_SUBMIT) {
		rc = pbutil_why(
		    why, whylen, ERROR_DECODE, "frame is not a submission");
		goto out;
	}
	if ((rc = envelope_verify_signature(&f->u.submit, sender_pk)) != 0) {
		pbutil_why(why, whylen, rc,
		    "manifest signature does not "
		    "verify with the sender's key");
		goto out;
	}
	if ((rc = envelope_verify_contents(&f->u.submit, why, whylen)) != 0)
		goto out;
	*out = f;
	f = NULL;
out:
	wire_frame_free(f);
	return rc;
}

int
envelope_redact(const struct wire_envelope *e, const char *recipient,
    fieldset allowed, fieldset *sent, uint8_t **out, size_t *len)
{
	Concordat__Delivery pd = CONCORDAT__DELIVERY__INIT;
	Concordat__Sealed sealed[FIELDS_COUNT], *sealedp[FIELDS_COUNT], jsealed;
	Concordat__Wrap wraps[FIELDS_COUNT + 1], *wrapsp[FIELDS_COUNT + 1];
	const struct wire_grant *g = NULL;
	size_t n = 0;

	*out = NULL;
	*len = 0;
	*sent = 0;
	for (size_t i = 0; i < e->n_grants; i++)
		if (strcmp(e->grants[i].recipient, recipient) == 0)
			g = &e->grants[i];
	if (g == NULL || wire_manifest_recipient(&e->m, recipient) < 0)
		return ERROR_NOT_RECIPIENT;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		/* Only what the policy allows and the sender granted. */
		if (!fields_has(allowed, f) || !fields_has(g->fields, f))
			continue;
		concordat__sealed__init(&sealed[n]);
		sealed[n].has_field = 1;
		sealed[n].field = (uint32_t)f;
		sealed[n].has_nonce = 1;
		sealed[n].nonce = bin(e->sealed[f].nonce, WIRE_NONCE_LEN);
		sealed[n].has_ciphertext = 1;
		sealed[n].ciphertext =
		    bin(e->sealed[f].ct, e->sealed[f].ct_len);
		sealedp[n] = &sealed[n];
		concordat__wrap__init(&wraps[n]);
		wraps[n].has_field = 1;
		wraps[n].field = (uint32_t)f;
		wraps[n].has_nonce = 1;
		wraps[n].nonce = bin(g->wraps[f].nonce, WIRE_NONCE_LEN);
		wraps[n].has_wrapped_key = 1;
		wraps[n].wrapped_key = bin(g->wraps[f].key, WIRE_WRAPPED_LEN);
		wrapsp[n] = &wraps[n];
		*sent |= FIELDS_BIT(f);
		n++;
	}
	pd.has_manifest = 1;
	pd.manifest = bin(e->manifest, e->manifest_len);
	pd.has_signature = 1;
	pd.signature = bin(e->signature, WIRE_SIG_LEN);
	pd.n_sealed = n;
	pd.sealed = sealedp;
	pd.n_wraps = n;
	pd.wraps = wrapsp;
	justification_redact(e, g, &pd, &jsealed, &wraps[n]);
	return pbutil_pack(&pd.base, out, len);
}

void
envelope_opened_free(struct envelope_opened *o)
{
	if (o == NULL)
		return;
	for (int f = 1; f <= FIELDS_COUNT; f++)
		wipe_free(o->plain[f]);
	wipe_free(o->justification);
	free(o);
}

/* An emergency's justification, when delivered, into o. */
static int
open_justification(const struct wire_delivery *d, const char *self,
    const uint8_t shared[32], struct envelope_opened *o)
{
	int rc = justification_open(
	    d, self, shared, &o->justification, &o->justification_len);

	return rc == ERROR_NOENT ? ERROR_OK : rc;
}

int
envelope_open(const struct wire_delivery *d, const char *self,
    const uint8_t sender_sign_pk[32], const uint8_t shared[32],
    struct envelope_opened **out)
{
	struct envelope_opened *o = NULL;
	uint8_t key[32], ad[AD_MAX], dg[WIRE_DIGEST_LEN];
	int rc;

	*out = NULL;
	if (wire_manifest_recipient(&d->m, self) < 0)
		return ERROR_NOT_RECIPIENT;
	if ((rc = verify_manifest(d->manifest, d->manifest_len, d->signature,
	         sender_sign_pk)) != 0)
		return rc;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (!fields_has(d->fields, f))
			continue;
		digest(dg, d->sealed[f].nonce, d->sealed[f].ct,
		    d->sealed[f].ct_len);
		if (sodium_memcmp(dg, d->m.digests[f], WIRE_DIGEST_LEN) != 0)
			return ERROR_DIGEST;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct wire_sealed *s = &d->sealed[f];
		unsigned long long klen, plen;
		size_t unpadded, adlen;

		if (!fields_has(d->fields, f))
			continue;
		rc = ERROR_DECRYPT;
		adlen = make_ad(ad, d->m.msg_id, f, self);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &klen, NULL,
		        d->wraps[f].key, WIRE_WRAPPED_LEN, ad, adlen,
		        d->wraps[f].nonce, shared) != 0 ||
		    klen != 32)
			goto out;
		o->plain[f] = malloc(s->ct_len > 0 ? s->ct_len : 1);
		if (o->plain[f] == NULL) {
			rc = ERROR_NOMEM;
			goto out;
		}
		adlen = make_ad(ad, d->m.msg_id, f, NULL);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(o->plain[f],
		        &plen, NULL, s->ct, s->ct_len, ad, adlen, s->nonce,
		        key) != 0)
			goto out;
		if (sodium_unpad(&unpadded, o->plain[f], (size_t)plen,
		        WIRE_PAD_BLOCK) != 0)
			goto out;
		/* Up to a block more fits the same sealed size. */
		if (unpadded > ENVELOPE_FIELD_MAX) {
			rc = ERROR_TOOBIG;
			goto out;
		}
		o->plain_len[f] = unpadded;
		o->disclosed |= FIELDS_BIT(f);
	}
	o->withheld = (fieldset)(FIELDS_ALL & ~o->disclosed);
	if ((rc = open_justification(d, self, shared, o)) != 0)
		goto out;
	*out = o;
	o = NULL;
	rc = ERROR_OK;
out:
	sodium_memzero(key, sizeof(key));
	envelope_opened_free(o);
	return rc;
}
