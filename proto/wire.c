/*
 * Frames to checked internal structs and back (DESIGN.md §5). Every frame
 * the broker or an agent receives comes through wire_decode: size first,
 * then protobuf, then unknown fields, then the structure of every member.
 * Signatures and digests are envelope.c's business.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/urgency.h"
#include "proto/justification_pb.h"
#include "proto/wire_int.h"

#define LEAF_MAX (64 * 1024)

/* Our enums carry the wire's numbers, so they convert by value. */
_Static_assert((int)CONCORDAT__KIND__KIND_REQUEST == KIND_REQUEST, "kind");
_Static_assert(
    (int)CONCORDAT__URGENCY__URGENCY_EMERGENCY == URGENCY_EMERGENCY, "urgency");
_Static_assert(
    (int)CONCORDAT__OUTCOME__OUTCOME_REJECTED == WIRE_REJECTED, "outcome");
_Static_assert((int)CONCORDAT__REASON__REASON_AGREEMENT_MISMATCH ==
        WIRE_REASON_AGREEMENT_MISMATCH,
    "reason");
_Static_assert(
    (int)CONCORDAT__STATE__STATE_EXPIRED == WIRE_STATE_EXPIRED, "state");
_Static_assert(
    (int)CONCORDAT__EVENT_TYPE__EVENT_KEYRING_CHANGED == 11, "event type");

static const char *const reasons[] = {
    NULL,
    "too_big",
    "malformed",
    "sender_mismatch",
    "bad_signature",
    "stale",
    "future",
    "replay",
    "digest_mismatch",
    "unknown_recipient",
    "bad_grant",
    "undeclared_purpose",
    "not_permitted",
    "storage_full",
    "internal",
    "rate_limited",
    "agreement_mismatch",
    "not_reviewable",
};
#define N_REASONS (int)(sizeof(reasons) / sizeof(reasons[0]))

static const char *const states[] = {
    NULL, "queued", "delivered", "acknowledged", "expired"};

const char *
wire_reason_name(int reason)
{
	if (reason < 1 || reason >= N_REASONS)
		return "?";
	return reasons[reason];
}

int
wire_reason_parse(const char *s)
{
	for (int i = 1; i < N_REASONS; i++)
		if (strcmp(s, reasons[i]) == 0)
			return i;
	return 0;
}

bool
wire_reason_retryable(int reason)
{
	return reason == WIRE_REASON_STORAGE_FULL ||
	    reason == WIRE_REASON_INTERNAL ||
	    reason == WIRE_REASON_RATE_LIMITED ||
	    reason == WIRE_REASON_AGREEMENT_MISMATCH;
}

const char *
wire_state_name(int state)
{
	if (state < 1 || state > 4)
		return "?";
	return states[state];
}

int
wire_reason_from_error(int err)
{
	switch (err) {
	case ERROR_TOOBIG:
		return WIRE_REASON_TOO_BIG;
	case ERROR_DECODE:
	case ERROR_UNKNOWN_FIELD:
	case ERROR_EMERGENCY:
		return WIRE_REASON_MALFORMED;
	case ERROR_SENDER:
		return WIRE_REASON_SENDER_MISMATCH;
	case ERROR_SIGNATURE:
		return WIRE_REASON_BAD_SIGNATURE;
	case ERROR_STALE:
		return WIRE_REASON_STALE;
	case ERROR_REPLAY:
		return WIRE_REASON_REPLAY;
	case ERROR_DIGEST:
		return WIRE_REASON_DIGEST_MISMATCH;
	case ERROR_UNKNOWN_AGENCY:
		return WIRE_REASON_UNKNOWN_RECIPIENT;
	case ERROR_GRANT:
		return WIRE_REASON_BAD_GRANT;
	case ERROR_PURPOSE:
		return WIRE_REASON_UNDECLARED_PURPOSE;
	case ERROR_MAPFULL:
	case ERROR_NOSPC:
		return WIRE_REASON_STORAGE_FULL;
	case ERROR_RATE:
		return WIRE_REASON_RATE_LIMITED;
	default:
		return WIRE_REASON_INTERNAL;
	}
}

int
wire_manifest_recipient(const struct wire_manifest *m, const char *id)
{
	for (size_t i = 0; i < m->n_recipients; i++)
		if (strcmp(m->recipients[i], id) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------ decoding */

#define WHY(...) pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

int
wire_manifest_decode(const uint8_t *buf, size_t len, struct wire_manifest *m,
    char *why, size_t whylen)
{
	ProtobufCMessage *pb;
	Concordat__Manifest *pm;
	int rc = ERROR_DECODE;

	memset(m, 0, sizeof(*m));
	if ((rc = pbutil_unpack(&concordat__manifest__descriptor, buf, len,
	         "manifest", &pb, why, whylen)) != 0)
		return rc;
	pm = (Concordat__Manifest *)pb;
	if (pbutil_has_unknown(&pm->base)) {
		rc = pbutil_why(why, whylen, ERROR_UNKNOWN_FIELD,
		    "manifest carries unknown fields");
		goto out;
	}
	if (!pm->has_version || pm->version != WIRE_VERSION) {
		rc = WHY(
		    "manifest version %u is not %d", pm->version, WIRE_VERSION);
		goto out;
	}
	m->version = pm->version;
	if (!pm->has_msg_id ||
	    pbutil_bytes(m->msg_id, WIRE_MSG_ID_LEN, pm->msg_id) != 0) {
		rc = WHY("msg_id must be %d bytes", WIRE_MSG_ID_LEN);
		goto out;
	}
	if (pbutil_str(m->sender, sizeof(m->sender), pm->sender) != 0 ||
	    !ident_agency_valid(m->sender)) {
		rc = WHY("sender is not a valid agency id");
		goto out;
	}
	if (!pm->has_created_at_ms) {
		rc = WHY("created_at_ms missing");
		goto out;
	}
	m->created_at_ms = pm->created_at_ms;
	if (!pm->has_kind ||
	    ((int)pm->kind != KIND_RECORD && (int)pm->kind != KIND_REQUEST)) {
		rc = WHY("kind missing or unknown");
		goto out;
	}
	m->kind = (int)pm->kind;
	if (pbutil_str(m->purpose, sizeof(m->purpose), pm->purpose) != 0 ||
	    !ident_name_valid(m->purpose)) {
		rc = WHY("purpose missing or not a valid name");
		goto out;
	}
	if (!pm->has_urgency || (int)pm->urgency < URGENCY_ROUTINE ||
	    (int)pm->urgency > URGENCY_EMERGENCY) {
		rc = WHY("urgency missing or unknown");
		goto out;
	}
	m->urgency = (int)pm->urgency;
	if ((rc = justification_decode_manifest(pm, m, why, whylen)) != 0)
		goto out;
	if (!pm->has_subject_ref ||
	    pbutil_bytes(m->subject_ref, WIRE_REF_LEN, pm->subject_ref) != 0) {
		rc = WHY("subject_ref must be %d bytes", WIRE_REF_LEN);
		goto out;
	}
	if (pm->has_pepper_id) {
		if (pbutil_bytes(m->pepper_id, WIRE_REF_LEN, pm->pepper_id) !=
		    0) {
			rc = WHY("pepper_id must be %d bytes", WIRE_REF_LEN);
			goto out;
		}
		m->has_pepper_id = true;
	}
	if (pm->has_in_reply_to) {
		if (pbutil_bytes(m->in_reply_to, WIRE_MSG_ID_LEN,
		        pm->in_reply_to) != 0) {
			rc = WHY(
			    "in_reply_to must be %d bytes", WIRE_MSG_ID_LEN);
			goto out;
		}
		m->has_in_reply_to = true;
	}
	if (pm->n_recipients == 0 || pm->n_recipients > WIRE_MAX_RECIPIENTS) {
		rc = WHY("between 1 and %d recipients required",
		    WIRE_MAX_RECIPIENTS);
		goto out;
	}
	for (size_t i = 0; i < pm->n_recipients; i++) {
		char *r = m->recipients[i];
		if (pbutil_str(
		        r, sizeof(m->recipients[i]), pm->recipients[i]) != 0 ||
		    !ident_agency_valid(r)) {
			rc = WHY("recipient %zu is not a valid agency id", i);
			goto out;
		}
		if (strcmp(r, m->sender) == 0) {
			rc = WHY("sender '%s' lists itself as a recipient", r);
			goto out;
		}
		m->n_recipients = i;
		if (wire_manifest_recipient(m, r) >= 0) {
			rc = WHY("recipient '%s' listed twice", r);
			goto out;
		}
		m->n_recipients = i + 1;
	}
	if (pm->n_requested_fields > 0 && m->kind != KIND_REQUEST) {
		rc = WHY("requested_fields on a message that is not a request");
		goto out;
	}
	for (size_t i = 0; i < pm->n_requested_fields; i++) {
		uint32_t f = pm->requested_fields[i];
		if (f < 1 || f > FIELDS_COUNT ||
		    fields_has(m->requested, (int)f)) {
			rc = WHY("requested field %u unknown or repeated", f);
			goto out;
		}
		m->requested |= FIELDS_BIT(f);
	}
	if (pm->n_digests != FIELDS_COUNT) {
		rc = WHY("%zu digests, not %d", pm->n_digests, FIELDS_COUNT);
		goto out;
	}
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (pbutil_bytes(m->digests[f], WIRE_DIGEST_LEN,
		        pm->digests[f - 1]) != 0) {
			rc = WHY("digest of %s is not %d bytes", fields_name(f),
			    WIRE_DIGEST_LEN);
			goto out;
		}
	}
	rc = wire_decode_manifest_agreement_(pm, m, why, whylen);
out:
	pbutil_free(pm);
	return rc;
}

static int
decode_sealed(Concordat__Sealed *ps, int want_field, struct wire_sealed *s,
    char *why, size_t whylen)
{
	if (!ps->has_field || ps->field < 1 || ps->field > FIELDS_COUNT)
		return WHY("sealed field number missing or out of range");
	if (want_field != 0 && ps->field != (uint32_t)want_field)
		return WHY("sealed field %d is out of order", want_field);
	if (!ps->has_nonce ||
	    pbutil_bytes(s->nonce, WIRE_NONCE_LEN, ps->nonce) != 0)
		return WHY("nonce of %s is not %d bytes",
		    fields_name((int)ps->field), WIRE_NONCE_LEN);
	/*
	 * Padded plaintext (256-byte blocks) plus the 16-byte tag, and no
	 * more than a sender's seal makes of the largest plaintext: the
	 * limit holds for what arrives, not only for what honest agents
	 * send.
	 */
	size_t n = ps->ciphertext.len;
	if (ps->has_ciphertext && n > WIRE_SEALED_MAX)
		return pbutil_why(why, whylen, ERROR_TOOBIG,
		    "field '%s': ciphertext of %zu bytes is over the %d KiB "
		    "field limit",
		    fields_name((int)ps->field), n, WIRE_FIELD_MAX / 1024);
	if (!ps->has_ciphertext || n < WIRE_PAD_BLOCK + 16 ||
	    (n - 16) % WIRE_PAD_BLOCK != 0)
		return WHY("ciphertext of %s has an impossible length",
		    fields_name((int)ps->field));
	s->present = true;
	s->ct = ps->ciphertext.data;
	s->ct_len = n;
	return ERROR_OK;
}

static int
decode_wrap(Concordat__Wrap *pw, struct wire_wrap *wraps, fieldset *have,
    char *why, size_t whylen)
{
	if (!pw->has_field || pw->field < 1 || pw->field > FIELDS_COUNT)
		return WHY("wrap field number missing or out of range");
	int f = (int)pw->field;
	if (fields_has(*have, f))
		return WHY("two wraps for %s", fields_name(f));
	if (!pw->has_nonce ||
	    pbutil_bytes(wraps[f].nonce, WIRE_NONCE_LEN, pw->nonce) != 0 ||
	    !pw->has_wrapped_key ||
	    pbutil_bytes(wraps[f].key, WIRE_WRAPPED_LEN, pw->wrapped_key) != 0)
		return WHY(
		    "wrap of %s has a bad nonce or key length", fields_name(f));
	wraps[f].present = true;
	*have |= FIELDS_BIT(f);
	return ERROR_OK;
}

static int
decode_envelope(
    Concordat__Envelope *pe, struct wire_envelope *e, char *why, size_t whylen)
{
	int rc;

	if (pe == NULL || !pe->has_manifest)
		return WHY("envelope has no manifest");
	if ((rc = wire_manifest_decode(
	         pe->manifest.data, pe->manifest.len, &e->m, why, whylen)) != 0)
		return rc;
	e->manifest = pe->manifest.data;
	e->manifest_len = pe->manifest.len;
	if (!pe->has_signature ||
	    pbutil_bytes(e->signature, WIRE_SIG_LEN, pe->signature) != 0)
		return WHY("signature is not %d bytes", WIRE_SIG_LEN);
	if (pe->n_sealed != FIELDS_COUNT)
		return WHY(
		    "%zu sealed fields, not %d", pe->n_sealed, FIELDS_COUNT);
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if ((rc = decode_sealed(pe->sealed[f - 1], f, &e->sealed[f],
		         why, whylen)) != 0)
			return rc;
	if (pe->n_grants == 0 || pe->n_grants > WIRE_MAX_RECIPIENTS)
		return WHY(
		    "between 1 and %d grants required", WIRE_MAX_RECIPIENTS);
	for (size_t i = 0; i < pe->n_grants; i++) {
		Concordat__Grant *pg = pe->grants[i];
		struct wire_grant *g = &e->grants[i];
		if (pbutil_str(g->recipient, sizeof(g->recipient),
		        pg->recipient) != 0 ||
		    !ident_agency_valid(g->recipient))
			return WHY("grant %zu names no valid agency", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(e->grants[j].recipient, g->recipient) == 0)
				return WHY("two grants for '%s'", g->recipient);
		/* No field wraps: the sender grants this recipient nothing. */
		if (pg->n_wraps > FIELDS_COUNT + 1)
			return WHY("grant for '%s' has %zu wraps", g->recipient,
			    pg->n_wraps);
		for (size_t j = 0; j < pg->n_wraps; j++)
			if ((rc = justification_is_wrap(pg->wraps[j])
			            ? justification_decode_wrap(pg->wraps[j],
			                  &g->justification, why, whylen)
			            : decode_wrap(pg->wraps[j], g->wraps,
			                  &g->fields, why, whylen)) != 0)
				return rc;
	}
	e->n_grants = pe->n_grants;
	return justification_decode_envelope(pe, e, why, whylen);
}

static int
decode_proof(Concordat__AuditProof *pp, struct wire_audit_proof *p, char *why,
    size_t whylen)
{
	if (!pp->has_leaf_index || !pp->has_leaf || pp->leaf.len == 0 ||
	    pp->leaf.len > LEAF_MAX)
		return WHY("audit proof without a leaf");
	if (pp->n_path > WIRE_MAX_PATH)
		return WHY("audit path longer than %d", WIRE_MAX_PATH);
	if (!pp->has_checkpoint || pp->checkpoint.len == 0 ||
	    pp->checkpoint.len > WIRE_CHECKPOINT_MAX)
		return WHY("audit proof without a checkpoint");
	p->leaf_index = pp->leaf_index;
	p->leaf = pp->leaf.data;
	p->leaf_len = pp->leaf.len;
	for (size_t i = 0; i < pp->n_path; i++)
		if (pbutil_bytes(p->path[i], WIRE_HASH_LEN, pp->path[i]) != 0)
			return WHY("audit path hash %zu is not %d bytes", i,
			    WIRE_HASH_LEN);
	p->n_path = pp->n_path;
	p->checkpoint = (const char *)pp->checkpoint.data;
	p->checkpoint_len = pp->checkpoint.len;
	return wire_decode_tie(pp, p, why, whylen);
}

static int
decode_delivery(
    Concordat__Delivery *pd, struct wire_delivery *d, char *why, size_t whylen)
{
	fieldset wrapped = 0;
	int rc, last = 0;

	if (!pd->has_manifest)
		return WHY("delivery has no manifest");
	if ((rc = wire_manifest_decode(
	         pd->manifest.data, pd->manifest.len, &d->m, why, whylen)) != 0)
		return rc;
	d->manifest = pd->manifest.data;
	d->manifest_len = pd->manifest.len;
	if (!pd->has_signature ||
	    pbutil_bytes(d->signature, WIRE_SIG_LEN, pd->signature) != 0)
		return WHY("signature is not %d bytes", WIRE_SIG_LEN);
	if (pd->n_sealed > FIELDS_COUNT || pd->n_wraps > FIELDS_COUNT + 1)
		return WHY("more than %d fields", FIELDS_COUNT);
	for (size_t i = 0; i < pd->n_sealed; i++) {
		Concordat__Sealed *ps = pd->sealed[i];
		struct wire_sealed tmp = {0};
		if ((rc = decode_sealed(ps, 0, &tmp, why, whylen)) != 0)
			return rc;
		if ((int)ps->field <= last)
			return WHY("sealed fields out of order or repeated");
		last = (int)ps->field;
		d->sealed[last] = tmp;
		d->fields |= FIELDS_BIT(last);
	}
	for (size_t i = 0; i < pd->n_wraps; i++)
		if ((rc = justification_is_wrap(pd->wraps[i])
		            ? justification_decode_wrap(pd->wraps[i],
		                  &d->justification_wrap, why, whylen)
		            : decode_wrap(pd->wraps[i], d->wraps, &wrapped, why,
		                  whylen)) != 0)
			return rc;
	if (wrapped != d->fields)
		return WHY("wraps do not match the fields delivered");
	if ((rc = justification_decode_delivery(pd, d, why, whylen)) != 0)
		return rc;
	if (pd->decision != NULL) {
		if ((rc = decode_proof(
		         pd->decision, &d->decision, why, whylen)) != 0)
			return rc;
		d->has_decision = true;
	}
	return ERROR_OK;
}

static int
decode_receipt(
    Concordat__Receipt *pr, struct wire_receipt *r, char *why, size_t whylen)
{
	int rc;

	if (!pr->has_msg_id ||
	    pbutil_bytes(r->msg_id, WIRE_MSG_ID_LEN, pr->msg_id) != 0)
		return WHY("receipt msg_id is not %d bytes", WIRE_MSG_ID_LEN);
	if (!pr->has_outcome ||
	    ((int)pr->outcome != WIRE_ACCEPTED &&
	        (int)pr->outcome != WIRE_REJECTED))
		return WHY("receipt outcome missing or unknown");
	r->outcome = (int)pr->outcome;
	if (r->outcome == WIRE_REJECTED &&
	    (!pr->has_reason || wire_reason_name(pr->reason)[0] == '?'))
		return WHY("rejection without a known reason");
	/* struct wire_receipt: the reason is 0 when accepted. */
	if (r->outcome == WIRE_ACCEPTED && pr->has_reason && pr->reason != 0)
		return WHY("acceptance with a reason");
	r->reason = pr->has_reason ? (int)pr->reason : 0;
	if (pbutil_str(r->detail, sizeof(r->detail), pr->detail) != 0)
		return WHY("receipt detail too long");
	r->retryable = pr->has_retryable && pr->retryable;
	if (pr->n_decisions > WIRE_MAX_PROOFS)
		return WHY("more than %d decisions", WIRE_MAX_PROOFS);
	for (size_t i = 0; i < pr->n_decisions; i++)
		if ((rc = decode_proof(
		         pr->decisions[i], &r->decisions[i], why, whylen)) != 0)
			return rc;
	r->n_decisions = pr->n_decisions;
	return wire_decode_receipt_agreement_(pr, r, why, whylen);
}

static int
decode_status(
    Concordat__Status *ps, struct wire_status *s, char *why, size_t whylen)
{
	if (!ps->has_msg_id ||
	    pbutil_bytes(s->msg_id, WIRE_MSG_ID_LEN, ps->msg_id) != 0)
		return WHY("status msg_id is not %d bytes", WIRE_MSG_ID_LEN);
	if (pbutil_str(s->recipient, sizeof(s->recipient), ps->recipient) !=
	        0 ||
	    !ident_agency_valid(s->recipient))
		return WHY("status names no valid recipient");
	if (!ps->has_state || wire_state_name(ps->state)[0] == '?')
		return WHY("status state missing or unknown");
	s->state = (int)ps->state;
	s->at_ms = ps->at_ms;
	if (ps->event != NULL) {
		int rc = decode_proof(ps->event, &s->event, why, whylen);
		if (rc != 0)
			return rc;
		s->has_event = true;
	}
	return ERROR_OK;
}

static int
decode_ack(
    Concordat__DeliveryAck *pa, struct wire_frame *f, char *why, size_t whylen)
{
	if (!pa->has_msg_id ||
	    pbutil_bytes(f->u.ack_msg_id, WIRE_MSG_ID_LEN, pa->msg_id) != 0)
		return WHY("ack msg_id is not %d bytes", WIRE_MSG_ID_LEN);
	if (pa->recipient == NULL && !pa->has_state)
		return ERROR_OK;
	if (pbutil_str(f->u.ack_recipient, sizeof(f->u.ack_recipient),
	        pa->recipient) != 0 ||
	    !ident_agency_valid(f->u.ack_recipient) || !pa->has_state ||
	    wire_state_name(pa->state)[0] == '?')
		return WHY("status ack without a valid recipient and state");
	f->u.ack_state = (int)pa->state;
	return ERROR_OK;
}

/*
 * The bytes of struct wire_frame that pf's body needs: a Submit, the
 * commonest frame, has room for its own grants only (decode_envelope
 * refuses more than WIRE_MAX_RECIPIENTS before writing one), where the
 * whole union would be a receipt's 34 KB.
 */
static size_t
frame_size(const Concordat__Frame *pf)
{
	const size_t head = offsetof(struct wire_frame, u);
	const struct wire_frame *f = NULL;
	size_t n;

	switch (pf->body_case) {
	case CONCORDAT__FRAME__BODY_SUBMIT:
		n = pf->submit != NULL && pf->submit->envelope != NULL
		    ? pf->submit->envelope->n_grants
		    : 0;
		if (n > WIRE_MAX_RECIPIENTS)
			n = 0; /* refused before any grant is written */
		return offsetof(struct wire_frame, u.submit.grants) +
		    n * sizeof(struct wire_grant);
	case CONCORDAT__FRAME__BODY_DELIVERY:
		return head + sizeof(f->u.delivery);
	case CONCORDAT__FRAME__BODY_DELIVERY_ACK:
		return offsetof(struct wire_frame, u.ack_state) +
		    sizeof(f->u.ack_state);
	case CONCORDAT__FRAME__BODY_PROOF_REQUEST:
		return offsetof(struct wire_frame, u.proof_request_to) +
		    sizeof(f->u.proof_request_to);
	case CONCORDAT__FRAME__BODY_STATUS:
		return head + sizeof(f->u.status);
	default:
		return sizeof(*f);
	}
}

int
wire_decode(const uint8_t *buf, size_t len, struct wire_frame **out, char *why,
    size_t whylen)
{
	ProtobufCMessage *pb;
	Concordat__Frame *pf = NULL;
	struct wire_frame *f = NULL;
	int rc;

	*out = NULL;
	/* Size before anything else looks at the bytes. */
	if (len > WIRE_MAX_FRAME)
		return pbutil_why(why, whylen, ERROR_TOOBIG,
		    "frame of %zu bytes exceeds %d", len, WIRE_MAX_FRAME);
	if ((rc = pbutil_unpack(&concordat__frame__descriptor, buf, len,
	         "frame", &pb, why, whylen)) != 0)
		return rc;
	pf = (Concordat__Frame *)pb;
	if (pbutil_has_unknown(&pf->base)) {
		rc = pbutil_why(why, whylen, ERROR_UNKNOWN_FIELD,
		    "frame carries unknown protobuf fields");
		goto out;
	}
	f = calloc(1, frame_size(pf));
	if (f == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	switch (pf->body_case) {
	case CONCORDAT__FRAME__BODY_SUBMIT:
		f->type = WIRE_SUBMIT;
		rc = decode_envelope(
		    pf->submit->envelope, &f->u.submit, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_RECEIPT:
		f->type = WIRE_RECEIPT;
		rc = decode_receipt(pf->receipt, &f->u.receipt, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_DELIVERY:
		f->type = WIRE_DELIVERY;
		rc = decode_delivery(pf->delivery, &f->u.delivery, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_DELIVERY_ACK:
		f->type = WIRE_DELIVERY_ACK;
		rc = decode_ack(pf->delivery_ack, f, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_STATUS:
		f->type = WIRE_STATUS;
		rc = decode_status(pf->status, &f->u.status, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_PROOF_REQUEST:
		f->type = WIRE_PROOF_REQUEST;
		wire_decode_proof_request(pf->proof_request, f);
		rc = ERROR_OK;
		break;
	case CONCORDAT__FRAME__BODY_PROOF:
		f->type = WIRE_PROOF;
		rc = wire_decode_proof(pf->proof, &f->u.proof, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_COSIGNATURE:
		f->type = WIRE_COSIGNATURE;
		rc = wire_decode_cosignature(
		    pf->cosignature, &f->u.cosignature, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_AGREEMENT_REQUEST:
		f->type = WIRE_AGREEMENT_REQUEST;
		rc = wire_decode_agreement_request_(
		    pf->agreement_request, &f->u.agreement, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_AGREEMENT:
		f->type = WIRE_AGREEMENT;
		rc = wire_decode_agreement_(
		    pf->agreement, &f->u.agreement, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_NOTICE:
		f->type = WIRE_NOTICE;
		rc = wire_decode_notice_(pf->notice, &f->u.notice, why, whylen);
		break;
	case CONCORDAT__FRAME__BODY_REVIEW:
		f->type = WIRE_REVIEW;
		rc = wire_decode_review_(pf->review, &f->u.review, why, whylen);
		break;
	default:
		rc = WHY("frame has no body");
		break;
	}
	if (rc != 0)
		goto out;
	f->priv = pf;
	pf = NULL;
	*out = f;
	f = NULL;
out:
	pbutil_free(pf);
	free(f);
	return rc;
}

size_t
wire_frame_chunks(const struct wire_frame *f)
{
	return pbutil_chunks(f->priv);
}

void
wire_frame_free(struct wire_frame *f)
{
	if (f == NULL)
		return;
	pbutil_free(f->priv);
	free(f);
}

bool
wire_varint_get(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = buf[(*pos)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return true;
	}
	return false;
}

/*
 * The first length-delimited member number field of the message in buf,
 * read leniently (protobuf wire format: tags and lengths as varints): a
 * length that runs past the end is cut to what is there, so a message cut
 * short still shows the members it begins with.
 */
static bool
lenient_member(const uint8_t *buf, size_t len, unsigned field,
    const uint8_t **out, size_t *outlen)
{
	size_t pos = 0;
	uint64_t key, n;

	while (pos < len && wire_varint_get(buf, len, &pos, &key)) {
		switch (key & 7) {
		case 0: /* varint */
			if (!wire_varint_get(buf, len, &pos, &n))
				return false;
			break;
		case 1: /* 64 bits */
			pos += 8;
			break;
		case 5: /* 32 bits */
			pos += 4;
			break;
		case 2: /* length-delimited */
			if (!wire_varint_get(buf, len, &pos, &n))
				return false;
			if (key >> 3 == field) {
				*out = buf + pos;
				*outlen = n < len - pos ? (size_t)n : len - pos;
				return true;
			}
			if (n > len - pos)
				return false;
			pos += (size_t)n;
			break;
		default: /* groups, or not protobuf */
			return false;
		}
	}
	return false;
}

/*
 * The msg_id of a frame that protobuf-c cannot take whole (cut short, or
 * over a limit): the members on path down to the manifest's bytes, then
 * Manifest.msg_id (2), each read leniently; the msg_id itself must be
 * there in full. A Submit's path is Frame.submit (1), Submit.envelope (1),
 * Envelope.manifest (1); a Delivery's Frame.delivery (3),
 * Delivery.manifest (1).
 */
static const unsigned submit_path[] = {1, 1, 1};
static const unsigned delivery_path[] = {3, 1};

static int
lenient_msg_id(const uint8_t *buf, size_t len, const unsigned *path,
    size_t depth, uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	const uint8_t *p = buf, *id;
	size_t n = len, idlen;

	for (size_t i = 0; i < depth; i++)
		if (!lenient_member(p, n, path[i], &p, &n))
			return ERROR_DECODE;
	if (!lenient_member(p, n, 2, &id, &idlen) || idlen != WIRE_MSG_ID_LEN ||
	    (size_t)(id - p) + idlen > n)
		return ERROR_DECODE;
	memcpy(msg_id, id, WIRE_MSG_ID_LEN);
	return ERROR_OK;
}

int
wire_frame_msg_id(
    const uint8_t *buf, size_t len, uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	ProtobufCMessage *pb;
	Concordat__Frame *pf = NULL;
	Concordat__Manifest *pm = NULL;
	Concordat__Envelope *pe;
	int rc = ERROR_DECODE;

	memset(msg_id, 0, WIRE_MSG_ID_LEN);
	if (len > WIRE_MAX_FRAME)
		return ERROR_DECODE;
	if (pbutil_unpack(&concordat__frame__descriptor, buf, len, "frame", &pb,
	        NULL, 0) != 0)
		return lenient_msg_id(buf, len, submit_path, 3, msg_id);
	pf = (Concordat__Frame *)pb;
	/* Unknown fields and every other fault are wire_decode's to name. */
	if (pf->body_case != CONCORDAT__FRAME__BODY_SUBMIT ||
	    pf->submit == NULL || (pe = pf->submit->envelope) == NULL ||
	    !pe->has_manifest)
		goto out;
	if (pbutil_unpack(&concordat__manifest__descriptor, pe->manifest.data,
	        pe->manifest.len, "manifest", &pb, NULL, 0) != 0)
		goto out;
	pm = (Concordat__Manifest *)pb;
	if (pm->has_msg_id &&
	    pbutil_bytes(msg_id, WIRE_MSG_ID_LEN, pm->msg_id) == 0)
		rc = ERROR_OK;
out:
	pbutil_free(pm);
	pbutil_free(pf);
	return rc;
}

int
wire_delivery_msg_id(
    const uint8_t *buf, size_t len, uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	memset(msg_id, 0, WIRE_MSG_ID_LEN);
	if (len > WIRE_MAX_FRAME)
		return ERROR_DECODE;
	return lenient_msg_id(buf, len, delivery_path, 2, msg_id);
}

/* ------------------------------------------------------------ encoding */

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

/* Fills pp from p (wire_int.h). */
void
wire_encode_proof(const struct wire_audit_proof *p, Concordat__AuditProof *pp,
    ProtobufCBinaryData *path)
{
	concordat__audit_proof__init(pp);
	pp->has_leaf_index = 1;
	pp->leaf_index = p->leaf_index;
	pp->has_leaf = 1;
	pp->leaf = bin(p->leaf, p->leaf_len);
	for (size_t i = 0; i < p->n_path; i++)
		path[i] = bin(p->path[i], WIRE_HASH_LEN);
	pp->n_path = p->n_path;
	pp->path = path;
	pp->has_checkpoint = 1;
	pp->checkpoint = bin(p->checkpoint, p->checkpoint_len);
	wire_encode_tie(p, pp);
}

static int
pack_frame(Concordat__Frame *f, uint8_t **out, size_t *len)
{
	return pbutil_pack(&f->base, out, len);
}

int
wire_receipt_encode(const struct wire_receipt *r, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Receipt pr = CONCORDAT__RECEIPT__INIT;
	Concordat__AuditProof pp[WIRE_MAX_PROOFS], *ppp[WIRE_MAX_PROOFS];
	ProtobufCBinaryData *paths = NULL;
	int rc;

	if (r->n_decisions > WIRE_MAX_PROOFS)
		return ERROR_INVAL;
	paths = calloc(WIRE_MAX_PROOFS * WIRE_MAX_PATH, sizeof(*paths));
	if (paths == NULL)
		return ERROR_NOMEM;
	pr.has_msg_id = 1;
	pr.msg_id = bin(r->msg_id, WIRE_MSG_ID_LEN);
	pr.has_outcome = 1;
	pr.outcome = (Concordat__Outcome)r->outcome;
	if (r->reason) {
		pr.has_reason = 1;
		pr.reason = (Concordat__Reason)r->reason;
	}
	pr.detail = r->detail[0] ? (char *)(uintptr_t)r->detail : NULL;
	if (r->retryable) {
		pr.has_retryable = 1;
		pr.retryable = 1;
	}
	for (size_t i = 0; i < r->n_decisions; i++) {
		wire_encode_proof(
		    &r->decisions[i], &pp[i], paths + i * WIRE_MAX_PATH);
		ppp[i] = &pp[i];
	}
	pr.n_decisions = r->n_decisions;
	pr.decisions = ppp;
	wire_encode_receipt_agreement_(r, &pr);
	f.body_case = CONCORDAT__FRAME__BODY_RECEIPT;
	f.receipt = &pr;
	rc = pack_frame(&f, out, len);
	free(paths);
	return rc;
}

int
wire_ack_encode(
    const uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__DeliveryAck a = CONCORDAT__DELIVERY_ACK__INIT;

	a.has_msg_id = 1;
	a.msg_id = bin(msg_id, WIRE_MSG_ID_LEN);
	f.body_case = CONCORDAT__FRAME__BODY_DELIVERY_ACK;
	f.delivery_ack = &a;
	return pack_frame(&f, out, len);
}

int
wire_status_ack_encode(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, int state, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__DeliveryAck a = CONCORDAT__DELIVERY_ACK__INIT;

	a.has_msg_id = 1;
	a.msg_id = bin(msg_id, WIRE_MSG_ID_LEN);
	a.recipient = (char *)(uintptr_t)recipient;
	a.has_state = 1;
	a.state = (Concordat__State)state;
	f.body_case = CONCORDAT__FRAME__BODY_DELIVERY_ACK;
	f.delivery_ack = &a;
	return pack_frame(&f, out, len);
}

int
wire_status_encode(const struct wire_status *s, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Status ps = CONCORDAT__STATUS__INIT;
	Concordat__AuditProof pp;
	ProtobufCBinaryData path[WIRE_MAX_PATH];

	ps.has_msg_id = 1;
	ps.msg_id = bin(s->msg_id, WIRE_MSG_ID_LEN);
	ps.recipient = (char *)(uintptr_t)s->recipient;
	ps.has_state = 1;
	ps.state = (Concordat__State)s->state;
	ps.has_at_ms = 1;
	ps.at_ms = s->at_ms;
	if (s->has_event) {
		if (s->event.n_path > WIRE_MAX_PATH)
			return ERROR_INVAL;
		wire_encode_proof(&s->event, &pp, path);
		ps.event = &pp;
	}
	f.body_case = CONCORDAT__FRAME__BODY_STATUS;
	f.status = &ps;
	return pack_frame(&f, out, len);
}
