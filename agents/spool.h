/*
 * Private to agents/: the spool folders of DESIGN.md §8 as the agent
 * writes them: made at start, and JSON documents written into them
 * durably.
 */
#ifndef AGENTS_SPOOL_H
#define AGENTS_SPOOL_H

#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "proto/wire.h"

struct agent;

/* Creates SPOOL/outbox, tmp, sent, ... into a->dir (logged). */
WUR int spool_make_dirs(struct agent *a);

/*
 * Writes obj as DIR/name durably (temporary name, fsync, rename, the
 * folder fsynced unless flags has FILEIO_NO_DIR_SYNC; fileio_write_atomic).
 */
WUR int spool_write_json(
    const char *dir, const char *name, json_t *obj, int flags);

/*
 * Writes obj durably into DIR as STEM.json, or STEM-TAG.json when that is
 * taken (fileio_write_unique): a document never replaces another.
 */
WUR int spool_write_unique_json(const char *dir, const char *stem, json_t *obj);

/* The hex of a msg_id (32 digits and a NUL): how spool files name it. */
void spool_hex_id(const uint8_t id[WIRE_MSG_ID_LEN], char out[33]);

#endif
