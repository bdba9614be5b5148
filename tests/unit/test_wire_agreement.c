/*
 * The agreement frames and members (proto/wire_agreement.c): Agreement
 * and AgreementRequest round trips and refusals, Manifest.agreement signed
 * with the manifest and checked for its length, Receipt.agreement, the
 * agreement_mismatch reason, and a grant of no wraps.
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
#include "proto/envelope.h"
#include "proto/wire.h"
#include "tests/unit/testutil.h"

static void
test_agreement_frame(void **state)
{
	static const uint8_t yaml[] = "agreement: a\nversion: 1\n";
	static const uint8_t note[] = "concordat/agreement/v1\na\n1\nX\n\n";
	uint8_t *f = NULL, *big;
	size_t len;

	(void)state;
	assert_int_equal(wire_agreement_encode(yaml, sizeof(yaml) - 1, note,
	                     sizeof(note) - 1, &f, &len),
	    0);
	struct wire_frame *d = tu_decode(f, len, WIRE_AGREEMENT);
	assert_int_equal(d->u.agreement.yaml_len, sizeof(yaml) - 1);
	assert_memory_equal(d->u.agreement.yaml, yaml, sizeof(yaml) - 1);
	assert_int_equal(d->u.agreement.note_len, sizeof(note) - 1);
	assert_memory_equal(d->u.agreement.note, note, sizeof(note) - 1);
	wire_frame_free(d);
	free(f);
	/* Neither part may be missing, nor the note over its limit. */
	assert_int_equal(
	    wire_agreement_encode(yaml, 0, note, sizeof(note), &f, &len),
	    ERROR_INVAL);
	assert_int_equal(
	    wire_agreement_encode(yaml, sizeof(yaml), note, 0, &f, &len),
	    ERROR_INVAL);
	big = calloc(1, WIRE_NOTE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(wire_agreement_encode(yaml, sizeof(yaml), big,
	                     WIRE_NOTE_MAX + 1, &f, &len),
	    ERROR_INVAL);
	/* Crafted: a note over the limit is refused by the decoder. */
	Concordat__Frame pf = CONCORDAT__FRAME__INIT;
	Concordat__Agreement pa = CONCORDAT__AGREEMENT__INIT;
	pa.has_yaml = 1;
	pa.yaml.data = (uint8_t *)(uintptr_t)yaml;
	pa.yaml.len = sizeof(yaml);
	pa.has_note = 1;
	pa.note.data = big;
	pa.note.len = WIRE_NOTE_MAX + 1;
	pf.body_case = CONCORDAT__FRAME__BODY_AGREEMENT;
	pf.agreement = &pa;
	f = tu_pack(&pf.base, &len);
	assert_int_equal(wire_decode(f, len, &d, NULL, 0), ERROR_DECODE);
	free(f);
	pa.has_note = 0; /* no note at all */
	f = tu_pack(&pf.base, &len);
	assert_int_equal(wire_decode(f, len, &d, NULL, 0), ERROR_DECODE);
	free(f);
	free(big);
}

static void
test_agreement_request(void **state)
{
	uint8_t sha[32], *f;
	size_t len;

	(void)state;
	memset(sha, 0xa5, sizeof(sha));
	assert_int_equal(wire_agreement_request_encode(sha, &f, &len), 0);
	struct wire_frame *d = tu_decode(f, len, WIRE_AGREEMENT_REQUEST);
	assert_true(d->u.agreement.has_sha);
	assert_memory_equal(d->u.agreement.sha256, sha, 32);
	wire_frame_free(d);
	free(f);
	/* None: the current one. */
	assert_int_equal(wire_agreement_request_encode(NULL, &f, &len), 0);
	d = tu_decode(f, len, WIRE_AGREEMENT_REQUEST);
	assert_false(d->u.agreement.has_sha);
	wire_frame_free(d);
	free(f);
	/* 31 bytes: refused. */
	Concordat__Frame pf = CONCORDAT__FRAME__INIT;
	Concordat__AgreementRequest pr = CONCORDAT__AGREEMENT_REQUEST__INIT;
	pr.has_sha256 = 1;
	pr.sha256.data = sha;
	pr.sha256.len = 31;
	pf.body_case = CONCORDAT__FRAME__BODY_AGREEMENT_REQUEST;
	pf.agreement_request = &pr;
	f = tu_pack(&pf.base, &len);
	assert_int_equal(wire_decode(f, len, &d, NULL, 0), ERROR_DECODE);
	free(f);
}

/* A message of police to the trust, its grants and agreement as given. */
static void
seal(const uint8_t *agreement, const fieldset *grants, uint8_t **f, size_t *len)
{
	struct tu_agency police, mht;
	const char *recips[1] = {"mental_health_trust"};
	uint8_t shared[1][32], ref[32] = {1}, id[WIRE_MSG_ID_LEN];
	struct envelope_seal_args a;

	tu_agency_init(&police, "police", 1);
	tu_agency_init(&mht, "mental_health_trust", 2);
	tu_shared(&police, &mht, shared[0]);
	memset(&a, 0, sizeof(a));
	a.sender = "police";
	a.sign_sk = police.sign_sk;
	a.created_at_ms = 1;
	a.kind = KIND_RECORD;
	a.urgency = URGENCY_URGENT;
	a.purpose = "triage_advice";
	a.subject_ref = ref;
	a.n_recipients = 1;
	a.recipients = recips;
	a.shared = (const uint8_t(*)[32])shared;
	a.grants = grants;
	a.agreement = agreement;
	assert_int_equal(envelope_seal(&a, id, f, len), 0);
}

static void
test_manifest_agreement(void **state)
{
	uint8_t sha[32], *f;
	size_t len;
	fieldset none = 0;

	(void)state;
	memset(sha, 0x3c, sizeof(sha));
	seal(sha, NULL, &f, &len);
	struct wire_frame *d = tu_decode(f, len, WIRE_SUBMIT);
	assert_true(d->u.submit.m.has_agreement);
	assert_memory_equal(d->u.submit.m.agreement, sha, 32);
	wire_frame_free(d);
	free(f);
	/* Absent when not given; a grant of nothing is a grant of no wraps. */
	seal(NULL, &none, &f, &len);
	d = tu_decode(f, len, WIRE_SUBMIT);
	assert_false(d->u.submit.m.has_agreement);
	assert_int_equal(d->u.submit.n_grants, 1);
	assert_int_equal(d->u.submit.grants[0].fields, 0);
	wire_frame_free(d);
	/* 31 bytes: the manifest is refused. */
	Concordat__Frame *pf = tu_frame_unpack(f, len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm =
	    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	pm->has_agreement = 1;
	pm->agreement.data = sha;
	pm->agreement.len = 31;
	size_t mlen;
	uint8_t *mb = tu_pack(&pm->base, &mlen);
	struct wire_manifest m;
	char why[128];
	assert_int_equal(
	    wire_manifest_decode(mb, mlen, &m, why, sizeof(why)), ERROR_DECODE);
	assert_non_null(strstr(why, "agreement"));
	pm->agreement.data = NULL; /* not the unpacked message's to free */
	pm->has_agreement = 0;
	free(mb);
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	free(f);
}

static void
test_receipt_agreement(void **state)
{
	struct wire_receipt *r = calloc(1, sizeof(*r));
	uint8_t *f;
	size_t len;

	(void)state;
	assert_non_null(r);
	r->outcome = WIRE_REJECTED;
	r->reason = WIRE_REASON_AGREEMENT_MISMATCH;
	r->retryable = true;
	r->has_agreement = true;
	memset(r->agreement, 0x77, 32);
	assert_int_equal(wire_receipt_encode(r, &f, &len), 0);
	struct wire_frame *d = tu_decode(f, len, WIRE_RECEIPT);
	assert_int_equal(d->u.receipt.reason, WIRE_REASON_AGREEMENT_MISMATCH);
	assert_true(d->u.receipt.retryable);
	assert_true(d->u.receipt.has_agreement);
	assert_memory_equal(d->u.receipt.agreement, r->agreement, 32);
	assert_string_equal(
	    wire_reason_name(d->u.receipt.reason), "agreement_mismatch");
	assert_true(wire_reason_retryable(WIRE_REASON_AGREEMENT_MISMATCH));
	wire_frame_free(d);
	free(f);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agreement_frame),
	    cmocka_unit_test(test_agreement_request),
	    cmocka_unit_test(test_manifest_agreement),
	    cmocka_unit_test(test_receipt_agreement),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
