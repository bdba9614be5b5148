/*
 * The audit log (DESIGN.md §7): metadata-only events stored as the leaves
 * of an RFC 6962 Merkle tree in LMDB, one signed checkpoint per commit,
 * indexes for queries, proofs, and the `concordat audit` verbs. The broker
 * writes through this header; `concordat audit` reads.
 *
 * LMDB types (MDB_env, MDB_txn) appear in this header, taken from db/db.h:
 * the broker owns the environment, so that one write transaction holds a
 * message, its audit leaves and its queue entries (DESIGN.md §5 step 8,
 * §9). <lmdb.h> is included only by db/ and the stores' .c files (audit/'s,
 * broker/store.c, agents/state.c), and by no public header but db/db.h;
 * the rest of the broker passes the handles it gets from its store back
 * to the store and to this header's functions, and never calls LMDB.
 * Agents use audit/merkle.h and audit/checkpoint.h, which are free of
 * LMDB. The environment's rules (DESIGN.md §9) are db/'s.
 *
 * How the broker uses it:
 *
 *	audit_env_open(dir, mapsize, 0, &env);		once, at start
 *	audit_txn_begin(env, 0, &txn);
 *	audit_open(env, txn, origin, 0, &a);		creates the databases
 *	db_txn_commit(txn);				handles now shared
 *
 *	per commit (group of messages):
 *	audit_txn_begin(env, 0, &txn);
 *	  ... the broker's own puts (replay record, queue entries) ...
 *	  audit_append(a, txn, &ev, &seq);		per event, any number
 *	  audit_checkpoint(a, txn, sign, arg, &head);   once, last
 *	  audit_inclusion(a, txn, seq, head.cp.size, path, &n);  per receipt
 *	db_txn_commit(txn);  (a project error; the broker: store_commit)
 *	then, and only then, send receipts carrying head.text and the paths.
 *
 * Any ERROR_* from audit_append or audit_checkpoint leaves the transaction
 * unusable: the broker aborts it (or the child transaction it appended
 * in) and refuses the messages. ERROR_MAPFULL
 * (LMDB's map is full) and ERROR_NOSPC (the disk is full) are retryable
 * refusals (WIRE_REASON_STORAGE_FULL).
 *
 * Readers (`concordat audit`, the broker answering a ProofRequest) use a
 * read-only transaction and never block the writer.
 *
 * audit's databases are all named "audit.*" (layout in audit_int.h);
 * the broker names its own, at most AUDIT_BROKER_DBS of them, otherwise.
 */
#ifndef AUDIT_AUDIT_H
#define AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "db/db.h"
#include "proto/event.h"

#define AUDIT_DBS             11 /* named databases audit itself opens */
#define AUDIT_BROKER_DBS      8 /* room left in the environment for the broker */
#define AUDIT_MAPSIZE_DEFAULT ((size_t)16 << 30) /* 16 GiB of address space */

/* Flags for audit_env_open and audit_open. */
#define AUDIT_RDONLY 0x1

/* ---------------------------------------------------------- environment */

/*
 * Opens the LMDB environment in folder dir with db_env_open, after
 * audit_env_check (below) found its data.mdb whole. A writer (flags 0)
 * creates dir (0700) and the files (0600) when missing, with maxdbs
 * AUDIT_DBS + AUDIT_BROKER_DBS and map size mapsize (0:
 * AUDIT_MAPSIZE_DEFAULT), and durable commits: never MDB_NOSYNC,
 * MDB_NOMETASYNC or MDB_WRITEMAP. A
 * reader (AUDIT_RDONLY) opens MDB_RDONLY with the map size the writer set
 * (mapsize is ignored), and needs write access to lock.mdb to register as a
 * reader. Either clears stale reader slots (mdb_reader_check) after
 * opening. ERROR_NOENT when a reader's dir holds no environment,
 * ERROR_TAMPERED when audit_env_check, or LMDB reading the meta pages,
 * finds the file damaged (audit_env_check says how), ERROR_PERM when
 * refused by the file system. On success the caller closes *out with
 * audit_env_close.
 *
 * LMDB forbids opening the same environment twice in one process: close
 * one before opening another on the same folder.
 */
WUR int audit_env_open(
    const char *dir, size_t mapsize, unsigned flags, MDB_env **out);

/* mdb_env_close; NULL is a no-op. Every transaction must have ended. */
void audit_env_close(MDB_env *env);

/* What audit_env_check finds in a folder: db_file_check's states. */
enum audit_file_state {
	AUDIT_FILE_OK = DB_FILE_OK,     /* data.mdb holds every page counted */
	AUDIT_FILE_NONE = DB_FILE_NONE, /* never a log */
	AUDIT_FILE_MISSING = DB_FILE_MISSING, /* data.mdb was removed */
	AUDIT_FILE_EMPTY = DB_FILE_EMPTY,     /* data.mdb of 0 bytes */
	AUDIT_FILE_DAMAGED = DB_FILE_DAMAGED, /* a meta page bad, too short */
};

/*
 * db_file_check (db/db.h) under audit's names. Looks at dir's data.mdb as
 * LMDB would before mapping it, without mapping
 * it: both meta pages must be LMDB's (flag, magic, version 1, a page size
 * LMDB writes), and the file must hold the root pages of the newer one's
 * trees. LMDB itself does not look: it maps the file whole, and the first
 * page touched past the end of a shorter one kills the process with
 * SIGBUS; a file of 0 bytes it takes for a new environment. (The file may
 * end before the newer meta page's last page: a page LMDB allocated and
 * freed in one transaction is never written. Such pages must be free, which
 * audit_env_walk checks, before it reads any tree.) Sets *state;
 * for every state but OK and NONE, why (may be NULL) gets the fault in
 * words. Returns 0 when it could look, or the error that stopped it
 * (ERROR_PERM, ERROR_IO). A damaged file is read three times, 20 ms
 * apart, before it is called so: a reader may catch a meta page while a
 * writer rewrites it.
 *
 * audit_env_open calls it first: a reader gets ERROR_NOENT for NONE and
 * ERROR_TAMPERED for the rest; a writer creates the environment for NONE
 * and MISSING and gets ERROR_TAMPERED for EMPTY and DAMAGED, so that no
 * new log is ever started over an old one's remains.
 */
WUR int audit_env_check(
    const char *dir, enum audit_file_state *state, char *why, size_t n);

/*
 * Takes the exclusive lock of the data folder dir (flock(2) on
 * dir/concordat.lock, created 0600, dir 0700 when missing) and writes "PID
 * who" into the file, for the next one to be told. One process at a time
 * may hold it: the broker for as long as it runs, `concordat audit
 * reindex` while it writes. Readers never take it. On success *fd holds
 * the lock until audit_env_unlock (or the process ends; a child forked
 * meanwhile shares it). ERROR_BUSY when another process holds it, with
 * holder (may be NULL) set to what that one wrote ("4242
 * concordat-broker").
 */
WUR int audit_env_lock(
    const char *dir, const char *who, int *fd, char *holder, size_t n);

/* Releases the lock; -1 is a no-op. */
void audit_env_unlock(int fd);

/* What audit_env_walk read. */
struct audit_walk {
	uint64_t databases; /* the free list, the main one, the named ones */
	uint64_t entries;   /* read, in all of them */
	uint64_t pages;     /* counted: trees, free, meta */
	char why[256];      /* the fault, when not 0 */
};

/*
 * Reads, in txn, every entry of every database of the environment through
 * LMDB: the free list (every page number inside the map, and every page
 * past the end of the file among them: truncation), the main
 * database and each database it names, each key and value touched at both
 * ends, their number matched with the database's own count; and the pages
 * counted (trees, free, the two meta pages) must not outnumber the file's.
 * This is the damage the tree check (audit_verify) does not see: a page of
 * an index, or of the broker's queue, that LMDB cannot read, and a free
 * list that would have the next commit overwrite live pages. check, when
 * not NULL, is called for each entry of each named database and returns
 * non-zero for one that is malformed (the broker checks its own records
 * so). O(entries). 0, or ERROR_TAMPERED with res->why naming the database
 * and the entry. LMDB may abort or fault on some corrupt pages: run it
 * where that is survivable (common/isolate.h).
 */
WUR int audit_env_walk(MDB_env *env, MDB_txn *txn,
    int (*check)(void *arg, const char *db, const MDB_val *k, const MDB_val *v),
    void *arg, struct audit_walk *res);

/*
 * Begins a transaction: flags 0 for the writer, MDB_RDONLY for a reader. A
 * reader whose map the writer has grown meanwhile (MDB_MAP_RESIZED) adopts
 * the new size and retries (db_txn_begin). Errors as audit_mdb_error.
 */
WUR int audit_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn);

/*
 * The project error for an LMDB or errno result: db_error, the one mapping
 * (db/db.h). MDB_MAP_FULL gives ERROR_MAPFULL, ENOSPC (and EDQUOT)
 * ERROR_NOSPC, MDB_NOTFOUND ERROR_NOTFOUND, MDB_TXN_FULL ERROR_TOOBIG (too
 * much in one commit: split it), EACCES/EPERM ERROR_PERM, ENOENT
 * ERROR_NOENT, EIO ERROR_IO, ENOMEM ERROR_NOMEM, MDB_CORRUPTED /
 * MDB_PAGE_NOTFOUND ERROR_TAMPERED, anything else ERROR_DB. A commit goes
 * through db_txn_commit, which also tells a full disk's short write.
 */
int audit_mdb_error(int mdb_rc);

/*
 * The bytes the environment's data file uses (its high-water mark, free
 * pages included: db_usage without counting them) and its map size, for
 * monitoring (DESIGN.md §9: map size explicit and monitored).
 */
WUR int audit_env_usage(MDB_env *env, uint64_t *used, uint64_t *mapsize);

/* ------------------------------------------------------------- the log */

/*
 * An open audit log: the handles of its databases. It holds no
 * transaction and no cached state, so one struct audit serves every
 * transaction of the environment, from any thread.
 */
struct audit;

/*
 * Opens audit's databases in txn. A writer (flags 0, txn a write
 * transaction) creates them when missing and records origin (required, see
 * checkpoint_origin_valid), which every checkpoint names; reopening an
 * existing log with another origin is refused (ERROR_CONFIG). A reader
 * (AUDIT_RDONLY, any transaction) passes origin NULL to take the log's, or
 * a string it must equal; a folder without an audit log gives
 * ERROR_NOTFOUND.
 *
 * The handles are usable at once in txn, and in other transactions once
 * txn commits (LMDB's rule for mdb_dbi_open; a reader may instead keep
 * using txn, as `concordat audit` does). On success the caller frees *out
 * with audit_free after its last transaction.
 */
WUR int audit_open(MDB_env *env, MDB_txn *txn, const char *origin,
    unsigned flags, struct audit **out);

/* Frees a; NULL is a no-op. LMDB's handles stay with the environment. */
void audit_free(struct audit *a);

/* The log's origin; valid until audit_free. */
const char *audit_origin(const struct audit *a);

/*
 * Appends ev as the next leaf in write transaction txn: stores its bytes
 * (event_encode), updates the tree (at most log2(n) node writes), and sets
 * *seq (may be NULL) to its leaf index. Nothing is durable before the
 * caller commits. ERROR_MAPFULL / ERROR_NOSPC as above; ERROR_TAMPERED
 * when the stored log is not in the shape appends leave it.
 *
 * Index entries are written in batches (DESIGN.md §7, §11): when the append
 * leaves AUDIT_INDEX_LAG leaves unindexed, it indexes all of them, in txn.
 * A commit of a few events then touches a few pages instead of a page per
 * subject and msg_id, and a batch's entries share pages. Queries read the
 * indexes for the indexed leaves and the unindexed tail leaf by leaf, so
 * every committed event is found either way.
 */
#define AUDIT_INDEX_LAG 1024
WUR int audit_append(
    struct audit *a, MDB_txn *txn, const struct event *ev, uint64_t *seq);

/* The number of leaves, from the first, that are indexed. */
WUR int audit_indexed(struct audit *a, MDB_txn *txn, uint64_t *indexed);

/* Indexes every leaf not yet indexed, in write transaction txn. */
WUR int audit_index(struct audit *a, MDB_txn *txn);

/*
 * Indexes once lag leaves wait instead of AUDIT_INDEX_LAG; 1 indexes every
 * leaf as it is appended. For tests and benchmarks.
 */
void audit_set_index_lag(struct audit *a, unsigned lag);

/* The state of the log a checkpoint signs, with the note itself. */
struct audit_head {
	struct checkpoint cp;      /* origin, size, root */
	char text[CHECKPOINT_MAX]; /* the signed note, NUL-terminated */
	size_t text_len;
};

/*
 * Signs cp (origin, size, root) into buf of buflen bytes as checkpoint_sign
 * does, with the note's length in *len; returns 0 or an ERROR_*. The
 * library never holds the key: the broker's signer process does
 * (broker/signer.h), and checkpoint_sign_key signs with a key in memory.
 */
typedef int audit_sign_fn(void *arg, const struct checkpoint *cp, char *buf,
    size_t buflen, size_t *len);

/*
 * Has sign(arg, ...) sign the current tree and stores the note, once per
 * commit: call it after the commit's last audit_append. When the latest
 * stored checkpoint already covers the whole log (nothing was appended) it
 * is returned and nothing is signed. Fills *head, a copy that outlives
 * txn. An error of sign is returned as it is.
 */
WUR int audit_checkpoint(struct audit *a, MDB_txn *txn, audit_sign_fn *sign,
    void *arg, struct audit_head *head);

/* The latest stored checkpoint; ERROR_NOTFOUND when none was signed. */
WUR int audit_latest(struct audit *a, MDB_txn *txn, struct audit_head *head);

/* The number of leaves. */
WUR int audit_size(struct audit *a, MDB_txn *txn, uint64_t *size);

/* The root of the first size leaves (size <= the log's size). */
WUR int audit_root(struct audit *a, MDB_txn *txn, uint64_t size,
    uint8_t root[MERKLE_HASH_LEN]);

/*
 * The inclusion proof of leaf index in the tree of size leaves, into path
 * (room for MERKLE_MAX_PATH hashes), *n hashes; O(log n) reads.
 * ERROR_INVAL unless index < size <= the log's size.
 */
WUR int audit_inclusion(struct audit *a, MDB_txn *txn, uint64_t index,
    uint64_t size, uint8_t path[][MERKLE_HASH_LEN], size_t *n);

/*
 * A memo of the tree's nodes, for many proofs against one tree: a node is
 * read from LMDB once, and a range at the right edge folded once, however
 * many proofs of the batch need it (the upper levels and the right edge
 * are shared by every recent leaf). The caller owns it and calls
 * audit_memo_reset whenever the tree it proves against may have changed:
 * before each batch of proofs, so never across an append, a commit or an
 * abort. Not shared between threads.
 */
#define AUDIT_MEMO_SLOTS 1024
struct audit_memo {
	uint64_t gen;            /* the slots of this generation are valid */
	struct merkle_edge edge; /* the folded ranges at the right edge */
	struct {
		uint64_t gen, key;
		uint8_t hash[MERKLE_HASH_LEN];
	} slot[AUDIT_MEMO_SLOTS];
};

void audit_memo_reset(struct audit_memo *m);

/* audit_inclusion, reading nodes through memo (NULL: straight from txn). */
WUR int audit_inclusion_memo(struct audit *a, MDB_txn *txn,
    struct audit_memo *memo, uint64_t index, uint64_t size,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n);

/*
 * The consistency proof from size1 to size2 (size1 <= size2 <= the log's
 * size), as audit_inclusion.
 */
WUR int audit_consistency(struct audit *a, MDB_txn *txn, uint64_t size1,
    uint64_t size2, uint8_t path[][MERKLE_HASH_LEN], size_t *n);

/*
 * The stored bytes of leaf seq (an encoded event). *leaf points into the
 * map and, like mdb_get's data, stays valid until txn ends or, in a write
 * transaction, until the next write. ERROR_NOTFOUND past the end.
 */
WUR int audit_leaf(struct audit *a, MDB_txn *txn, uint64_t seq,
    const uint8_t **leaf, size_t *len);

/* ------------------------------------------------------------ queries */

/*
 * What a query asks for: every member set narrows the result; a zeroed
 * struct matches every event.
 */
struct audit_filter {
	bool has_subject;
	uint8_t subject_ref[WIRE_REF_LEN];
	bool has_msg_id;
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	const char *agency;  /* sender, recipient or listed recipient */
	const char *purpose; /* NULL: any */
	const char *rule;    /* among the event's rules */
	int type;            /* enum event_type, 0: any */
	bool breakglass;     /* only break-glass events */
	uint64_t since_ms;   /* time_ms >= since_ms */
	uint64_t until_ms;   /* time_ms < until_ms; 0: no upper bound */
};

/* How a query ran, for tests and --explain style diagnostics. */
struct audit_plan {
	const char *index;   /* "subject", "agency", ..., "time", or "scan" */
	uint64_t candidates; /* leaves read and decoded */
	uint64_t matched;    /* rows passed to the callback */
	uint64_t tail;       /* unindexed leaves looked at (fewer decoded) */
};

/*
 * Calls row for every event matching f, in leaf order, in txn (read-only
 * or not). The query reads the most selective index the filter allows
 * (counted exactly for equality filters, estimated for a time range) and
 * checks the rest of the filter on each leaf it reads, then looks at the
 * leaves not yet indexed (fewer than the lag), decoding those whose bytes
 * hold the values asked for; only a filter with nothing to index reads
 * every leaf. ev is valid during the call only. A non-zero return from
 * row stops the query and is returned. plan may be NULL.
 */
WUR int audit_query(struct audit *a, MDB_txn *txn, const struct audit_filter *f,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg,
    struct audit_plan *plan);

/* True when ev matches f: the test audit_query applies to each leaf. */
bool audit_query_match(const struct audit_filter *f, const struct event *ev);

/* Counters kept in the indexes; what `concordat audit stats` prints. */
enum audit_stat {
	AUDIT_STAT_TYPE,    /* key: event type name */
	AUDIT_STAT_AGENCY,  /* key: agency id (events naming it) */
	AUDIT_STAT_PURPOSE, /* key: purpose */
	AUDIT_STAT_RULE,    /* key: rule id */
};

/*
 * Calls fn once per distinct key of each counter, in key order, with the
 * number of events under it; O(keys * log n) and the leaves not yet
 * indexed, read one by one. key is
 * NUL-terminated and valid during the call only. *breakglass (may be NULL)
 * receives the number of break-glass events.
 */
WUR int audit_query_stats(struct audit *a, MDB_txn *txn,
    int (*fn)(void *arg, enum audit_stat stat, const char *key, uint64_t count),
    void *arg, uint64_t *breakglass);

/*
 * audit_note.c: appends to sb one line about ev for people, what the query
 * table's other columns do not show: for policy_activated and
 * policy_refused the agreement's "ID vVERSION",
 * for broker_started "version V", for keyring_changed "key OLD -> NEW",
 * for connection_refused the peer and count; then the event's detail (a
 * rejection's why, "at start", "reloaded"), after ": " when something came
 * before. Nothing for an event with none of these.
 */
void audit_event_note(struct strbuf *sb, const struct event *ev);

/* ------------------------------------------------------------- verify */

/* The outcome of audit_verify. */
struct audit_verify_result {
	uint64_t leaves;      /* leaves recomputed */
	uint64_t checkpoints; /* checkpoints whose signature and root held */
	bool has_latest;
	struct checkpoint latest; /* the last good checkpoint */
	bool has_bad_leaf;        /* first leaf at fault, when known */
	uint64_t bad_leaf;
	bool has_bad_checkpoint; /* size of the first bad checkpoint */
	uint64_t bad_checkpoint;
	char why[256];          /* what failed, in words, when not 0 */
	uint64_t index_entries; /* audit_verify_indexes: entries checked */
};

/*
 * Recomputes the whole tree from the leaves, in one pass, and checks it
 * against every stored tree node, the recorded size, and every stored
 * checkpoint: signature by pk under the log's origin, and root equal to
 * the recomputed root of its size. Returns 0, or at the first fault:
 * ERROR_TAMPERED (a leaf or node missing, extra or not matching the
 * leaves), ERROR_SIGNATURE (a checkpoint not signed by pk) or
 * ERROR_CHECKPOINT (a checkpoint that is malformed or whose root the
 * leaves do not give: the log was rewritten after it was signed); res
 * names the fault.
 */
WUR int audit_verify(struct audit *a, MDB_txn *txn,
    const uint8_t pk[CHECKPOINT_PK_LEN], struct audit_verify_result *res);

/*
 * Checks that the indexes hold exactly the entries the indexed leaves give
 * (none missing, added or altered), which audit_verify does not: a forger
 * who deleted index entries could hide events from queries without
 * touching a leaf. Reads and decodes every indexed leaf and every index
 * entry, comparing keyed multiset hashes per index: O(n) time, O(1)
 * memory. Run it after audit_verify. 0, or ERROR_TAMPERED with res->why
 * naming the index that differs.
 */
WUR int audit_verify_indexes(
    struct audit *a, MDB_txn *txn, struct audit_verify_result *res);

/*
 * Rebuilds every index from the leaves in write transaction txn: empties
 * them, then indexes the leaves in batches of the lag, as the appends
 * would have (the last, partial batch stays the unindexed tail), and
 * checks the result with audit_verify_indexes. *entries (may be NULL)
 * receives the number of index entries. The leaves and the tree are not
 * touched. Takes the environment's write lock for its duration.
 */
WUR int audit_reindex(struct audit *a, MDB_txn *txn, uint64_t *entries);

#endif
