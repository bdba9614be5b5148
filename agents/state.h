/*
 * The agent's own LMDB (DESIGN.md §8, §9): sealed envelopes kept from before
 * their first send until the broker's receipt, so that a restart resends
 * the same message; the msg_ids already handed to the local system, so that
 * a redelivery is acknowledged but not written twice; and the last audit
 * checkpoint the agent trusts. LMDB handles never leave this file.
 */
#ifndef AGENTS_STATE_H
#define AGENTS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "common/error.h"
#include "proto/wire.h"

#define STATE_NAME_MAX 256

struct state;

/* Opens (creating, 0700) the environment in dir. */
WUR int state_open(const char *dir, struct state **out);
void state_close(struct state *s);

enum state_out {
	STATE_PENDING = 0,  /* sealed, no final receipt yet */
	STATE_ACCEPTED = 1, /* the broker's receipt said accepted */
	STATE_REJECTED = 2, /* rejected for good */
};

/* One outgoing message. */
struct state_msg {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	int state;
	char file[STATE_NAME_MAX]; /* its name in the outbox */
	uint8_t *frame;            /* the Submit frame (malloc'd) */
	size_t frame_len;
	char *receipt; /* receipt JSON once final (malloc'd) */
};

void state_msg_release(struct state_msg *m);

/*
 * Records sealed messages ms[0 .. n-1], each for its outbox file, in one
 * durable commit, before their first send; rc[i] gets each one's result
 * (ERROR_EXISTS for a file that already has a message in flight). Returns an
 * error when the commit itself failed (then nothing is stored).
 */
WUR int state_put_msgs(
    struct state *s, const struct state_msg *ms, size_t n, int *rc);

/* Updates state and receipt of the message m->msg_id. */
WUR int state_update_msg(struct state *s, const struct state_msg *m);

/* The message sealed for outbox file name, or ERROR_NOTFOUND. */
WUR int state_find_file(struct state *s, const char *name, struct state_msg *m);

/* The message msg_id, or ERROR_NOTFOUND. */
WUR int state_get_msg(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN],
    struct state_msg *m);

/*
 * Calls fn for every message whose outbox file has not yet been moved to
 * sent/ or failed/ (pending, or final with the move unfinished: a restart
 * finishes it): those whose name state_close_file has not forgotten. m is
 * valid during the call only.
 */
WUR int state_each_open(struct state *s,
    int (*fn)(void *arg, const struct state_msg *m), void *arg);

/* Forgets the outbox name of a moved message (its record stays). */
WUR int state_close_file(struct state *s, const char *name);

/* Received messages. */
WUR int state_seen(
    struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN], bool *seen);
WUR int state_mark_seen(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN]);

/* The trusted checkpoint; ERROR_NOTFOUND before the first. */
WUR int state_get_checkpoint(struct state *s, struct checkpoint *cp);
WUR int state_put_checkpoint(struct state *s, const struct checkpoint *cp);

#endif
