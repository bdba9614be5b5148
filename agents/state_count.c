/*
 * The number of open messages without walking them (status.c, metrics.c):
 * the entries of the state's file index, one per outbox file whose message
 * has no final receipt yet or whose move is unfinished, read from LMDB's
 * own count in one read transaction.
 */
#include "agents/state.h"
#include "agents/state_int.h"

int
state_count_open(struct state *s, uint64_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	*n = 0;
	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = db_error(mdb_stat(txn, s->file, &st));
	db_txn_abort(txn);
	if (rc == 0)
		*n = st.ms_entries;
	return rc;
}
