/*
 * proto/wire_witness.c: the witnessed log's members round trip (a
 * ProofRequest naming both sizes, a Proof with its to_size and witnesses,
 * a Cosignature, the AuditProof's tie) and each malformed one is refused
 * with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/wire.h"
#include "tests/unit/testutil.h"

static struct wire_frame *
decode_ok(const uint8_t *buf, size_t len)
{
	struct wire_frame *f = NULL;
	char why[256];

	if (wire_decode(buf, len, &f, why, sizeof(why)) != 0)
		fail_msg("does not decode: %s", why);
	return f;
}

static int
pack_rc(const ProtobufCMessage *m, char *why, size_t n)
{
	size_t len;
	uint8_t *b = tu_pack(m, &len);
	struct wire_frame *f = NULL;
	int rc = wire_decode(b, len, &f, why, n);

	wire_frame_free(f);
	free(b);
	return rc;
}

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

static void
test_proof_request(void **state)
{
	uint8_t *buf;
	size_t len;
	struct wire_frame *f;

	(void)state;
	assert_int_equal(wire_proof_request_between(7, 42, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_int_equal(f->type, WIRE_PROOF_REQUEST);
	assert_int_equal(f->u.proof_request_size, 7);
	assert_int_equal(f->u.proof_request_to, 42);
	wire_frame_free(f);
	free(buf);
	/* The old form: to absent, the latest. */
	assert_int_equal(wire_proof_request_encode(7, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_int_equal(f->u.proof_request_to, 0);
	wire_frame_free(f);
	free(buf);
}

static void
test_cosignature(void **state)
{
	struct wire_cosignature c, *g;
	struct wire_frame *f;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.tree_size = 99;
	memset(c.root, 0x11, 32);
	c.timestamp = 1764662400;
	memset(c.signature, 0x22, 64);
	assert_int_equal(wire_cosignature_encode(&c, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_int_equal(f->type, WIRE_COSIGNATURE);
	g = &f->u.cosignature;
	assert_true(g->tree_size == 99 && g->timestamp == 1764662400);
	assert_memory_equal(g->root, c.root, 32);
	assert_memory_equal(g->signature, c.signature, 64);
	assert_string_equal(g->agency, "");
	wire_frame_free(f);
	free(buf);
}

static void
test_cosignature_refused(void **state)
{
	Concordat__Frame fr = CONCORDAT__FRAME__INIT;
	Concordat__Cosignature c = CONCORDAT__COSIGNATURE__INIT;
	uint8_t root[33] = {0}, sig[65] = {0};
	char why[256];

	(void)state;
	fr.body_case = CONCORDAT__FRAME__BODY_COSIGNATURE;
	fr.cosignature = &c;
	c.has_tree_size = 1;
	c.tree_size = 5;
	c.has_root = 1;
	c.root = bin(root, 32);
	c.has_timestamp = 1;
	c.has_signature = 1;
	c.signature = bin(sig, 64);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), 0);
	c.root = bin(root, 33);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	assert_non_null(strstr(why, "root"));
	c.root = bin(root, 32);
	c.signature = bin(sig, 65);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	c.signature = bin(sig, 64);
	c.has_timestamp = 0;
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	c.has_timestamp = 1;
	c.tree_size = 0;
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
}

static void
test_proof_witnesses(void **state)
{
	static struct wire_proof p;
	static uint8_t paths[2][3][32];
	struct wire_frame *f;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.checkpoint = "note";
	p.checkpoint_len = 4;
	p.from_size = 3;
	p.to_size = 9;
	p.n_path = 1;
	memset(p.path[0], 0x33, 32);
	p.n_witnesses = 2;
	memset(paths, 0x44, sizeof(paths));
	for (int i = 0; i < 2; i++) {
		struct wire_cosignature *c = &p.witnesses[i];
		snprintf(c->agency, sizeof(c->agency), "%s",
		    i ? "police" : "social_care");
		c->tree_size = 5 + (uint64_t)i;
		memset(c->root, 0x50 + i, 32);
		c->timestamp = 100 + (uint64_t)i;
		memset(c->signature, 0x60 + i, 64);
		c->path = (const uint8_t(*)[32])paths[i];
		c->n_path = i ? 3 : 0;
	}
	assert_int_equal(wire_proof_encode(&p, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_int_equal(f->type, WIRE_PROOF);
	assert_true(f->u.proof.to_size == 9 && f->u.proof.from_size == 3);
	assert_int_equal(f->u.proof.n_witnesses, 2);
	const struct wire_cosignature *g = &f->u.proof.witnesses[1];
	assert_string_equal(g->agency, "police");
	assert_true(g->tree_size == 6 && g->timestamp == 101);
	assert_memory_equal(g->root, p.witnesses[1].root, 32);
	assert_memory_equal(g->signature, p.witnesses[1].signature, 64);
	assert_int_equal(g->n_path, 3);
	assert_memory_equal(g->path, paths[1], 3 * 32);
	assert_int_equal(f->u.proof.witnesses[0].n_path, 0);
	assert_null(f->u.proof.witnesses[0].path);
	wire_frame_free(f);
	free(buf);
}

static void
test_proof_witnesses_refused(void **state)
{
	Concordat__Frame fr = CONCORDAT__FRAME__INIT;
	Concordat__Proof p = CONCORDAT__PROOF__INIT;
	Concordat__Witnessed w[2], *wp[2] = {&w[0], &w[1]};
	uint8_t root[32] = {0}, sig[64] = {0}, path[65 * 32] = {0};
	char why[256];

	(void)state;
	fr.body_case = CONCORDAT__FRAME__BODY_PROOF;
	fr.proof = &p;
	p.has_checkpoint = 1;
	p.checkpoint = bin("note", 4);
	for (int i = 0; i < 2; i++) {
		concordat__witnessed__init(&w[i]);
		w[i].agency = (char *)(uintptr_t)(i ? "police" : "social_care");
		w[i].has_tree_size = 1;
		w[i].tree_size = 4;
		w[i].has_root = 1;
		w[i].root = bin(root, 32);
		w[i].has_timestamp = 1;
		w[i].has_signature = 1;
		w[i].signature = bin(sig, 64);
	}
	p.witnesses = wp;
	p.n_witnesses = 2;
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), 0);
	/* A path of a whole number of hashes, at most 64 of them. */
	w[1].has_path = 1;
	w[1].path = bin(path, 33);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	assert_non_null(strstr(why, "witness path"));
	w[1].path = bin(path, 65 * 32);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	w[1].path = bin(path, 64 * 32);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), 0);
	/* One witness per agency, each a valid agency id. */
	w[1].agency = (char *)(uintptr_t) "social_care";
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	assert_non_null(strstr(why, "two witnesses"));
	w[1].agency = (char *)(uintptr_t) "Not An Agency";
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	w[1].agency = (char *)(uintptr_t) "police";
	w[1].has_tree_size = 0;
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
}

static void
test_tie(void **state)
{
	static struct wire_status s;
	static uint8_t tie[4][32];
	struct wire_frame *f;
	uint8_t *buf, leaf[3] = {1, 2, 3};
	size_t len;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(s.msg_id, 7, 16);
	snprintf(s.recipient, sizeof(s.recipient), "police");
	s.state = WIRE_STATE_DELIVERED;
	s.has_event = true;
	s.event.leaf = leaf;
	s.event.leaf_len = sizeof(leaf);
	s.event.checkpoint = "cp";
	s.event.checkpoint_len = 2;
	memset(tie, 0x77, sizeof(tie));
	s.event.has_tie = true;
	s.event.tie_size = 12;
	s.event.tie_path = (const uint8_t(*)[32])tie;
	s.event.n_tie = 4;
	assert_int_equal(wire_status_encode(&s, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_true(f->u.status.event.has_tie);
	assert_true(f->u.status.event.tie_size == 12);
	assert_int_equal(f->u.status.event.n_tie, 4);
	assert_memory_equal(f->u.status.event.tie_path, tie, sizeof(tie));
	wire_frame_free(f);
	free(buf);
	/* No tie: none decoded. */
	s.event.has_tie = false;
	assert_int_equal(wire_status_encode(&s, &buf, &len), 0);
	f = decode_ok(buf, len);
	assert_false(f->u.status.event.has_tie);
	assert_int_equal(f->u.status.event.n_tie, 0);
	wire_frame_free(f);
	free(buf);
}

static void
test_tie_refused(void **state)
{
	Concordat__Frame fr = CONCORDAT__FRAME__INIT;
	Concordat__Status st = CONCORDAT__STATUS__INIT;
	Concordat__AuditProof ap = CONCORDAT__AUDIT_PROOF__INIT;
	uint8_t id[16] = {0}, path[40] = {0};
	char why[256];

	(void)state;
	fr.body_case = CONCORDAT__FRAME__BODY_STATUS;
	fr.status = &st;
	st.has_msg_id = 1;
	st.msg_id = bin(id, 16);
	st.recipient = (char *)(uintptr_t) "police";
	st.has_state = 1;
	st.state = CONCORDAT__STATE__STATE_DELIVERED;
	st.event = &ap;
	ap.has_leaf_index = 1;
	ap.has_leaf = 1;
	ap.leaf = bin("l", 1);
	ap.has_checkpoint = 1;
	ap.checkpoint = bin("cp", 2);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), 0);
	ap.has_tie_path = 1;
	ap.tie_path = bin(path, 32);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
	assert_non_null(strstr(why, "tie"));
	ap.has_tie_size = 1;
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), 0);
	ap.tie_path = bin(path, 40);
	assert_int_equal(pack_rc(&fr.base, why, sizeof(why)), ERROR_DECODE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proof_request),
	    cmocka_unit_test(test_cosignature),
	    cmocka_unit_test(test_cosignature_refused),
	    cmocka_unit_test(test_proof_witnesses),
	    cmocka_unit_test(test_proof_witnesses_refused),
	    cmocka_unit_test(test_tie),
	    cmocka_unit_test(test_tie_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
