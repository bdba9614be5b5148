/*
 * Records of agent.meta by key, beside the trusted checkpoint state.c
 * keeps there: the witness record (agents/witness.c). One durable commit
 * per put.
 */
#include <string.h>

#include "agents/state.h"
#include "agents/state_int.h"

int
state_meta_get(
    struct state *s, const char *key, void *buf, size_t n, size_t *len)
{
	MDB_txn *txn;
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
	int rc;

	*len = 0;
	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0) {
		*len = v.mv_size;
		memcpy(buf, v.mv_data, v.mv_size < n ? v.mv_size : n);
	}
	mdb_txn_abort(txn);
	return db_error(rc);
}

int
state_meta_put(struct state *s, const char *key, const void *buf, size_t len)
{
	MDB_txn *txn;
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};
	MDB_val v = {len, (void *)(uintptr_t)buf};
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_TXN_FULL ? ERROR_MAPFULL : db_error(rc);
	}
	rc = db_txn_commit(txn);
	return rc == ERROR_TOOBIG ? ERROR_MAPFULL : rc;
}
