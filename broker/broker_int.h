/*
 * Private to broker/: the state of a running concordat-broker, shared by
 * its loop (broker.c), the ingest pipeline (ingest.c), delivery (deliver.c)
 * and the ZAP handler (zap.c).
 */
#ifndef BROKER_BROKER_INT_H
#define BROKER_BROKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "audit/audit.h"
#include "broker/agreement.h"
#include "broker/config.h"
#include "broker/datadir.h"
#include "broker/monitor_int.h"
#include "broker/store.h"
#include "broker/verify.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "proto/event.h"
#include "proto/wire.h"

#define BROKER_ZAP_DOMAIN "concordat"
#define BROKER_RID_MAX    256
#define BROKER_WINDOW     256 /* deliveries in flight per agency */
/* The ZAP metadata property naming the key a session authenticated with:
 * the transport key in hex, on every frame the session sends. */
#define BROKER_KEY_PROPERTY "Concordat-Key"
#define BROKER_KEY_HEX      (2 * 32 + 1)
/* Refused handshakes: one aggregate per source address and window. */
#define BROKER_REFUSAL_ADDRS  64
#define BROKER_REFUSAL_KEYS   4
#define BROKER_REFUSAL_WINDOW 60000 /* ms */

/*
 * Refusals of one agency that are counted in windows of
 * BROKER_REFUSAL_WINDOW, not audited one by one: each window becomes one
 * rejected event with a count (§11).
 */
struct tally {
	bool open;         /* a window is open */
	uint64_t since_ms; /* monotonic: its start */
	uint64_t count;    /* counted in it, not yet in the audit log */
};

/* tally.c: opens t's window when none is open; counts one refusal in it;
 * whether it has closed (all: at stop, every window). */
void tally_open(struct tally *t);
void tally_add(struct tally *t);
bool tally_closed(const struct tally *t, uint64_t now, bool all);

/*
 * A queue item sent on the current connection and not yet acknowledged:
 * what its acknowledgement names (a delivery's msg_id; a status report's
 * msg_id, recipient and state) and where it is in the queue.
 */
struct flight {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	uint8_t type;                    /* enum store_item_type */
	uint8_t state;                   /* a status report's */
	char peer[IDENT_AGENCY_MAX + 1]; /* a status report's recipient */
	uint64_t seq;
};

/* An agency's live connection, learnt from the ZAP User-Id of its frames. */
struct peer {
	char id[IDENT_AGENCY_MAX + 1];
	char key[BROKER_KEY_HEX]; /* its transport key in the keyring now */
	char fingerprint[KEYS_FINGERPRINT]; /* of its identity now */
	/* Its next key's (ID.next.pub, a rotation window), or "". */
	char next_key[BROKER_KEY_HEX];
	char next_fingerprint[KEYS_FINGERPRINT];
	uint8_t rid[BROKER_RID_MAX]; /* ZeroMQ routing id */
	size_t rid_len;
	bool connected;
	char session_key[BROKER_KEY_HEX]; /* the key rid authenticated with */
	bool paused;               /* its queue failed to read: wait a tick */
	uint64_t cursor;           /* last queue seq sent on this connection */
	unsigned inflight;         /* sent and not yet acknowledged */
	struct flight *flight;     /* those items, BROKER_WINDOW slots
	                            * (allocated at the first send) */
	uint64_t last_progress_ms; /* monotonic: connect, send or ack */
	double tokens;             /* rate limit: frames it may send now */
	uint64_t tokens_ms;        /* monotonic: when tokens was last filled */
	struct tally limited;      /* submissions refused over its rate */
	struct tally unreadable;   /* frames that did not decode, after the
	                            * first of a window (that one is audited) */
	uint64_t stale;            /* frames from a revoked key, unreported */
	bool agreement_sent;       /* the current agreement, on this
	                            * connection (inforce.c) */
	/* The size of the checkpoint this agency's agent trusts, as far as
	 * the broker knows (witness.c): the ties it sends are from it. */
	bool tie_known;
	uint64_t tie_size;
	uint64_t seen_ms;     /* wall clock: its last frame (monitor_int.h) */
	uint64_t redelivered; /* items sent to it again, since start */
};

/*
 * A transport key a reload took away from an agency (removed, or replaced
 * by another), so that a session still using it is told why it is no
 * longer heard (revoke.c). The oldest entry makes way when the table is
 * full; an entry whose key is the agency's again is dropped.
 */
#define BROKER_REVOKED_MAX 64
struct revoked {
	char id[IDENT_AGENCY_MAX + 1];
	char key[BROKER_KEY_HEX];
	char fingerprint[KEYS_FINGERPRINT];
	char replaced_by[KEYS_FINGERPRINT]; /* "" when removed */
	uint64_t at_ms;                     /* wall clock: the reload */
	uint64_t told_ms; /* monotonic: the last notice sent for it */
};

/* Handshakes refused from one source address in one window. */
struct refusal {
	char addr[64];     /* "" for the slot of addresses beyond the table */
	uint64_t since_ms; /* monotonic: the window's start */
	uint64_t first_ms; /* wall clock of the first refusal */
	uint64_t count;    /* refusals in the window */
	uint64_t logged;   /* of those, already in the audit log */
	unsigned n_keys;
	char keys[BROKER_REFUSAL_KEYS][48]; /* the first keys, base64 */
	char why[64];                       /* the first reason */
};

/* A reply to send once the commit holding its message is durable. */
struct reply {
	uint8_t rid[BROKER_RID_MAX];
	size_t rid_len;
	char agency[IDENT_AGENCY_MAX + 1];
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	int outcome;
	int reason;
	bool retryable;
	char detail[WIRE_DETAIL_MAX];
	size_t n_leaves;
	uint64_t leaves[WIRE_MAX_PROOFS]; /* decisions, or the rejection */
	uint8_t *frame;                   /* encoded before commit */
	size_t frame_len;
};

/* A delivered event to log in the next commit: no frame asked for it. */
struct pending {
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t seq;
};

/* A frame of this batch, received before the transaction begins. */
struct inframe {
	zmq_msg_t rid, body;
	bool known;               /* from a keyring agency, routable */
	bool over_rate;           /* beyond its agency's rate: refused unread */
	bool ungated;             /* looked like an ack: took no token yet */
	char key[BROKER_KEY_HEX]; /* the key its session authenticated with */
	struct verify_job job;    /* decoded and pre-checked */
};

/*
 * A batch of frames: received, then decoded and verified on the pool while
 * the previous batch is written, then written itself.
 */
struct batch {
	struct inframe *in;      /* cfg.batch of them */
	struct verify_job *jobs; /* the known frames' jobs, while verified */
	unsigned n;              /* frames in in[] */
	size_t njobs;
	bool started; /* verification started, frames not yet handled */
	/* Its frames once handled, freed by the pool when it next starts
	 * (verifier_start), not by the thread that writes batches. */
	struct wire_frame **spent; /* cfg.batch of them */
	size_t n_spent;
};

/* A ProofRequest, answered after the commit in progress. */
struct hello {
	uint8_t rid[BROKER_RID_MAX];
	size_t rid_len;
	char key[BROKER_KEY_HEX];
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t tree_size; /* from */
	uint64_t to_size;   /* 0: the latest */
};

struct signer;

/* inforce.c: agreements replaced before agreement_prev, while in grace. */
#define INFORCE_RETIRED 8
struct inforce {
	struct agreement_held *retired[INFORCE_RETIRED];
};

struct broker {
	struct broker_config cfg;
	struct keys_secret *key;
	struct keyring *keyring;
	/*
	 * The agreement in force (agreement.h): its exact YAML and note bytes
	 * and its policy; policy is agreement->policy, borrowed. prev is the
	 * one it replaced at the last reload that changed it (NULL at start),
	 * with the time it stopped being current in agreement->since_ms; any
	 * other activated one is in the archive (agreement_archived). refused
	 * is what the last refused load read, kept only to audit it.
	 */
	struct agreement_held *agreement, *agreement_prev, *refused;
	char refusal[EVENT_TEXT_MAX]; /* why refused was refused */
	struct policy *policy;
	struct inforce inforce; /* older ones still within the grace */
	struct store *store;
	struct datadir *datadir; /* the folder's lock */
	struct signer *signer;   /* holds the signing key and the head */
	int signer_err;          /* it refused or is gone: stop (its error) */
	uint64_t signed_size;    /* a checkpoint signed, not yet committed */
	uint8_t sign_path[MERKLE_MAX_PATH][MERKLE_HASH_LEN]; /* its proof */
	char origin[128];

	void *ctx, *router, *zap;

	struct peer *peers; /* one per keyring agency */
	size_t n_peers;

	struct reply *replies; /* this batch's, cfg.batch of them */
	size_t n_replies;
	struct hello *hellos;
	size_t n_hellos;
	struct pending *pending; /* at most max_pending */
	size_t n_pending, max_pending;
	uint64_t retry_ms; /* after a failed commit: pending waits till then */
	bool full;         /* storage near full: new messages refused */
	bool map_full;     /* the map above FULL_AT, until under FULL_CLEAR */
	bool disk_full;    /* the disk has no room for the reserve */

	struct refusal refusals[BROKER_REFUSAL_ADDRS + 1]; /* last: others */
	size_t n_refusals;
	uint64_t refusals_dropped; /* not logged: the store was full */
	uint64_t unknown_frames;   /* from no routable agency, unreported */
	struct revoked revoked[BROKER_REVOKED_MAX]; /* revoke.c */
	size_t n_revoked;

	/* The queue's clock (expiry): wall time at first start, then
	 * advanced only by the monotonic clock while running, so a step of
	 * the wall clock cannot expire everything at once (§11). */
	uint64_t qclock_base, qclock_mono;
	uint64_t qclock_saved; /* the queue clock when last saved */
	int64_t wall_drift_ms; /* wall minus queue clock at the last tick */

	struct batch batch[2]; /* the one written and the one verified */
	unsigned cur;          /* index of the one to write next */
	struct verifier *verifier;
	struct wire_receipt *scratch; /* one receipt, reused */
	/* The tree's nodes for one batch of proofs (receipts, or the
	 * deliveries of one pump), reset before each. */
	struct audit_memo *memo;
	/* ingest.c's decisions for one envelope, WIRE_MAX_RECIPIENTS of
	 * them, and deliver.c's status report, reused (too big for the
	 * stack of the functions that fill them). */
	struct policy_decision *decisions;
	struct wire_status *status;
	uint64_t accepted, rejected; /* counters for the log */
	struct monitor mon; /* control socket and metrics (monitor_int.h) */
	/* witness.c's tie path for the proof being encoded, reused. */
	uint8_t tie_path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
};

/*
 * ingest.c: one Submit frame from agency into txn, pre-checked by the
 * verifier (job->f stays the caller's); fills *rep. Returns 0,
 * or an LMDB failure after which txn is unusable: the caller aborts the
 * whole batch and refuses its messages as retryable (DESIGN.md §9).
 */
int ingest_submit(struct broker *b, MDB_txn *txn, const char *agency,
    struct verify_job *job, struct reply *rep);

/* A retryable refusal (storage_full or internal) for a message the broker
 * could not take now, with no audit leaf. */
void ingest_refuse(struct reply *rep, int err);
/*
 * Step 10: encodes rep's Receipt (rep->frame), its proofs against head
 * while txn still sees them, through b->memo, which checkpoint() resets; a
 * reply without leaves (a refusal) needs neither txn nor head.
 */
void ingest_receipt(struct broker *b, MDB_txn *txn, struct reply *rep,
    const struct audit_head *head);

/* The queue clock now (see struct broker). */
uint64_t broker_qclock(const struct broker *b);

/*
 * broker.c's, shared with reload.c: loads the configuration's keys,
 * keyring and agreement into b (also for -n), why saying what failed; one
 * peer per keyring agency, kept over a reload; one stand-alone broker event
 * committed and signed; events built by fn committed and signed.
 */
int broker_load(struct broker *b, char *why, size_t n);
int setup_peers(struct broker *b);

/* ---- peers.c, revoke.c: sessions bound to keys (P6), rotation, notices */

/* key (hex) is p's current key, or its next key in a rotation window. */
bool peer_key_ok(const struct peer *p, const char *key);
/* The identity of agency whose transport key is key (hex): current or
 * next; NULL when neither. */
const struct keys_public *peer_identity(
    const struct broker *b, const char *agency, const char *key);
/*
 * A frame no agency's key in force may send (user NULL or unknown, key
 * NULL or revoked): counted for the log; when its key is one a reload
 * revoked, its session is sent a Notice (at most one a minute per key).
 * Returns true (the frame is handled: dropped).
 */
bool revoke_frame(struct broker *b, struct peer *p, const char *key,
    const void *rid, size_t rid_len);
/*
 * A reload took was's key away (now: the agency's peer after it, NULL
 * when removed): remembered, and was's live session, if any, told now.
 */
void revoke_record(
    struct broker *b, const struct peer *was, const struct peer *now);
/* Forgets revoked keys that are an agency's keys again after a reload. */
void revoke_forget(struct broker *b);
int log_alone(struct broker *b, int type, const char *detail);
int log_apart(struct broker *b,
    int (*fn)(struct broker *b, MDB_txn *txn, void *arg), void *arg);

/* reload.c: SIGHUP. */
void broker_reload(struct broker *b);

/* deliver.c */
struct peer *deliver_peer(struct broker *b, const char *agency);
/* Frees the peers, with what each has in flight. */
void deliver_free_peers(struct broker *b);
/* p's queue is sent again from its start: nothing stays in flight. */
void deliver_restart(struct peer *p);
/* Delivery moves to the connection rid, which authenticated with key. */
void deliver_attach(
    struct peer *p, const void *rid, size_t rid_len, const char *key);
/* Sends what agency's queue holds beyond its cursor, up to the window. */
void deliver_pump(struct broker *b, struct peer *p);
/* A DeliveryAck from agency, in txn: the item in flight it names. */
int deliver_ack(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_frame *f);
/* Logs the pending delivered events in txn. */
int deliver_flush_pending(struct broker *b, MDB_txn *txn);
/* Expires overdue deliveries in txn; returns how many. */
int deliver_expire(struct broker *b, MDB_txn *txn, uint64_t now);
/* Answers the hellos of this batch: Proof, then the agency's queue. */
void deliver_hellos(struct broker *b);
/* Queues a status report for sender about msg_id and recipient. */
int deliver_status(struct broker *b, MDB_txn *txn, const char *sender,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *recipient, int state,
    uint64_t leaf);
/* Builds the audit proof of leaf against head (a checkpoint in txn),
 * reading the tree through b->memo (reset by the caller for txn). */
int deliver_proof(struct broker *b, MDB_txn *txn, uint64_t leaf,
    struct wire_audit_proof *p, const struct audit_head *head);
/* Records a delivered event for the next commit; false when full. */
bool deliver_pending_add(struct broker *b, const struct pending *p);

/*
 * inforce.c. inforce_retire takes *prev (an agreement replaced before
 * the one agreement_prev holds) and keeps it while within agreement_grace
 * of its until_ms; inforce_free releases those kept.
 */
void inforce_retire(struct broker *b, struct agreement_held **prev);
void inforce_free(struct broker *b);
/*
 * The agreement to decide m under: the current one, or one replaced less
 * than agreement_grace ago, that m->agreement names; NULL: reject it
 * agreement_mismatch (why from inforce_mismatch).
 */
const struct policy *inforce_pick(
    struct broker *b, const struct wire_manifest *m);
void inforce_mismatch(
    struct broker *b, const struct wire_manifest *m, char *why, size_t n);
/* Receipt.agreement: the current one's SHA-256, on agreement_mismatch. */
void inforce_receipt(
    const struct broker *b, const struct reply *rep, struct wire_receipt *r);
/* The current agreement to p, once per connection. */
void inforce_hello(struct broker *b, struct peer *p);
/* The current agreement to every connected agent (it changed). */
void inforce_broadcast(struct broker *b);
/* An AgreementRequest from p: answered from those held or the archive. */
void inforce_answer(
    struct broker *b, struct peer *p, const struct wire_agreement *q);
/* witness.c: the witnessed log (DESIGN.md §7) */
/*
 * A ProofRequest from p on connection rid (authenticated with key): the
 * sizes its agent names, answered by deliver_hellos after the batch.
 */
void witness_greeted(struct broker *b, struct peer *p, const void *rid,
    size_t rid_len, const char *key, const struct wire_frame *f);
/*
 * A Cosignature from p, in the batch's txn: kept as p's latest when it
 * verifies against p's sign key and the stored checkpoint of its size.
 * Returns an LMDB failure that makes txn unusable, else 0.
 */
int witness_cosigned(struct broker *b, MDB_txn *txn, const struct peer *p,
    const struct wire_cosignature *c);
/*
 * Fills pr, the answer to hello h, in txn: the checkpoint at h's to_size
 * (the latest for 0), the consistency proof from h's tree_size to it, and
 * the cosignatures held with the proof between each one's tree and it.
 * paths has room for WIRE_MAX_WITNESSES * MERKLE_MAX_PATH hashes; head
 * holds the checkpoint's note (pr borrows both). Sets p's tie.
 */
int witness_answer(struct broker *b, MDB_txn *txn, struct peer *p,
    const struct hello *h, struct wire_proof *pr, struct audit_head *head,
    uint8_t (*paths)[MERKLE_HASH_LEN]);
/*
 * Adds to proof (under checkpoint head) the tie from the size agency's
 * agent trusts, when the broker knows it, in b->tie_path, and moves the
 * agency's tie to head's size.
 */
void witness_tie(struct broker *b, MDB_txn *txn, const char *agency,
    const struct audit_head *head, struct wire_audit_proof *proof);

/*
 * review.c: a Review frame from p on connection rid, in the batch's txn:
 * checked against the log and p's guardian key in the keyring, then a
 * breakglass_reviewed event appended; either way a reply whose msg_id is
 * the review_id. Returns an LMDB failure that makes txn unusable, else 0.
 */
int review_frame(struct broker *b, MDB_txn *txn, const struct peer *p,
    const void *rid, size_t rid_len, const struct review *rv);

/* zap.c: binds the ZAP handler; must precede any zmq_bind. */
int zap_start(struct broker *b);
/* Answers one ZAP request; false when none was waiting. */
bool zap_handle(struct broker *b);
/*
 * Writes the refusal aggregates that are due (a window's first refusal,
 * and the rest when it closes) as connection_refused events in txn, a
 * transaction of their own; with all, every open window too (at stop).
 * Returns how many events it appended, or an error.
 */
int zap_flush(struct broker *b, MDB_txn *txn, uint64_t now, bool all);
/*
 * After zap_flush's transaction: logged tells whether it committed (the
 * flushed counts are then in the log). Windows that have closed are
 * dropped; what of them never reached the log is counted, to be logged as
 * one event when storage allows.
 */
void zap_settle(struct broker *b, uint64_t now, bool logged, bool all);
/* True when some refusal aggregate is due for the log. */
bool zap_due(const struct broker *b, uint64_t now);

#endif
