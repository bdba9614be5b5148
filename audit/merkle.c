/*
 * RFC 6962 Merkle tree hashing, proof building over a store of complete
 * subtrees, and proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2).
 * Used by audit.c to serve proofs and by agents and auditors to check them.
 */
#include <string.h>

#include <sodium.h>

#include "audit/merkle.h"

void
merkle_hash_leaf(const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	crypto_hash_sha256_state st;
	static const uint8_t prefix = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, leaf, len);
	crypto_hash_sha256_final(&st, out);
}

void
merkle_hash_children(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

void
merkle_hash_empty(uint8_t out[MERKLE_HASH_LEN])
{
	crypto_hash_sha256(out, NULL, 0);
}

char *
merkle_hash_to_base64(
    const uint8_t h[MERKLE_HASH_LEN], char out[MERKLE_HASH_B64])
{
	return sodium_bin2base64(out, MERKLE_HASH_B64, h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

int
merkle_hash_from_base64(const char *s, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	char again[MERKLE_HASH_B64];
	const char *end;
	size_t n;

	/*
	 * Only the one canonical spelling: re-encoding must give the same
	 * text, so stray padding bits or characters cannot alter a proof
	 * without changing its bytes.
	 */
	if (len != MERKLE_HASH_B64 - 1 ||
	    sodium_base642bin(h, sizeof(h), s, len, NULL, &n, &end,
	        sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != MERKLE_HASH_LEN || end != s + len)
		return ERROR_DECODE;
	merkle_hash_to_base64(h, again);
	if (memcmp(again, s, len) != 0)
		return ERROR_DECODE;
	memcpy(out, h, MERKLE_HASH_LEN);
	return ERROR_OK;
}

/* The largest power of two strictly less than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH(D[start:end]) for a range the RFC 6962 recursion produces: start is a
 * multiple of every power of two in end - start's binary decomposition, so
 * the range is the complete subtrees of those sizes, largest first, and its
 * hash folds them from the right. One read per set bit of end - start.
 */
static int
range_hash(const struct merkle_store *s, uint64_t start, uint64_t end,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t piece[64][MERKLE_HASH_LEN];
	unsigned n = 0, top;
	uint64_t at = start;
	struct merkle_edge *e = s->edge;
	int rc;

	if (end <= start)
		return ERROR_INTERNAL;
	top = 63u - (unsigned)__builtin_clzll(end - start);
	if (e != NULL && (e->valid >> top & 1) != 0 &&
	    e->slot[top].start == start && e->slot[top].end == end) {
		memcpy(out, e->slot[top].hash, MERKLE_HASH_LEN);
		return ERROR_OK;
	}
	for (int bit = 63; bit >= 0; bit--) {
		uint64_t len = (uint64_t)1 << bit;
		if (((end - start) & len) == 0)
			continue;
		if (at % len != 0)
			return ERROR_INTERNAL;
		rc = s->get(s->arg, (unsigned)bit, at >> bit, piece[n]);
		if (rc != 0)
			return rc;
		n++;
		at += len;
	}
	memcpy(out, piece[n - 1], MERKLE_HASH_LEN);
	if (n == 1)
		return ERROR_OK; /* one stored subtree: nothing to fold */
	while (--n > 0)
		merkle_hash_children(piece[n - 1], out, out);
	if (e != NULL) {
		e->slot[top].start = start;
		e->slot[top].end = end;
		memcpy(e->slot[top].hash, out, MERKLE_HASH_LEN);
		e->valid |= (uint64_t)1 << top;
	}
	return ERROR_OK;
}

int
merkle_root(
    const struct merkle_store *s, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	if (size > MERKLE_MAX_SIZE)
		return ERROR_INVAL;
	if (size == 0) {
		merkle_hash_empty(out);
		return ERROR_OK;
	}
	return range_hash(s, 0, size, out);
}

/* Proofs are built top-down; the RFC lists them bottom-up. */
static void
reverse(uint8_t path[][MERKLE_HASH_LEN], size_t n)
{
	uint8_t tmp[MERKLE_HASH_LEN];

	for (size_t i = 0; i < n / 2; i++) {
		memcpy(tmp, path[i], MERKLE_HASH_LEN);
		memcpy(path[i], path[n - 1 - i], MERKLE_HASH_LEN);
		memcpy(path[n - 1 - i], tmp, MERKLE_HASH_LEN);
	}
}

int
merkle_inclusion(const struct merkle_store *s, uint64_t index, uint64_t size,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	uint64_t start = 0, end = size, k;
	int rc;

	*n = 0;
	if (index >= size || size > MERKLE_MAX_SIZE)
		return ERROR_INVAL;
	/* RFC 6962 §2.1.1, PATH(m, D[n]), unrolled from the top. */
	while (end - start > 1) {
		if (*n == MERKLE_MAX_PATH)
			return ERROR_INTERNAL;
		k = split_point(end - start);
		if (index < start + k) {
			rc = range_hash(s, start + k, end, path[*n]);
			end = start + k;
		} else {
			rc = range_hash(s, start, start + k, path[*n]);
			start += k;
		}
		if (rc != 0)
			return rc;
		(*n)++;
	}
	reverse(path, *n);
	return ERROR_OK;
}

int
merkle_consistency(const struct merkle_store *s, uint64_t size1, uint64_t size2,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	uint64_t start = 0, end = size2, k;
	int whole = 1, rc;

	*n = 0;
	if (size1 > size2 || size2 > MERKLE_MAX_SIZE)
		return ERROR_INVAL;
	if (size1 == 0 || size1 == size2)
		return ERROR_OK;
	/*
	 * RFC 6962 §2.1.2, SUBPROOF(m, D[n], b), unrolled from the top;
	 * whole is b: still on the left edge, where the old root itself
	 * need not be sent.
	 */
	while (size1 - start != end - start) {
		if (*n == MERKLE_MAX_PATH)
			return ERROR_INTERNAL;
		k = split_point(end - start);
		if (size1 - start <= k) {
			rc = range_hash(s, start + k, end, path[*n]);
			end = start + k;
		} else {
			rc = range_hash(s, start, start + k, path[*n]);
			start += k;
			whole = 0;
		}
		if (rc != 0)
			return rc;
		(*n)++;
	}
	if (!whole) {
		if (*n == MERKLE_MAX_PATH)
			return ERROR_INTERNAL;
		rc = range_hash(s, start, end, path[*n]);
		if (rc != 0)
			return rc;
		(*n)++;
	}
	reverse(path, *n);
	return ERROR_OK;
}

static int
same(const uint8_t a[MERKLE_HASH_LEN], const uint8_t b[MERKLE_HASH_LEN])
{
	return memcmp(a, b, MERKLE_HASH_LEN) == 0;
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n,
    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	uint64_t fn, sn;

	if (index >= size || size > MERKLE_MAX_SIZE || n > MERKLE_MAX_PATH)
		return ERROR_PROOF;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return ERROR_PROOF;
		if ((fn & 1) != 0 || fn == sn) {
			merkle_hash_children(path[i], r, r);
			if ((fn & 1) == 0)
				while ((fn & 1) == 0 && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_hash_children(r, path[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && same(r, root) ? ERROR_OK : ERROR_PROOF;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	const uint8_t *c;
	uint64_t fn, sn;
	size_t i;

	if (size1 > size2 || size2 > MERKLE_MAX_SIZE || n > MERKLE_MAX_PATH)
		return ERROR_PROOF;
	if (size1 == size2)
		return n == 0 && same(root1, root2) ? ERROR_OK : ERROR_PROOF;
	if (size1 == 0)
		return n == 0 ? ERROR_OK : ERROR_PROOF;
	if (n == 0)
		return ERROR_PROOF;
	/*
	 * RFC 9162 §2.1.4.2. When size1 is a power of two the old root is a
	 * node of the new tree and is not sent: start from it, as if it had
	 * been prepended to the path.
	 */
	i = 0;
	if ((size1 & (size1 - 1)) == 0)
		c = root1;
	else
		c = path[i++];
	fn = size1 - 1;
	sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, c, MERKLE_HASH_LEN);
	memcpy(sr, c, MERKLE_HASH_LEN);
	for (; i < n; i++) {
		c = path[i];
		if (sn == 0)
			return ERROR_PROOF;
		if ((fn & 1) != 0 || fn == sn) {
			merkle_hash_children(c, fr, fr);
			merkle_hash_children(c, sr, sr);
			if ((fn & 1) == 0)
				while ((fn & 1) == 0 && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_hash_children(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && same(fr, root1) && same(sr, root2) ? ERROR_OK
	                                                     : ERROR_PROOF;
}

void
merkle_range_init(struct merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

int
merkle_range_append(struct merkle_range *r,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    int (*visit)(void *arg, unsigned level, uint64_t index,
        const uint8_t hash[MERKLE_HASH_LEN]),
    void *arg)
{
	uint64_t index = r->size;
	unsigned level = 0;
	int rc;

	if (r->size >= MERKLE_MAX_SIZE)
		return ERROR_TOOBIG;
	memcpy(r->hashes[r->n], leaf_hash, MERKLE_HASH_LEN);
	r->n++;
	r->size++;
	/*
	 * Each trailing one bit of the old size is a complete subtree on the
	 * right edge that the new leaf's subtree now pairs with.
	 */
	for (;;) {
		if (visit != NULL) {
			rc = visit(arg, level, index, r->hashes[r->n - 1]);
			if (rc != 0)
				return rc;
		}
		if ((index & 1) == 0)
			break;
		merkle_hash_children(r->hashes[r->n - 2], r->hashes[r->n - 1],
		    r->hashes[r->n - 2]);
		r->n--;
		level++;
		index >>= 1;
	}
	return ERROR_OK;
}

void
merkle_range_root(const struct merkle_range *r, uint8_t out[MERKLE_HASH_LEN])
{
	unsigned i;

	if (r->n == 0) {
		merkle_hash_empty(out);
		return;
	}
	i = r->n - 1;
	memcpy(out, r->hashes[i], MERKLE_HASH_LEN);
	while (i-- > 0)
		merkle_hash_children(r->hashes[i], out, out);
}
