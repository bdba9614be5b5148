/*
 * Whether a checkpoint is tied to the one an agent trusts (DESIGN.md §7):
 * the same tree, or a consistency proof between the two in whichever
 * direction their sizes need. Pure (auditproof); the agent's trust.c asks
 * it of every checkpoint under which it is offered a leaf, and of every
 * Proof answering its ProofRequest.
 */
#ifndef AUDIT_TIE_H
#define AUDIT_TIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"

enum tie_result {
	TIE_SAME,        /* same size and root as the trusted one */
	TIE_NEWER,       /* larger, proved to extend the trusted one */
	TIE_OLDER,       /* smaller, proved to be a prefix of the trusted one */
	TIE_UNPROVEN,    /* no proof between the two offered: ask for one */
	TIE_CONTRADICTS, /* same size and another root, or a proof that fails */
};

/*
 * Ties cp to trusted (NULL when nothing is trusted yet). Both must be
 * verified checkpoints of the same log. The proof offered, when has_proof,
 * is an RFC 6962 consistency proof between cp's tree and the tree of
 * proof_size leaves (n hashes at path, smaller to larger); it counts only
 * when proof_size is the trusted size (0 when nothing is trusted: the
 * empty tree, which every tree extends; an agent's first trust is its
 * first use). A checkpoint of the trusted size needs no proof: its root
 * must be the trusted root.
 */
enum tie_result tie_check(const struct checkpoint *trusted,
    const struct checkpoint *cp, bool has_proof, uint64_t proof_size,
    const uint8_t path[][MERKLE_HASH_LEN], size_t n);

/* "same", "newer", "older", "unproven", "contradicts". */
const char *tie_result_name(enum tie_result r);

#endif
