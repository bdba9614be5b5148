/*
 * Private to the broker's store: the handle and the stored layout of a
 * queue item, shared by store.c (the writer's side) and store_stat.c (the
 * figures `concordat status` and the control socket read).
 */
#ifndef BROKER_STORE_INT_H
#define BROKER_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "common/ident.h"
#include "db/db.h"
#include "proto/wire.h"

#define QKEY_MAX (IDENT_AGENCY_MAX + 1 + 8)

struct store {
	MDB_env *env;
	uint64_t reserved; /* data.mdb is allocated up to here (db_reserve) */
	struct audit *audit;
	MDB_dbi replay, replay_time, queue, expiry, meta, sent;
	bool reader; /* store_open_reader's: queue and meta only */
};

/* The stored header of a queue item; the payload follows it. */
struct item_rec {
	uint8_t type;
	uint8_t state;
	uint8_t pad[2];
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char peer[IDENT_AGENCY_MAX + 1];
	uint64_t leaf;
	uint64_t expires_ms;
	uint64_t at_ms;
};

#endif
