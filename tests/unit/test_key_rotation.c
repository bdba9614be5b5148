/*
 * The pieces of key rotation and revocation (issue 12, DESIGN.md §4 and
 * §5): next keys in a keyring (ID.next.pub) and the Notice frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/keys.h"
#include "proto/wire.h"
#include "tests/lib/scratch.h"

static char dir[64], other[96];

static int
setup(void **state)
{
	(void)state;
	umask(022);
	scratch_dir_in(dir, sizeof(dir), "unit");
	snprintf(other, sizeof(other), "%s/other", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	return 0;
}

/* A key of id generated in other/, its .pub copied into dir as name. */
static void
pub_as(const char *id, const char *name, struct keys_public *p)
{
	char from[160], to[160];
	size_t len;

	snprintf(from, sizeof(from), "%s/%s.pub", other, id);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	scratch_rmrf(other);
	assert_int_equal(keys_generate(id, other), 0);
	assert_int_equal(keys_load_public(from, p), 0);
	char *text = scratch_slurp(from, &len);
	assert_non_null(text);
	scratch_spit(to, text, len, 0644);
	free(text);
}

static void
next_key_loaded(void **state)
{
	struct keys_public cur, next, amb;
	struct keyring *kr;
	char err[512] = "";

	(void)state;
	pub_as("police", "police.pub", &cur);
	pub_as("police", "police.next.pub", &next);
	pub_as("ambulance", "ambulance.pub", &amb);
	scratch_rmrf(other);
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), 0);
	/* A next key is no agency of its own. */
	assert_int_equal(keyring_count(kr), 2);
	assert_string_equal(
	    keyring_find(kr, "police")->fingerprint, cur.fingerprint);
	assert_string_equal(
	    keyring_find_next(kr, "police")->fingerprint, next.fingerprint);
	assert_null(keyring_find_next(kr, "ambulance"));
	/* The ZAP handler finds either key's agency. */
	assert_string_equal(
	    keyring_find_transport(kr, next.transport_pk)->fingerprint,
	    next.fingerprint);
	assert_string_equal(
	    keyring_find_transport(kr, cur.transport_pk)->fingerprint,
	    cur.fingerprint);
	keyring_free(kr);
}

static void
next_key_refused(void **state)
{
	struct keys_public p, q;
	struct keyring *kr = NULL;
	char err[512] = "", path[160];
	size_t len;

	(void)state;
	/* A next key without its agency's current one. */
	pub_as("police", "police.next.pub", &p);
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
	assert_null(kr);
	assert_non_null(
	    strstr(err, "police.next.pub: no police.pub beside it"));
	/* A next key that is another agency's current key. */
	pub_as("ambulance", "ambulance.pub", &q);
	snprintf(path, sizeof(path), "%s/ambulance.pub", dir);
	char *text = scratch_slurp(path, &len);
	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/police.pub", dir);
	scratch_spit(path, text, len, 0644); /* holds ambulance: refused */
	free(text);
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
	assert_non_null(strstr(err, "holds the identity of 'ambulance'"));
	/* A next file holding another agency's identity. */
	snprintf(path, sizeof(path), "%s/police.pub", dir);
	unlink(path);
	pub_as("police", "police.pub", &p);
	pub_as("ambulance", "police.next.pub", &q);
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
	assert_non_null(strstr(err, "police.next.pub"));
}

static void
notice_round_trip(void **state)
{
	struct wire_notice n, *got;
	struct wire_frame *f = NULL;
	uint8_t *buf = NULL;
	size_t len;
	char why[256] = "";

	(void)state;
	memset(&n, 0, sizeof(n));
	n.kind = WIRE_NOTICE_KEY_REVOKED;
	snprintf(n.agency, sizeof(n.agency), "police");
	snprintf(n.fingerprint, sizeof(n.fingerprint),
	    "3f2a:9c41:0000:1111:2222:3333:4444:abcd");
	n.revoked_at = 1764676800000ull;
	assert_int_equal(wire_notice_encode(&n, &buf, &len), 0);
	assert_int_equal(wire_decode(buf, len, &f, why, sizeof(why)), 0);
	assert_int_equal(f->type, WIRE_NOTICE);
	got = &f->u.notice;
	assert_int_equal(got->kind, WIRE_NOTICE_KEY_REVOKED);
	assert_string_equal(got->agency, "police");
	assert_string_equal(got->fingerprint, n.fingerprint);
	assert_string_equal(got->replaced_by, "");
	assert_true(got->revoked_at == n.revoked_at);
	wire_frame_free(f);
	free(buf);
	snprintf(n.replaced_by, sizeof(n.replaced_by),
	    "0000:1111:2222:3333:4444:5555:6666:7777");
	assert_int_equal(wire_notice_encode(&n, &buf, &len), 0);
	assert_int_equal(wire_decode(buf, len, &f, why, sizeof(why)), 0);
	assert_string_equal(f->u.notice.replaced_by, n.replaced_by);
	wire_frame_free(f);
	free(buf);
	/* Refused: a bad fingerprint, a bad agency. */
	snprintf(n.fingerprint, sizeof(n.fingerprint), "not a fingerprint");
	assert_int_equal(wire_notice_encode(&n, &buf, &len), ERROR_INVAL);
	snprintf(n.fingerprint, sizeof(n.fingerprint),
	    "3f2a:9c41:0000:1111:2222:3333:4444:abcd");
	snprintf(n.agency, sizeof(n.agency), "Police!");
	assert_int_equal(wire_notice_encode(&n, &buf, &len), ERROR_INVAL);
	/* A notice frame with a bad fingerprint on the wire. */
	static const uint8_t bad[] = {
	    0x5a, 0x0a, 0x08, 0x01, 0x12, 0x01, 'p', 0x1a, 0x03, 'a', 'b', 'c'};
	assert_int_equal(
	    wire_decode(bad, sizeof(bad), &f, why, sizeof(why)), ERROR_DECODE);
	if (strstr(why, "notice") == NULL)
		fail_msg("why: %s", why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(next_key_loaded, setup, teardown),
	    cmocka_unit_test_setup_teardown(next_key_refused, setup, teardown),
	    cmocka_unit_test(notice_round_trip),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
