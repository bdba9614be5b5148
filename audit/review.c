/*
 * Break-glass reviews read back from the log (see review.h): loaded per
 * decision, checked against the guardians' keys, counted when missing.
 * Used by the audit verbs and by the broker's status.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/review.h"

struct loader {
	struct audit_reviews *out;
	size_t cap;
};

static int
load_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct loader *l = arg;
	struct audit_reviews *r = l->out;

	if (r->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *e = realloc(r->e, cap * sizeof(*r->e));
		if (e == NULL)
			return ERROR_NOMEM;
		r->e = e;
		l->cap = cap;
	}
	struct audit_review_entry *e = &r->e[r->n++];
	e->decision = ev->review.leaf_seq;
	e->leaf = seq;
	e->logged_ms = ev->time_ms;
	e->count = 1;
	e->review = ev->review;
	return ERROR_OK;
}

/* By decision, then by leaf: the last of a run is the latest. */
static int
by_decision(const void *x, const void *y)
{
	const struct audit_review_entry *a = x, *b = y;

	if (a->decision != b->decision)
		return a->decision < b->decision ? -1 : 1;
	return a->leaf < b->leaf ? -1 : a->leaf > b->leaf;
}

int
audit_reviews_load(struct audit *a, MDB_txn *txn, struct audit_reviews *out)
{
	struct audit_filter f = {.type = EVENT_BREAKGLASS_REVIEWED};
	struct loader l = {.out = out};
	size_t w = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = audit_query(a, txn, &f, load_row, &l, NULL)) != 0) {
		audit_reviews_release(out);
		return rc;
	}
	if (out->n > 1) /* qsort is not given NULL, even for none */
		qsort(out->e, out->n, sizeof(*out->e), by_decision);
	/* Keep the latest of each decision, counting the earlier. */
	for (size_t i = 0; i < out->n; i++) {
		if (w > 0 && out->e[w - 1].decision == out->e[i].decision) {
			uint64_t c = out->e[w - 1].count + 1;
			out->e[w - 1] = out->e[i];
			out->e[w - 1].count = c;
		} else {
			out->e[w++] = out->e[i];
		}
	}
	out->n = w;
	return ERROR_OK;
}

void
audit_reviews_release(struct audit_reviews *r)
{
	free(r->e);
	r->e = NULL;
	r->n = 0;
}

const struct audit_review_entry *
audit_reviews_find(const struct audit_reviews *r, uint64_t seq)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->e[mid].decision == seq)
			return &r->e[mid];
		if (r->e[mid].decision < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct latest {
	uint64_t seq;
	bool found;
	struct review *out;
};

static int
latest_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct latest *l = arg;

	(void)seq;
	if (ev->review.leaf_seq == l->seq) {
		*l->out = ev->review; /* leaf order: the last is the latest */
		l->found = true;
	}
	return ERROR_OK;
}

int
audit_review_latest(
    struct audit *a, MDB_txn *txn, uint64_t seq, struct review *out)
{
	struct audit_filter f = {.type = EVENT_BREAKGLASS_REVIEWED};
	struct latest l = {.seq = seq, .out = out};
	const uint8_t *leaf;
	struct event *ev;
	size_t len;
	int rc;

	if ((ev = malloc(sizeof(*ev))) == NULL)
		return ERROR_NOMEM;
	if ((rc = audit_leaf(a, txn, seq, &leaf, &len)) == 0 &&
	    (rc = event_decode(leaf, len, ev)) == 0) {
		if (!ev->has_msg_id) {
			rc = ERROR_NOTFOUND;
		} else {
			f.has_msg_id = true;
			memcpy(f.msg_id, ev->msg_id, WIRE_MSG_ID_LEN);
			rc = audit_query(a, txn, &f, latest_row, &l, NULL);
		}
	}
	free(ev);
	if (rc == 0 && !l.found)
		rc = ERROR_NOTFOUND;
	return rc;
}

void
audit_review_describe(const struct review *r, char *buf, size_t n)
{
	time_t t = (time_t)(r->reviewed_at_ms / 1000);
	struct tm tm;
	char when[32] = "?";

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, n, "%s, by %s, %s", review_outcome_name(r->outcome),
	    r->reviewer, when);
}

const char *
audit_review_words(struct audit *a, MDB_txn *txn, uint64_t seq,
    const struct event *ev, char *buf, size_t n)
{
	struct review rv;

	if (ev->type != EVENT_DECISION || !ev->breakglass)
		return NULL;
	if (audit_review_latest(a, txn, seq, &rv) != 0)
		snprintf(buf, n,
		    "not yet reviewed by the sending agency's "
		    "guardian");
	else
		audit_review_describe(&rv, buf, n);
	return buf;
}

/* ------------------------------------------------------------- verify */

struct checker {
	struct audit *a;
	MDB_txn *txn;
	const struct keyring *kr;
	struct audit_review_check *res;
	struct event dec; /* the reviewed decision, decoded */
};

static int bad(struct checker *c, uint64_t seq, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
bad(struct checker *c, uint64_t seq, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->res->why, sizeof(c->res->why),
	    "leaf %" PRIu64 " (breakglass_reviewed): ", seq);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(c->res->why))
		vsnprintf(
		    c->res->why + n, sizeof(c->res->why) - (size_t)n, fmt, ap);
	va_end(ap);
	c->res->has_bad_leaf = true;
	c->res->bad_leaf = seq;
	return err;
}

/* The reviewed leaf is a break-glass decision of ev's sender, as hashed. */
static int
check_reviewed(struct checker *c, uint64_t seq, const struct event *ev)
{
	const struct review *r = &ev->review;
	uint8_t hash[MERKLE_HASH_LEN];
	const uint8_t *leaf;
	size_t len;

	if (r->leaf_seq >= seq ||
	    audit_leaf(c->a, c->txn, r->leaf_seq, &leaf, &len) != 0)
		return bad(c, seq, ERROR_TAMPERED,
		    "reviews leaf %" PRIu64 ", which is not before it",
		    r->leaf_seq);
	merkle_hash_leaf(leaf, len, hash);
	if (sodium_memcmp(hash, r->leaf_hash, MERKLE_HASH_LEN) != 0)
		return bad(c, seq, ERROR_TAMPERED,
		    "the leaf hash it signs is not that of leaf %" PRIu64,
		    r->leaf_seq);
	if (event_decode(leaf, len, &c->dec) != 0 ||
	    c->dec.type != EVENT_DECISION || !c->dec.breakglass ||
	    strcmp(c->dec.sender, ev->sender) != 0)
		return bad(c, seq, ERROR_TAMPERED,
		    "leaf %" PRIu64 " is not a break-glass decision of '%s'",
		    r->leaf_seq, ev->sender);
	return ERROR_OK;
}

static int
check_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct checker *c = arg;
	const struct review *r = &ev->review;
	const struct keys_public *g;
	int rc;

	if (c->kr == NULL) { /* counted, not checked */
		c->res->reviews++;
		return ERROR_OK;
	}
	if ((g = keyring_find_guardian(c->kr, ev->sender)) == NULL)
		return bad(c, seq, ERROR_SIGNATURE,
		    "the keyring holds no guardian key of '%s'", ev->sender);
	if (strcmp(g->fingerprint, r->guardian) != 0)
		return bad(c, seq, ERROR_SIGNATURE,
		    "signed by key %s, not by the guardian key of '%s' (%s)",
		    r->guardian, ev->sender, g->fingerprint);
	if (review_verify(r, g->sign_pk) != 0)
		return bad(c, seq, ERROR_SIGNATURE,
		    "the review's signature does not verify under the "
		    "guardian key of '%s' (%s)",
		    ev->sender, g->fingerprint);
	if ((rc = check_reviewed(c, seq, ev)) != 0)
		return rc;
	c->res->reviews++;
	if (r->outcome < 4)
		c->res->outcomes[r->outcome]++;
	return ERROR_OK;
}

int
audit_review_verify(struct audit *a, MDB_txn *txn, const struct keyring *kr,
    struct audit_review_check *res)
{
	struct audit_filter f = {.type = EVENT_BREAKGLASS_REVIEWED};
	struct checker *c = calloc(1, sizeof(*c));
	int rc;

	memset(res, 0, sizeof(*res));
	if (c == NULL)
		return ERROR_NOMEM;
	c->a = a;
	c->txn = txn;
	c->kr = kr;
	c->res = res;
	rc = audit_query(a, txn, &f, check_row, c, NULL);
	free(c);
	return rc;
}

/* ------------------------------------------------- the overdue count */

struct unreviewed {
	const struct audit_reviews *reviews;
	bool obliged;
	uint64_t count, oldest_ms;
};

static bool
obliges_review(const struct event *ev)
{
	for (size_t i = 0; i < ev->n_obligations; i++)
		if (strcmp(ev->obligations[i], "review_breakglass") == 0)
			return true;
	return false;
}

static int
unreviewed_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct unreviewed *u = arg;

	if (ev->type != EVENT_DECISION || (u->obliged && !obliges_review(ev)) ||
	    audit_reviews_find(u->reviews, seq) != NULL)
		return ERROR_OK;
	if (u->count++ == 0 || ev->time_ms < u->oldest_ms)
		u->oldest_ms = ev->time_ms;
	return ERROR_OK;
}

int
audit_review_unreviewed(struct audit *a, MDB_txn *txn, uint64_t until_ms,
    bool obliged, uint64_t *count, uint64_t *oldest_ms)
{
	struct audit_filter f = {
	    .type = EVENT_DECISION, .breakglass = true, .until_ms = until_ms};
	struct audit_reviews rv;
	struct unreviewed u = {.reviews = &rv, .obliged = obliged};
	int rc;

	*count = *oldest_ms = 0;
	if ((rc = audit_reviews_load(a, txn, &rv)) != 0)
		return rc;
	rc = audit_query(a, txn, &f, unreviewed_row, &u, NULL);
	audit_reviews_release(&rv);
	if (rc == 0) {
		*count = u.count;
		*oldest_ms = u.oldest_ms;
	}
	return rc;
}
