/*
 * The agent's own LMDB (DESIGN.md §8, §9): sealed envelopes kept from before
 * their first send until the broker's final receipt, so that a restart
 * resends the same message; what each sent message still waits for (its
 * recipients' status reports) until it is pruned; the msg_ids already handed
 * to the local system, so that a redelivery is acknowledged but not written
 * twice; and the last audit checkpoint the agent trusts. LMDB handles never
 * leave this file.
 *
 * Storage stays bounded (docs/agent.md §6): a sealed frame is deleted in
 * the commit that makes its receipt final; a sent message's record once
 * its outbox file has moved and no status report is awaited, or after the
 * retention the caller gives state_prune; a received msg_id after its own
 * retention.
 */
#ifndef AGENTS_STATE_H
#define AGENTS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "common/error.h"
#include "common/ident.h"
#include "proto/wire.h"

#define STATE_NAME_MAX 256
/* At most this many resealings of one outbox record (a chain of msg_ids). */
#define STATE_MAX_PREV 16
/*
 * A sent message with nothing left to wait for is kept this long after
 * that, for a late second receipt or a status report sent again.
 */
#define STATE_DONE_GRACE_MS (60ull * 60 * 1000)

struct state;

/*
 * Opens (creating, 0700) the environment in dir with a map of map_size
 * bytes (at least 1 MiB).
 */
WUR int state_open(const char *dir, uint64_t map_size, struct state **out);
void state_close(struct state *s);

/*
 * Changes the map size while no transaction is open (a reload). LMDB
 * keeps it at least as large as the data already stored.
 */
WUR int state_set_map_size(struct state *s, uint64_t map_size);

/*
 * Writes bytes (at most 64 KiB) into the store and commits: whether it has
 * room again after a commit failed for want of it.
 */
WUR int state_probe(struct state *s, size_t bytes);

/* mdb_reader_check: clears stale reader slots, their count in *dead. */
WUR int state_reader_check(struct state *s, int *dead);

/*
 * The bytes of the map in use (pages written, less those LMDB has freed
 * for reuse) and the map size, for monitoring (DESIGN.md §9).
 */
WUR int state_usage(struct state *s, uint64_t *used, uint64_t *map_size);

enum state_out {
	STATE_PENDING = 0,    /* sealed, no final receipt yet */
	STATE_ACCEPTED = 1,   /* the broker's receipt said accepted */
	STATE_REJECTED = 2,   /* rejected for good */
	STATE_SUPERSEDED = 3, /* rejected stale; resealed as superseded_by */
};

/* state_msg.n_waiting when the receipt did not say (not verified). */
#define STATE_WAITING_UNKNOWN 255

/* One outgoing message. */
struct state_msg {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	int state;
	char file[STATE_NAME_MAX]; /* its name in the outbox */
	uint8_t *frame; /* the Submit frame (malloc'd); none once final */
	size_t frame_len;
	char *receipt; /* receipt JSON once final (malloc'd), until moved */
	uint64_t sealed_at_ms; /* when first stored (state_put_msgs) */
	uint64_t final_at_ms;  /* when its receipt became final; 0 before */
	/*
	 * The recipients whose status report is not final yet (acknowledged
	 * or expired), once the receipt is final; or STATE_WAITING_UNKNOWN.
	 */
	size_t n_waiting;
	char waiting[WIRE_MAX_RECIPIENTS][IDENT_AGENCY_MAX + 1];
	/* The msg_ids this one superseded for the same file, oldest first. */
	size_t n_prev;
	uint8_t prev[STATE_MAX_PREV][WIRE_MSG_ID_LEN];
	uint8_t superseded_by[WIRE_MSG_ID_LEN]; /* STATE_SUPERSEDED only */
};

/* Frees frame and receipt; m may be released twice. */
void state_msg_release(struct state_msg *m);

/*
 * Records sealed messages ms[0 .. n-1] (state, file, frame, n_prev and prev
 * are read), each for its outbox file, in one durable commit, before their
 * first send; rc[i] gets each one's result (ERROR_EXISTS for a file that
 * already has a message in flight). Returns an error when the commit itself
 * failed (then nothing is stored): ERROR_MAPFULL or ERROR_NOSPC when
 * storage is full.
 */
WUR int state_put_msgs(
    struct state *s, const struct state_msg *ms, size_t n, int *rc);

/*
 * Makes the receipt of m->msg_id final: m->state (STATE_ACCEPTED or
 * STATE_REJECTED), m->receipt, m->n_waiting and m->waiting are taken, the
 * sealed frame is deleted, final_at is set to now_ms; all in one commit.
 */
WUR int state_finish_msg(
    struct state *s, const struct state_msg *m, uint64_t now_ms);

/*
 * Replaces old (pending, rejected stale) by next, sealed again from the
 * same outbox file, in one commit: next is stored as state_put_msgs would
 * (its n_prev and prev name old and what old superseded); the file now
 * leads to next; old becomes STATE_SUPERSEDED with old->receipt, its frame
 * deleted. ERROR_EXISTS when old is no longer the file's pending message.
 */
WUR int state_supersede(struct state *s, const struct state_msg *old,
    const struct state_msg *next, uint64_t now_ms);

/*
 * A status report about msg_id for recipient: when final (acknowledged or
 * expired), recipient no longer waits; once none does, the message is done
 * (pruned STATE_DONE_GRACE_MS later). ERROR_NOTFOUND for a message this
 * state no longer keeps.
 */
WUR int state_status(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, bool final, uint64_t now_ms);

/* The message sealed for outbox file name, or ERROR_NOTFOUND. */
WUR int state_find_file(struct state *s, const char *name, struct state_msg *m);

/* The message msg_id, or ERROR_NOTFOUND. */
WUR int state_get_msg(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN],
    struct state_msg *m);

/*
 * Calls fn for every message whose outbox file has not yet been moved to
 * sent/ or failed/ (pending, or final with the move unfinished: a restart
 * finishes it): those whose name state_close_file has not forgotten. m is
 * valid during the call only. A non-zero return from fn stops the walk
 * and is returned.
 */
WUR int state_each_open(struct state *s,
    int (*fn)(void *arg, const struct state_msg *m), void *arg);

/* state_count_open.c: how many messages state_each_open would visit,
 * from LMDB's count (cheap at any size). */
WUR int state_count_open(struct state *s, uint64_t *n);

/*
 * Several of the writes below in one commit (one loop turn's receipts,
 * status reports and moves, or its deliveries): ops[i].rc gets each one's
 * result, as the single call would return it, and one that fails alone (not
 * there, not final) leaves the others. Returns an error when the commit itself
 * failed, and then nothing of any is stored.
 */
enum state_op_kind {
	STATE_OP_FINISH, /* state_finish_msg(m) */
	STATE_OP_STATUS, /* state_status(msg_id, recipient, final) */
	STATE_OP_CLOSE,  /* state_close_file(file) */
	STATE_OP_SEEN    /* msg_id received at now_ms (state_seen) */
};
struct state_op {
	enum state_op_kind kind;
	const struct state_msg *m;
	const uint8_t *msg_id;
	const char *recipient;
	bool final;
	const char *file;
	int rc;
};
WUR int state_apply(
    struct state *s, struct state_op *ops, size_t n, uint64_t now_ms);

/*
 * Forgets the outbox name of a moved message (its record stays, without
 * the receipt text, which sent/ or failed/ now holds).
 */
WUR int state_close_file(struct state *s, const char *name);

/* Received messages (recorded with STATE_OP_SEEN). */
WUR int state_seen(
    struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN], bool *seen);

/* What state_prune removed. */
struct state_pruned {
	size_t msgs; /* sent messages' records */
	size_t seen; /* received msg_ids */
	bool more;   /* stopped at the limit: call again */
};

/*
 * Deletes, at most limit of them in one commit: the records of sent
 * messages done (moved, no status awaited) STATE_DONE_GRACE_MS before
 * now_ms, or final sent_keep_ms before it whatever they wait for (never
 * one whose outbox file has not moved yet); the received msg_ids marked
 * seen_keep_ms before it. Pending messages are never pruned.
 */
WUR int state_prune(struct state *s, uint64_t now_ms, uint64_t sent_keep_ms,
    uint64_t seen_keep_ms, size_t limit, struct state_pruned *out);

/* The trusted checkpoint; ERROR_NOTFOUND before the first. */
WUR int state_get_checkpoint(struct state *s, struct checkpoint *cp);
WUR int state_put_checkpoint(struct state *s, const struct checkpoint *cp);

/*
 * state_meta.c: a record of agent.meta by key ("witness": agents/witness.c
 * keeps what it must not forget across a restart). state_meta_get copies
 * at most n bytes into buf and sets *len to the record's size;
 * ERROR_NOTFOUND when there is none. state_meta_put replaces it in one
 * durable commit.
 */
WUR int state_meta_get(
    struct state *s, const char *key, void *buf, size_t n, size_t *len);
WUR int state_meta_put(
    struct state *s, const char *key, const void *buf, size_t len);

#endif
