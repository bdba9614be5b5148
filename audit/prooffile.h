/*
 * The proof file: an RFC 6962 inclusion or consistency proof in the JSON
 * shape of the published test vectors, with the signed checkpoint it leads
 * to and, for an inclusion proof, the log entry itself. Written by
 * `concordat audit prove --json`, read by `concordat audit check-proof`
 * and by the tests that replay the published vectors.
 */
#ifndef AUDIT_PROOFFILE_H
#define AUDIT_PROOFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/error.h"
#include "common/strbuf.h"

#define PROOFFILE_MAX (1 << 20) /* a proof file larger than this is refused */

enum prooffile_kind {
	PROOFFILE_INCLUSION = 1, /* leafIdx, treeSize, root, leafHash, proof */
	PROOFFILE_CONSISTENCY = 2, /* size1, size2, root1, root2, proof */
};

struct prooffile {
	enum prooffile_kind kind;
	uint64_t index;                /* inclusion: leafIdx */
	uint64_t size;                 /* treeSize, or size2 */
	uint64_t size1;                /* consistency: the older tree */
	uint8_t root[MERKLE_HASH_LEN]; /* root, or root2 */
	uint8_t root1[MERKLE_HASH_LEN];
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
	size_t path_len;
	/* Optional members; when present, malloc'd and owned by the struct. */
	uint8_t *leaf; /* inclusion: the entry's bytes ("leaf", base64) */
	size_t leaf_len;
	bool has_leaf;
	char *checkpoint;    /* the checkpoint note; NULL if not a string */
	bool has_checkpoint; /* the member is there (a string or not) */
};

/* Where and why a file was refused. */
struct prooffile_error {
	int line, column; /* of a JSON syntax error; 0 otherwise */
	char why[256];
};

/*
 * Reads len bytes of text into *pf (zeroed first; release it with
 * prooffile_release whatever the result). Members other than the proof's
 * (desc, wantErr) are ignored; a missing or null proof is the empty path.
 *   ERROR_OK      a well-formed proof of pf->kind.
 *   ERROR_PARSE   not a proof file: not JSON (err->line and column set),
 *                 not an object, neither kind, or over PROOFFILE_MAX.
 *   ERROR_PROOF   a proof file that is invalid as it stands: a member of
 *                 the wrong type, a hash that is not base64 SHA-256, a
 *                 number out of range, leafIdx not below treeSize, size1
 *                 above size2, a leaf that is not base64.
 * err->why names the member and the fault, as check-proof prints it.
 */
WUR int prooffile_parse(const char *text, size_t len, struct prooffile *pf,
    struct prooffile_error *err);

/*
 * Checks a parsed proof: the path leads from leafHash to root (RFC 6962
 * §2.1.1) or shows size1's tree a prefix of size's (§2.1.2); leafHash is
 * the hash of leaf when the file has one; the checkpoint, when there is
 * one, is for the proof's tree and, with pk, signed by it (pk without a
 * checkpoint fails). ERROR_OK, or ERROR_PROOF with why (of size n) saying
 * what does not hold.
 */
WUR int prooffile_verify(
    const struct prooffile *pf, const uint8_t *pk, char *why, size_t n);

/*
 * Appends pf as a proof file to sb: JSON indented by two, a newline after
 * it; members in the order of the vectors, then leaf (inclusion) and
 * checkpoint when present. ERROR_NOMEM if sb or the JSON ran out of memory.
 */
WUR int prooffile_write(struct strbuf *sb, const struct prooffile *pf);

/* Frees what pf owns and zeroes it; pf itself is the caller's. */
void prooffile_release(struct prooffile *pf);

#endif
