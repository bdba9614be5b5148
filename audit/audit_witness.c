/*
 * The broker's store of cosignatures, in audit.meta (audit_witness.h), and
 * the stored checkpoints by size, which the cosignatures and the broker's
 * answers to ProofRequests read.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"
#include "audit/audit_witness.h"

int
audit_checkpoint_at(
    struct audit *a, MDB_txn *txn, uint64_t size, struct audit_head *head)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	memset(head, 0, sizeof(*head));
	db_be64_put(key, size);
	if ((rc = mdb_get(txn, a->dbi[DB_CHECKPOINTS], &k, &v)) != 0)
		return db_error(rc);
	if (v.mv_size == 0 || v.mv_size >= sizeof(head->text))
		return ERROR_TAMPERED;
	memcpy(head->text, v.mv_data, v.mv_size);
	head->text[v.mv_size] = '\0';
	head->text_len = v.mv_size;
	if (checkpoint_parse(head->text, head->text_len, &head->cp) != 0 ||
	    head->cp.size != size || strcmp(head->cp.origin, a->origin) != 0)
		return ERROR_TAMPERED;
	return ERROR_OK;
}

int
audit_witness_put(struct audit *a, MDB_txn *txn, const struct audit_witness *w)
{
	char key[sizeof(AUDIT_WITNESS_PREFIX) + IDENT_AGENCY_MAX];
	uint8_t v[AUDIT_WITNESS_LEN];

	if ((a->flags & AUDIT_RDONLY) != 0 || !ident_agency_valid(w->agency))
		return ERROR_INVAL;
	snprintf(key, sizeof(key), "%s%s", AUDIT_WITNESS_PREFIX, w->agency);
	db_be64_put(v, w->size);
	db_be64_put(v + 8, w->timestamp);
	memcpy(v + 16, w->sig, COSIGN_SIG_LEN);
	return audit_meta_put(a, txn, key, v, sizeof(v));
}

static int
from_val(
    const char *agency, size_t alen, const MDB_val *v, struct audit_witness *w)
{
	memset(w, 0, sizeof(*w));
	if (v->mv_size != AUDIT_WITNESS_LEN || alen == 0 ||
	    alen > IDENT_AGENCY_MAX)
		return ERROR_TAMPERED;
	memcpy(w->agency, agency, alen);
	if (!ident_agency_valid(w->agency))
		return ERROR_TAMPERED;
	w->size = db_be64_get(v->mv_data);
	w->timestamp = db_be64_get((const uint8_t *)v->mv_data + 8);
	memcpy(w->sig, (const uint8_t *)v->mv_data + 16, COSIGN_SIG_LEN);
	return ERROR_OK;
}

int
audit_witness_get(
    struct audit *a, MDB_txn *txn, const char *agency, struct audit_witness *w)
{
	char key[sizeof(AUDIT_WITNESS_PREFIX) + IDENT_AGENCY_MAX];
	MDB_val v;
	int rc;

	if (!ident_agency_valid(agency))
		return ERROR_INVAL;
	snprintf(key, sizeof(key), "%s%s", AUDIT_WITNESS_PREFIX, agency);
	if ((rc = audit_meta_get(a, txn, key, &v)) != 0)
		return rc;
	return from_val(agency, strlen(agency), &v, w);
}

int
audit_witness_each(struct audit *a, MDB_txn *txn,
    int (*fn)(void *arg, const struct audit_witness *w), void *arg)
{
	const size_t plen = sizeof(AUDIT_WITNESS_PREFIX) - 1;
	MDB_cursor *c;
	MDB_val k = {plen, (void *)(uintptr_t)AUDIT_WITNESS_PREFIX}, v;
	struct audit_witness w;
	int rc;

	if ((rc = mdb_cursor_open(txn, a->dbi[DB_META], &c)) != 0)
		return db_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen ||
		    memcmp(k.mv_data, AUDIT_WITNESS_PREFIX, plen) != 0)
			break;
		if ((rc = from_val((const char *)k.mv_data + plen,
		         k.mv_size - plen, &v, &w)) != 0 ||
		    (rc = fn(arg, &w)) != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? ERROR_OK : db_error(rc);
out:
	mdb_cursor_close(c);
	return rc;
}
