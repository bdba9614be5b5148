/*
 * The store seen by a reader: opened read-only while the broker runs (it
 * takes no lock and never blocks the writer, LMDB's MVCC), and the figures
 * of each agency's queue in one pass over it. Called by status.c, for
 * `concordat status` and the broker's control socket.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/store.h"
#include "broker/store_int.h"
#include "db/db.h"

/* An optional database: a folder of an older broker may not have it. */
static int
open_db(MDB_txn *txn, const char *name, MDB_dbi *dbi, bool *has)
{
	int rc = mdb_dbi_open(txn, name, 0, dbi);

	*has = rc == 0;
	return rc == MDB_NOTFOUND ? ERROR_OK : db_error(rc);
}

int
store_open_reader(const char *dir, struct store **out)
{
	struct store *s;
	MDB_txn *txn = NULL;
	bool hq, hm, hs;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ERROR_NOMEM;
	s->reader = true;
	if ((rc = audit_env_open(dir, 0, AUDIT_RDONLY, &s->env)) != 0)
		goto fail;
	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = audit_open(s->env, txn, NULL, AUDIT_RDONLY, &s->audit)) !=
	        0 ||
	    (rc = open_db(txn, "broker.queue", &s->queue, &hq)) != 0 ||
	    (rc = open_db(txn, "broker.meta", &s->meta, &hm)) != 0 ||
	    (rc = open_db(txn, "broker.sent", &s->sent, &hs)) != 0)
		goto fail;
	if (!hq || !hm || !hs) {
		rc = ERROR_NOTFOUND; /* not a broker's data folder */
		goto fail;
	}
	/* A read-only commit keeps the handles opened in it. */
	rc = db_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	*out = s;
	return ERROR_OK;
fail:
	if (txn != NULL)
		db_txn_abort(txn);
	store_close(s);
	return rc;
}

/* The stat of the agency named at the start of key k, added when new. */
static struct store_queue_stat *
stat_of(struct store_queue_stat **st, size_t *n, const char *agency)
{
	struct store_queue_stat *q;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*st)[i].agency, agency) == 0)
			return &(*st)[i];
	q = realloc(*st, (*n + 1) * sizeof(**st));
	if (q == NULL)
		return NULL;
	*st = q;
	q = &q[(*n)++];
	memset(q, 0, sizeof(*q));
	memcpy(q->agency, agency, strlen(agency) + 1);
	return q;
}

static int
count_item(struct store *s, MDB_txn *txn, struct store_queue_stat **st,
    size_t *n, const MDB_val *k, const MDB_val *v)
{
	const char *agency = k->mv_data;
	struct store_queue_stat *q;
	struct item_rec r;
	MDB_val mark, key = *k;
	size_t an;

	an = k->mv_size > 9 ? k->mv_size - 9 : 0;
	if (an == 0 || an > IDENT_AGENCY_MAX || agency[an] != '\0' ||
	    memchr(agency, '\0', an) != NULL || v->mv_size < sizeof(r))
		return ERROR_TAMPERED;
	memcpy(&r, v->mv_data, sizeof(r));
	if ((q = stat_of(st, n, agency)) == NULL)
		return ERROR_NOMEM;
	q->items++;
	if (mdb_get(txn, s->sent, &key, &mark) == 0)
		q->sent++;
	if (r.type == STORE_STATUS) {
		q->statuses++;
		return ERROR_OK;
	}
	q->deliveries++;
	if (q->deliveries == 1 || r.at_ms < q->oldest_at_ms) {
		q->oldest_at_ms = r.at_ms;
		q->oldest_expires_ms = r.expires_ms;
	}
	if (q->deliveries == 1 || r.expires_ms < q->next_expiry_ms)
		q->next_expiry_ms = r.expires_ms;
	return ERROR_OK;
}

int
store_queue_stats(
    struct store *s, MDB_txn *txn, struct store_queue_stat **out, size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	int mrc, rc = ERROR_OK;

	*out = NULL;
	*n = 0;
	if ((mrc = mdb_cursor_open(txn, s->queue, &c)) != 0)
		return db_error(mrc);
	while (rc == 0 && (mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		rc = count_item(s, txn, out, n, &k, &v);
	mdb_cursor_close(c);
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = db_error(mrc);
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
