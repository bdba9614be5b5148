/*
 * audit/merkle.c: every published RFC 6962 vector (valid ones verify,
 * every corrupted one is rejected), the proofs built over a store of
 * complete subtrees against a plain recursive reading of RFC 6962 §2.1,
 * compact ranges, and the O(log n) bound on reads.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/merkle.h"
#include "audit/prooffile.h"
#include "audittest.h"

typedef uint8_t hash_t[MERKLE_HASH_LEN];

/* ------------------------------------------------- RFC 6962 by the book */

/* MTH(D[lo:hi]) straight from RFC 6962 §2.1. */
static void
ref_mth(const hash_t *leaves, uint64_t lo, uint64_t hi, hash_t out)
{
	hash_t l, r;
	uint64_t k = 1;

	if (hi - lo == 0) {
		merkle_hash_empty(out);
		return;
	}
	if (hi - lo == 1) {
		memcpy(out, leaves[lo], MERKLE_HASH_LEN);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	ref_mth(leaves, lo, lo + k, l);
	ref_mth(leaves, lo + k, hi, r);
	merkle_hash_children(l, r, out);
}

/* PATH(m, D[lo:hi]), RFC 6962 §2.1.1, appended to path. */
static void
ref_path(const hash_t *leaves, uint64_t m, uint64_t lo, uint64_t hi,
    hash_t *path, size_t *n)
{
	uint64_t k = 1;

	if (hi - lo <= 1)
		return;
	while (k * 2 < hi - lo)
		k *= 2;
	if (m < k) {
		ref_path(leaves, m, lo, lo + k, path, n);
		ref_mth(leaves, lo + k, hi, path[(*n)++]);
	} else {
		ref_path(leaves, m - k, lo + k, hi, path, n);
		ref_mth(leaves, lo, lo + k, path[(*n)++]);
	}
}

/* SUBPROOF(m, D[lo:hi], b), RFC 6962 §2.1.2. */
static void
ref_subproof(const hash_t *leaves, uint64_t m, uint64_t lo, uint64_t hi, int b,
    hash_t *path, size_t *n)
{
	uint64_t k = 1;

	if (m == hi - lo) {
		if (!b)
			ref_mth(leaves, lo, hi, path[(*n)++]);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	if (m <= k) {
		ref_subproof(leaves, m, lo, lo + k, b, path, n);
		ref_mth(leaves, lo + k, hi, path[(*n)++]);
	} else {
		ref_subproof(leaves, m - k, lo + k, hi, 0, path, n);
		ref_mth(leaves, lo, lo + k, path[(*n)++]);
	}
}

/* A store over an array of leaf hashes, counting its reads. */
struct mem {
	const hash_t *leaves;
	uint64_t size;
	unsigned reads;
};

static int
mem_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	struct mem *m = arg;
	uint64_t lo = index << level, hi = (index + 1) << level;

	m->reads++;
	if (hi > m->size)
		return ERROR_NOTFOUND; /* never asked for: fails the test */
	ref_mth(m->leaves, lo, hi, out);
	return 0;
}

/* ---------------------------------------------------------- vectors */

static void
b64(const char *s, hash_t out)
{
	assert_int_equal(merkle_hash_from_base64(s, strlen(s), out), 0);
}

/*
 * A vector through the proof file's reader (audit/prooffile.c), as
 * `audit check-proof` reads it: true when it parses as a proof of kind
 * and verifies. A vector that is not a proof file at all fails the test;
 * one that is invalid as it stands (a hash that is not 32 bytes of
 * canonical base64, leafIdx 2^64 - 1 out of jansson's range) is rejected.
 */
static bool
check_vector(
    const char *text, size_t len, enum prooffile_kind kind, const char *path)
{
	struct prooffile pf;
	struct prooffile_error err;
	char why[256];
	int rc = prooffile_parse(text, len, &pf, &err);
	bool ok;

	if (rc == ERROR_PARSE)
		fail_msg("%s: not a proof file: %s", path, err.why);
	ok = rc == 0 && pf.kind == kind &&
	    prooffile_verify(&pf, NULL, why, sizeof(why)) == 0;
	prooffile_release(&pf);
	return ok;
}

/* The whole of a file, NUL-terminated; the caller frees it. */
static char *
read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;

	assert_non_null(f);
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0)
		buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Checks every vectors/rfc6962/KIND/N/NAME.json; returns the count. */
static unsigned
each_vector(const char *kind_name, enum prooffile_kind kind, unsigned *valid)
{
	char dir[4096], sub[4096], file[8192];
	struct dirent *e, *f;
	unsigned count = 0;
	DIR *d, *s;

	if (snprintf(dir, sizeof(dir), "%s/%s",
	        audittest_source("vectors/rfc6962"),
	        kind_name) >= (int)sizeof(dir))
		fail_msg("path too long");
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(sub))
			fail_msg("path too long");
		assert_non_null(s = opendir(sub));
		while ((f = readdir(s)) != NULL) {
			size_t len = strlen(f->d_name), tlen;
			if (len < 5 ||
			    strcmp(f->d_name + len - 5, ".json") != 0)
				continue;
			if (snprintf(file, sizeof(file), "%s/%s", sub,
			        f->d_name) >= (int)sizeof(file))
				fail_msg("path too long");
			char *text = read_text(file, &tlen);
			bool want_err =
			    strstr(text, "\"wantErr\": true") != NULL;
			assert_true(want_err !=
			    (strstr(text, "\"wantErr\": false") != NULL));
			bool ok = check_vector(text, tlen, kind, file);
			if (ok == want_err)
				fail_msg("%s: %s, want %s", file,
				    ok ? "accepted" : "rejected",
				    want_err ? "rejected" : "accepted");
			*valid += ok;
			count++;
			free(text);
		}
		closedir(s);
	}
	closedir(d);
	return count;
}

static void
test_vectors_inclusion(void **state)
{
	unsigned valid = 0;

	(void)state;
	assert_int_equal(
	    each_vector("inclusion", PROOFFILE_INCLUSION, &valid), 49);
	assert_int_equal(valid, 3);
}

static void
test_vectors_consistency(void **state)
{
	unsigned valid = 0;

	(void)state;
	assert_int_equal(
	    each_vector("consistency", PROOFFILE_CONSISTENCY, &valid), 43);
	assert_int_equal(valid, 3);
}

/* The eight leaves of the RFC 6962 test data the vectors are built on. */
static const char *const rfc_leaves[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const rfc_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void
hex(const char *s, uint8_t *out, size_t len)
{
	size_t got;

	assert_int_equal(
	    sodium_hex2bin(out, len, s, strlen(s), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

/* Our proofs for the published tree are exactly the published proofs. */
static void
test_rfc_tree(void **state)
{
	hash_t leaves[8], want, root, path[MERKLE_MAX_PATH], vp[3];
	uint8_t data[16];
	struct mem m = {(const hash_t *)leaves, 8, 0};
	struct merkle_store s = {mem_get, &m, NULL};
	size_t n;

	(void)state;
	for (int i = 0; i < 8; i++) {
		size_t len = strlen(rfc_leaves[i]) / 2;
		hex(rfc_leaves[i], data, len);
		merkle_hash_leaf(data, len, leaves[i]);
	}
	for (uint64_t size = 1; size <= 8; size++) {
		hex(rfc_roots[size - 1], want, 32);
		assert_int_equal(merkle_root(&s, size, root), 0);
		assert_memory_equal(root, want, 32);
	}
	/* inclusion/1/happy-path.json: leaf 0 in 8 */
	b64("lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", vp[0]);
	b64("Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=", vp[1]);
	b64("a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=", vp[2]);
	assert_int_equal(merkle_inclusion(&s, 0, 8, path, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(path, vp, sizeof(vp));
	/* consistency/1/happy-path.json: 1 to 8, the same three hashes */
	assert_int_equal(merkle_consistency(&s, 1, 8, path, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(path, vp, sizeof(vp));
	/* consistency/2/happy-path.json: 6 to 8 */
	hex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    vp[0], 32);
	hex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    vp[1], 32);
	hex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	    vp[2], 32);
	assert_int_equal(merkle_consistency(&s, 6, 8, path, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(path, vp, sizeof(vp));
	/* inclusion/2/happy-path.json: leaf 5 in 8 */
	hex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    vp[0], 32);
	assert_int_equal(merkle_inclusion(&s, 5, 8, path, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(path, vp, sizeof(vp));
}

/* Distinct leaf hashes for the reference trees. */
static void
make_leaves(hash_t *leaves, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[8];
		memcpy(b, &i, sizeof(b));
		merkle_hash_leaf(b, sizeof(b), leaves[i]);
	}
}

#define REF_MAX 70

/* Every proof in every tree up to REF_MAX leaves, and its corruptions. */
static void
test_against_reference(void **state)
{
	static hash_t leaves[REF_MAX + 1];
	hash_t root, root1, want, path[MERKLE_MAX_PATH], ref[MERKLE_MAX_PATH];
	hash_t bad[MERKLE_MAX_PATH + 1];
	struct mem m = {(const hash_t *)leaves, REF_MAX, 0};
	struct merkle_store s = {mem_get, &m, NULL};
	size_t n, rn;

	(void)state;
	make_leaves(leaves, REF_MAX + 1);
	for (uint64_t size = 0; size <= REF_MAX; size++) {
		m.size = size;
		ref_mth(leaves, 0, size, want);
		assert_int_equal(merkle_root(&s, size, root), 0);
		assert_memory_equal(root, want, 32);
		assert_int_equal(
		    merkle_inclusion(&s, size, size, path, &n), ERROR_INVAL);
		for (uint64_t i = 0; i < size; i++) {
			assert_int_equal(
			    merkle_inclusion(&s, i, size, path, &n), 0);
			rn = 0;
			ref_path(leaves, i, 0, size, ref, &rn);
			assert_int_equal(n, rn);
			assert_memory_equal(path, ref, n * 32);
			assert_int_equal(
			    merkle_verify_inclusion(i, size, leaves[i],
			        (const hash_t *)path, n, root),
			    0);
			/* a wrong index, size, leaf, or any bit of the path */
			if (size > 1)
				assert_int_not_equal(
				    merkle_verify_inclusion((i + 1) % size,
				        size, leaves[i], (const hash_t *)path,
				        n, root),
				    0);
			/*
			 * Another size with that size's root. (With this
			 * root, a path may also fit another size: the root
			 * is only bound to its size by the checkpoint.)
			 */
			ref_mth(leaves, 0, size + 1, want);
			assert_int_not_equal(
			    merkle_verify_inclusion(i, size + 1, leaves[i],
			        (const hash_t *)path, n, want),
			    0);
			assert_int_not_equal(merkle_verify_inclusion(i, size,
			                         leaves[(i + 1) % REF_MAX],
			                         (const hash_t *)path, n, root),
			    0);
			for (size_t j = 0; j < n; j++) {
				memcpy(bad, path, n * 32);
				bad[j][j % 32] ^= 0x01;
				assert_int_not_equal(
				    merkle_verify_inclusion(i, size, leaves[i],
				        (const hash_t *)bad, n, root),
				    0);
			}
			if (n > 0)
				assert_int_not_equal(
				    merkle_verify_inclusion(i, size, leaves[i],
				        (const hash_t *)path, n - 1, root),
				    0);
			memcpy(bad, path, n * 32);
			memcpy(bad[n], root, 32);
			assert_int_not_equal(
			    merkle_verify_inclusion(i, size, leaves[i],
			        (const hash_t *)bad, n + 1, root),
			    0);
		}
		for (uint64_t size1 = 0; size1 <= size; size1++) {
			ref_mth(leaves, 0, size1, root1);
			assert_int_equal(
			    merkle_consistency(&s, size1, size, path, &n), 0);
			rn = 0;
			if (size1 > 0 && size1 < size)
				ref_subproof(
				    leaves, size1, 0, size, 1, ref, &rn);
			assert_int_equal(n, rn);
			assert_memory_equal(path, ref, n * 32);
			assert_int_equal(
			    merkle_verify_consistency(size1, size, root1, root,
			        (const hash_t *)path, n),
			    0);
			for (size_t j = 0; j < n; j++) {
				memcpy(bad, path, n * 32);
				bad[j][31 - j % 32] ^= 0x80;
				assert_int_not_equal(
				    merkle_verify_consistency(size1, size,
				        root1, root, (const hash_t *)bad, n),
				    0);
			}
			if (size1 > 0 && size1 < size) {
				assert_int_not_equal(
				    merkle_verify_consistency(size1, size, root,
				        root1, (const hash_t *)path, n),
				    0);
				/* other sizes, with their own roots */
				ref_mth(leaves, 0, size1 - 1, want);
				assert_int_not_equal(
				    merkle_verify_consistency(size1 - 1, size,
				        want, root, (const hash_t *)path, n),
				    0);
				ref_mth(leaves, 0, size - 1, want);
				assert_int_not_equal(
				    merkle_verify_consistency(size1, size - 1,
				        root1, want, (const hash_t *)path, n),
				    0);
				assert_int_not_equal(
				    merkle_verify_consistency(size1, size,
				        root1, root, (const hash_t *)path,
				        n - 1),
				    0);
			}
		}
		assert_int_equal(
		    merkle_consistency(&s, size + 1, size, path, &n),
		    ERROR_INVAL);
	}
}

struct seen {
	hash_t nodes[64];
	unsigned levels[64];
	uint64_t indexes[64];
	unsigned n;
};

static int
record(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
	struct seen *s = arg;

	memcpy(s->nodes[s->n], hash, 32);
	s->levels[s->n] = level;
	s->indexes[s->n++] = index;
	return 0;
}

static int
stop(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
	(void)arg;
	(void)hash;
	return level == 1 && index == 0 ? ERROR_TAMPERED : 0;
}

/* Compact ranges give every prefix's root and visit each new subtree. */
static void
test_range(void **state)
{
	static hash_t leaves[REF_MAX + 1];
	struct merkle_range r;
	struct seen seen;
	hash_t root, want;

	(void)state;
	make_leaves(leaves, REF_MAX + 1);
	merkle_range_init(&r);
	merkle_range_root(&r, root);
	merkle_hash_empty(want);
	assert_memory_equal(root, want, 32);
	for (uint64_t i = 0; i < REF_MAX; i++) {
		memset(&seen, 0, sizeof(seen));
		assert_int_equal(
		    merkle_range_append(&r, leaves[i], record, &seen), 0);
		/* One node per trailing one bit of i, plus the leaf. */
		assert_int_equal(seen.n, 1 + __builtin_ctzll(~i));
		for (unsigned j = 0; j < seen.n; j++) {
			uint64_t lo = seen.indexes[j] << seen.levels[j];
			assert_int_equal(seen.levels[j], j);
			assert_int_equal(lo + ((uint64_t)1 << j), i + 1);
			ref_mth(leaves, lo, i + 1, want);
			assert_memory_equal(seen.nodes[j], want, 32);
		}
		merkle_range_root(&r, root);
		ref_mth(leaves, 0, i + 1, want);
		assert_memory_equal(root, want, 32);
	}
	merkle_range_init(&r);
	assert_int_equal(merkle_range_append(&r, leaves[0], stop, NULL), 0);
	assert_int_equal(
	    merkle_range_append(&r, leaves[1], stop, NULL), ERROR_TAMPERED);
}

/*
 * A virtual tree of 2^62 identical leaves, whose node at each level is
 * computed once: big enough to show that roots and proofs read O(log n)
 * nodes however large the tree.
 */
struct same {
	hash_t level[64];
	unsigned reads;
};

static int
same_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	struct same *s = arg;

	(void)index;
	s->reads++;
	memcpy(out, s->level[level], 32);
	return 0;
}

static void
test_log_reads(void **state)
{
	struct same t;
	struct merkle_store s = {same_get, &t, NULL};
	hash_t root, root2, path[MERKLE_MAX_PATH];
	static const uint64_t sizes[] = {
	    (1ULL << 40) + (1ULL << 20) + 12345,
	    (1ULL << 62) - 1,
	    1000000,
	    999999,
	};
	size_t n;

	(void)state;
	merkle_hash_leaf((const uint8_t *)"x", 1, t.level[0]);
	for (int i = 1; i < 64; i++)
		merkle_hash_children(
		    t.level[i - 1], t.level[i - 1], t.level[i]);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t size = sizes[k];
		t.reads = 0;
		assert_int_equal(merkle_root(&s, size, root), 0);
		assert_true(t.reads <= 64);
		for (uint64_t idx = 0; idx < size; idx = idx * 3 + 7) {
			t.reads = 0;
			assert_int_equal(
			    merkle_inclusion(&s, idx, size, path, &n), 0);
			assert_true(t.reads <= 2 * 64);
			assert_int_equal(
			    merkle_verify_inclusion(idx, size, t.level[0],
			        (const hash_t *)path, n, root),
			    0);
		}
		for (uint64_t s1 = 1; s1 < size; s1 = s1 * 5 + 3) {
			assert_int_equal(merkle_root(&s, s1, root2), 0);
			t.reads = 0;
			assert_int_equal(
			    merkle_consistency(&s, s1, size, path, &n), 0);
			assert_true(t.reads <= 2 * 64);
			assert_int_equal(
			    merkle_verify_consistency(
			        s1, size, root2, root, (const hash_t *)path, n),
			    0);
		}
	}
	assert_int_equal(
	    merkle_root(&s, MERKLE_MAX_SIZE + 1, root), ERROR_INVAL);
}

static void
test_base64(void **state)
{
	hash_t h, back;
	char text[MERKLE_HASH_B64];
	const char *ok = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=";

	(void)state;
	b64(ok, h);
	assert_string_equal(merkle_hash_to_base64(h, text), ok);
	assert_int_equal(merkle_hash_from_base64(text, strlen(text), back), 0);
	assert_memory_equal(h, back, 32);
	/* no padding, URL alphabet, stray bits, whitespace, wrong length */
	assert_int_not_equal(merkle_hash_from_base64(ok, strlen(ok) - 1, h), 0);
	assert_int_not_equal(
	    merkle_hash_from_base64(
	        "bjQLnP-zepicpUTmu3gKLHiQHT-zNzh2hRGjBhevoB0=", 44, h),
	    0);
	assert_int_not_equal(
	    merkle_hash_from_base64(
	        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB1=", 44, h),
	    0);
	assert_int_not_equal(
	    merkle_hash_from_base64(
	        " jQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=", 44, h),
	    0);
	assert_int_not_equal(merkle_hash_from_base64("", 0, h), 0);
	assert_int_not_equal(
	    merkle_hash_from_base64(
	        "AAAAbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=", 48, h),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_inclusion),
	    cmocka_unit_test(test_vectors_consistency),
	    cmocka_unit_test(test_rfc_tree),
	    cmocka_unit_test(test_against_reference),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_log_reads),
	    cmocka_unit_test(test_base64),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
