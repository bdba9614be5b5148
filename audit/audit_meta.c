/*
 * The bottom of the log's store: the databases' names, audit.meta's keys
 * (the number of leaves, the number indexed) and the leaves by number.
 * audit.c (appends, the tree, checkpoints) and audit_index.c (the
 * indexes) both read and write the log through it, so that neither calls
 * back into the other: audit.c calls audit_index.c to index a batch, and
 * audit_index.c needs only this file. audit_query.c and audit_verify.c
 * read through it too.
 */
#include <stdint.h>
#include <string.h>

#include "audit/audit_int.h"

const char *const audit_db_names[DB_COUNT] = {
    [DB_META] = "audit.meta",
    [DB_LEAVES] = "audit.leaves",
    [DB_NODES] = "audit.nodes",
    [DB_CHECKPOINTS] = "audit.checkpoints",
    [DB_SUBJECT] = "audit.subject",
    [DB_AGENCY] = "audit.agency",
    [DB_MSGID] = "audit.msgid",
    [DB_TIME] = "audit.time",
    [DB_PURPOSE] = "audit.purpose",
    [DB_RULE] = "audit.rule",
    [DB_TAG] = "audit.tag",
};

int
audit_meta_get(struct audit *a, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};

	return db_error(mdb_get(txn, a->dbi[DB_META], &k, v));
}

int
audit_meta_put(struct audit *a, MDB_txn *txn, const char *key, const void *data,
    size_t len)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};
	MDB_val v = {len, (void *)(uintptr_t)data};

	return db_error(mdb_put(txn, a->dbi[DB_META], &k, &v, 0));
}

int
audit_size(struct audit *a, MDB_txn *txn, uint64_t *size)
{
	MDB_val v;
	int rc;

	*size = 0;
	rc = audit_meta_get(a, txn, "size", &v);
	if (rc == ERROR_NOTFOUND)
		return ERROR_OK;
	if (rc != 0)
		return rc;
	if (v.mv_size != 8)
		return ERROR_TAMPERED;
	*size = db_be64_get(v.mv_data);
	return ERROR_OK;
}

int
audit_leaf(struct audit *a, MDB_txn *txn, uint64_t seq, const uint8_t **leaf,
    size_t *len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	*leaf = NULL;
	*len = 0;
	db_be64_put(key, seq);
	rc = mdb_get(txn, a->dbi[DB_LEAVES], &k, &v);
	if (rc != 0)
		return db_error(rc);
	*leaf = v.mv_data;
	*len = v.mv_size;
	return ERROR_OK;
}

int
audit_indexed(struct audit *a, MDB_txn *txn, uint64_t *indexed)
{
	uint64_t size;
	int rc;

	*indexed = 0;
	if ((rc = audit_size(a, txn, &size)) != 0)
		return rc;
	return audit_indexed_of(a, txn, size, indexed);
}

int
audit_indexed_of(
    struct audit *a, MDB_txn *txn, uint64_t size, uint64_t *indexed)
{
	MDB_val v;
	int rc;

	*indexed = 0;
	rc = audit_meta_get(a, txn, "indexed", &v);
	if (rc != 0)
		return rc == ERROR_NOTFOUND ? ERROR_TAMPERED : rc;
	if (v.mv_size != 8 || (*indexed = db_be64_get(v.mv_data)) > size)
		return ERROR_TAMPERED;
	return ERROR_OK;
}
