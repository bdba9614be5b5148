/*
 * Verifies a whole audit log in one pass: recompute the tree from the
 * leaves, compare every stored node and the recorded size, and check every
 * signed checkpoint against the recomputed root of its size. Behind
 * `concordat audit verify`; the broker may run it at start.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"

struct walk {
	struct audit *a;
	const uint8_t *pk;
	struct audit_verify_result *res;
	MDB_cursor *nodes;
	MDB_cursor *cps;
	struct merkle_range range;
	bool cp_pending; /* cp_key/cp_val hold the next checkpoint */
	MDB_val cp_key, cp_val;
	uint64_t good_size; /* size of the last checkpoint that held */
};

static int
fail(struct walk *w, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct walk *w, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->res->why, sizeof(w->res->why), fmt, ap);
	va_end(ap);
	return rc;
}

static int
bad_leaf(struct walk *w, uint64_t seq)
{
	w->res->has_bad_leaf = true;
	w->res->bad_leaf = seq;
	return ERROR_TAMPERED;
}

/* Compares a node the recomputation completes with the next stored one. */
static int
visit_node(void *arg, unsigned level, uint64_t index,
    const uint8_t hash[MERKLE_HASH_LEN])
{
	struct walk *w = arg;
	uint8_t want[AUDIT_NODE_KEY];
	MDB_val k, v;
	uint64_t first = index << level, last = ((index + 1) << level) - 1;
	int rc, cmp;

	audit_node_key(want, level, index);
	rc = mdb_cursor_get(w->nodes, &k, &v, MDB_NEXT);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return audit_mdb_error(rc);
	cmp = rc == MDB_NOTFOUND ? 1
				 : memcmp(k.mv_data, want,
				       k.mv_size < sizeof(want) ? k.mv_size
								: sizeof(want));
	if (rc == 0 && cmp == 0 && k.mv_size != sizeof(want))
		cmp = -1;
	if (cmp != 0) {
		bad_leaf(w, last);
		if (level == 0)
			return fail(w, ERROR_TAMPERED,
			    "leaf %" PRIu64 ": its tree node is %s", index,
			    cmp > 0 ? "missing" : "preceded by a stray node");
		return fail(w, ERROR_TAMPERED,
		    "tree node over leaves %" PRIu64 "-%" PRIu64 " is %s",
		    first, last,
		    cmp > 0 ? "missing" : "preceded by a stray node");
	}
	if (v.mv_size != MERKLE_HASH_LEN ||
	    memcmp(v.mv_data, hash, MERKLE_HASH_LEN) != 0) {
		if (level == 0) {
			bad_leaf(w, index);
			return fail(w, ERROR_TAMPERED,
			    "leaf %" PRIu64 ": its bytes do not match its "
			    "hash in the tree (altered, moved or replaced)",
			    index);
		}
		return fail(w, ERROR_TAMPERED,
		    "tree node over leaves %" PRIu64 "-%" PRIu64
		    " does not match the leaves",
		    first, last);
	}
	return ERROR_OK;
}

/* Advances to the next stored checkpoint, if any. */
static int
next_checkpoint(struct walk *w, MDB_cursor_op op)
{
	int rc = mdb_cursor_get(w->cps, &w->cp_key, &w->cp_val, op);

	w->cp_pending = rc == 0;
	if (rc == MDB_NOTFOUND)
		return ERROR_OK;
	if (rc != 0)
		return audit_mdb_error(rc);
	if (w->cp_key.mv_size != 8)
		return fail(w, ERROR_TAMPERED, "a checkpoint key is malformed");
	return ERROR_OK;
}

/* Checks every stored checkpoint of size n, the number of leaves so far. */
static int
check_checkpoints(struct walk *w, uint64_t n)
{
	struct checkpoint cp;
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t size;
	int rc;

	while (w->cp_pending && (size = audit_be64_get(w->cp_key.mv_data)) ==
		n) {
		w->res->has_bad_checkpoint = true;
		w->res->bad_checkpoint = size;
		rc = checkpoint_verify(w->cp_val.mv_data, w->cp_val.mv_size,
		    w->a->origin, w->pk, &cp);
		if (rc == ERROR_SIGNATURE)
			return fail(w, rc,
			    "checkpoint at size %" PRIu64 ": not signed by "
			    "the broker key given for origin '%s'",
			    size, w->a->origin);
		if (rc != 0)
			return fail(w, ERROR_CHECKPOINT,
			    "checkpoint at size %" PRIu64
			    ": not a well-formed checkpoint of origin '%s'",
			    size, w->a->origin);
		if (cp.size != size)
			return fail(w, ERROR_CHECKPOINT,
			    "checkpoint stored at size %" PRIu64
			    " says size %" PRIu64,
			    size, cp.size);
		merkle_range_root(&w->range, root);
		if (memcmp(root, cp.root, MERKLE_HASH_LEN) != 0)
			return fail(w, ERROR_CHECKPOINT,
			    "checkpoint at size %" PRIu64 ": its signed root "
			    "is not the root of the stored leaves; a leaf "
			    "from %" PRIu64 " to %" PRIu64 " was altered, "
			    "removed or replaced after it was signed",
			    size, w->good_size, size == 0 ? 0 : size - 1);
		w->res->has_bad_checkpoint = false;
		w->res->checkpoints++;
		w->res->has_latest = true;
		w->res->latest = cp;
		w->good_size = size;
		if ((rc = next_checkpoint(w, MDB_NEXT)) != 0)
			return rc;
	}
	if (w->cp_pending && audit_be64_get(w->cp_key.mv_data) < n)
		return fail(w, ERROR_TAMPERED, "checkpoints are out of order");
	return ERROR_OK;
}

int
audit_verify(struct audit *a, MDB_txn *txn,
    const uint8_t pk[CHECKPOINT_PK_LEN], struct audit_verify_result *res)
{
	struct walk w;
	MDB_cursor *leaves = NULL;
	MDB_val k, v;
	uint8_t hash[MERKLE_HASH_LEN];
	uint64_t size, n = 0, seq;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.a = a;
	w.pk = pk;
	w.res = res;
	merkle_range_init(&w.range);
	if ((rc = audit_size(a, txn, &size)) != 0)
		return fail(&w, rc, "the recorded tree size is malformed");
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_LEAVES], &leaves)) != 0 ||
	    (rc = mdb_cursor_open(txn, a->dbi[DB_NODES], &w.nodes)) != 0 ||
	    (rc = mdb_cursor_open(txn, a->dbi[DB_CHECKPOINTS], &w.cps)) != 0) {
		rc = audit_mdb_error(rc);
		goto out;
	}
	if ((rc = next_checkpoint(&w, MDB_FIRST)) != 0 ||
	    (rc = check_checkpoints(&w, 0)) != 0)
		goto out;
	for (rc = mdb_cursor_get(leaves, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(leaves, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = fail(&w, bad_leaf(&w, n),
			    "leaf %" PRIu64 ": malformed key", n);
			goto out;
		}
		seq = audit_be64_get(k.mv_data);
		if (seq != n) {
			rc = fail(&w, bad_leaf(&w, n),
			    "leaf %" PRIu64 " is missing (next stored: %" PRIu64
			    ")",
			    n, seq);
			goto out;
		}
		if (seq >= size) {
			rc = fail(&w, bad_leaf(&w, seq),
			    "leaf %" PRIu64 " is beyond the recorded size %" PRIu64,
			    seq, size);
			goto out;
		}
		merkle_hash_leaf(v.mv_data, v.mv_size, hash);
		if ((rc = merkle_range_append(&w.range, hash, visit_node, &w)) !=
		    0)
			goto out;
		n++;
		res->leaves = n;
		if ((rc = check_checkpoints(&w, n)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND) {
		rc = audit_mdb_error(rc);
		goto out;
	}
	if (n != size) {
		rc = fail(&w, bad_leaf(&w, n),
		    "leaf %" PRIu64 " is missing: the log records %" PRIu64
		    " leaves",
		    n, size);
		goto out;
	}
	rc = mdb_cursor_get(w.nodes, &k, &v, MDB_NEXT);
	if (rc == 0) {
		rc = fail(&w, ERROR_TAMPERED,
		    "stray tree nodes after the last leaf %" PRIu64,
		    n == 0 ? 0 : n - 1);
		goto out;
	}
	if (rc != MDB_NOTFOUND) {
		rc = audit_mdb_error(rc);
		goto out;
	}
	if (w.cp_pending) {
		res->has_bad_checkpoint = true;
		res->bad_checkpoint = audit_be64_get(w.cp_key.mv_data);
		rc = fail(&w, ERROR_CHECKPOINT,
		    "checkpoint at size %" PRIu64 " is beyond the %" PRIu64
		    " stored leaves: the log was truncated after it was signed",
		    res->bad_checkpoint, n);
		goto out;
	}
	rc = ERROR_OK;
out:
	if (rc != 0 && res->why[0] == '\0')
		snprintf(res->why, sizeof(res->why), "%s",
		    error_strerror(rc));
	if (w.cps != NULL)
		mdb_cursor_close(w.cps);
	if (w.nodes != NULL)
		mdb_cursor_close(w.nodes);
	if (leaves != NULL)
		mdb_cursor_close(leaves);
	return rc;
}
