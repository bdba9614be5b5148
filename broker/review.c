/*
 * Break-glass reviews at the broker (DESIGN.md §7): a Review frame from an
 * agency's agent is checked against the log and the agency's guardian key
 * in the keyring, then logged as a breakglass_reviewed event and answered
 * with a receipt carrying its leaf; otherwise refused with a reason and no
 * leaf. Called from broker.c's frame dispatch, in the batch's transaction.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

/* Fills rep as a refusal of reason, said in the broker's log. */
static int refuse(struct reply *rep, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct reply *rep, int reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
	va_end(ap);
	rep->outcome = WIRE_REJECTED;
	rep->reason = reason;
	rep->retryable = false;
	rep->n_leaves = 0;
	log_info("review from %s refused: %s: %s", rep->agency,
	    wire_reason_name(reason), rep->detail);
	return ERROR_OK;
}

/*
 * The checks that need the log: leaf rv->leaf_seq exists, is a break-glass
 * decision sent by agency, and hashes to rv->leaf_hash. *ev receives it.
 * Returns 0 when it holds, 1 when rep was filled as a refusal, or an LMDB
 * failure.
 */
static int
check_leaf(struct broker *b, MDB_txn *txn, const struct review *rv,
    struct reply *rep, struct event *ev)
{
	uint8_t hash[MERKLE_HASH_LEN];
	const uint8_t *leaf;
	uint64_t size;
	size_t len;
	int rc;

	if ((rc = audit_size(store_audit(b->store), txn, &size)) != 0)
		return rc;
	if (rv->leaf_seq >= size)
		return refuse(rep, WIRE_REASON_NOT_REVIEWABLE,
		           "the log has no leaf %" PRIu64, rv->leaf_seq),
		       1;
	if ((rc = audit_leaf(
	         store_audit(b->store), txn, rv->leaf_seq, &leaf, &len)) != 0)
		return rc;
	merkle_hash_leaf(leaf, len, hash);
	if (event_decode(leaf, len, ev) != 0)
		return refuse(rep, WIRE_REASON_NOT_REVIEWABLE,
		           "leaf %" PRIu64 " does not decode", rv->leaf_seq),
		       1;
	if (ev->type != EVENT_DECISION || !ev->breakglass)
		return refuse(rep, WIRE_REASON_NOT_REVIEWABLE,
		           "leaf %" PRIu64 " is a %s event, not a break-glass "
		           "decision",
		           rv->leaf_seq,
		           ev->type == EVENT_DECISION
		               ? "routine decision"
		               : event_type_name(ev->type)),
		       1;
	if (strcmp(ev->sender, rep->agency) != 0)
		return refuse(rep, WIRE_REASON_SENDER_MISMATCH,
		           "leaf %" PRIu64 " is a decision on a message of "
		           "'%s', not of '%s'",
		           rv->leaf_seq, ev->sender, rep->agency),
		       1;
	if (sodium_memcmp(hash, rv->leaf_hash, MERKLE_HASH_LEN) != 0)
		return refuse(rep, WIRE_REASON_DIGEST_MISMATCH,
		           "the review's leaf hash is not that of leaf "
		           "%" PRIu64,
		           rv->leaf_seq),
		       1;
	return ERROR_OK;
}

/* The guardian key of rep->agency in the keyring signed rv: 0, or 1. */
static int
check_signature(struct broker *b, const struct review *rv, struct reply *rep)
{
	const struct keys_public *g =
	    keyring_find_guardian(b->keyring, rep->agency);

	if (g == NULL)
		return refuse(rep, WIRE_REASON_BAD_SIGNATURE,
		           "the keyring holds no guardian key of '%s'",
		           rep->agency),
		       1;
	if (strcmp(g->fingerprint, rv->guardian) != 0)
		return refuse(rep, WIRE_REASON_BAD_SIGNATURE,
		           "signed by key %s, not by the guardian key of '%s' "
		           "(%s)",
		           rv->guardian, rep->agency, g->fingerprint),
		       1;
	if (review_verify(rv, g->sign_pk) != 0)
		return refuse(rep, WIRE_REASON_BAD_SIGNATURE,
		           "the signature does not verify under the guardian "
		           "key of '%s' (%s)",
		           rep->agency, g->fingerprint),
		       1;
	return ERROR_OK;
}

struct seen {
	const struct review *rv;
	bool found;
	uint64_t seq;
};

static int
seen_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct seen *s = arg;

	if (sodium_memcmp(
	        ev->review.review_id, s->rv->review_id, REVIEW_ID_LEN) == 0 &&
	    sodium_memcmp(
	        ev->review.signature, s->rv->signature, REVIEW_SIG_LEN) == 0) {
		s->found = true;
		s->seq = seq;
	}
	return ERROR_OK;
}

/*
 * The leaf of this very review when it is logged already (an agent that
 * sends again after a lost receipt), found among the events of the
 * decision's message: the same answer, not a second event.
 */
static int
logged_before(struct broker *b, MDB_txn *txn, const struct event *dec,
    const struct review *rv, struct seen *s)
{
	struct audit_filter f = {.type = EVENT_BREAKGLASS_REVIEWED};

	s->rv = rv;
	s->found = false;
	if (!dec->has_msg_id)
		return ERROR_OK;
	f.has_msg_id = true;
	memcpy(f.msg_id, dec->msg_id, WIRE_MSG_ID_LEN);
	return audit_query(store_audit(b->store), txn, &f, seen_row, s, NULL);
}

int
review_frame(struct broker *b, MDB_txn *txn, const struct peer *p,
    const void *rid, size_t rid_len, const struct review *rv)
{
	struct event dec, ev;
	struct seen seen;
	struct reply *rep;
	char why[WIRE_DETAIL_MAX];
	uint64_t seq;
	int rc;

	if (b->n_replies >= b->cfg.batch)
		return ERROR_OK; /* cannot happen: one reply per frame */
	rep = &b->replies[b->n_replies++];
	memset(rep, 0, sizeof(*rep));
	memcpy(rep->rid, rid, rid_len);
	rep->rid_len = rid_len;
	snprintf(rep->agency, sizeof(rep->agency), "%s", p->id);
	memcpy(rep->msg_id, rv->review_id, WIRE_MSG_ID_LEN);
	if (review_check(rv, why, sizeof(why)) != 0)
		return refuse(rep, WIRE_REASON_MALFORMED, "%s", why);
	if (strcmp(rv->agency, p->id) != 0)
		return refuse(rep, WIRE_REASON_SENDER_MISMATCH,
		    "a review by the guardian of '%s', sent by '%s'",
		    rv->agency, p->id);
	if ((rc = check_leaf(b, txn, rv, rep, &dec)) != 0)
		return rc == 1 ? ERROR_OK : rc;
	if (check_signature(b, rv, rep) != 0)
		return ERROR_OK;
	if ((rc = logged_before(b, txn, &dec, rv, &seen)) != 0)
		return rc;
	if (seen.found) {
		rep->outcome = WIRE_ACCEPTED;
		rep->leaves[0] = seen.seq;
		rep->n_leaves = 1;
		return ERROR_OK;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_BREAKGLASS_REVIEWED;
	ev.time_ms = clock_now_ms();
	ev.has_msg_id = dec.has_msg_id;
	memcpy(ev.msg_id, dec.msg_id, WIRE_MSG_ID_LEN);
	snprintf(ev.sender, sizeof(ev.sender), "%s", dec.sender);
	snprintf(ev.recipient, sizeof(ev.recipient), "%s", dec.recipient);
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", dec.purpose);
	ev.urgency = dec.urgency;
	ev.emergency_reason = dec.emergency_reason;
	ev.has_subject_ref = dec.has_subject_ref;
	memcpy(ev.subject_ref, dec.subject_ref, WIRE_REF_LEN);
	ev.review = *rv;
	if ((rc = audit_append(store_audit(b->store), txn, &ev, &seq)) != 0)
		return rc;
	rep->outcome = WIRE_ACCEPTED;
	rep->leaves[0] = seq;
	rep->n_leaves = 1;
	log_info("review of leaf %" PRIu64 " by %s's guardian logged: %s "
	         "(leaf %" PRIu64 ")",
	    rv->leaf_seq, p->id, review_outcome_name(rv->outcome), seq);
	return ERROR_OK;
}
