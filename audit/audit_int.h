/*
 * Private to audit/: the layout of the log in LMDB, shared by audit.c (the
 * writer and proofs), audit_meta.c (audit.meta and the leaves, which the
 * others build on), audit_index.c (the indexes), audit_query.c,
 * audit_verify.c, and the verbs (audit/verbs/, for AUDIT_VERSION).
 *
 * Databases (all named "audit.*"):
 *
 *	audit.meta	"version" -> "2", "origin" -> text,
 *			"size" -> be64 number of leaves,
 *			"indexed" -> be64 number of leaves, from the first,
 *			whose index entries are written (<= size),
 *			"run" || be64 end || u8 level -> be64 start: the
 *			runs of the subject and msg_id indexes
 *	audit.leaves	be64 seq -> the leaf: event_encode bytes
 *	audit.nodes	be64 last leaf || u8 level -> 32-byte hash of the
 *			complete subtree of 2^level leaves ending at that
 *			leaf (level 0: the leaf hash); keys grow as leaves
 *			are appended, so every put is an append
 *	audit.checkpoints  be64 tree size -> signed checkpoint note
 *
 * and the indexes, MDB_DUPSORT | MDB_DUPFIXED with be64 seq values, written
 * for leaves 0 .. indexed-1 only: audit_append indexes the leaves in
 * batches, once AUDIT_INDEX_LAG of them wait, and queries read the rest
 * (the tail) leaf by leaf:
 *
 *	audit.subject	run prefix || subject_ref (32 bytes)
 *	audit.agency	agency id: sender, recipient and listed recipients
 *	audit.msgid	run prefix || msg_id (16 bytes)
 *	audit.time	be64 time_ms
 *	audit.purpose	purpose
 *	audit.rule	rule id, once per rule of the event
 *	audit.tag	"type:<event type name>", and "breakglass"
 */
#ifndef AUDIT_AUDIT_INT_H
#define AUDIT_AUDIT_INT_H

#include <stdint.h>
#include <string.h>

#include "audit/audit.h"
#include "db/db.h"

#define AUDIT_VERSION "2"
#define AUDIT_TAG_MAX 32 /* "type:" and the longest type name */

enum audit_db {
	DB_META,
	DB_LEAVES,
	DB_NODES,
	DB_CHECKPOINTS,
	DB_SUBJECT,
	DB_AGENCY,
	DB_MSGID,
	DB_TIME,
	DB_PURPOSE,
	DB_RULE,
	DB_TAG,
	DB_COUNT
};

struct audit {
	MDB_dbi dbi[DB_COUNT];
	unsigned flags;
	unsigned
	    lag; /* index once this many leaves wait (audit_set_index_lag) */
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	struct audit_pending *pend; /* audit_index_note's; or NULL */
};

/* The audit.nodes key of the subtree (level, index). */
#define AUDIT_NODE_KEY 9
static inline void
audit_node_key(uint8_t out[AUDIT_NODE_KEY], unsigned level, uint64_t index)
{
	db_be64_put(out, ((index + 1) << level) - 1);
	out[8] = (uint8_t)level;
}

/* The databases' names, "audit.meta" and so on (audit_meta.c). */
extern const char *const audit_db_names[DB_COUNT];

/*
 * Calls fn once for each key an event is indexed under in the time,
 * purpose, agency, rule and tag indexes (the subject and msg_id indexes
 * are kept in runs, apart): each name once, no empty one (audit_index.c).
 * A non-zero return from fn stops and is returned.
 */
int audit_event_keys(const struct event *ev,
    int (*fn)(void *arg, enum audit_db db, const void *key, size_t len),
    void *arg);

/*
 * audit_indexed for a caller that has read the log's size already
 * (audit_meta.c): ERROR_TAMPERED unless the count is there and <= size.
 */
int audit_indexed_of(
    struct audit *a, MDB_txn *txn, uint64_t size, uint64_t *indexed);

/* The shared access to audit.meta's text keys (audit_meta.c). */
int audit_meta_get(struct audit *a, MDB_txn *txn, const char *key, MDB_val *v);
int audit_meta_put(struct audit *a, MDB_txn *txn, const char *key,
    const void *data, size_t len);

/*
 * Writes the index entries of leaves from .. last (audit_index.c), records
 * last + 1 as indexed and merges runs. The entries of leaves this handle
 * appended are taken from what audit_index_note gathered; only the others
 * are read and decoded from the log.
 */
int audit_index_leaves(
    struct audit *a, MDB_txn *txn, uint64_t from, uint64_t last);

/*
 * Gathers the index entries of leaf seq, just appended as ev, for the
 * next audit_index_leaves (audit_index.c). They are kept only while each
 * append continues the last: an append at any other index (the log rolled
 * back by an aborted transaction) drops what was gathered, and those
 * leaves are read from the log instead. Without memory it gathers nothing,
 * with the same effect, so it cannot fail. One writer per log (LMDB's
 * write lock, and the data folder's lock) keeps the rule sound.
 */
void audit_index_note(struct audit *a, uint64_t seq, const struct event *ev);

/* Frees what audit_index_note gathered (audit_free). */
void audit_index_pending_free(struct audit *a);

/*
 * The runs of the subject and msg_id indexes (audit_index.c): a run holds
 * the entries of leaves start .. end-1 behind the key prefix be64 end ||
 * u8 level.
 */
#define AUDIT_RUN_HDR        9
#define AUDIT_RUN_LEVELS     3  /* levels 0, 1 and 2 */
#define AUDIT_RUN_FANIN      16 /* runs of a level merged into one */
#define AUDIT_RUN_DIR_PREFIX "run"
#define AUDIT_RUN_DIR_KEY    (3 + AUDIT_RUN_HDR)

struct audit_run {
	uint64_t start, end;
	unsigned level;
};

static inline void
audit_run_hdr(uint8_t out[AUDIT_RUN_HDR], const struct audit_run *r)
{
	db_be64_put(out, r->end);
	out[8] = (uint8_t)r->level;
}

/*
 * The runs, oldest first, into *runs (the caller frees it); ERROR_TAMPERED
 * unless they tile leaves 0 .. indexed-1.
 */
int audit_runs(struct audit *a, MDB_txn *txn, uint64_t indexed,
    struct audit_run **runs, size_t *n);

/* The audit.tag key for an event type. */
void audit_type_tag(int type, char out[AUDIT_TAG_MAX]);

/* The tag key of break-glass events. */
#define AUDIT_TAG_BREAKGLASS "breakglass"
#define AUDIT_TAG_TYPE       "type:"

#endif
