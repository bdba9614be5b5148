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

#define OUTBOX_BATCH 64   /* records sealed, then stored in one commit */
#define OUTBOX_PASS  1024 /* entries taken per pass of the loop */

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

struct agent {
	struct agent_config cfg;
	struct keys_secret *key;
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
	bool proof_pending;

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
	/* Status reports that could not be written to receipts/ (inbox.c). */
	bool status_failing;

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
void outbox_resend(struct agent *a);
void outbox_recover(struct agent *a);
void outbox_receipt(struct agent *a, const struct wire_receipt *r);
/* Tries the moves that failed again (a->moves_failing, on its timer). */
void outbox_retry_moves(struct agent *a);

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
void inbox_delivery(struct agent *a, const struct wire_delivery *d);
/*
 * A frame from the broker that did not decode (why): a delivery whose
 * msg_id can still be read is reported in alerts/ and acknowledged, never
 * written to inbox/; anything else is logged.
 */
void inbox_unreadable(
    struct agent *a, const uint8_t *buf, size_t len, const char *why);
void inbox_status(struct agent *a, const struct wire_status *s);
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
/*
 * Checks an audit proof from the broker: the checkpoint's signature under
 * the broker's key, the leaf's inclusion under it; decodes the leaf into
 * *ev. Asks for a consistency proof when the checkpoint is newer than the
 * one trusted. Returns 0 when all held.
 */
WUR int trust_check(struct agent *a, const struct wire_audit_proof *p,
    struct event *ev, struct checkpoint *cp);
/* A Proof frame answering our ProofRequest. */
void trust_proof(struct agent *a, const struct wire_proof *p);
/* Sends a ProofRequest for the trusted size (on connect). */
void trust_hello(struct agent *a);
/* Logs loudly and writes an alert file. */
void trust_alert(struct agent *a, const char *what, const char *detail);
/*
 * Writes obj durably into alerts/ as STEM.json, or STEM-TAG.json when that
 * is taken (fileio_write_unique): an alert never replaces another.
 */
WUR int trust_alert_file(struct agent *a, const char *stem, json_t *obj);

#endif
