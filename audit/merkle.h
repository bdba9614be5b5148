/*
 * RFC 6962 Merkle trees (SHA-256, leaf prefix 0x00, node prefix 0x01):
 * hashes, proofs built from a store of complete subtrees, and proof
 * verification. Pure: no LMDB and no I/O. The audit log builds its roots
 * and proofs with it; agents and auditors verify proofs with it.
 */
#ifndef AUDIT_MERKLE_H
#define AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define MERKLE_HASH_LEN 32
/*
 * No proof in a tree of fewer than 2^63 leaves holds more hashes than this;
 * every path buffer below has room for it.
 */
#define MERKLE_MAX_PATH 64
/* Trees are limited to 2^63 - 1 leaves, so that sizes fit every format. */
#define MERKLE_MAX_SIZE ((uint64_t)INT64_MAX)

/* SHA-256(0x00 || leaf): the hash of one leaf (RFC 6962 §2.1). */
void merkle_hash_leaf(
    const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_LEN]);

/* SHA-256(0x01 || left || right): an interior node (RFC 6962 §2.1). */
void merkle_hash_children(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN]);

/* The root of the empty tree, SHA-256 of no bytes. */
void merkle_hash_empty(uint8_t out[MERKLE_HASH_LEN]);

/* Base64 text of a hash (standard alphabet, padded), as in checkpoints. */
#define MERKLE_HASH_B64 45 /* 44 characters and the NUL */

/* Writes h as base64 into out; returns out. */
char *merkle_hash_to_base64(
    const uint8_t h[MERKLE_HASH_LEN], char out[MERKLE_HASH_B64]);

/*
 * Decodes the len bytes at s, which must be exactly the canonical padded
 * base64 of 32 bytes; ERROR_DECODE otherwise.
 */
WUR int merkle_hash_from_base64(
    const char *s, size_t len, uint8_t out[MERKLE_HASH_LEN]);

/*
 * ------------------------------------------------------------- building
 *
 * A store of complete subtrees: get() writes the hash of the perfect
 * subtree at (level, index), which covers leaves index << level up to
 * ((index + 1) << level) - 1 (level 0 is a leaf hash), and returns 0, or an
 * ERROR_* that the caller passes on. The functions below ask only for
 * subtrees that lie wholly inside the tree size they are given, and at most
 * two hashes per level of the tree: O(log n) reads.
 */
struct merkle_store {
	int (*get)(void *arg, unsigned level, uint64_t index,
	    uint8_t out[MERKLE_HASH_LEN]);
	void *arg;
	struct merkle_edge *edge; /* or NULL */
};

/*
 * The hashes of the ranges at a tree's right edge that are not one stored
 * subtree, kept between calls: every proof of a leaf in the last
 * incomplete subtree folds the same ones, up to one per set bit of the
 * size. A slot holds MTH(D[start:end]) for the range whose length has its
 * highest bit at the slot's number. Valid only while the store's tree is
 * the same: merkle_edge_reset forgets them all.
 */
struct merkle_edge {
	uint64_t valid; /* a bit per slot */
	struct {
		uint64_t start, end;
		uint8_t hash[MERKLE_HASH_LEN];
	} slot[64];
};

static inline void
merkle_edge_reset(struct merkle_edge *e)
{
	e->valid = 0;
}

/* The root of the first size leaves (RFC 6962 MTH). */
WUR int merkle_root(
    const struct merkle_store *s, uint64_t size, uint8_t out[MERKLE_HASH_LEN]);

/*
 * The inclusion proof of leaf index in the tree of size leaves (RFC 6962
 * §2.1.1 PATH), written into path (room for MERKLE_MAX_PATH hashes) with
 * its length in *n. ERROR_INVAL when index >= size or size is too large.
 */
WUR int merkle_inclusion(const struct merkle_store *s, uint64_t index,
    uint64_t size, uint8_t path[][MERKLE_HASH_LEN], size_t *n);

/*
 * The consistency proof from size1 to size2 (RFC 6962 §2.1.2 PROOF), into
 * path (room for MERKLE_MAX_PATH hashes); empty when size1 is 0 or equals
 * size2. ERROR_INVAL when size1 > size2.
 */
WUR int merkle_consistency(const struct merkle_store *s, uint64_t size1,
    uint64_t size2, uint8_t path[][MERKLE_HASH_LEN], size_t *n);

/*
 * ----------------------------------------------------------- verifying
 *
 * Both return 0 when the proof holds, ERROR_PROOF when it does not (any
 * wrong hash, index, size, or an extra or missing path element).
 */

/* RFC 9162 §2.1.3.2: leaf_hash is leaf index of the tree with root. */
WUR int merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n,
    const uint8_t root[MERKLE_HASH_LEN]);

/*
 * RFC 9162 §2.1.4.2: the tree of size2 with root2 extends the tree of
 * size1 with root1. Equal sizes need equal roots and an empty path; size1
 * 0 needs an empty path.
 */
WUR int merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n);

/*
 * ---------------------------------------------------- compact ranges
 *
 * The root of a run of leaves computed as they stream past, in O(log n)
 * memory: the right edge of the tree, one complete subtree per set bit of
 * the size. Used to recompute a whole log from its leaves. Embedded, no
 * allocation: merkle_range_init, then append, then root.
 */
struct merkle_range {
	uint64_t size;
	unsigned n;
	uint8_t hashes[64][MERKLE_HASH_LEN]; /* largest subtree first */
};

void merkle_range_init(struct merkle_range *r);

/*
 * Appends one leaf hash. visit, when not NULL, is called for every complete
 * subtree the leaf completes, bottom up: (0, size) for the leaf itself, then
 * each parent; a non-zero return stops the walk and is returned (the range
 * is then left in an unspecified state). ERROR_TOOBIG past MERKLE_MAX_SIZE.
 */
WUR int merkle_range_append(struct merkle_range *r,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    int (*visit)(void *arg, unsigned level, uint64_t index,
        const uint8_t hash[MERKLE_HASH_LEN]),
    void *arg);

/* The root of the leaves appended so far (the empty root for none). */
void merkle_range_root(
    const struct merkle_range *r, uint8_t out[MERKLE_HASH_LEN]);

#endif
