/*
 * The pepper id on the wire: Manifest.pepper_id (17), signed with the
 * manifest and decoded when present, absent from older manifests; and
 * AuditEvent.pepper_id (29), round-tripping, absent from older entries,
 * which still decode; a wrong length refused in both.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/envelope.h"
#include "proto/event.h"
#include "tests/unit/testutil.h" /* the generated types */

static struct tu_agency police, mht;

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	tu_agency_init(&police, "police", 1);
	tu_agency_init(&mht, "mental_health_trust", 2);
	return 0;
}

static void
seal(struct tu_msg *m, const uint8_t *pid)
{
	const struct tu_agency *to[] = {&mht};
	static const size_t lens[FIELDS_COUNT + 1] = {0};

	tu_msg_init(m, &police, to, 1, lens);
	memset(m->subject_ref, 0x5e, sizeof(m->subject_ref));
	m->pepper_id = pid;
	assert_int_equal(tu_seal(m), 0);
}

static void
test_manifest(void **state)
{
	struct tu_msg m;
	uint8_t pid[32];
	struct wire_frame *f;

	(void)state;
	memset(pid, 0xa7, sizeof(pid));
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(
	        &concordat__manifest__descriptor, "pepper_id");
	assert_non_null(fd);
	assert_int_equal(fd->id, 17);

	/* Sealed with one: decoded, and under the sender's signature. */
	seal(&m, pid);
	f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
	assert_true(f->u.submit.m.has_pepper_id);
	assert_memory_equal(f->u.submit.m.pepper_id, pid, 32);
	assert_int_equal(
	    envelope_verify_signature(&f->u.submit, police.sign_pk), 0);
	/* In the signed bytes: another id breaks the signature. */
	size_t off = tu_find(m.frame, m.len, pid, sizeof(pid));
	uint8_t *copy = malloc(m.len);
	assert_non_null(copy);
	memcpy(copy, m.frame, m.len);
	copy[off] ^= 1;
	struct wire_frame *g = tu_decode(copy, m.len, WIRE_SUBMIT);
	assert_int_equal(
	    envelope_verify_signature(&g->u.submit, police.sign_pk),
	    ERROR_SIGNATURE);
	wire_frame_free(g);
	free(copy);
	wire_frame_free(f);
	tu_msg_release(&m);

	/* An older agent's manifest has none, and is as good. */
	seal(&m, NULL);
	f = tu_decode(m.frame, m.len, WIRE_SUBMIT);
	assert_false(f->u.submit.m.has_pepper_id);
	wire_frame_free(f);

	/* 31 bytes: refused, by name. */
	Concordat__Frame *pf = tu_frame_unpack(m.frame, m.len);
	Concordat__Envelope *pe = pf->submit->envelope;
	Concordat__Manifest *pm =
	    tu_manifest_unpack(pe->manifest.data, pe->manifest.len);
	pm->has_pepper_id = 1;
	tu_set_bytes(&pm->pepper_id, pid, 31);
	size_t mlen, len;
	uint8_t *mb = tu_pack(&pm->base, &mlen);
	tu_resign(pf, mb, mlen, police.sign_sk);
	uint8_t *bad = tu_pack(&pf->base, &len);
	char why[256] = "";
	struct wire_frame *h = NULL;
	assert_int_not_equal(wire_decode(bad, len, &h, why, sizeof(why)), 0);
	assert_null(h);
	assert_non_null(strstr(why, "pepper_id must be 32 bytes"));
	free(bad);
	free(mb);
	concordat__manifest__free_unpacked(pm, NULL);
	concordat__frame__free_unpacked(pf, NULL);
	tu_msg_release(&m);
}

static void
test_event(void **state)
{
	struct event *ev = calloc(1, sizeof(*ev)), *back = malloc(sizeof(*ev));
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_non_null(ev);
	assert_non_null(back);
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(
	        &concordat__audit_event__descriptor, "pepper_id");
	assert_non_null(fd);
	assert_int_equal(fd->id, 29);

	ev->type = EVENT_DECISION;
	ev->time_ms = 1795440362000ULL;
	ev->has_subject_ref = true;
	memset(ev->subject_ref, 0x5e, 32);
	ev->has_pepper_id = true;
	memset(ev->pepper_id, 0xa7, 32);
	assert_int_equal(event_encode(ev, &buf, &len), 0);
	memset(back, 0xee, sizeof(*back));
	assert_int_equal(event_decode(buf, len, back), 0);
	assert_memory_equal(ev, back, sizeof(*ev));
	assert_true(event_may_have_pepper_id(buf, len));
	free(buf);

	/* An entry older than pepper ids still decodes, without one. */
	ev->has_pepper_id = false;
	memset(ev->pepper_id, 0, 32);
	assert_int_equal(event_encode(ev, &buf, &len), 0);
	assert_int_equal(event_decode(buf, len, back), 0);
	assert_false(back->has_pepper_id);
	assert_false(event_may_have_pepper_id(buf, len));
	assert_memory_equal(ev, back, sizeof(*ev));

	/* A pepper id of 31 bytes: refused. */
	Concordat__AuditEvent *m =
	    concordat__audit_event__unpack(NULL, len, buf);
	assert_non_null(m);
	uint8_t pid[31];
	memset(pid, 1, sizeof(pid));
	m->has_pepper_id = 1;
	tu_set_bytes(&m->pepper_id, pid, sizeof(pid));
	size_t blen;
	uint8_t *bad = tu_pack(&m->base, &blen);
	assert_int_equal(event_decode(bad, blen, back), ERROR_DECODE);
	free(bad);
	concordat__audit_event__free_unpacked(m, NULL);
	free(buf);
	free(ev);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest),
	    cmocka_unit_test(test_event),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
