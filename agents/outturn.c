/*
 * The sending side's loop turn (DESIGN.md §8): the final receipts and the
 * status reports that one turn of the agent's loop brings are recorded in
 * one commit, not one each, and their files are synced once per folder.
 *
 * A status report is written to receipts/ (the file fsynced) as it comes;
 * outbox_flush then fsyncs receipts/ once, records every final receipt and
 * every status report of the turn in one commit, acknowledges the reports,
 * moves each outbox file to sent/ or failed/ with its receipt beside it,
 * fsyncs those folders and outbox/ once each, and forgets the moved names
 * in one more commit. A crash at any point leaves what the per-message
 * order left: a receipt not yet recorded comes again with the resend, a
 * report not yet acknowledged comes again from the broker, and a move not
 * yet forgotten is finished at the next start (outbox_recover).
 */
#include <stdio.h>
#include <string.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/room.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

bool
outturn_final(const struct agent *a, const uint8_t *msg_id)
{
	const struct outturn *t = &a->outturn;

	for (size_t i = 0; i < t->n_done; i++)
		if (memcmp(t->done[i].msg_id, msg_id, WIRE_MSG_ID_LEN) == 0)
			return true;
	return false;
}

void
outturn_receipt(struct agent *a, struct state_msg *m, const char *why)
{
	struct outturn *t = &a->outturn;

	if (t->n_done == OUTTURN_MAX)
		outbox_flush(a);
	t->done[t->n_done] = *m;
	snprintf(t->why[t->n_done], sizeof(t->why[0]), "%s", why);
	t->n_done++;
	m->frame = NULL; /* the turn's now */
	m->receipt = NULL;
}

void
outturn_status(struct agent *a, const struct wire_status *s, const char *name,
    bool held, const struct checkpoint *cp)
{
	struct outturn *t = &a->outturn;
	struct outturn_status *st;

	if (t->n_status == OUTTURN_MAX)
		outbox_flush(a);
	st = &t->status[t->n_status++];
	memset(st, 0, sizeof(*st));
	memcpy(st->msg_id, s->msg_id, WIRE_MSG_ID_LEN);
	snprintf(st->recipient, sizeof(st->recipient), "%s", s->recipient);
	st->state = s->state;
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->held = held;
	if (held)
		st->cp = *cp;
	st->leaf_index = s->event.leaf_index;
}

static bool
is_final(int state)
{
	return state == WIRE_STATE_ACKNOWLEDGED || state == WIRE_STATE_EXPIRED;
}

/* A recorded status report: witnessed when held, logged, acknowledged. */
static void
status_done(struct agent *a, const struct outturn_status *st, int rc)
{
	char hex[33];
	uint8_t *frame;
	size_t len;

	spool_hex_id(st->msg_id, hex);
	if (rc != 0 && rc != ERROR_NOTFOUND)
		log_debug("%s: cannot record status %s: %s", hex, st->name,
		    error_strerror(rc));
	if (st->held)
		witness_hold(
		    a, WITNESS_STATUS, st->name, &st->cp, st->leaf_index);
	if (st->state == WIRE_STATE_EXPIRED)
		log_warn("%s: not collected by %s before expiry (non-delivery "
		         "report in receipts/) msg_id=%s to=%s reason=expired",
		    hex, st->recipient, hex, st->recipient);
	else
		log_info("%s: %s by %s msg_id=%s to=%s", hex,
		    wire_state_name(st->state), st->recipient, hex,
		    st->recipient);
	if (wire_status_ack_encode(
	        st->msg_id, st->recipient, st->state, &frame, &len) == 0) {
		link_send(a, frame, len);
		free(frame);
	}
}

/* The recorded receipts' files into sent/ and failed/, names forgotten. */
static void
move_done(struct agent *a, const struct state_op *ops)
{
	struct outturn *t = &a->outturn;
	struct state_op close[OUTTURN_MAX];
	bool moved[OUTTURN_MAX], to[2] = {false, false};
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < t->n_done; i++) {
		const struct state_msg *m = &t->done[i];
		char hex[33];

		moved[i] = false;
		if (ops[i].rc != 0) {
			/* Pending still: the resend brings it again. */
			spool_hex_id(m->msg_id, hex);
			log_err("%s: cannot record its receipt: %s", hex,
			    error_strerror(ops[i].rc));
			continue;
		}
		spool_hex_id(m->msg_id, hex);
		if (m->state == STATE_ACCEPTED)
			log_info("%s (%s): accepted", hex, m->file);
		else
			log_warn(
			    "%s (%s): rejected: %s", hex, m->file, t->why[i]);
		if ((rc = outbox_move_final(a, m, false)) != 0) {
			outbox_move_failed(a, m->file, rc);
			continue;
		}
		moved[i] = true;
		to[m->state == STATE_ACCEPTED ? 0 : 1] = true;
	}
	if ((to[0] && (rc = fileio_fsync_dir(a->dir[DIR_SENT])) != 0) ||
	    (to[1] && (rc = fileio_fsync_dir(a->dir[DIR_FAILED])) != 0) ||
	    ((to[0] || to[1]) &&
	        (rc = fileio_fsync_dir(a->dir[DIR_OUTBOX])) != 0)) {
		for (size_t i = 0; i < t->n_done; i++)
			if (moved[i])
				outbox_move_failed(a, t->done[i].file, rc);
		return;
	}
	/* Moved: the names are free for the local system's next records. */
	for (size_t i = 0; i < t->n_done; i++)
		if (moved[i])
			close[n++] = (struct state_op){
			    .kind = STATE_OP_CLOSE, .file = t->done[i].file};
	if (n > 0 && (rc = state_apply(a->state, close, n, 0)) != 0)
		outbox_move_failed(a, close[0].file, rc);
}

void
outbox_flush(struct agent *a)
{
	struct outturn *t = &a->outturn;
	struct state_op ops[2 * OUTTURN_MAX];
	size_t n = 0;
	int rc = ERROR_OK;

	if (t->n_done == 0 && t->n_status == 0)
		return;
	/* The reports' names durable before they are acknowledged. */
	if (t->n_status > 0 &&
	    (rc = fileio_fsync_dir(a->dir[DIR_RECEIPTS])) != 0) {
		log_err("receipts/: cannot sync the folder: %s; %zu status "
		        "reports not acknowledged",
		    error_strerror(rc), t->n_status);
		t->n_status = 0; /* they come again */
	}
	/* Receipts first: a report may be about a receipt of this turn. */
	for (size_t i = 0; i < t->n_done; i++)
		ops[n++] = (struct state_op){
		    .kind = STATE_OP_FINISH, .m = &t->done[i]};
	for (size_t i = 0; i < t->n_status; i++)
		ops[n++] = (struct state_op){.kind = STATE_OP_STATUS,
		    .msg_id = t->status[i].msg_id,
		    .recipient = t->status[i].recipient,
		    .final = is_final(t->status[i].state)};
	if (n > 0 &&
	    (rc = state_apply(a->state, ops, n, clock_now_ms())) != 0) {
		/* Nothing recorded: the receipts stay pending and come again
		 * with the resend; the reports are not acknowledged. */
		if (room_full(rc))
			room_refused(a, rc);
		else
			log_err("cannot record %zu receipts and %zu status "
			        "reports: %s; they come again",
			    t->n_done, t->n_status, error_strerror(rc));
	} else {
		for (size_t i = 0; i < t->n_status; i++)
			status_done(a, &t->status[i], ops[t->n_done + i].rc);
		move_done(a, ops);
	}
	for (size_t i = 0; i < t->n_done; i++)
		state_msg_release(&t->done[i]);
	t->n_done = 0;
	t->n_status = 0;
}
