/*
 * The tie between a checkpoint and the trusted one (tie.h): RFC 6962
 * §2.1.2 consistency, checked from the smaller tree to the larger.
 */
#include <string.h>

#include <sodium.h>

#include "audit/tie.h"

enum tie_result
tie_check(const struct checkpoint *trusted, const struct checkpoint *cp,
    bool has_proof, uint64_t proof_size, const uint8_t path[][MERKLE_HASH_LEN],
    size_t n)
{
	uint64_t tsize = trusted != NULL ? trusted->size : 0;

	if (trusted != NULL && strcmp(trusted->origin, cp->origin) != 0)
		return TIE_CONTRADICTS;
	if (trusted != NULL && cp->size == tsize)
		return sodium_memcmp(
		           cp->root, trusted->root, MERKLE_HASH_LEN) == 0
		    ? TIE_SAME
		    : TIE_CONTRADICTS;
	if (!has_proof || proof_size != tsize)
		return TIE_UNPROVEN;
	/* Every tree extends the empty one. */
	if (tsize == 0)
		return n == 0 ? TIE_NEWER : TIE_CONTRADICTS;
	if (cp->size > tsize)
		return merkle_verify_consistency(tsize, cp->size, trusted->root,
		           cp->root, path, n) == 0
		    ? TIE_NEWER
		    : TIE_CONTRADICTS;
	if (cp->size == 0)
		return TIE_CONTRADICTS; /* the empty tree is no prefix here */
	return merkle_verify_consistency(
	           cp->size, tsize, cp->root, trusted->root, path, n) == 0
	    ? TIE_OLDER
	    : TIE_CONTRADICTS;
}

const char *
tie_result_name(enum tie_result r)
{
	static const char *const names[] = {
	    "same", "newer", "older", "unproven", "contradicts"};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
