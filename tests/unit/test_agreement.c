/*
 * Unit tests of guardian keys and the agreement note (keys/agreement.c,
 * P3): real key files in a scratch folder, the note's exact
 * bytes, signing and re-signing, and every way verify refuses a note.
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

#include <jansson.h>
#include <sodium.h>

#include "keys/agreement.h"
#include "keys/keys.h"
#include "tests/lib/scratch.h"
#include "tests/unit/testutil.h"

static const char *const parties[] = {
    "ambulance", "fire", "mental_health_trust", "police"};
#define NPARTY 4

static const char yaml[] = "agreement: crisis-care\nversion: 3\n";

static char dir[64];
static char ring[96], keys[96], other[96];

static int
setup(void **state)
{
	(void)state;
	umask(022);
	scratch_dir_in(dir, sizeof(dir), "unit");
	snprintf(ring, sizeof(ring), "%s/ring", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	for (int i = 0; i < NPARTY; i++) {
		assert_int_equal(keys_generate(parties[i], ring), 0);
		assert_int_equal(keys_generate_guardian(parties[i], keys), 0);
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static const char *
p(const char *fmt, ...)
{
	static char buf[4][512];
	static int k;
	va_list ap;

	k = (k + 1) % 4;
	va_start(ap, fmt);
	vsnprintf(buf[k], sizeof(buf[k]), fmt, ap);
	va_end(ap);
	return buf[k];
}

/* Copies the guardians' .pub files of the first n parties into the ring. */
static void
ring_guardians(int n)
{
	for (int i = 0; i < n; i++) {
		size_t len;
		char *pub = scratch_read(
		    p("%s/%s.guardian.pub", keys, parties[i]), &len);
		scratch_spit(
		    p("%s/%s.guardian.pub", ring, parties[i]), pub, len, 0644);
		free(pub);
	}
}

static struct keys_secret *
guardian(const char *d, const char *agency)
{
	struct keys_secret *s = NULL;

	assert_int_equal(
	    keys_load_guardian(p("%s/%s.guardian.key", d, agency), &s), 0);
	return s;
}

static uint8_t yaml_sha[32];

/* Signs note (may be NULL) with d/agency.guardian.key; frees note. */
static char *
sign(char *note, const char *d, const char *agency, size_t *len)
{
	struct keys_secret *g = guardian(d, agency);
	char *out = NULL;
	size_t dropped = 99;

	crypto_hash_sha256(yaml_sha, (const uint8_t *)yaml, sizeof(yaml) - 1);
	assert_int_equal(
	    agreement_note_sign(note, note ? strlen(note) : 0, "crisis-care", 3,
	        yaml_sha, g, &out, len, &dropped),
	    0);
	assert_int_equal(dropped, 0);
	assert_int_equal(strlen(out), *len);
	keys_secret_free(g);
	free(note);
	return out;
}

static char *
sign_all(size_t *len)
{
	char *note = NULL;

	/* Out of order on purpose: the lines come out sorted. */
	note = sign(note, keys, "police", len);
	note = sign(note, keys, "ambulance", len);
	note = sign(note, keys, "mental_health_trust", len);
	note = sign(note, keys, "fire", len);
	return note;
}

static struct keyring *
load_ring(void)
{
	struct keyring *kr = NULL;
	char err[256];

	assert_int_equal(keyring_load(ring, &kr, err, sizeof(err)), 0);
	return kr;
}

static void
verify(const char *y, size_t ylen, const char *note, size_t nlen,
    struct agreement_check *c)
{
	struct keyring *kr = load_ring();

	assert_int_equal(agreement_verify(y, ylen, note, nlen, "crisis-care", 3,
	                     parties, NPARTY, kr, c),
	    0);
	keyring_free(kr);
}

static void
test_guardian_files(void **state)
{
	struct keys_secret *s = NULL;
	struct keys_public pub;
	struct stat st;
	(void)state;

	assert_int_equal(stat(p("%s/police.guardian.key", keys), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The secret file: the CCSKEY01 layout, role 3, box/CURVE zero. */
	size_t len;
	uint8_t *raw = scratch_read(p("%s/police.guardian.key", keys), &len);
	assert_int_equal(len, 8 + 1 + 32 + 64 + 32 + 32 + 16);
	assert_memory_equal(raw, "CCSKEY01", 8);
	assert_int_equal(raw[8], 3);
	assert_string_equal((char *)raw + 9, "police");
	for (size_t i = 9 + 32 + 64; i < 9 + 32 + 64 + 64; i++)
		assert_int_equal(raw[i], 0);
	free(raw);

	/* The public file: role guardian, no box, no transport. */
	json_t *o = json_load_file(p("%s/police.guardian.pub", keys), 0, NULL);
	assert_non_null(o);
	assert_string_equal(
	    json_string_value(json_object_get(o, "role")), "guardian");
	assert_string_equal(
	    json_string_value(json_object_get(o, "id")), "police");
	assert_null(json_object_get(o, "box"));
	assert_null(json_object_get(o, "transport"));
	assert_non_null(json_object_get(o, "sign"));
	json_decref(o);

	assert_int_equal(
	    keys_load_public(p("%s/police.guardian.pub", keys), &pub), 0);
	assert_true(pub.is_guardian);
	assert_false(pub.is_broker);
	assert_false(pub.has_box);

	/* A guardian key never serves as an agency's key, nor the reverse. */
	assert_int_equal(
	    keys_load_secret(p("%s/police.guardian.key", keys), &s), ERROR_KEY);
	assert_int_equal(
	    keys_load_guardian(p("%s/police.key", ring), &s), ERROR_KEY);
	s = guardian(keys, "police");
	assert_true(s->pub.is_guardian);
	assert_string_equal(s->pub.fingerprint, pub.fingerprint);
	assert_memory_equal(s->pub.sign_pk, pub.sign_pk, 32);

	/* The fingerprint: the identity construction, box and transport 32
	 * zero bytes each. */
	struct keys_public q = {0};
	snprintf(q.id, sizeof(q.id), "police");
	memcpy(q.sign_pk, pub.sign_pk, 32);
	keys_fingerprint(&q);
	assert_string_equal(q.fingerprint, pub.fingerprint);
	keys_secret_free(s);

	/* Twice is refused; a bad id too. */
	assert_int_equal(keys_generate_guardian("police", keys), ERROR_EXISTS);
	assert_int_equal(keys_generate_guardian("Police", keys), ERROR_INVAL);
	assert_int_equal(keys_generate_guardian(NULL, keys), ERROR_INVAL);

	/* A box secret smuggled into a guardian file (checksum fixed up) is
	 * refused. */
	raw = scratch_read(p("%s/fire.guardian.key", keys), &len);
	raw[9 + 32 + 64] = 1;
	crypto_generichash(raw + len - 16, 16, raw, len - 16, NULL, 0);
	scratch_spit(p("%s/x.guardian.key", keys), raw, len, 0600);
	assert_int_equal(
	    keys_load_guardian(p("%s/x.guardian.key", keys), &s), ERROR_KEY);
	free(raw);
}

static void
test_keyring_guardians(void **state)
{
	struct keyring *kr;
	char err[256];
	(void)state;

	ring_guardians(NPARTY);
	/* A guardian of an agency not in the keyring is loaded all the same. */
	assert_int_equal(keys_generate_guardian("coastguard", ring), 0);
	kr = load_ring();
	assert_int_equal(keyring_count(kr), NPARTY);
	assert_int_equal(keyring_guardian_count(kr), NPARTY + 1);
	for (size_t i = 0; i < keyring_count(kr); i++)
		assert_false(keyring_at(kr, i)->is_guardian);
	const struct keys_public *g = keyring_find_guardian(kr, "police");
	assert_non_null(g);
	assert_true(g->is_guardian);
	assert_non_null(keyring_find_guardian(kr, "coastguard"));
	assert_null(keyring_find(kr, "coastguard"));
	assert_null(keyring_find_guardian(kr, "nobody"));
	assert_false(keyring_find(kr, "police")->is_guardian);
	keyring_free(kr);

	/* A guardian file under an agency's name is refused, and the other
	 * way round. */
	char *pub = scratch_read(p("%s/fire.guardian.pub", keys), NULL);
	scratch_write(p("%s/firecrew.pub", ring), pub, 0644);
	free(pub);
	assert_int_equal(keyring_load(ring, &kr, err, sizeof(err)), ERROR_KEY);
	assert_non_null(strstr(err, "firecrew.pub"));
	unlink(p("%s/firecrew.pub", ring));
	pub = scratch_read(p("%s/fire.pub", ring), NULL);
	scratch_write(p("%s/fire2.guardian.pub", ring), pub, 0644);
	free(pub);
	assert_int_equal(keyring_load(ring, &kr, err, sizeof(err)), ERROR_KEY);
	assert_non_null(strstr(err, "fire2.guardian.pub"));
}

static void
test_note_text(void **state)
{
	uint8_t sha[32];
	char *t, b64[45];
	size_t n;
	(void)state;

	crypto_hash_sha256(sha, (const uint8_t *)yaml, sizeof(yaml) - 1);
	sodium_bin2base64(
	    b64, sizeof(b64), sha, 32, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(agreement_note_text("crisis-care", 3, sha, &t, &n), 0);
	assert_string_equal(
	    t, p("concordat/agreement/v1\ncrisis-care\n3\n%s\n", b64));
	assert_int_equal(n, strlen(t));
	free(t);
	assert_int_equal(
	    agreement_note_text("two\nlines", 3, sha, &t, &n), ERROR_INVAL);
	assert_int_equal(agreement_note_text("", 3, sha, &t, &n), ERROR_INVAL);

	/* The C2SP key id, computed here from its definition. */
	uint8_t pk[32], want[32], got[4];
	crypto_hash_sha256_state st;
	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)i;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"fire.guardian\n\x01",
	    strlen("fire.guardian") + 2);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, want);
	agreement_keyid("fire", pk, got);
	assert_memory_equal(got, want, 4);
}

static void
test_sign_and_verify(void **state)
{
	struct agreement_check *c = malloc(sizeof(*c));
	size_t len, len2;
	char *note;
	(void)state;

	ring_guardians(NPARTY);
	note = sign_all(&len);
	/* The text, a blank line, four lines sorted by agency id. */
	assert_int_equal(scratch_count(note, "\n\n"), 1);
	assert_int_equal(scratch_count(note, "\xE2\x80\x94 "), 4);
	const char *a = strstr(note, "\xE2\x80\x94 ambulance.guardian ");
	const char *f = strstr(note, "\xE2\x80\x94 fire.guardian ");
	const char *m =
	    strstr(note, "\xE2\x80\x94 mental_health_trust.guardian ");
	const char *po = strstr(note, "\xE2\x80\x94 police.guardian ");
	assert_true(a && f && m && po && a < f && f < m && m < po);

	/* Each line: base64 of keyid 4 || signature 64 over the text. */
	struct keys_public g;
	assert_int_equal(
	    keys_load_public(p("%s/fire.guardian.pub", keys), &g), 0);
	const char *b = f + 4 + strlen("fire.guardian ");
	uint8_t raw[68];
	size_t got;
	assert_int_equal(
	    sodium_base642bin(raw, sizeof(raw), b, strchr(b, '\n') - b, NULL,
	        &got, NULL, sodium_base64_VARIANT_ORIGINAL),
	    0);
	assert_int_equal(got, 68);
	uint8_t kid[4];
	agreement_keyid("fire", g.sign_pk, kid);
	assert_memory_equal(raw, kid, 4);
	size_t tl = (size_t)(strstr(note, "\n\n") + 1 - note);
	assert_int_equal(crypto_sign_ed25519_verify_detached(
	                     raw + 4, (const uint8_t *)note, tl, g.sign_pk),
	    0);

	verify(yaml, sizeof(yaml) - 1, note, len, c);
	assert_true(c->complete);
	assert_int_equal(c->text, AGREEMENT_TEXT_OK);
	assert_int_equal(c->nsigned, NPARTY);
	assert_int_equal(c->nmissing, 0);
	assert_int_equal(c->nlines, 4);
	assert_string_equal(c->signed_by[0], "ambulance");
	for (size_t i = 0; i < c->nlines; i++)
		assert_int_equal(c->lines[i].status, AGREEMENT_LINE_VALID);
	assert_int_equal(c->note_version, 3);

	/* Re-signing replaces the line: still four, still complete. */
	note = sign(note, keys, "fire", &len2);
	assert_int_equal(scratch_count(note, "\xE2\x80\x94 "), 4);
	verify(yaml, sizeof(yaml) - 1, note, len2, c);
	assert_true(c->complete);

	/* The parsed text. */
	char *id;
	uint64_t v;
	uint8_t sha[32];
	assert_int_equal(agreement_note_parse(note, len2, &id, &v, sha), 0);
	assert_string_equal(id, "crisis-care");
	assert_int_equal(v, 3);
	assert_memory_equal(sha, yaml_sha, 32);
	free(id);
	assert_int_equal(
	    agreement_note_parse("x\n", 2, NULL, &v, sha), ERROR_PARSE);
	free(note);
	free(c);
}

static void
test_missing_guardian(void **state)
{
	struct agreement_check *c = malloc(sizeof(*c));
	size_t len;
	char *note = NULL;
	(void)state;

	ring_guardians(NPARTY);
	note = sign(note, keys, "ambulance", &len);
	note = sign(note, keys, "fire", &len);
	note = sign(note, keys, "police", &len);
	verify(yaml, sizeof(yaml) - 1, note, len, c);
	assert_false(c->complete);
	assert_int_equal(c->text, AGREEMENT_TEXT_OK);
	assert_int_equal(c->nsigned, 3);
	assert_int_equal(c->nmissing, 1);
	assert_string_equal(c->missing[0], "mental_health_trust");

	/* No note at all: every agency missing. */
	verify(yaml, sizeof(yaml) - 1, NULL, 0, c);
	assert_false(c->complete);
	assert_int_equal(c->text, AGREEMENT_TEXT_MALFORMED);
	assert_int_equal(c->nmissing, NPARTY);
	free(note);
	free(c);
}

static void
test_unknown_key(void **state)
{
	struct agreement_check *c = malloc(sizeof(*c));
	size_t len;
	char *note = NULL;
	(void)state;

	/* police's line is by a police guardian key the keyring does not
	 * hold: another key of the same name. */
	ring_guardians(NPARTY);
	assert_int_equal(keys_generate_guardian("police", other), 0);
	note = sign(note, keys, "ambulance", &len);
	note = sign(note, keys, "fire", &len);
	note = sign(note, keys, "mental_health_trust", &len);
	note = sign(note, other, "police", &len);
	verify(yaml, sizeof(yaml) - 1, note, len, c);
	assert_false(c->complete);
	assert_int_equal(c->nmissing, 1);
	assert_string_equal(c->missing[0], "police");
	assert_int_equal(c->lines[3].status, AGREEMENT_LINE_UNKNOWN_KEY);
	assert_string_equal(c->lines[3].name, "police.guardian");
	assert_string_equal(c->lines[3].agency, "police");

	/* Without police's guardian in the keyring at all: unknown too, even
	 * though the line is by the right key. */
	free(note);
	note = sign_all(&len);
	unlink(p("%s/police.guardian.pub", ring));
	verify(yaml, sizeof(yaml) - 1, note, len, c);
	assert_false(c->complete);
	assert_int_equal(c->lines[3].status, AGREEMENT_LINE_UNKNOWN_KEY);

	/* A guardian of an agency that is no party: reported, not counted. */
	ring_guardians(NPARTY);
	assert_int_equal(keys_generate_guardian("coastguard", keys), 0);
	char *pub = scratch_read(p("%s/coastguard.guardian.pub", keys), NULL);
	scratch_write(p("%s/coastguard.guardian.pub", ring), pub, 0644);
	free(pub);
	note = sign(note, keys, "coastguard", &len);
	verify(yaml, sizeof(yaml) - 1, note, len, c);
	assert_true(c->complete);
	assert_int_equal(c->nlines, 5);
	assert_string_equal(c->lines[0].name, "ambulance.guardian");
	assert_string_equal(c->lines[1].name, "coastguard.guardian");
	assert_int_equal(c->lines[1].status, AGREEMENT_LINE_NOT_PARTY);
	assert_int_equal(c->nsigned, NPARTY);
	free(note);
	free(c);
}

static void
test_yaml_byte_changed(void **state)
{
	struct agreement_check *c = malloc(sizeof(*c));
	size_t len;
	char *note, *y = strdup(yaml);
	(void)state;

	ring_guardians(NPARTY);
	note = sign_all(&len);
	y[5] ^= 0x20; /* one byte of the YAML, after signing */
	verify(y, strlen(y), note, len, c);
	assert_false(c->complete);
	assert_int_equal(c->text, AGREEMENT_TEXT_SHA);
	assert_int_equal(c->nsigned, 0);
	assert_int_equal(c->nmissing, NPARTY);
	/* The lines are good signatures of the note's own text. */
	assert_int_equal(c->nlines, 4);
	assert_int_equal(c->lines[0].status, AGREEMENT_LINE_VALID);
	assert_memory_equal(c->note_sha256, yaml_sha, 32);
	assert_memory_not_equal(c->sha256, yaml_sha, 32);

	/* Another id or version than the file's. */
	struct keyring *kr = load_ring();
	assert_int_equal(agreement_verify(yaml, sizeof(yaml) - 1, note, len,
	                     "crisis-care", 4, parties, NPARTY, kr, c),
	    0);
	assert_int_equal(c->text, AGREEMENT_TEXT_VERSION);
	assert_false(c->complete);
	assert_int_equal(agreement_verify(yaml, sizeof(yaml) - 1, note, len,
	                     "other", 3, parties, NPARTY, kr, c),
	    0);
	assert_int_equal(c->text, AGREEMENT_TEXT_ID);
	assert_false(c->complete);
	/* Without id: only the bytes. */
	assert_int_equal(agreement_verify(yaml, sizeof(yaml) - 1, note, len,
	                     NULL, 0, parties, NPARTY, kr, c),
	    0);
	assert_true(c->complete);
	keyring_free(kr);

	/* Signing for the changed file drops the stale signatures. */
	struct keys_secret *g = guardian(keys, "fire");
	uint8_t sha[32];
	char *out;
	size_t olen, dropped = 0;
	crypto_hash_sha256(sha, (const uint8_t *)y, strlen(y));
	assert_int_equal(agreement_note_sign(note, len, "crisis-care", 3, sha,
	                     g, &out, &olen, &dropped),
	    0);
	assert_int_equal(dropped, 4);
	assert_int_equal(scratch_count(out, "\xE2\x80\x94 "), 1);
	verify(y, strlen(y), out, olen, c);
	assert_int_equal(c->text, AGREEMENT_TEXT_OK);
	assert_int_equal(c->nsigned, 1);
	assert_string_equal(c->signed_by[0], "fire");
	keys_secret_free(g);
	free(out);
	free(note);
	free(y);
	free(c);
}

static void
test_bad_lines(void **state)
{
	struct agreement_check *c = malloc(sizeof(*c));
	size_t len;
	char *note, *bad;
	(void)state;

	ring_guardians(NPARTY);
	note = sign_all(&len);

	/* A flipped bit in fire's signature. */
	bad = strdup(note);
	char *f = strstr(bad, "fire.guardian ") + strlen("fire.guardian ");
	f[20] = f[20] == 'A' ? 'B' : 'A';
	verify(yaml, sizeof(yaml) - 1, bad, len, c);
	assert_false(c->complete);
	assert_int_equal(c->lines[1].status, AGREEMENT_LINE_BAD_SIGNATURE);
	assert_string_equal(c->missing[0], "fire");
	free(bad);

	/* A duplicate line: the first counts, the second is reported. */
	const char *pl = strstr(note, "\xE2\x80\x94 police.guardian");
	bad = malloc(len + strlen(pl) + 1);
	memcpy(bad, note, len);
	memcpy(bad + len, pl, strlen(pl) + 1);
	verify(yaml, sizeof(yaml) - 1, bad, strlen(bad), c);
	assert_true(c->complete);
	assert_int_equal(c->nlines, 5);
	assert_int_equal(c->lines[4].status, AGREEMENT_LINE_DUPLICATE);
	free(bad);

	/* Garbage lines are malformed, never counted, the rest still are. */
	bad = malloc(len + 64);
	snprintf(bad, len + 64, "%sjunk line\n\xE2\x80\x94 x\n", note);
	verify(yaml, sizeof(yaml) - 1, bad, strlen(bad), c);
	assert_true(c->complete);
	assert_int_equal(c->lines[4].status, AGREEMENT_LINE_MALFORMED);
	assert_int_equal(c->lines[5].status, AGREEMENT_LINE_MALFORMED);
	/* ... but signing refuses to carry them on. */
	struct keys_secret *g = guardian(keys, "fire");
	char *out;
	size_t olen;
	assert_int_equal(agreement_note_sign(bad, strlen(bad), "crisis-care", 3,
	                     yaml_sha, g, &out, &olen, NULL),
	    ERROR_PARSE);
	/* An agency key is not a guardian key. */
	struct keys_secret *ag = NULL;
	assert_int_equal(keys_load_secret(p("%s/fire.key", ring), &ag), 0);
	assert_int_equal(agreement_note_sign(NULL, 0, "crisis-care", 3,
	                     yaml_sha, ag, &out, &olen, NULL),
	    ERROR_KEY);
	keys_secret_free(ag);
	keys_secret_free(g);
	free(bad);

	/* A text without its blank line, or with a non-canonical version. */
	bad = strdup(note);
	*strstr(bad, "\n\n") = ' ';
	verify(yaml, sizeof(yaml) - 1, bad, len, c);
	assert_int_equal(c->text, AGREEMENT_TEXT_MALFORMED);
	assert_false(c->complete);
	free(bad);
	bad = malloc(len + 2);
	const char *v = strstr(note, "\n3\n");
	size_t pre = (size_t)(v - note) + 1;
	memcpy(bad, note, pre);
	bad[pre] = '0';
	memcpy(bad + pre + 1, v + 1, len - pre + 1);
	verify(yaml, sizeof(yaml) - 1, bad, len + 1, c);
	assert_int_equal(c->text, AGREEMENT_TEXT_MALFORMED);
	free(bad);

	/* Too large. */
	bad = calloc(1, AGREEMENT_NOTE_MAX + 2);
	memcpy(bad, note, len);
	memset(bad + len, 'x', AGREEMENT_NOTE_MAX + 1 - len);
	struct keyring *kr = load_ring();
	assert_int_equal(agreement_verify(yaml, sizeof(yaml) - 1, bad,
	                     AGREEMENT_NOTE_MAX + 1, "crisis-care", 3, parties,
	                     NPARTY, kr, c),
	    ERROR_TOOBIG);
	assert_false(c->complete);
	/* Bad agency lists. */
	const char *badp[] = {"Not Valid"};
	assert_int_equal(agreement_verify(yaml, sizeof(yaml) - 1, note, len,
	                     "crisis-care", 3, badp, 1, kr, c),
	    ERROR_INVAL);
	keyring_free(kr);
	free(bad);
	free(note);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_guardian_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_keyring_guardians, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_note_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sign_and_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_missing_guardian, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_yaml_byte_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
