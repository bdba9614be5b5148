/*
 * Verifies a whole audit log in one pass: recompute the tree from the
 * leaves, compare every stored node and the recorded size, and check every
 * signed checkpoint against the recomputed root of its size. Behind
 * `concordat audit verify`; the broker may run it at start.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
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

static int fail(struct walk *w, int rc, const char *fmt, ...)
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
		return db_error(rc);
	cmp = rc == MDB_NOTFOUND
	    ? 1
	    : memcmp(k.mv_data, want,
	          k.mv_size < sizeof(want) ? k.mv_size : sizeof(want));
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
		return db_error(rc);
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

	while (w->cp_pending && (size = db_be64_get(w->cp_key.mv_data)) == n) {
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
	if (w->cp_pending && db_be64_get(w->cp_key.mv_data) < n)
		return fail(w, ERROR_TAMPERED, "checkpoints are out of order");
	return ERROR_OK;
}

/*
 * The leaves are hashed a chunk ahead by a second thread while this one
 * walks the tree: SHA-256 of the leaves is half of the work. Only this
 * thread touches LMDB; the hasher reads leaf bytes in the map, which stay
 * valid for the read transaction.
 */
#define CHUNK 2048

struct chunk {
	size_t n;
	const uint8_t *leaf[CHUNK];
	size_t len[CHUNK];
	uint8_t hash[CHUNK][MERKLE_HASH_LEN];
};

struct hasher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *job; /* being hashed; NULL when idle */
	bool quit, running;
};

static void
hash_chunk(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++)
		merkle_hash_leaf(c->leaf[i], c->len[i], c->hash[i]);
}

static void *
hasher_main(void *arg)
{
	struct hasher *h = arg;
	struct chunk *c;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->job == NULL && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if ((c = h->job) == NULL)
			break;
		pthread_mutex_unlock(&h->mu);
		hash_chunk(c);
		pthread_mutex_lock(&h->mu);
		h->job = NULL;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void
hasher_start(struct hasher *h)
{
	memset(h, 0, sizeof(*h));
	if (pthread_mutex_init(&h->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&h->cv, NULL) != 0) {
		pthread_mutex_destroy(&h->mu);
		return;
	}
	/* Without a thread the work is done inline: slower, not wrong. */
	h->running = pthread_create(&h->thread, NULL, hasher_main, h) == 0;
	if (!h->running) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
	}
}

static void
hasher_submit(struct hasher *h, struct chunk *c)
{
	if (!h->running) {
		hash_chunk(c);
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->job = c;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void
hasher_wait(struct hasher *h)
{
	if (!h->running)
		return;
	pthread_mutex_lock(&h->mu);
	while (h->job != NULL)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void
hasher_stop(struct hasher *h)
{
	if (!h->running)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	h->running = false;
}

/*
 * Reads the next leaves into c, checking that they are numbered 0, 1, ...
 * below the recorded size. A fault stops the reading but is reported only
 * when the walk reaches it (fault_rc, fault_why), so that the first fault
 * in log order is the one named.
 */
struct leaves {
	MDB_cursor *cursor;
	uint64_t next, size;
	bool started, done;
	int fault_rc;
	uint64_t fault_leaf;
	char fault_why[128];
};

static void
fill(struct leaves *l, struct chunk *c)
{
	MDB_val k, v;
	uint64_t seq;
	int rc;

	c->n = 0;
	while (!l->done && c->n < CHUNK) {
		rc = mdb_cursor_get(
		    l->cursor, &k, &v, l->started ? MDB_NEXT : MDB_FIRST);
		l->started = true;
		if (rc == MDB_NOTFOUND) {
			l->done = true;
			break;
		}
		l->fault_leaf = l->next;
		if (rc != 0) {
			l->fault_rc = db_error(rc);
			snprintf(l->fault_why, sizeof(l->fault_why),
			    "reading leaf %" PRIu64 ": %s", l->next,
			    error_strerror(l->fault_rc));
		} else if (k.mv_size != 8) {
			l->fault_rc = ERROR_TAMPERED;
			snprintf(l->fault_why, sizeof(l->fault_why),
			    "leaf %" PRIu64 ": malformed key", l->next);
		} else if ((seq = db_be64_get(k.mv_data)) != l->next) {
			l->fault_rc = ERROR_TAMPERED;
			snprintf(l->fault_why, sizeof(l->fault_why),
			    "leaf %" PRIu64 " is missing (next stored: %" PRIu64
			    ")",
			    l->next, seq);
		} else if (seq >= l->size) {
			l->fault_rc = ERROR_TAMPERED;
			snprintf(l->fault_why, sizeof(l->fault_why),
			    "leaf %" PRIu64
			    " is beyond the recorded size %" PRIu64,
			    seq, l->size);
		}
		if (l->fault_rc != 0) {
			l->done = true;
			break;
		}
		c->leaf[c->n] = v.mv_data;
		c->len[c->n] = v.mv_size;
		c->n++;
		l->next++;
	}
}

int
audit_verify(struct audit *a, MDB_txn *txn, const uint8_t pk[CHECKPOINT_PK_LEN],
    struct audit_verify_result *res)
{
	struct walk w;
	struct leaves l;
	struct hasher h;
	struct chunk *cur = NULL, *next = NULL, *swap;
	MDB_val k, v;
	uint64_t n = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	memset(&l, 0, sizeof(l));
	w.a = a;
	w.pk = pk;
	w.res = res;
	merkle_range_init(&w.range);
	h.running = false;
	if ((rc = audit_size(a, txn, &l.size)) != 0)
		return fail(&w, rc, "the recorded tree size is malformed");
	if ((cur = malloc(sizeof(*cur))) == NULL ||
	    (next = malloc(sizeof(*next))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_LEAVES], &l.cursor)) != 0 ||
	    (rc = mdb_cursor_open(txn, a->dbi[DB_NODES], &w.nodes)) != 0 ||
	    (rc = mdb_cursor_open(txn, a->dbi[DB_CHECKPOINTS], &w.cps)) != 0) {
		rc = db_error(rc);
		goto out;
	}
	if ((rc = next_checkpoint(&w, MDB_FIRST)) != 0 ||
	    (rc = check_checkpoints(&w, 0)) != 0)
		goto out;
	hasher_start(&h);
	fill(&l, cur);
	hasher_submit(&h, cur);
	while (cur->n > 0) {
		fill(&l, next);
		hasher_wait(&h);
		if (next->n > 0)
			hasher_submit(&h, next);
		for (size_t i = 0; i < cur->n; i++) {
			rc = merkle_range_append(
			    &w.range, cur->hash[i], visit_node, &w);
			if (rc != 0)
				goto out;
			res->leaves = ++n;
			if ((rc = check_checkpoints(&w, n)) != 0)
				goto out;
		}
		swap = cur;
		cur = next;
		next = swap;
	}
	if (l.fault_rc != 0) {
		bad_leaf(&w, l.fault_leaf);
		rc = fail(&w, l.fault_rc, "%s", l.fault_why);
		goto out;
	}
	if (n != l.size) {
		rc = fail(&w, bad_leaf(&w, n),
		    "leaf %" PRIu64 " is missing: the log records %" PRIu64
		    " leaves",
		    n, l.size);
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
		rc = db_error(rc);
		goto out;
	}
	/* The indexes' bookkeeping: what queries trust to find the rest. */
	{
		struct audit_run *runs = NULL;
		uint64_t indexed;
		size_t nruns;
		if ((rc = audit_indexed_of(a, txn, l.size, &indexed)) != 0 ||
		    (rc = audit_runs(a, txn, indexed, &runs, &nruns)) != 0) {
			rc = fail(&w, rc,
			    "the record of which leaves are indexed is "
			    "malformed");
			goto out;
		}
		free(runs);
	}
	if (w.cp_pending) {
		res->has_bad_checkpoint = true;
		res->bad_checkpoint = db_be64_get(w.cp_key.mv_data);
		rc = fail(&w, ERROR_CHECKPOINT,
		    "checkpoint at size %" PRIu64 " is beyond the %" PRIu64
		    " stored leaves: the log was truncated after it was signed",
		    res->bad_checkpoint, n);
		goto out;
	}
	rc = ERROR_OK;
out:
	hasher_stop(&h);
	if (rc != 0 && res->why[0] == '\0')
		snprintf(res->why, sizeof(res->why), "%s", error_strerror(rc));
	if (w.cps != NULL)
		mdb_cursor_close(w.cps);
	if (w.nodes != NULL)
		mdb_cursor_close(w.nodes);
	if (l.cursor != NULL)
		mdb_cursor_close(l.cursor);
	free(cur);
	free(next);
	return rc;
}
