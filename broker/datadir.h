/*
 * The broker's data folder at start (DESIGN.md §7, §9): one broker per
 * folder (its lock), the folder checked, before anything listens, against
 * the head the broker keeps beside its key, so that a damaged, truncated,
 * emptied or replaced log is refused and never served or started anew;
 * then the store; the head is then handed to the signer, which rewrites it
 * with every checkpoint it signs (signer.h).
 * Called by broker.c before it starts its signer.
 */
#ifndef BROKER_DATADIR_H
#define BROKER_DATADIR_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "broker/store.h"
#include "common/error.h"
#include "keys/keys.h"

struct head;

struct datadir;

/*
 * Opens the broker's data folder dir for the broker whose key (loaded
 * from keyfile) is key, whose checkpoints name origin:
 *
 *  1. takes the folder's lock (audit_env_lock): ERROR_BUSY when another
 *     process holds it, why naming it (its pid);
 *  2. reads the head beside keyfile (head.h) and checks its signature;
 *  3. checks the folder (store_check, in a child process): the file, the
 *     whole audit log as `concordat audit verify` does, every database;
 *  4. compares: the log must hold at least the head's leaves, with the
 *     head's root at the head's size. No head: the log found is taken as
 *     it verified and the head written from its latest checkpoint; no log
 *     and no head: a new log, its head written (size 0) before the log is
 *     created. A head with leaves and no log is refused: a new log is
 *     never started where one was. A head one signature ahead of the log
 *     whose previous slot is the log's latest checkpoint (the broker
 *     stopped between the signature and its commit) goes back to that
 *     one: datadir_withdrawn says so.
 *  5. opens the store (store_open) into *store, and rewrites the head when
 *     the log's latest checkpoint is ahead of it (a folder of a version
 *     that wrote the head after the commit).
 *
 * Refusals: ERROR_TAMPERED, ERROR_CHECKPOINT or ERROR_SIGNATURE for a
 * damaged log, one that lost commits or is not the one signed; ERROR_CONFIG
 * for a log or head of another key; ERROR_BUSY as above; why (n bytes)
 * says what, and what to do. Nothing is written to the folder before the
 * checks pass (but the lock file). On success why holds a line for the
 * log (what was checked, and how long it took), and the caller closes
 * *store with store_close, then *out with datadir_close.
 */
WUR int datadir_open(const char *dir, uint64_t mapsize, const char *keyfile,
    const struct keys_secret *key, const char *origin, struct datadir **out,
    struct store **store, char *why, size_t n);

/*
 * Hands the open head file over (head.h): from then on the signer owns it
 * and writes every head it signs (signer.h). NULL once taken.
 */
struct head *datadir_take_head(struct datadir *d);

/*
 * The size of the checkpoint the signer signed before the last stop that
 * never reached the log, withdrawn at start (see step 4); 0 when none.
 */
uint64_t datadir_withdrawn(const struct datadir *d);

/* The head file's path, for messages. */
const char *datadir_head_path(const struct datadir *d);

/* Releases the head and the lock; NULL is a no-op. Close the store first. */
void datadir_close(struct datadir *d);

#endif
