/*
 * The agreement frames and members (DESIGN.md §5 and §6, "signed
 * agreements"): Agreement {yaml, note} from the broker, AgreementRequest
 * {sha256} from an agent, Manifest.agreement and Receipt.agreement.
 * wire.c's decoders call the pieces here; the encoders are wire.h's.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/pbutil.h"
#include "proto/wire.h"

#define WHY(...) pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

int
wire_decode_agreement_(const Concordat__Agreement *pa, struct wire_agreement *a,
    char *why, size_t whylen)
{
	memset(a, 0, sizeof(*a));
	if (!pa->has_yaml || pa->yaml.len == 0)
		return WHY("agreement without its YAML");
	if (!pa->has_note || pa->note.len == 0)
		return WHY("agreement without its signature note");
	if (pa->note.len > WIRE_NOTE_MAX)
		return WHY("agreement note of %zu bytes is over %d",
		    pa->note.len, WIRE_NOTE_MAX);
	a->yaml = pa->yaml.data;
	a->yaml_len = pa->yaml.len;
	a->note = pa->note.data;
	a->note_len = pa->note.len;
	return ERROR_OK;
}

int
wire_decode_agreement_request_(const Concordat__AgreementRequest *pr,
    struct wire_agreement *a, char *why, size_t whylen)
{
	memset(a, 0, sizeof(*a));
	if (!pr->has_sha256 || pr->sha256.len == 0)
		return ERROR_OK; /* the current one */
	if (pbutil_bytes(a->sha256, WIRE_HASH_LEN, pr->sha256) != 0)
		return WHY(
		    "agreement request sha256 is not %d bytes", WIRE_HASH_LEN);
	a->has_sha = true;
	return ERROR_OK;
}

int
wire_decode_manifest_agreement_(const Concordat__Manifest *pm,
    struct wire_manifest *m, char *why, size_t whylen)
{
	if (!pm->has_agreement)
		return ERROR_OK;
	if (pbutil_bytes(m->agreement, WIRE_HASH_LEN, pm->agreement) != 0)
		return WHY("manifest agreement is not %d bytes", WIRE_HASH_LEN);
	m->has_agreement = true;
	return ERROR_OK;
}

int
wire_decode_receipt_agreement_(const Concordat__Receipt *pr,
    struct wire_receipt *r, char *why, size_t whylen)
{
	if (!pr->has_agreement)
		return ERROR_OK;
	if (pbutil_bytes(r->agreement, WIRE_HASH_LEN, pr->agreement) != 0)
		return WHY("receipt agreement is not %d bytes", WIRE_HASH_LEN);
	r->has_agreement = true;
	return ERROR_OK;
}

void
wire_encode_receipt_agreement_(
    const struct wire_receipt *r, Concordat__Receipt *pr)
{
	if (!r->has_agreement)
		return;
	pr->has_agreement = 1;
	pr->agreement = bin(r->agreement, WIRE_HASH_LEN);
}

int
wire_agreement_encode(const uint8_t *yaml, size_t yaml_len, const uint8_t *note,
    size_t note_len, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Agreement pa = CONCORDAT__AGREEMENT__INIT;

	if (yaml == NULL || yaml_len == 0 || note == NULL || note_len == 0 ||
	    note_len > WIRE_NOTE_MAX)
		return ERROR_INVAL;
	pa.has_yaml = 1;
	pa.yaml = bin(yaml, yaml_len);
	pa.has_note = 1;
	pa.note = bin(note, note_len);
	f.body_case = CONCORDAT__FRAME__BODY_AGREEMENT;
	f.agreement = &pa;
	return pbutil_pack(&f.base, out, len);
}

int
wire_agreement_request_encode(const uint8_t *sha256, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__AgreementRequest pr = CONCORDAT__AGREEMENT_REQUEST__INIT;

	if (sha256 != NULL) {
		pr.has_sha256 = 1;
		pr.sha256 = bin(sha256, WIRE_HASH_LEN);
	}
	f.body_case = CONCORDAT__FRAME__BODY_AGREEMENT_REQUEST;
	f.agreement_request = &pr;
	return pbutil_pack(&f.base, out, len);
}
