/*
 * What a decoded frame takes of the heap: wire_decode allocates the part
 * of struct wire_frame the frame's type needs, and for a Submit room for
 * the grants it carries only, not the whole union (a receipt's 34 KB,
 * which every Submit used to be given). Every member the type has is
 * still there, and what ASan sees of each allocation is its exact size.
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

static void
test_submit_sized_by_grants(void **state)
{
	const struct tu_agency *to[] = {&mht, &amb, &social};
	static const size_t lens[FIELDS_COUNT + 1] = {0};
	const size_t grants = offsetof(struct wire_frame, u.submit.grants);

	(void)state;
	for (size_t n = 1; n <= 3; n++) {
		struct tu_msg m;
		struct wire_frame *f;
		tu_msg_init(&m, &police, to, n, lens);
		assert_int_equal(tu_seal(&m), 0);
		f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
		assert_int_equal(f->u.submit.n_grants, n);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(
			    f->u.submit.grants[i].recipient, to[i]->id);
		assert_int_equal(
		    envelope_verify_signature(&f->u.submit, police.sign_pk), 0);
		assert_sized(f, grants + n * sizeof(struct wire_grant));
		assert_true(grants + n * sizeof(struct wire_grant) <
		    sizeof(struct wire_frame) / 2);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_sized_by_grants),
	    cmocka_unit_test(test_small_frames_small),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
