/*
 * Private to audit/: the layout of the log in LMDB, shared by audit.c (the
 * writer and proofs), audit_query.c and audit_verify.c.
 *
 * Databases (all named "audit.*"):
 *
 *	audit.meta	"version" -> "1", "origin" -> text,
 *			"size" -> be64 number of leaves
 *	audit.leaves	be64 seq -> the leaf: event_encode bytes
 *	audit.nodes	be64 last leaf || u8 level -> 32-byte hash of the
 *			complete subtree of 2^level leaves ending at that
 *			leaf (level 0: the leaf hash); keys grow as leaves
 *			are appended, so every put is an append
 *	audit.checkpoints  be64 tree size -> signed checkpoint note
 *
 * and the indexes, MDB_DUPSORT | MDB_DUPFIXED with be64 seq values:
 *
 *	audit.subject	subject_ref (32 bytes)
 *	audit.agency	agency id: sender, recipient and listed recipients
 *	audit.msgid	msg_id (16 bytes)
 *	audit.time	be64 time_ms
 *	audit.purpose	purpose
 *	audit.rule	rule id, once per rule of the event
 *	audit.tag	"type:<event type name>", and "breakglass"
 */
#ifndef AUDIT_AUDIT_INT_H
#define AUDIT_AUDIT_INT_H

#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "audit/audit.h"

#define AUDIT_VERSION "1"
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
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
};

/* Big-endian 64-bit keys and values, so that byte order is number order. */
static inline void
audit_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static inline uint64_t
audit_be64_get(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* The audit.nodes key of the subtree (level, index). */
#define AUDIT_NODE_KEY 9
static inline void
audit_node_key(uint8_t out[AUDIT_NODE_KEY], unsigned level, uint64_t index)
{
	audit_be64_put(out, ((index + 1) << level) - 1);
	out[8] = (uint8_t)level;
}

/* The audit.tag key for an event type. */
void audit_type_tag(int type, char out[AUDIT_TAG_MAX]);

/* The tag key of break-glass events. */
#define AUDIT_TAG_BREAKGLASS "breakglass"
#define AUDIT_TAG_TYPE       "type:"

#endif
