/*
 * Private to agents/: the state of a running concordat-agent, shared by its
 * loop (agent.c), the outbox side (outbox.c), the inbox side (inbox.c), the
 * checking of the broker's audit proofs (trust.c), and what those three
 * call: the link to the broker (link.h), the spool folders (spool.h) and
 * the room in the state (room.h). agent.c calls the sides; the sides never
 * call agent.c, except for the JSON helpers at the end of this header.
 */
#ifndef AGENTS_AGENT_INT_H
#define AGENTS_AGENT_INT_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agents/agent.h"
#include "agents/agreements.h"
#include "agents/state.h"
#include "audit/checkpoint.h"
#include "keys/keys.h"
#include "proto/event.h"
#include "proto/wire.h"

struct outwatch;
struct outwatch_entry;
struct witness;

/*
 * The ProofRequest in flight (trust.c): at most one. from_cp is the
 * checkpoint of size from the agent holds (the trusted one, or an older
 * one a leaf came under), which the answer's proof must start from.
 */
struct trust_req {
	bool pending;
	uint64_t from, to; /* to 0: the latest */
	bool has_from_cp;
	struct checkpoint from_cp;
	uint64_t sent_ms;    /* monotonic */
	uint64_t timeout_ms; /* doubles on each unanswered try */
	unsigned tries;
	bool bad_answer; /* the answer did not do: asked again after backoff */
};

#define OUTBOX_BATCH      64   /* records sealed, then stored in one commit */
#define OUTBOX_PASS       1024 /* entries taken per pass of the loop */
#define AGENT_RETIRED_MAX 8    /* retired keys kept for opening (retired.c) */

/*
 * A delivery of this loop turn, written as inbox/.MSGID.json.part and
 * waiting for the turn's one seen commit (inbox.c, inbox_flush).
 */
#define INBOX_ROUND 64 /* as many as the frames of one turn */
struct inbox_pending {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char sender[IDENT_AGENCY_MAX + 1];
	char purpose[IDENT_NAME_MAX + 1];
	int disclosed, withheld; /* how many fields, for the log */
	bool held;               /* under cp, a checkpoint not yet tied */
	struct checkpoint cp;
	uint64_t leaf_index;
	unsigned acks; /* deliveries of it this turn, each acknowledged */
};

/*
 * The sending side's receipts and status reports of one loop turn
 * (outturn.c), recorded in one commit by outbox_flush.
 */
#define OUTTURN_MAX 64 /* of each, as many as the frames of one turn */
struct outturn_status {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char recipient[IDENT_AGENCY_MAX + 1];
	int state;      /* enum wire_state */
	char name[128]; /* its file in receipts/ */
	bool held;      /* its leaf under cp, a checkpoint not yet tied */
	struct checkpoint cp;
	uint64_t leaf_index;
};
struct outturn {
	struct state_msg done[OUTTURN_MAX]; /* final receipts, owned */
	char why[OUTTURN_MAX][600];         /* why each rejected one was */
	size_t n_done;
	struct outturn_status status[OUTTURN_MAX];
	size_t n_status;
};

/* The outbox side's working memory (outbox.c), one per agent. */
struct outbox_scratch {
	struct state_msg ready[OUTBOX_BATCH]; /* sealed, not yet stored */
	struct outwatch_entry *due[OUTBOX_PASS];
	struct event evs[WIRE_MAX_PROOFS]; /* a receipt's leaves */
	/* Set when the kernel says the outbox's watch is gone (the folder
	 * was moved or removed); the next rescan watches it again. */
	bool unwatched;
	bool told_nomem, told_full; /* said once in the log */
};

struct held_receipts;

struct agent {
	struct agent_config cfg;
	struct keys_secret *key;
	/* Retired keys of this agency (ID.retired-HEX.key beside the key
	 * file, retired.c): tried when a delivery does not open with key. */
	struct keys_secret *retired[AGENT_RETIRED_MAX];
	size_t n_retired;
	struct keys_public broker;
	struct keyring *keyring;
	uint8_t *pepper;
	struct state *state;
	char origin[128]; /* of the broker's checkpoints */

	/* crypto_box_beforenm per keyring agency, computed when first used */
	uint8_t (*shared)[32]; /* sodium_malloc'd, keyring_count entries */
	bool *have_shared;

	void *ctx, *dealer, *monitor;
	int inotify; /* watches outbox/ (OUTWATCH_EVENTS), or -1 */
	struct outwatch *outwatch; /* what is in outbox/ (outwatch.h) */
	bool connected;
	uint64_t last_send_ms; /* monotonic, of the last (re)send round */

	bool have_trusted;
	struct checkpoint trusted;
	/* The last checkpoint whose signature verified (trust.c). */
	struct {
		bool valid;
		uint8_t digest[32]; /* of origin, broker key and note */
		struct checkpoint cp;
	} cp_memo;
	bool proof_pending;        /* a.k.a. req.pending, for the old callers */
	bool trusted_dirty;        /* advanced, not yet stored (trust_flush) */
	uint64_t trusted_saved_ms; /* monotonic, of the last store */
	struct trust_req req;
	uint64_t next_poll_ms;  /* monotonic: the next ProofRequest to latest */
	uint64_t cosigned_size; /* the last size this agent cosigned */
	uint64_t next_cosign_ms; /* monotonic: not before then again */
	struct witness *witness; /* witness.c: held and unwitnessed leaves */
	struct held_receipts *held_receipts; /* held_receipt.c */
	struct outreview *reviews;           /* outreview.c */

	char dir[7][PATH_MAX]; /* outbox, tmp, sent, failed, inbox, ... */

	/*
	 * Room in the state (room.c): while it is short, new outbox records
	 * wait in outbox/, said once in the log. Above 90% of the map until
	 * under 85% (full_usage); or a commit refused for want of space
	 * (full_refused), tried again on a timer with backoff, one record at
	 * a time (probing) until a whole scan stores without a refusal.
	 * Times are monotonic.
	 */
	bool full_usage, full_refused, probing, probe_ok, full_logged;
	uint64_t store_retry_ms, store_backoff_ms;
	uint64_t usage_warned_ms; /* the last warning above 80% */
	/* Moves to sent/ or failed/ that failed (outbox.c), on a timer. */
	bool moves_failing;
	uint64_t moves_retry_ms, moves_backoff_ms;
	/* This turn's receipts and status reports (outturn.c). */
	struct outturn outturn;
	/* This turn's deliveries, not yet recorded as seen (inbox.c). */
	struct inbox_pending inbox_round[INBOX_ROUND];
	size_t n_inbox_round;
	/* Status reports that could not be written to receipts/ (inbox.c). */
	bool status_failing;
	/* STATE/status.json (status.c): when next due (monotonic), the wall
	 * clock of the start and of the last tick seen connected. */
	uint64_t status_due_ms, status_started_ms, status_contact_ms;
	bool status_failing_file, status_connected; /* as last written */
	uint64_t metrics_due_ms;                    /* monotonic (metrics.c) */
	int metrics_err; /* the last write's, logged once */

	struct agreements agreements; /* those held (agreements.h) */

	/* Set once SIGTERM or SIGINT came (agent.c): long walks stop. */
	const volatile sig_atomic_t *stopping;
	struct outbox_scratch outbox;
};

enum {
	DIR_OUTBOX,
	DIR_TMP,
	DIR_SENT,
	DIR_FAILED,
	DIR_INBOX,
	DIR_RECEIPTS,
	DIR_ALERTS
};

/* True once SIGTERM or SIGINT came: long walks stop early. */
static inline bool
agent_stopping(const struct agent *a)
{
	return a->stopping != NULL && *a->stopping != 0;
}

/* outbox.c */
/* Reads the outbox's inotify events (a->inotify) into a->outwatch. */
void outbox_notified(struct agent *a);
/* Takes every outbox entry that is complete, after listing the folder
 * again when rescan is set. */
void outbox_scan(struct agent *a, bool rescan);
/* outresend.c: sends every pending message again (after a reconnection
 * or a new agreement), or, from the resend timer, only those sealed at
 * least resend_after ago: one sent a moment before the timer fired waits
 * for its receipt, which the broker would otherwise answer as a replay. */
void outbox_resend(struct agent *a);
void outbox_resend_due(struct agent *a);
void outbox_recover(struct agent *a);
/* Handles a receipt; true when it is kept pending because a leaf it holds
 * is under a checkpoint not yet proven (then see held_receipt_keep). */
bool outbox_receipt(struct agent *a, const struct wire_receipt *r);

/* held_receipt.c: such a receipt's frame, taken again (outbox_receipt)
 * whenever the trusted checkpoint has grown; freed at the end. */
void held_receipt_keep(struct agent *a, const void *data, size_t len);
void held_receipt_retry(struct agent *a);
void held_receipt_free(struct agent *a);
/* Tries the moves that failed again (a->moves_failing, on its timer). */
void outbox_retry_moves(struct agent *a);
/*
 * Moves m's outbox file to sent/ (accepted) or failed/ with its receipt
 * beside it; with sync, both folders are fsynced, else the caller syncs
 * them (outbox_flush) before it forgets the name (state_close_file).
 */
WUR int outbox_move_final(
    struct agent *a, const struct state_msg *m, bool sync);
/* A move that failed (rc): tried again on a timer, said once. */
void outbox_move_failed(struct agent *a, const char *file, int rc);

/*
 * outturn.c, kept for the turn's one commit: a final receipt, m (taken:
 * the turn frees it; why, for a rejected one, says why), or a status
 * report s, already written to receipts/ as name (the file fsynced, not
 * its folder). outturn_final: whether msg_id's receipt is already final
 * in this turn (a second receipt: nothing to do).
 */
void outturn_receipt(struct agent *a, struct state_msg *m, const char *why);
void outturn_status(struct agent *a, const struct wire_status *s,
    const char *name, bool held, const struct checkpoint *cp);
bool outturn_final(const struct agent *a, const uint8_t *msg_id);
/*
 * The turn's receipts and status reports: receipts/ fsynced, all recorded
 * in one commit, the status reports acknowledged, the outbox files moved
 * with one fsync per folder and their names forgotten in one more commit.
 * Called after every turn's frames, and before the agent stops.
 */
void outbox_flush(struct agent *a);

/*
 * outreview.c: break-glass reviews from SPOOL/reviews/. outreview_open
 * creates the folders (at start); outreview_tick takes new files (when
 * rescan) and sends the pending ones again every resend_ms;
 * outreview_resend sends them (on connecting); outreview_receipt handles a
 * receipt that answers one (true), else false.
 */
WUR int outreview_open(struct agent *a);
void outreview_close(struct agent *a);
void outreview_tick(struct agent *a, uint64_t now, bool rescan);
void outreview_resend(struct agent *a);
bool outreview_receipt(struct agent *a, const struct wire_receipt *r);

/* outseal.c */
struct outrecord;
/*
 * The sender's decision for record r under the current agreement: the
 * fields each recipient is granted (grants[i], possibly none) and the
 * agreement's SHA-256 into sha. ERROR_BUSY when no agreement is held yet
 * (the record waits); ERROR_POLICY when the record would disclose nothing
 * to anyone or names an undeclared purpose, with the explanation appended
 * to errors (the record fails into failed/); ERROR_OK.
 */
WUR int outseal_grants(struct agent *a, const struct outrecord *r,
    fieldset *grants, uint8_t sha[WIRE_HASH_LEN], json_t *errors);
/*
 * A receipt rejecting agreement_mismatch, whose leaves evs (ok[i]: checked)
 * were read: true when the audit log holds the rejection and the agreement
 * the receipt names is now held and current, so the record may be sealed
 * again; false (said in the log) when it must wait, pending.
 */
bool outseal_mismatch(struct agent *a, const struct wire_receipt *r,
    const struct event *evs, const bool *ok);

/* outreceipt.c: the receipt JSON of m, for sent/ or failed/. */
json_t *outreceipt_json(struct agent *a, const struct wire_receipt *r,
    const struct state_msg *m, const struct event *evs, const bool *ok,
    bool accepted, bool audit_ok);

/* indecide.c: the recipient's own decision on a delivery it opened. */
enum indecide {
	INDECIDE_OK,      /* within the decision: *local holds it */
	INDECIDE_WAIT,    /* its agreement is asked for: not acknowledged */
	INDECIDE_REFUSED, /* quarantined (alerted): acknowledge, no inbox */
};
enum indecide indecide(
    struct agent *a, const struct wire_delivery *d, struct event *local);
/*
 * The broker's verified decision leaf must agree with the local decision:
 * the agreement the manifest names, and no field the local decision
 * withholds. False: quarantined (alerted).
 */
bool indecide_leaf(struct agent *a, const struct wire_delivery *d,
    const struct event *leaf, const struct event *local);
/* The alert of a delivery kept out of inbox/: what, the fields, why. */
void indecide_quarantine(struct agent *a, const struct wire_delivery *d,
    const char *what, fieldset fields, const char *why);

/* inbox.c */
/*
 * A delivery from the broker: verified, opened and written as a .part
 * file in inbox/; it is recorded as seen, moved into place and
 * acknowledged by the turn's inbox_flush.
 */
void inbox_delivery(struct agent *a, const struct wire_delivery *d);
/*
 * The turn's deliveries into inbox/: their .part files' folder fsynced,
 * all recorded as seen in one commit, renamed, the folder fsynced once,
 * then each acknowledged. Called after every turn's frames.
 */
void inbox_flush(struct agent *a);
/*
 * A frame from the broker that did not decode (why): a delivery whose
 * msg_id can still be read is reported in alerts/ and acknowledged, never
 * written to inbox/; anything else is logged.
 */
void inbox_unreadable(
    struct agent *a, const uint8_t *buf, size_t len, const char *why);
void inbox_status(struct agent *a, const struct wire_status *s);
/*
 * Loads the retired keys beside the key file (retired.c): DIR/ID.retired-
 * HEX.key, each checked like a secret key file and holding this agency's
 * id; at most AGENT_RETIRED_MAX. A bad one refuses the start (why).
 */
struct envelope_opened;
WUR int retired_load(struct agent *a, char *why, size_t n);
void retired_free(struct agent *a);
/*
 * A delivery that did not open with the current keys (rc): tried with the
 * sender's next key (a rotation window) and with every retired key of
 * this agency. Returns 0 and *o when one opens it, else rc.
 */
WUR int retired_open(struct agent *a, const struct wire_delivery *d,
    const struct keys_public *sender, int rc, struct envelope_opened **o);
/* A Notice from the broker: this agency's key revoked (notice.c). */
void notice_frame(struct agent *a, const struct wire_notice *n);
void inbox_recover(struct agent *a);

/* inbox_emergency.c */
struct envelope_opened;
/*
 * An emergency delivery's reason ("reason", its name) and opened
 * justification ("justification", the text) into the inbox record rec.
 * A sealed justification that is empty, or none delivered, is alerted
 * (alerts/, and the log, neither holding any text); the record is still
 * written, with "justification" "" and "justification_missing" true.
 */
void inbox_emergency(struct agent *a, const struct wire_delivery *d,
    const struct envelope_opened *o, json_t *rec);

/* trust.c */
/*
 * The wrapping key shared with peer agency peer (crypto_box_beforenm),
 * computed on first use. ERROR_UNKNOWN_AGENCY when peer is not in the
 * keyring.
 */
WUR int trust_shared(struct agent *a, const char *peer, uint8_t out[32]);

/* trust_check's answer for a leaf that holds but is not yet tied. */
#define TRUST_HELD 1

/*
 * Checks an audit proof from the broker: the checkpoint's signature under
 * the broker's key, the leaf's inclusion under it; decodes the leaf into
 * *ev and the checkpoint into *cp. Then ties the checkpoint to the one
 * trusted (audit/tie.h): the same, or proved by the proof's tie; a newer
 * one proved becomes the trusted one. Returns 0 when all held and the
 * checkpoint is tied; TRUST_HELD when it is not tied yet (a ProofRequest
 * is on its way; the caller records the leaf as unproven with
 * witness_hold); a negative error, alerted, when anything failed or the
 * checkpoint contradicts the trusted one.
 */
WUR int trust_check(struct agent *a, const struct wire_audit_proof *p,
    struct event *ev, struct checkpoint *cp);
/* A Proof frame answering our ProofRequest. */
void trust_proof(struct agent *a, const struct wire_proof *p);
/* Sends a ProofRequest from the trusted size to the latest (on connect). */
void trust_hello(struct agent *a);
/*
 * Asks for the proof that ties cp to the trusted checkpoint, unless a
 * request is in flight (the next is made when it is answered).
 */
void trust_ask(struct agent *a, const struct checkpoint *cp);
/* Timers: an unanswered request (alert, retry with backoff), the poll
 * for the latest checkpoint, storing the trusted one. */
void trust_tick(struct agent *a, uint64_t now);
/* The link went down: the request in flight is dropped unanswered. */
void trust_link_down(struct agent *a);
/* Stores the trusted checkpoint when it advanced (at stop, and timed). */
void trust_flush(struct agent *a);
/* Logs loudly and writes an alert file. */
void trust_alert(struct agent *a, const char *what, const char *detail);
/*
 * Writes obj durably into alerts/ as STEM.json, or STEM-TAG.json when that
 * is taken (fileio_write_unique): an alert never replaces another.
 */
WUR int trust_alert_file(struct agent *a, const char *stem, json_t *obj);

/* claims.c: what a receipt's or a status's leaf must say (DESIGN.md §7) */
/* True when ev is a leaf receipt r may carry, of our own message. */
bool claims_receipt(const struct agent *a, const struct wire_receipt *r,
    const struct event *ev);
/*
 * Checks every leaf of receipt r (trust_check, then claims_receipt) into
 * evs and ok, one each. True when one is held unproven: the receipt is
 * to stay pending.
 */
bool claims_receipt_leaves(
    struct agent *a, const struct wire_receipt *r, struct event *evs, bool *ok);
/* True when ev is the event status s reports. */
bool claims_status(
    const struct agent *a, const struct wire_status *s, const struct event *ev);

/* witness.c: the witnessed log (DESIGN.md §7) */
enum witness_kind { WITNESS_DELIVERY = 1, WITNESS_STATUS = 2 };
/* Loads what the state keeps; an error is logged and starts afresh. */
WUR int witness_open(struct agent *a);
void witness_close(struct agent *a);
/*
 * A leaf written to DIR/name (inbox/ for a delivery, receipts/ for a
 * status) unproven, under cp: once cp is tied the file says so
 * (witness_tied); the alerts say it when it never is.
 */
void witness_hold(struct agent *a, enum witness_kind kind, const char *name,
    const struct checkpoint *cp, uint64_t leaf_index);
/* A leaf accepted under a tied checkpoint: to be witnessed in time. */
void witness_accepted(struct agent *a, uint64_t leaf_index);
/* cp is now tied to the trusted checkpoint: its held leaves are proven. */
void witness_tied(struct agent *a, const struct checkpoint *cp);
/* cp contradicts the trusted checkpoint: its held leaves never will be. */
void witness_contradicted(struct agent *a, const struct checkpoint *cp);
/* The checkpoint of a held leaf not yet tied, for the next request. */
bool witness_next_unproven(const struct agent *a, struct checkpoint *cp);
/*
 * A Proof's witnesses, p's checkpoint cp being proven consistent with the
 * trusted one up to size upto (cp's own size when it is tied to it): each
 * other agency's cosignature checked against its key and against cp, a
 * split view alerted, and what it witnessed of this agent's view (up to
 * upto) counted.
 */
void witness_proof(struct agent *a, const struct wire_proof *p,
    const struct checkpoint *cp, uint64_t upto);
/*
 * Cosigns the trusted checkpoint and sends it to the broker, when it is
 * larger than the last cosigned; true when sent.
 */
bool witness_cosign(struct agent *a);
/* The window's alerts: leaves not witnessed in time. */
void witness_tick(struct agent *a, uint64_t now);

#endif
