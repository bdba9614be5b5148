/*
 * The agreement members of an audit event (proto/event.c, P3):
 * policy_refused (12), agreement_id (23), agreement_version (24) and
 * signers (25) round-trip, and the decoder's bounds on them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/event.h"
#include "proto/jsonval.h"
#include "tests/unit/testutil.h" /* the generated types */

static void
full(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_POLICY_REFUSED;
	ev->time_ms = 1700000000000ULL;
	ev->has_policy_sha256 = true;
	memset(ev->policy_sha256, 0x5a, 32);
	memset(ev->agreement_id, 'a', EVENT_AGREEMENT_ID_MAX);
	ev->agreement_version = 7;
	ev->n_signers = EVENT_MAX_SIGNERS;
	for (int i = 0; i < EVENT_MAX_SIGNERS; i++)
		snprintf(
		    ev->signers[i], sizeof(ev->signers[i]), "agency_%d", i);
	snprintf(ev->detail, sizeof(ev->detail), "not signed by social_care");
}

static void
test_roundtrip(void **state)
{
	struct event ev, back;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(EVENT_POLICY_REFUSED, 12);
	assert_string_equal(
	    event_type_name(EVENT_POLICY_REFUSED), "policy_refused");
	assert_int_equal(event_type_parse("policy_refused"), 12);
	full(&ev);
	assert_int_equal(event_encode(&ev, &buf, &len), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(event_decode(buf, len, &back), 0);
	assert_memory_equal(&ev, &back, sizeof(ev));

	/* The wire: field numbers 23, 24 and 25. */
	Concordat__AuditEvent *m =
	    concordat__audit_event__unpack(NULL, len, buf);
	assert_non_null(m);
	assert_int_equal(m->type, 12);
	assert_int_equal(strlen(m->agreement_id), EVENT_AGREEMENT_ID_MAX);
	assert_true(m->has_agreement_version);
	assert_int_equal(m->agreement_version, 7);
	assert_int_equal(m->n_signers, EVENT_MAX_SIGNERS);
	assert_string_equal(m->signers[3], "agency_3");
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(
	        &concordat__audit_event__descriptor, "agreement_id");
	assert_int_equal(fd->id, 23);
	fd = protobuf_c_message_descriptor_get_field_by_name(
	    &concordat__audit_event__descriptor, "agreement_version");
	assert_int_equal(fd->id, 24);
	fd = protobuf_c_message_descriptor_get_field_by_name(
	    &concordat__audit_event__descriptor, "signers");
	assert_int_equal(fd->id, 25);

	/* Too many signers, or too long an id, are refused both ways. */
	m->n_signers = EVENT_MAX_SIGNERS + 1;
	char **more = calloc(EVENT_MAX_SIGNERS + 1, sizeof(*more));
	for (int i = 0; i <= EVENT_MAX_SIGNERS; i++)
		more[i] = "x";
	char **saved = m->signers;
	m->signers = more;
	size_t n2 = concordat__audit_event__get_packed_size(m);
	uint8_t *b2 = malloc(n2);
	concordat__audit_event__pack(m, b2);
	assert_int_equal(event_decode(b2, n2, &back), ERROR_DECODE);
	free(b2);
	m->signers = saved;
	m->n_signers = EVENT_MAX_SIGNERS;
	free(more);
	char *longid = malloc(EVENT_AGREEMENT_ID_MAX + 2);
	memset(longid, 'a', EVENT_AGREEMENT_ID_MAX + 1);
	longid[EVENT_AGREEMENT_ID_MAX + 1] = '\0';
	char *sid = m->agreement_id;
	m->agreement_id = longid;
	n2 = concordat__audit_event__get_packed_size(m);
	b2 = malloc(n2);
	concordat__audit_event__pack(m, b2);
	assert_int_equal(event_decode(b2, n2, &back), ERROR_DECODE);
	free(b2);
	m->agreement_id = sid;
	free(longid);
	concordat__audit_event__free_unpacked(m, NULL);
	ev.n_signers = EVENT_MAX_SIGNERS + 1;
	free(buf);
	assert_int_equal(event_encode(&ev, &buf, &len), ERROR_INVAL);

	/* The audit row names them. */
	full(&ev);
	ev.n_signers = 2;
	json_t *o = jsonval_event(5, &ev);
	assert_non_null(o);
	assert_string_equal(
	    json_string_value(json_object_get(o, "type")), "policy_refused");
	assert_int_equal(
	    json_integer_value(json_object_get(o, "agreement_version")), 7);
	assert_int_equal(json_array_size(json_object_get(o, "signers")), 2);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(o, "agreement_id"))),
	    EVENT_AGREEMENT_ID_MAX);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
