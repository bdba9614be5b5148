/*
 * The review deadline in the broker's status and metrics (DESIGN.md §7):
 * break-glass decisions under a rule with the review_breakglass obligation
 * that no guardian has reviewed within the agreement's
 * review_breakglass_within (default 7 days). Called by control.c's
 * monitor_status; status.c writes the member.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit/review.h"
#include "broker/status.h"

int
status_reviews(struct status *st, struct store *s, uint64_t within_ms)
{
	MDB_txn *txn = NULL;
	int rc;

	st->has_reviews = within_ms != 0;
	st->review_within_ms = within_ms;
	st->reviews_overdue = st->reviews_oldest_ms = 0;
	if (within_ms == 0)
		return ERROR_OK;
	if ((rc = store_begin(s, false, &txn)) != 0)
		return rc;
	/* Decisions logged at or before now - within are overdue. */
	rc = audit_review_unreviewed(store_audit(s), txn,
	    st->now_ms > within_ms ? st->now_ms - within_ms + 1 : 1, true,
	    &st->reviews_overdue, &st->reviews_oldest_ms);
	store_abort(txn);
	return rc;
}

void
status_reviews_json(const struct status *st, struct strbuf *sb)
{
	strbuf_addstr(sb, ",\"breakglass_reviews\":");
	if (!st->has_reviews) {
		strbuf_addstr(sb, "null");
		return;
	}
	strbuf_addf(sb,
	    "{\"due_within_ms\":%" PRIu64 ",\"overdue\":%" PRIu64
	    ",\"oldest_overdue_ms\":%" PRIu64 "}",
	    st->review_within_ms, st->reviews_overdue, st->reviews_oldest_ms);
}
