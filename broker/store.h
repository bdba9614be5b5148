/*
 * The broker's LMDB store (DESIGN.md §5 step 8, §9): the environment the
 * audit log lives in, the replay records, and the durable per-agency queue
 * of deliveries and status reports, with its acknowledgement and expiry
 * indexes. The environment's rules (DESIGN.md §9) are db/'s. The LMDB
 * types below come from db/db.h: the rest of the broker holds the
 * transactions store_begin gives it only to pass them back to this file
 * and to audit/, and never calls LMDB; <lmdb.h> is included only by db/
 * and the stores' .c files.
 */
#ifndef BROKER_STORE_H
#define BROKER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "common/error.h"
#include "common/ident.h"
#include "db/db.h"
#include "proto/wire.h"

struct store;

/*
 * Opens (creating when missing) the environment in dir with map size
 * mapsize, the audit log under origin, and the broker's databases; clears
 * stale reader slots. The caller frees *out with store_close.
 */
WUR int store_open(
    const char *dir, uint64_t mapsize, const char *origin, struct store **out);
void store_close(struct store *s);

struct audit *store_audit(struct store *s);

/* ------------------------------------------------------- start check */

#define STORE_NOTE_MAX 1024 /* a checkpoint note the check hands back */

/* What store_check found. */
struct store_check {
	bool has_log; /* false: no data.mdb, or no audit log in it */
	char origin[CHECKPOINT_ORIGIN_MAX + 1]; /* the log's */
	uint64_t leaves;      /* verified, as audit_verify counts */
	uint64_t checkpoints; /* verified */
	bool has_latest;      /* latest is the newest stored checkpoint */
	char latest[STORE_NOTE_MAX];
	size_t latest_len;
	bool has_root; /* root is the root of the first at_size leaves */
	uint8_t root[MERKLE_HASH_LEN];
	bool record_fault; /* the fault is in a record of the broker's */
	uint64_t entries;  /* entries read in every database */
	uint64_t pages;    /* pages counted: trees, free, meta */
	char why[512];     /* the fault, in words, when not 0 */
};

/*
 * Checks the store in dir, without changing it, before the broker opens it
 * for writing: the file against its meta pages (audit_env_check); the audit
 * log as `concordat audit verify` checks it with the broker's public key pk
 * (audit_verify), provided its origin is origin; every database, every
 * entry read through LMDB, its count matched with the database's, the free
 * list's page numbers inside the file and no more pages in trees, free
 * and meta than the file has; the broker's own
 * records decoded; and the root of the first at_size leaves when the log
 * holds that many (for the head, datadir.c).
 *
 * It runs in a child process (common/isolate.h): LMDB asserts or faults on
 * some corrupt pages, and a damaged file must be refused, not crash the
 * broker. A child that dies is reported as damage.
 *
 * Returns 0 with res->has_log, or: ERROR_CONFIG when the log is another's
 * (res->origin names it) or in a version this program does not read;
 * ERROR_TAMPERED, ERROR_CHECKPOINT or ERROR_SIGNATURE for damage, with
 * res->why saying what and where; ERROR_NOMEM, ERROR_IO, ERROR_PERM when
 * the check could not run.
 */
WUR int store_check(const char *dir, const char *origin,
    const uint8_t pk[CHECKPOINT_PK_LEN], uint64_t at_size,
    struct store_check *res);

/*
 * Transactions: write when write is true. Errors as db_error; a commit
 * cut short on a full disk is ERROR_NOSPC (db_txn_commit).
 */
WUR int store_begin(struct store *s, bool write, MDB_txn **txn);
/* Begins a child of parent (a write transaction), to undo one message. */
WUR int store_begin_nested(struct store *s, MDB_txn *parent, MDB_txn **txn);
WUR int store_commit(MDB_txn *txn);
void store_abort(MDB_txn *txn);

/*
 * Keeps room bytes of the disk allocated to the data file beyond what the
 * log uses (up to the map size), so that a full disk shows here, ahead of
 * need, and not first as a failed commit: what frees space (deliveries,
 * acknowledgements, expiries) still has somewhere to write. Pages LMDB has
 * freed inside the file count as room. Cheap while at least half the room
 * is allocated past the file's last page; otherwise it counts the free
 * pages and allocates a quarter more than asked. ERROR_NOSPC when the
 * disk has no such room left. (db_reserve.)
 */
WUR int store_reserve(struct store *s, uint64_t room);

/* Clears reader slots of dead processes; returns how many. */
int store_reader_check(struct store *s);
/* Bytes in use (the file's pages less those free for reuse) and the map
 * size, for monitoring and the broker's storage headroom. */
WUR int store_usage(struct store *s, uint64_t *used, uint64_t *mapsize);

/* ------------------------------------------------------------ replay */

#define STORE_MAX_DECISIONS WIRE_MAX_RECIPIENTS

/*
 * What the broker remembers of an accepted msg_id, until
 * store_replay_prune forgets it (past the freshness window; the audit log
 * keeps the rest).
 */
struct store_replay {
	char sender[IDENT_AGENCY_MAX + 1];
	uint64_t created_at_ms;
	uint8_t hash[32]; /* BLAKE2b-256 of manifest bytes and signature */
	size_t n_decisions;
	uint64_t decisions[STORE_MAX_DECISIONS]; /* decision leaf indexes */
};

/* ERROR_NOTFOUND when msg_id was never accepted. */
WUR int store_replay_get(struct store *s, MDB_txn *txn,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], struct store_replay *out);
WUR int store_replay_put(struct store *s, MDB_txn *txn,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], const struct store_replay *r);

/*
 * Deletes up to max replay records whose created_at is before before_ms,
 * oldest first; *pruned gets how many.
 */
WUR int store_replay_prune(struct store *s, MDB_txn *txn, uint64_t before_ms,
    size_t max, size_t *pruned);

/* ------------------------------------------------------------- queue */

enum store_item_type {
	STORE_DELIVERY = 1, /* a redacted envelope for agency */
	STORE_STATUS = 2,   /* a status report for agency, a sender */
};

/*
 * One queued item for agency. For a delivery, peer is the sender (to be
 * told of its fate) and leaf the decision's leaf; for a status, peer is the
 * recipient the status is about, state its state, leaf the event's leaf.
 */
struct store_item {
	enum store_item_type type;
	bool delivered_logged; /* the delivered event is in the log */
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char agency[IDENT_AGENCY_MAX + 1];
	char peer[IDENT_AGENCY_MAX + 1];
	int state; /* enum wire_state, statuses */
	uint64_t leaf;
	uint64_t expires_ms; /* deliveries; 0 for statuses */
	uint64_t at_ms;
	const uint8_t *payload; /* delivery bytes; borrowed from the txn */
	size_t payload_len;
};

/*
 * Queues it (payload copied) under a new sequence number (*seq), with, for
 * deliveries, its expiry.
 */
WUR int store_queue_put(
    struct store *s, MDB_txn *txn, const struct store_item *it, uint64_t *seq);

/*
 * The first item of agency's queue with a sequence number above after
 * (*seq set), or ERROR_NOTFOUND. The payload stays valid until txn ends or
 * its next write.
 */
WUR int store_queue_next(struct store *s, MDB_txn *txn, const char *agency,
    uint64_t after, struct store_item *it, uint64_t *seq);

/*
 * Removes item seq of agency's queue, which its agency acknowledged: *it
 * gets a copy (without payload, with delivered_logged saying whether it
 * had the mark); ERROR_NOTFOUND when there is no such item (acknowledged
 * before, or expired).
 */
WUR int store_queue_take(struct store *s, MDB_txn *txn, const char *agency,
    uint64_t seq, struct store_item *it);

/* Records that the delivered event of item seq of agency is logged. */
WUR int store_queue_mark(
    struct store *s, MDB_txn *txn, const char *agency, uint64_t seq);

/*
 * Removes the earliest delivery whose expiry is at or before now, filling
 * *it (without payload); ERROR_NOTFOUND when none has expired.
 */
WUR int store_queue_expire(
    struct store *s, MDB_txn *txn, uint64_t now, struct store_item *it);

/* Items queued for agency (for logs and the benchmark). */
WUR int store_queue_count(
    struct store *s, MDB_txn *txn, const char *agency, uint64_t *n);

/* ----------------------------------------------------- readers (store_stat.c)
 */

/*
 * Opens the store in dir read-only, as `concordat audit` does, while the
 * broker runs (no lock; LMDB readers never block the writer): the audit
 * log and the queue. ERROR_NOENT when dir holds no environment,
 * ERROR_NOTFOUND when it is not a broker's, else as audit_env_open. Only
 * store_begin(s, false, ...), store_usage, store_audit, store_clock_get
 * and store_queue_stats may be used on it; close with store_close.
 */
WUR int store_open_reader(const char *dir, struct store **out);

/* What one agency's queue holds. Times as stored: at_ms on the wall
 * clock, expiries on the queue's clock (store_clock_get converts). */
struct store_queue_stat {
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t items;        /* deliveries and statuses */
	uint64_t deliveries;   /* messages for it */
	uint64_t statuses;     /* status reports for it, as a sender */
	uint64_t sent;         /* items sent to it at least once, not acked */
	uint64_t oldest_at_ms; /* the oldest delivery's queuing time */
	uint64_t oldest_expires_ms; /* its expiry */
	uint64_t next_expiry_ms;    /* the earliest expiry of its deliveries */
};

/*
 * One pass over every queue in txn: *out (malloc'd, *n entries, the caller
 * frees; NULL when every queue is empty) gets a stat per agency with
 * anything queued, in key order.
 */
WUR int store_queue_stats(
    struct store *s, MDB_txn *txn, struct store_queue_stat **out, size_t *n);

/* ------------------------------------------------------------- clock */

/*
 * The queue's clock (expiries are on it) as last saved, with the wall
 * clock at that moment; ERROR_NOTFOUND before the first save.
 */
WUR int store_clock_get(
    struct store *s, MDB_txn *txn, uint64_t *qclock, uint64_t *wall);
WUR int store_clock_put(
    struct store *s, MDB_txn *txn, uint64_t qclock, uint64_t wall);

#endif
