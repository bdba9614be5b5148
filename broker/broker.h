/*
 * Private to broker/: the state of a running concordat-broker, shared by
 * its loop (broker.c), the ingest pipeline (ingest.c), delivery (deliver.c)
 * and the ZAP handler (zap.c).
 */
#ifndef BROKER_BROKER_H
#define BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "audit/audit.h"
#include "broker/config.h"
#include "broker/datadir.h"
#include "broker/store.h"
#include "broker/verify.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "proto/event.h"
#include "proto/wire.h"

#define BROKER_ZAP_DOMAIN "concordat"
#define BROKER_RID_MAX    256
#define BROKER_WINDOW     256 /* deliveries in flight per agency */

/* An agency's live connection, learnt from the ZAP User-Id of its frames. */
struct peer {
	char id[IDENT_AGENCY_MAX + 1];
	uint8_t rid[BROKER_RID_MAX]; /* ZeroMQ routing id */
	size_t rid_len;
	bool connected;
	uint64_t cursor;           /* last queue seq sent on this connection */
	unsigned inflight;         /* sent and not yet acknowledged */
	uint64_t last_progress_ms; /* monotonic: connect, send or ack */
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

/* Something to log in the next commit that no frame asked for. */
struct pending {
	enum { PENDING_DELIVERED, PENDING_REFUSED } type;
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t seq;
	char peer[EVENT_TEXT_MAX];
};

/* A frame of this batch, received before the transaction begins. */
struct inframe {
	zmq_msg_t rid, body;
	bool known;            /* from a keyring agency, routable */
	struct verify_job job; /* decoded and pre-checked */
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
};

/* A ProofRequest, answered after the commit in progress. */
struct hello {
	uint8_t rid[BROKER_RID_MAX];
	size_t rid_len;
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t tree_size;
};

struct broker {
	struct broker_config cfg;
	struct keys_secret *key;
	struct keyring *keyring;
	struct policy *policy;
	struct store *store;
	struct datadir *datadir; /* the folder's lock and the durable head */
	char origin[128];

	void *ctx, *router, *zap;

	struct peer *peers; /* one per keyring agency */
	size_t n_peers;

	struct reply *replies; /* this batch's, cfg.batch of them */
	size_t n_replies;
	struct hello *hellos;
	size_t n_hellos;
	struct pending *pending;
	size_t n_pending, cap_pending;
	uint64_t retry_ms; /* after a failed commit: pending waits till then */
	bool full;         /* storage near full: new messages refused */

	struct batch batch[2]; /* the one written and the one verified */
	unsigned cur;          /* index of the one to write next */
	struct verifier *verifier;
	struct wire_receipt *scratch; /* one receipt, reused */
	uint64_t accepted, rejected;  /* counters for the log */
};

/*
 * ingest.c: one Submit frame from agency into txn, pre-checked by the
 * verifier (job->f is taken over and set to NULL); fills *rep. Returns 0,
 * or an LMDB failure after which txn is unusable: the caller aborts the
 * whole batch and refuses its messages as retryable (DESIGN.md §9).
 */
int ingest_submit(struct broker *b, MDB_txn *txn, const char *agency,
    struct verify_job *job, struct reply *rep);

/* A retryable refusal (storage_full or internal) for a message the broker
 * could not take now, with no audit leaf. */
void ingest_refuse(struct reply *rep, int err);

/* deliver.c */
struct peer *deliver_peer(struct broker *b, const char *agency);
/* Sends what agency's queue holds beyond its cursor, up to the window. */
void deliver_pump(struct broker *b, struct peer *p);
/* A DeliveryAck from agency, in txn. */
int deliver_ack(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_frame *f);
/* Logs the pending delivered and refused events in txn. */
int deliver_flush_pending(struct broker *b, MDB_txn *txn);
/* Expires overdue deliveries in txn; returns how many. */
int deliver_expire(struct broker *b, MDB_txn *txn, uint64_t now);
/* Answers the hellos of this batch: Proof, then the agency's queue. */
void deliver_hellos(struct broker *b);
/* Queues a status report for sender about msg_id and recipient. */
int deliver_status(struct broker *b, MDB_txn *txn, const char *sender,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *recipient, int state,
    uint64_t leaf);
/* Builds the audit proof of leaf against the latest checkpoint in txn. */
int deliver_proof(struct broker *b, MDB_txn *txn, uint64_t leaf,
    struct wire_audit_proof *p, struct audit_head *head);
/* Records a pending event (delivered or refused) for the next commit. */
void deliver_pending_add(struct broker *b, const struct pending *p);

/* zap.c: binds the ZAP handler; must precede any zmq_bind. */
int zap_start(struct broker *b);
/* Answers one ZAP request. */
void zap_handle(struct broker *b);

#endif
