/*
 * audit/cosign.c and audit/tie.c: the C2SP tlog-cosignature/v1 bytes,
 * rebuilt here by hand from the specification (the signed message, the key
 * id with signature type 0x04, the line with its big-endian timestamp) and
 * compared with the module's; every way a cosignature can fail to verify;
 * and the tie an agent makes between a checkpoint and the one it trusts:
 * the same, newer or older with a proof, a fork of the same size, a
 * smaller tree that is no prefix, a proof from a size not trusted.
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

#include "audit/cosign.h"
#include "audit/tie.h"
#include "audittest.h"

typedef uint8_t hash_t[MERKLE_HASH_LEN];

#define ORIGIN "concordat/0123456789abcdef"

static void
keypair(uint8_t pk[32], uint8_t sk[64], uint8_t fill)
{
	uint8_t seed[32];

	memset(seed, fill, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

static struct checkpoint
cp_of(uint64_t size, uint8_t fill)
{
	struct checkpoint cp;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), ORIGIN);
	cp.size = size;
	memset(cp.root, fill, sizeof(cp.root));
	return cp;
}

/* The specification's bytes, built without the module. */
static void
test_c2sp_vector(void **state)
{
	struct checkpoint cp = cp_of(42, 0xab);
	uint8_t pk[32], sk[64], sig[64], want_sig[64], h[32], blob[76];
	char msg[512], line[COSIGN_LINE_MAX], want_line[256], root[64];
	char b64[sodium_base64_ENCODED_LEN(76, sodium_base64_VARIANT_ORIGINAL)];
	crypto_hash_sha256_state st;
	const uint64_t ts = 1764662400; /* 2025-12-02T08:00:00Z */
	size_t len;

	(void)state;
	keypair(pk, sk, 0x07);
	/* The signed message: the cosignature/v1 header, then the note text. */
	sodium_bin2base64(
	    root, sizeof(root), cp.root, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(want_line, sizeof(want_line),
	    "cosignature/v1\ntime 1764662400\n" ORIGIN "\n42\n%s\n", root);
	assert_int_equal(cosign_message(&cp, ts, msg, sizeof(msg), &len), 0);
	assert_string_equal(msg, want_line);
	assert_int_equal(len, strlen(want_line));
	assert_string_equal(
	    root, "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
	/* Ed25519 over exactly those bytes. */
	crypto_sign_detached(
	    want_sig, NULL, (const uint8_t *)want_line, strlen(want_line), sk);
	assert_int_equal(cosign_sign(&cp, ts, sk, sig), 0);
	assert_memory_equal(sig, want_sig, 64);
	assert_int_equal(cosign_verify(&cp, ts, pk, sig), 0);
	/* Key id: SHA-256(name || 0x0A || 0x04 || key)[:4]. */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(
	    &st, (const uint8_t *)"concordat/witness/police\n\x04", 26);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, h);
	uint8_t id[4];
	cosign_key_id("concordat/witness/police", pk, id);
	assert_memory_equal(id, h, 4);
	/* The line: em dash, name, base64(key id || be64 time || sig). */
	memcpy(blob, h, 4);
	const uint8_t be[8] = {0x00, 0x00, 0x00, 0x00, 0x69, 0x2e, 0x9c, 0x80};
	memcpy(blob + 4, be, 8);
	memcpy(blob + 12, want_sig, 64);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(want_line, sizeof(want_line),
	    "\xe2\x80\x94 concordat/witness/police %s\n", b64);
	assert_int_equal(
	    cosign_line("police", pk, ts, sig, line, sizeof(line), &len), 0);
	assert_string_equal(line, want_line);
	/* And back. */
	char name[COSIGN_NAME_MAX];
	uint8_t got_id[4], got_sig[64];
	uint64_t got_ts;
	assert_int_equal(
	    cosign_parse_line(line, len, name, got_id, &got_ts, got_sig), 0);
	assert_string_equal(name, "concordat/witness/police");
	assert_memory_equal(got_id, h, 4);
	assert_true(got_ts == ts);
	assert_memory_equal(got_sig, sig, 64);
}

static void
test_verify_refuses(void **state)
{
	struct checkpoint cp = cp_of(42, 0xab), other;
	uint8_t pk[32], sk[64], pk2[32], sk2[64], sig[64];
	const uint64_t ts = 1764662400;
	char name[COSIGN_NAME_MAX];
	uint8_t id[4], s2[64];
	uint64_t t2;

	(void)state;
	keypair(pk, sk, 0x07);
	keypair(pk2, sk2, 0x08);
	assert_int_equal(cosign_sign(&cp, ts, sk, sig), 0);
	assert_int_equal(cosign_verify(&cp, ts + 1, pk, sig), ERROR_SIGNATURE);
	assert_int_equal(cosign_verify(&cp, ts, pk2, sig), ERROR_SIGNATURE);
	other = cp;
	other.size = 43;
	assert_int_equal(cosign_verify(&other, ts, pk, sig), ERROR_SIGNATURE);
	other = cp;
	other.root[31] ^= 1;
	assert_int_equal(cosign_verify(&other, ts, pk, sig), ERROR_SIGNATURE);
	other = cp;
	snprintf(other.origin, sizeof(other.origin), "concordat/elsewhere");
	assert_int_equal(cosign_verify(&other, ts, pk, sig), ERROR_SIGNATURE);
	sig[0] ^= 1;
	assert_int_equal(cosign_verify(&cp, ts, pk, sig), ERROR_SIGNATURE);
	/* A checkpoint signature is not a cosignature: 68 bytes, no time. */
	uint8_t blob68[68] = {0};
	char plain[256],
	    b68[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b68, sizeof(b68), blob68, sizeof(blob68),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(plain, sizeof(plain), "\xe2\x80\x94 %s %s\n", ORIGIN, b68);
	assert_int_equal(
	    cosign_parse_line(plain, strlen(plain), name, id, &t2, s2),
	    ERROR_CHECKPOINT);
	assert_int_equal(cosign_parse_line("- x y\n", 6, name, id, &t2, s2),
	    ERROR_CHECKPOINT);
}

/* A store over leaf hashes, each subtree recomputed with a compact range. */
struct mem {
	const hash_t *leaves;
};

static int
mem_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const struct mem *m = arg;
	struct merkle_range r;

	merkle_range_init(&r);
	for (uint64_t i = index << level; i < (index + 1) << level; i++)
		assert_int_equal(
		    merkle_range_append(&r, m->leaves[i], NULL, NULL), 0);
	merkle_range_root(&r, out);
	return 0;
}

static void
tree(hash_t *leaves, size_t n, uint8_t salt)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[9];
		memcpy(b, &i, 8);
		b[8] = salt;
		merkle_hash_leaf(b, sizeof(b), leaves[i]);
	}
}

static struct checkpoint
cp_tree(const struct merkle_store *s, uint64_t size)
{
	struct checkpoint cp = cp_of(size, 0);

	assert_int_equal(merkle_root(s, size, cp.root), 0);
	return cp;
}

static void
test_tie(void **state)
{
	hash_t leaves[40], forked[40], path[MERKLE_MAX_PATH];
	struct mem m = {(const hash_t *)leaves}, f = {(const hash_t *)forked};
	struct merkle_store s = {mem_get, &m, NULL}, fs = {mem_get, &f, NULL};
	const hash_t *p = (const hash_t *)path;
	size_t n;

	(void)state;
	tree(leaves, 40, 0);
	memcpy(forked, leaves, sizeof(leaves));
	tree(forked + 20, 20, 1); /* the same 20 leaves, then another history */
	struct checkpoint t = cp_tree(&s, 25), newer = cp_tree(&s, 37);
	struct checkpoint older = cp_tree(&s, 13), fork = cp_tree(&fs, 25);
	struct checkpoint fork_new = cp_tree(&fs, 37),
	                  fork_old = cp_tree(&fs, 22);

	/* The same tree needs no proof; another root of that size is a fork,
	 * whatever proof comes with it. */
	assert_int_equal(tie_check(&t, &t, false, 0, NULL, 0), TIE_SAME);
	assert_int_equal(
	    tie_check(&t, &fork, false, 0, NULL, 0), TIE_CONTRADICTS);
	assert_int_equal(
	    tie_check(&t, &fork, true, 25, NULL, 0), TIE_CONTRADICTS);
	/* Newer: a proof from the trusted size to it. */
	assert_int_equal(merkle_consistency(&s, 25, 37, path, &n), 0);
	assert_int_equal(tie_check(&t, &newer, true, 25, p, n), TIE_NEWER);
	assert_int_equal(
	    tie_check(&t, &newer, false, 0, NULL, 0), TIE_UNPROVEN);
	/* A proof from a size other than the trusted one proves nothing. */
	assert_int_equal(tie_check(&t, &newer, true, 24, p, n), TIE_UNPROVEN);
	/* A newer tree that forked after the trusted size cannot be proved. */
	assert_int_equal(
	    tie_check(&t, &fork_new, true, 25, p, n), TIE_CONTRADICTS);
	assert_int_equal(merkle_consistency(&fs, 25, 37, path, &n), 0);
	assert_int_equal(
	    tie_check(&t, &fork_new, true, 25, p, n), TIE_CONTRADICTS);
	/* Older: a proof from it to the trusted size (a prefix of it). */
	assert_int_equal(merkle_consistency(&s, 13, 25, path, &n), 0);
	assert_int_equal(tie_check(&t, &older, true, 25, p, n), TIE_OLDER);
	assert_int_equal(
	    tie_check(&t, &older, false, 0, NULL, 0), TIE_UNPROVEN);
	path[0][0] ^= 1;
	assert_int_equal(
	    tie_check(&t, &older, true, 25, p, n), TIE_CONTRADICTS);
	/* A smaller unrelated tree (22 leaves of the fork) is no prefix of
	 * the trusted one, with its own proof or another's. */
	assert_int_equal(merkle_consistency(&fs, 22, 25, path, &n), 0);
	assert_int_equal(
	    tie_check(&t, &fork_old, true, 25, p, n), TIE_CONTRADICTS);
	assert_int_equal(merkle_consistency(&s, 22, 25, path, &n), 0);
	assert_int_equal(
	    tie_check(&t, &fork_old, true, 25, p, n), TIE_CONTRADICTS);
	/* Nothing trusted: the first tie is from the empty tree. */
	assert_int_equal(tie_check(NULL, &t, true, 0, NULL, 0), TIE_NEWER);
	assert_int_equal(tie_check(NULL, &t, false, 0, NULL, 0), TIE_UNPROVEN);
	assert_int_equal(tie_check(NULL, &t, true, 3, NULL, 0), TIE_UNPROVEN);
	/* Another log altogether. */
	struct checkpoint elsewhere = t;
	snprintf(elsewhere.origin, sizeof(elsewhere.origin), "concordat/x");
	assert_int_equal(
	    tie_check(&t, &elsewhere, false, 0, NULL, 0), TIE_CONTRADICTS);
	assert_string_equal(tie_result_name(TIE_OLDER), "older");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_c2sp_vector),
	    cmocka_unit_test(test_verify_refuses),
	    cmocka_unit_test(test_tie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
