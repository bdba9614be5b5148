/*
 * Break-glass reviews in the log (DESIGN.md §7): the breakglass_reviewed
 * events read back, their signatures checked against a keyring of
 * guardian keys (`audit verify --keyring`), the latest review of each
 * break-glass decision (queries, stats, the subject access report, the
 * broker's overdue count).
 */
#ifndef AUDIT_REVIEW_H
#define AUDIT_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "proto/review.h"

/* The latest review of one decision leaf. */
struct audit_review_entry {
	uint64_t decision;  /* the reviewed leaf */
	uint64_t leaf;      /* the breakglass_reviewed event's */
	uint64_t logged_ms; /* the event's time */
	uint64_t count;     /* reviews of this decision: a later one wins */
	struct review review;
};

/* Every reviewed decision's latest review, sorted by decision. */
struct audit_reviews {
	struct audit_review_entry *e;
	size_t n;
};

/*
 * Reads every breakglass_reviewed event in txn into *out (the caller
 * releases it with audit_reviews_release): per reviewed decision the one
 * latest in the log. ERROR_NOMEM or a read error.
 */
WUR int audit_reviews_load(
    struct audit *a, MDB_txn *txn, struct audit_reviews *out);
void audit_reviews_release(struct audit_reviews *r);
/* The latest review of decision leaf seq, or NULL; valid until release. */
const struct audit_review_entry *audit_reviews_find(
    const struct audit_reviews *r, uint64_t seq);

/*
 * The latest review of decision leaf seq into *out, reading only the
 * events of that decision's message (the msg_id index): 0, ERROR_NOTFOUND
 * when it has none, or a read error.
 */
WUR int audit_review_latest(
    struct audit *a, MDB_txn *txn, uint64_t seq, struct review *out);

/*
 * "justified, by REVIEWER, 2026-12-02T15:40:00Z" into buf: how documents
 * name a review.
 */
void audit_review_describe(const struct review *r, char *buf, size_t n);

/*
 * How a subject access report names the review of decision ev at leaf
 * seq: NULL when it is not a break-glass decision; "not yet reviewed by
 * the sending agency's guardian"; or its latest review as
 * audit_review_describe words it, into buf.
 */
const char *audit_review_words(struct audit *a, MDB_txn *txn, uint64_t seq,
    const struct event *ev, char *buf, size_t n);

/* The outcome of audit_review_verify. */
struct audit_review_check {
	uint64_t reviews;     /* breakglass_reviewed events checked */
	uint64_t outcomes[4]; /* of them, by enum review_outcome */
	bool has_bad_leaf;
	uint64_t bad_leaf;
	char why[256];
};

/*
 * Checks every breakglass_reviewed event: its signature, rebuilt from the
 * event alone, under the guardian key of its agency in kr (the
 * fingerprint it names must be that key's), and that the leaf it reviews
 * is a break-glass decision of that agency whose leaf hash it carries.
 * 0, or ERROR_SIGNATURE / ERROR_TAMPERED at the first fault, res naming
 * it. With kr NULL they are only counted.
 */
WUR int audit_review_verify(struct audit *a, MDB_txn *txn,
    const struct keyring *kr, struct audit_review_check *res);

/*
 * Counts the break-glass decisions logged before until_ms (0: any time)
 * that have no review, with obliged only those whose obligations name
 * review_breakglass; *oldest_ms receives the time of the oldest of them
 * (0 when none).
 */
WUR int audit_review_unreviewed(struct audit *a, MDB_txn *txn,
    uint64_t until_ms, bool obliged, uint64_t *count, uint64_t *oldest_ms);

#endif
