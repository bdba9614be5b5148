/*
 * Private to the agent's store: the handles of its LMDB, shared by
 * state.c (messages, the seen list, the trusted checkpoint) and
 * state_meta.c (the witness record, agents/witness.c's).
 */
#ifndef AGENTS_STATE_INT_H
#define AGENTS_STATE_INT_H

#include "db/db.h"

struct state {
	MDB_env *env;
	MDB_dbi msg, file, seen, meta, prune;
};

#endif
