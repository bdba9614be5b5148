/*
 * audit/checkpoint.c: the signed-note format byte for byte (with the Go
 * reference implementation's published key and signature), every way a
 * note can be malformed or mis-signed, and the consistency step an agent
 * takes from a trusted checkpoint to a newer one.
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

#include "audit/checkpoint.h"
#include "audittest.h"

typedef uint8_t hash_t[MERKLE_HASH_LEN];

#define ORIGIN "concordat.test/west-yorkshire"

static void
b64(const char *s, uint8_t *out, size_t want)
{
	size_t got;

	assert_int_equal(sodium_base642bin(out, want, s, strlen(s), NULL, &got,
	                     NULL, sodium_base64_VARIANT_ORIGINAL),
	    0);
	assert_int_equal(got, want);
}

/*
 * golang.org/x/mod/sumdb/note's example: the PeterNeumann key and the
 * signature of its two-line note. Ed25519 is deterministic, so our key id
 * and signature must be these bytes exactly: any signed-note verifier
 * (witnesses, monitors) then reads our checkpoints.
 */
static void
test_go_reference_note(void **state)
{
	static const char text[] =
	    "If you think cryptography is the answer to your problem,\n"
	    "then you don't know what your problem is.\n";
	uint8_t skey[33], vkey[33], blob[68], pk[32], sk[64], id[4];
	char sig[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];

	(void)state;
	b64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", skey, 33);
	b64("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", vkey, 33);
	assert_int_equal(skey[0], 0x01); /* algorithm: Ed25519 */
	assert_int_equal(vkey[0], 0x01);
	crypto_sign_seed_keypair(pk, sk, skey + 1);
	assert_memory_equal(pk, vkey + 1, 32);
	checkpoint_key_id("PeterNeumann", pk, id);
	assert_memory_equal(id, "\xc7\x4f\x20\xa3", 4);
	memcpy(blob, id, 4);
	crypto_sign_detached(
	    blob + 4, NULL, (const uint8_t *)text, strlen(text), sk);
	sodium_bin2base64(sig, sizeof(sig), blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(sig,
	    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
	    "KvqfqdngotpRZb6KE6RyyBwJnAM=");
}

static void
sign(const struct audittest_key *k, const char *origin, uint64_t size,
    uint8_t fill, char *buf, size_t *len)
{
	struct checkpoint cp;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	cp.size = size;
	memset(cp.root, fill, sizeof(cp.root));
	assert_int_equal(
	    checkpoint_sign(&cp, k->sk, buf, CHECKPOINT_MAX, len), 0);
	assert_int_equal(strlen(buf), *len);
}

static void
test_format(void **state)
{
	struct audittest_key k;
	struct checkpoint cp;
	char note[CHECKPOINT_MAX], want[CHECKPOINT_MAX], sig[128];
	uint8_t blob[68], id[4];
	size_t len;

	(void)state;
	audittest_key(&k, 1);
	sign(&k, ORIGIN, 1234, 0xab, note, &len);
	/* origin, size, root; blank line; em dash, key name, id || sig */
	const char *dash = strstr(note, "\n\n\xe2\x80\x94 " ORIGIN " ");
	assert_non_null(dash);
	assert_memory_equal(note,
	    ORIGIN "\n1234\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n",
	    (size_t)(dash - note) + 2);
	snprintf(sig, sizeof(sig), "%s", dash + 2 + 4 + strlen(ORIGIN) + 1);
	assert_int_equal(sig[strlen(sig) - 1], '\n');
	sig[strlen(sig) - 1] = '\0';
	b64(sig, blob, sizeof(blob));
	checkpoint_key_id(ORIGIN, k.pk, id);
	assert_memory_equal(blob, id, 4);
	assert_int_equal(
	    crypto_sign_verify_detached(blob + 4, (const uint8_t *)note,
	        (size_t)(dash - note) + 1, k.pk),
	    0);
	snprintf(want, sizeof(want), "%.*s", (int)(dash - note + 1), note);
	assert_int_equal(checkpoint_verify(note, len, ORIGIN, k.pk, &cp), 0);
	assert_string_equal(cp.origin, ORIGIN);
	assert_int_equal(cp.size, 1234);
	assert_int_equal(cp.root[0], 0xab);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(checkpoint_parse(note, len, &cp), 0);
	assert_int_equal(cp.size, 1234);
	/* size 0 is a checkpoint too (the empty tree) */
	sign(&k, ORIGIN, 0, 0, note, &len);
	assert_int_equal(checkpoint_verify(note, len, ORIGIN, k.pk, &cp), 0);
	assert_int_equal(cp.size, 0);
}

static void
test_sign_refuses(void **state)
{
	struct audittest_key k;
	struct checkpoint cp;
	char buf[CHECKPOINT_MAX];
	size_t len;

	(void)state;
	audittest_key(&k, 1);
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "has space");
	assert_int_equal(
	    checkpoint_sign(&cp, k.sk, buf, sizeof(buf), &len), ERROR_INVAL);
	snprintf(cp.origin, sizeof(cp.origin), ORIGIN);
	cp.size = MERKLE_MAX_SIZE + 1;
	assert_int_equal(
	    checkpoint_sign(&cp, k.sk, buf, sizeof(buf), &len), ERROR_INVAL);
	cp.size = 7;
	assert_int_equal(
	    checkpoint_sign(&cp, k.sk, buf, 40, &len), ERROR_TOOBIG);
	assert_int_equal(
	    checkpoint_sign(&cp, k.sk, buf, 90, &len), ERROR_TOOBIG);
}

static void
test_origin_valid(void **state)
{
	char longest[CHECKPOINT_ORIGIN_MAX + 2];

	(void)state;
	assert_true(checkpoint_origin_valid(ORIGIN));
	assert_true(checkpoint_origin_valid("a"));
	assert_false(checkpoint_origin_valid(""));
	assert_false(checkpoint_origin_valid("a b"));
	assert_false(checkpoint_origin_valid("a+b"));
	assert_false(checkpoint_origin_valid("a\nb"));
	assert_false(checkpoint_origin_valid("caf\xc3\xa9"));
	memset(longest, 'a', sizeof(longest));
	longest[CHECKPOINT_ORIGIN_MAX] = '\0';
	assert_true(checkpoint_origin_valid(longest));
	longest[CHECKPOINT_ORIGIN_MAX] = 'a';
	longest[CHECKPOINT_ORIGIN_MAX + 1] = '\0';
	assert_false(checkpoint_origin_valid(longest));
}

/* Verifies text (a C string) against k and ORIGIN. */
static int
verify(const struct audittest_key *k, const char *text)
{
	struct checkpoint cp;

	return checkpoint_verify(text, strlen(text), ORIGIN, k->pk, &cp);
}

/* Replaces the first occurrence of from in note with to, into out. */
static void
edit(const char *note, const char *from, const char *to, char *out)
{
	const char *at = strstr(note, from);

	assert_non_null(at);
	snprintf(out, CHECKPOINT_MAX * 2, "%.*s%s%s", (int)(at - note), note,
	    to, at + strlen(from));
}

static void
test_verify_refuses(void **state)
{
	struct audittest_key k, other;
	struct checkpoint cp;
	char note[CHECKPOINT_MAX], bad[CHECKPOINT_MAX * 2];
	char line[CHECKPOINT_MAX], sigline[CHECKPOINT_MAX];
	size_t len;

	(void)state;
	audittest_key(&k, 1);
	audittest_key(&other, 2);
	sign(&k, ORIGIN, 1234, 0xab, note, &len);
	assert_int_equal(verify(&k, note), 0);
	/* another key, another origin, an invalid origin */
	assert_int_equal(verify(&other, note), ERROR_SIGNATURE);
	assert_int_equal(
	    checkpoint_verify(note, len, "concordat.test/other", k.pk, &cp),
	    ERROR_CHECKPOINT);
	assert_int_equal(
	    checkpoint_verify(note, len, "bad origin", k.pk, &cp), ERROR_INVAL);
	/* any change to the signed text */
	edit(note, "\n1234\n", "\n1235\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_SIGNATURE);
	edit(note, "q6ur", "q6us", bad);
	assert_int_equal(verify(&k, bad), ERROR_SIGNATURE);
	/* a flipped signature character */
	snprintf(bad, sizeof(bad), "%s", note);
	bad[len - 10] = bad[len - 10] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(&k, bad), ERROR_SIGNATURE);
	/* malformed notes */
	snprintf(bad, sizeof(bad), "%.*s", (int)len - 1, note);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* no final \n */
	edit(note, "\n\n", "\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* no blank line */
	edit(note, "\n1234\n", "\n01234\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, "\n1234\n", "\n+1234\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, "\n1234\n", "\n12 34\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, "\n1234\n", "\n\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, "\n1234\n", "\n99999999999999999999\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, "\n1234\n", "\n9223372036854775808\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* 2^63 */
	edit(note, "q6s=\n", "q6s\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* root */
	edit(note, "q6s=\n", "q6s=q6s=\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	edit(note, ORIGIN "\n", "\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* no origin */
	edit(note, "\n1234\n", "\r\n1234\r\n", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* CR */
	edit(note, "\xe2\x80\x94 ", "- ", bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* no em dash */
	edit(note, "\xe2\x80\x94 " ORIGIN " ", "\xe2\x80\x94 " ORIGIN, bad);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT);
	snprintf(bad, sizeof(bad), "%.*s",
	    (int)(strstr(note, "\n\n") - note) + 2, note);
	assert_int_equal(verify(&k, bad), ERROR_CHECKPOINT); /* no signature */
	assert_int_equal(
	    checkpoint_verify(note, 0, ORIGIN, k.pk, &cp), ERROR_CHECKPOINT);
	snprintf(bad, sizeof(bad), "%s", note);
	bad[3] = '\0';
	assert_int_equal(checkpoint_verify(bad, len, ORIGIN, k.pk, &cp),
	    ERROR_CHECKPOINT); /* NUL inside */
	/* too long: refused before anything else */
	memset(bad, 'x', CHECKPOINT_MAX + 1);
	bad[CHECKPOINT_MAX] = '\n';
	assert_int_equal(
	    checkpoint_verify(bad, CHECKPOINT_MAX + 1, ORIGIN, k.pk, &cp),
	    ERROR_CHECKPOINT);
	/* parse without a signature still refuses malformed bodies */
	edit(note, "\n1234\n", "\n01234\n", bad);
	assert_int_equal(
	    checkpoint_parse(bad, strlen(bad), &cp), ERROR_CHECKPOINT);

	/* Extension lines are allowed (and signed over); empty ones not. */
	struct checkpoint plain;
	memset(&plain, 0, sizeof(plain));
	snprintf(plain.origin, sizeof(plain.origin), ORIGIN);
	plain.size = 9;
	{
		/* sign a body with an extension line by hand */
		char body[256], note2[CHECKPOINT_MAX];
		uint8_t blob[68];
		char s64[128];
		snprintf(body, sizeof(body),
		    ORIGIN "\n9\n%s\nextension: value\n",
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
		checkpoint_key_id(ORIGIN, k.pk, blob);
		crypto_sign_detached(
		    blob + 4, NULL, (const uint8_t *)body, strlen(body), k.sk);
		sodium_bin2base64(s64, sizeof(s64), blob, sizeof(blob),
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(note2, sizeof(note2), "%s\n\xe2\x80\x94 %s %s\n", body,
		    ORIGIN, s64);
		assert_int_equal(verify(&k, note2), 0);
		edit(note2, "extension: value\n", "extension: value\n\n", bad);
		assert_int_not_equal(verify(&k, bad), 0);
	}

	/* Cosigners' lines are skipped; ours must be there and verify. */
	char *sigstart = strstr(note, "\n\n") + 2;
	snprintf(sigline, sizeof(sigline), "%s", sigstart);
	{
		uint8_t blob[68];
		char s64[128];
		memset(blob, 7, sizeof(blob));
		sodium_bin2base64(s64, sizeof(s64), blob, sizeof(blob),
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(line, sizeof(line),
		    "\xe2\x80\x94 witness.example %s\n", s64);
	}
	snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(sigstart - note), note,
	    line, sigline);
	assert_int_equal(verify(&k, bad), 0);
	snprintf(
	    bad, sizeof(bad), "%.*s%s", (int)(sigstart - note), note, line);
	assert_int_equal(verify(&k, bad), ERROR_SIGNATURE); /* only theirs */
	/* our name and id but a wrong signature, beside a good one */
	snprintf(
	    bad, sizeof(bad), "%.*s%s", (int)(sigstart - note), note, sigline);
	{
		char dup[CHECKPOINT_MAX];
		snprintf(dup, sizeof(dup), "%s", sigline);
		dup[strlen(dup) - 5] = dup[strlen(dup) - 5] == 'A' ? 'B' : 'A';
		strncat(bad, dup, sizeof(bad) - strlen(bad) - 1);
	}
	assert_int_equal(verify(&k, bad), ERROR_SIGNATURE);
	/* more than 100 signature lines */
	snprintf(bad, sizeof(bad), "%.*s", (int)(sigstart - note), note);
	for (int i = 0; i < 101 && strlen(bad) + strlen(line) < CHECKPOINT_MAX;
	     i++)
		strncat(bad, line, sizeof(bad) - strlen(bad) - 1);
	strncat(bad, sigline, sizeof(bad) - strlen(bad) - 1);
	assert_int_not_equal(verify(&k, bad), 0);
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

static void
test_consistent(void **state)
{
	hash_t leaves[40], forked[40], path[MERKLE_MAX_PATH];
	struct mem m = {(const hash_t *)leaves}, f = {(const hash_t *)forked};
	struct merkle_store s = {mem_get, &m, NULL}, fs = {mem_get, &f, NULL};
	struct checkpoint a, b, c;
	size_t n;

	(void)state;
	tree(leaves, 40, 0);
	memcpy(forked, leaves, sizeof(leaves));
	tree(forked + 20, 20,
	    1); /* same first 20 leaves, then another history */
	memset(&a, 0, sizeof(a));
	snprintf(a.origin, sizeof(a.origin), ORIGIN);
	b = c = a;
	a.size = 13;
	b.size = 37;
	assert_int_equal(merkle_root(&s, a.size, a.root), 0);
	assert_int_equal(merkle_root(&s, b.size, b.root), 0);
	assert_int_equal(merkle_consistency(&s, a.size, b.size, path, &n), 0);
	assert_int_equal(
	    checkpoint_consistent(&a, &b, (const hash_t *)path, n), 0);
	/* rollback, a wrong path, another origin */
	assert_int_equal(checkpoint_consistent(&b, &a, (const hash_t *)path, n),
	    ERROR_CHECKPOINT);
	path[0][0] ^= 1;
	assert_int_equal(checkpoint_consistent(&a, &b, (const hash_t *)path, n),
	    ERROR_CHECKPOINT);
	path[0][0] ^= 1;
	snprintf(c.origin, sizeof(c.origin), "concordat.test/elsewhere");
	c.size = b.size;
	memcpy(c.root, b.root, 32);
	assert_int_equal(checkpoint_consistent(&a, &c, (const hash_t *)path, n),
	    ERROR_CHECKPOINT);
	/* the same checkpoint again: equal sizes, equal roots, no path */
	assert_int_equal(checkpoint_consistent(&b, &b, NULL, 0), 0);
	/*
	 * A fork: the forked log agrees up to 20 leaves and then differs.
	 * Its checkpoint at 37 cannot be proved consistent with ours at 37
	 * (a different root) nor with ours at 25 (a different prefix).
	 */
	c = b;
	assert_int_equal(merkle_root(&fs, 37, c.root), 0);
	assert_int_equal(
	    checkpoint_consistent(&b, &c, NULL, 0), ERROR_CHECKPOINT);
	a.size = 25;
	assert_int_equal(merkle_root(&s, 25, a.root), 0);
	assert_int_equal(merkle_consistency(&fs, 25, 37, path, &n), 0);
	assert_int_equal(checkpoint_consistent(&a, &c, (const hash_t *)path, n),
	    ERROR_CHECKPOINT);
	/* ... though both extend the common prefix of 20 */
	a.size = 20;
	assert_int_equal(merkle_root(&s, 20, a.root), 0);
	assert_int_equal(merkle_consistency(&fs, 20, 37, path, &n), 0);
	assert_int_equal(
	    checkpoint_consistent(&a, &c, (const hash_t *)path, n), 0);
}

static void
test_advance(void **state)
{
	hash_t leaves[40], path[MERKLE_MAX_PATH];
	struct mem m = {(const hash_t *)leaves};
	struct merkle_store s = {mem_get, &m, NULL};
	struct audittest_key k, other;
	struct checkpoint trusted, next, out;
	char note[CHECKPOINT_MAX];
	size_t n, len;

	(void)state;
	audittest_key(&k, 1);
	audittest_key(&other, 2);
	tree(leaves, 40, 0);
	memset(&trusted, 0, sizeof(trusted));
	snprintf(trusted.origin, sizeof(trusted.origin), ORIGIN);
	/* An agent starts from the empty tree. */
	merkle_hash_empty(trusted.root);
	next = trusted;
	next.size = 31;
	assert_int_equal(merkle_root(&s, 31, next.root), 0);
	assert_int_equal(
	    checkpoint_sign(&next, k.sk, note, sizeof(note), &len), 0);
	assert_int_equal(
	    checkpoint_advance(&trusted, note, len, k.pk, NULL, 0, &out), 0);
	assert_int_equal(out.size, 31);
	trusted = out;
	next.size = 40;
	assert_int_equal(merkle_root(&s, 40, next.root), 0);
	assert_int_equal(merkle_consistency(&s, 31, 40, path, &n), 0);
	assert_int_equal(
	    checkpoint_sign(&next, k.sk, note, sizeof(note), &len), 0);
	memset(&out, 0xee, sizeof(out));
	assert_int_equal(checkpoint_advance(&trusted, note, len, other.pk,
	                     (const hash_t *)path, n, &out),
	    ERROR_SIGNATURE);
	assert_int_equal(out.size, 0xeeeeeeeeeeeeeeeeULL); /* untouched */
	assert_int_equal(checkpoint_advance(&trusted, note, len, k.pk,
	                     (const hash_t *)path, n - 1, &out),
	    ERROR_CHECKPOINT);
	assert_int_equal(checkpoint_advance(&trusted, note, len, k.pk,
	                     (const hash_t *)path, n, &out),
	    0);
	assert_int_equal(out.size, 40);
	assert_memory_equal(out.root, next.root, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_reference_note),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_sign_refuses),
	    cmocka_unit_test(test_origin_valid),
	    cmocka_unit_test(test_verify_refuses),
	    cmocka_unit_test(test_consistent),
	    cmocka_unit_test(test_advance),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
