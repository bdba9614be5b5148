/*
 * What a decoded frame takes of the heap: wire_decode allocates the part
 * of struct wire_frame the frame's type needs, and for a Submit room for
 * the grants it carries only, not the whole union (a receipt's 34 KB,
 * which every Submit used to be given). Every member the type has is
 * still there, and what ASan sees of each allocation is its exact size.
 * Its protobuf is unpacked into one arena, a chunk or two of heap. And a
 * delivery frame is built without decoding its stored bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/envelope.h"
#include "tests/unit/testutil.h"

static struct tu_agency police, mht, amb, social;

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	tu_agency_init(&police, "police", 1);
	tu_agency_init(&mht, "mental_health_trust", 2);
	tu_agency_init(&amb, "ambulance", 3);
	tu_agency_init(&social, "social_care", 4);
	return 0;
}

/* f's allocation holds need bytes, and not much more (malloc rounds). */
static void
assert_sized(const struct wire_frame *f, size_t need)
{
	size_t got = malloc_usable_size((void *)(uintptr_t)f);

	if (got < need || got >= need + 64)
		fail_msg("frame of type %d: %zu bytes allocated, %zu needed",
		    f->type, got, need);
}

/*
 * A Submit is sized by its grants, and its protobuf comes from one arena:
 * with fields of some KB, a chunk of heap or two, where it took a malloc
 * and a wiping free per block, some dozens.
 */
static void
test_submit_sized_by_grants(void **state)
{
	const struct tu_agency *to[] = {&mht, &amb, &social};
	static size_t lens[2][FIELDS_COUNT + 1];
	const size_t grants = offsetof(struct wire_frame, u.submit.grants);

	(void)state;
	for (size_t i = 1; i <= FIELDS_COUNT; i++)
		lens[1][i] = 64 * i;
	for (size_t k = 0; k < 2; k++)
		for (size_t n = 1; n <= 3; n++) {
			struct tu_msg m;
			struct wire_frame *f;
			tu_msg_init(&m, &police, to, n, lens[k]);
			assert_int_equal(tu_seal(&m), 0);
			f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
			assert_int_equal(f->u.submit.n_grants, n);
			for (size_t i = 0; i < n; i++)
				assert_string_equal(
				    f->u.submit.grants[i].recipient, to[i]->id);
			assert_int_equal(envelope_verify_signature(
			                     &f->u.submit, police.sign_pk),
			    0);
			assert_sized(f, grants + n * sizeof(struct wire_grant));
			assert_true(grants + n * sizeof(struct wire_grant) <
			    sizeof(struct wire_frame) / 2);
			assert_true(k == 0 || m.len > 4096);
			assert_in_range(wire_frame_chunks(f), 1, 2);
			wire_frame_free(f);
			tu_msg_release(&m);
		}
}

static void
test_small_frames_small(void **state)
{
	uint8_t id[WIRE_MSG_ID_LEN], *buf;
	struct wire_frame *f;
	size_t len;

	(void)state;
	randombytes_buf(id, sizeof(id));
	assert_int_equal(wire_status_ack_encode(
	                     id, "ambulance", WIRE_STATE_DELIVERED, &buf, &len),
	    0);
	f = tu_decode(buf, len, WIRE_DELIVERY_ACK);
	assert_string_equal(f->u.ack_recipient, "ambulance");
	assert_int_equal(f->u.ack_state, WIRE_STATE_DELIVERED);
	assert_sized(f, offsetof(struct wire_frame, u.ack_state) + sizeof(int));
	wire_frame_free(f);
	free(buf);
	assert_int_equal(wire_proof_request_encode(77, &buf, &len), 0);
	f = tu_decode(buf, len, WIRE_PROOF_REQUEST);
	assert_int_equal(f->u.proof_request_size, 77);
	assert_sized(f,
	    offsetof(struct wire_frame, u.proof_request_to) + sizeof(uint64_t));
	wire_frame_free(f);
	free(buf);
}

/* A proof whose bytes are all made up: the frame carries it as given. */
static void
made_up_proof(struct wire_audit_proof *p)
{
	static const char note[] = "a checkpoint note\n";
	static const uint8_t leaf[] = {1, 2, 3};

	memset(p, 0, sizeof(*p));
	p->leaf_index = 41;
	p->leaf = leaf;
	p->leaf_len = sizeof(leaf);
	p->n_path = 3;
	for (size_t i = 0; i < p->n_path; i++)
		memset(p->path[i], (int)i + 7, WIRE_HASH_LEN);
	p->checkpoint = note;
	p->checkpoint_len = sizeof(note) - 1;
}

/*
 * A delivery frame is the stored redacted bytes with the decision appended
 * (not decoded and encoded again): it decodes to the same delivery with
 * that decision. Stored bytes that already hold a decision, or that are
 * not a Delivery's fields, are refused.
 */
static void
test_delivery_appends_decision(void **state)
{
	const struct tu_agency *to[] = {&mht};
	static const size_t lens[FIELDS_COUNT + 1] = {0};
	struct wire_audit_proof p;
	struct wire_frame *f, *df, *again;
	struct tu_msg m;
	fieldset sent;
	uint8_t *d, *buf, *buf2, *twice;
	size_t dlen, len, len2;

	(void)state;
	tu_msg_init(&m, &police, to, 1, lens);
	assert_int_equal(tu_seal(&m), 0);
	f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
	assert_int_equal(envelope_redact(&f->u.submit, "mental_health_trust",
	                     FIELDS_BIT(FIELD_IDENTITY), &sent, &d, &dlen),
	    0);
	made_up_proof(&p);
	assert_int_equal(wire_delivery_frame(d, dlen, &p, &buf, &len), 0);
	df = tu_decode(buf, len, WIRE_DELIVERY);
	assert_true(df->u.delivery.has_decision);
	assert_int_equal(df->u.delivery.decision.leaf_index, 41);
	assert_int_equal(df->u.delivery.decision.n_path, 3);
	assert_memory_equal(df->u.delivery.decision.path[2], p.path[2], 32);
	assert_int_equal(df->u.delivery.fields, FIELDS_BIT(FIELD_IDENTITY));
	assert_sized(
	    df, offsetof(struct wire_frame, u) + sizeof(df->u.delivery));

	/* The frame's Delivery bytes, decision included, stored again. */
	size_t hn = 1;
	while (buf[hn] & 0x80)
		hn++;
	hn++;
	twice = malloc(len - hn);
	assert_non_null(twice);
	memcpy(twice, buf + hn, len - hn);
	assert_int_equal(wire_delivery_frame(twice, len - hn, &p, &buf2, &len2),
	    ERROR_DECODE);
	assert_int_equal(wire_delivery_frame(d, dlen - 1, &p, &buf2, &len2),
	    ERROR_DECODE); /* its last field cut short */
	assert_int_equal(wire_delivery_frame(
	                     (const uint8_t *)"\x08\x01", 2, &p, &buf2, &len2),
	    ERROR_DECODE); /* a varint field: Delivery has none */
	/* No fields at all: a frame is built, and the recipient refuses it
	 * for want of a manifest, as it would any such frame. */
	assert_int_equal(wire_delivery_frame(d, 0, &p, &buf2, &len2), 0);
	assert_int_equal(
	    wire_decode(buf2, len2, &again, NULL, 0), ERROR_DECODE);
	assert_null(again);
	free(buf2);
	free(twice);
	wire_frame_free(df);
	free(buf);
	free(d);
	wire_frame_free(f);
	tu_msg_release(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_sized_by_grants),
	    cmocka_unit_test(test_small_frames_small),
	    cmocka_unit_test(test_delivery_appends_decision),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
