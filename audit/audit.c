/*
 * The audit log's store in LMDB: the environment, appending leaves with
 * their tree nodes (audit_index.c writes the index entries), per-commit
 * signed checkpoints, and roots and proofs read from the stored complete
 * subtrees. The broker calls it inside its own write transactions;
 * `concordat audit` reads. The layout is described in audit_int.h; the
 * environment's rules (DESIGN.md §9) are db/'s, the reads and writes of
 * audit.meta and the leaves audit_meta.c's, and the index entries of a
 * batch audit_index.c's, which this file calls and which never calls it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"

_Static_assert(DB_COUNT == AUDIT_DBS, "AUDIT_DBS counts audit's databases");

int
audit_mdb_error(int rc)
{
	return db_error(rc);
}

/* ---------------------------------------------------------- environment */

int
audit_env_open(const char *dir, size_t mapsize, unsigned flags, MDB_env **out)
{
	struct db_open o = {
	    .mapsize = mapsize != 0 ? mapsize : AUDIT_MAPSIZE_DEFAULT,
	    .maxdbs = AUDIT_DBS + AUDIT_BROKER_DBS,
	    .flags = (flags & AUDIT_RDONLY) != 0 ? DB_RDONLY : 0,
	};

	return db_env_open(dir, &o, out);
}

void
audit_env_close(MDB_env *env)
{
	db_env_close(env);
}

int
audit_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn)
{
	return db_txn_begin(env, NULL, flags, txn);
}

int
audit_env_usage(MDB_env *env, uint64_t *used, uint64_t *mapsize)
{
	struct db_usage u;
	int rc;

	if ((rc = db_usage(env, false, &u)) != 0)
		return rc;
	*used = u.hwm;
	*mapsize = u.mapsize;
	return ERROR_OK;
}

/* ------------------------------------------------------------- opening */

int
audit_open(MDB_env *env, MDB_txn *txn, const char *origin, unsigned flags,
    struct audit **out)
{
	static const uint8_t zero[8];
	struct audit *a;
	MDB_val v;
	unsigned dbflags;
	int rc;

	*out = NULL;
	if (origin != NULL && !checkpoint_origin_valid(origin))
		return ERROR_INVAL;
	if ((flags & AUDIT_RDONLY) == 0 && origin == NULL)
		return ERROR_INVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERROR_NOMEM;
	a->flags = flags;
	a->lag = AUDIT_INDEX_LAG;
	for (int i = 0; i < DB_COUNT; i++) {
		dbflags = i >= DB_SUBJECT ? MDB_DUPSORT | MDB_DUPFIXED : 0;
		if ((flags & AUDIT_RDONLY) == 0)
			dbflags |= MDB_CREATE;
		rc = db_error(
		    mdb_dbi_open(txn, audit_db_names[i], dbflags, &a->dbi[i]));
		/* None by that name: no log here, or a damaged list of the
		 * databases, which LMDB shows only as a name not found. */
		if (rc == ERROR_NOTFOUND)
			rc = db_catalog_check(txn, "audit.") != 0
			    ? ERROR_TAMPERED
			    : ERROR_NOTFOUND;
		if (rc != 0)
			goto out;
	}
	rc = audit_meta_get(a, txn, "origin", &v);
	if (rc == ERROR_NOTFOUND && (flags & AUDIT_RDONLY) == 0) {
		/* A new log: record what it is. */
		if ((rc = audit_meta_put(a, txn, "version", AUDIT_VERSION,
		         strlen(AUDIT_VERSION))) != 0 ||
		    (rc = audit_meta_put(
		         a, txn, "origin", origin, strlen(origin))) != 0 ||
		    (rc = audit_meta_put(
		         a, txn, "indexed", zero, sizeof(zero))) != 0)
			goto out;
		snprintf(a->origin, sizeof(a->origin), "%s", origin);
		rc = ERROR_OK;
		goto out;
	}
	if (rc != 0)
		goto out;
	rc = ERROR_TAMPERED;
	if (v.mv_size == 0 || v.mv_size > CHECKPOINT_ORIGIN_MAX)
		goto out;
	memcpy(a->origin, v.mv_data, v.mv_size);
	a->origin[v.mv_size] = '\0';
	if (!checkpoint_origin_valid(a->origin))
		goto out;
	if ((rc = audit_meta_get(a, txn, "version", &v)) != 0)
		goto out;
	rc = ERROR_CONFIG;
	if (v.mv_size != strlen(AUDIT_VERSION) ||
	    memcmp(v.mv_data, AUDIT_VERSION, v.mv_size) != 0)
		goto out;
	if (origin != NULL && strcmp(origin, a->origin) != 0)
		goto out;
	rc = ERROR_OK;
out:
	if (rc == ERROR_OK)
		*out = a;
	else
		free(a);
	return rc;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	audit_index_pending_free(a);
	free(a);
}

const char *
audit_origin(const struct audit *a)
{
	return a->origin;
}

/* ------------------------------------------------------------ the tree */

struct store_arg {
	struct audit *a;
	MDB_txn *txn;
	struct audit_memo *memo; /* or NULL */
};

/* merkle_store.get over audit.nodes. */
static int
node_get(
    void *arg, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct store_arg *s = arg;
	uint8_t key[AUDIT_NODE_KEY];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	audit_node_key(key, level, index);
	rc = mdb_get(s->txn, s->a->dbi[DB_NODES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ERROR_TAMPERED; /* asked only for nodes that must exist
		                        */
	if (rc != 0)
		return db_error(rc);
	if (v.mv_size != MERKLE_HASH_LEN)
		return ERROR_TAMPERED;
	memcpy(out, v.mv_data, MERKLE_HASH_LEN);
	return ERROR_OK;
}

void
audit_memo_reset(struct audit_memo *m)
{
	merkle_edge_reset(&m->edge);
	if (++m->gen == 0) { /* wrapped: no slot may look valid */
		memset(m->slot, 0, sizeof(m->slot));
		m->gen = 1;
	}
}

/* merkle_store.get through the memo: LMDB only for a node not yet read. */
static int
memo_get(
    void *arg, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct store_arg *s = arg;
	struct audit_memo *m = s->memo;
	uint64_t key = index << 6 | level; /* index < 2^58: MERKLE_MAX_SIZE */
	size_t at = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 54);
	int rc;

	_Static_assert(AUDIT_MEMO_SLOTS == 1 << 10, "at takes 10 bits");
	if (m->slot[at].gen == m->gen && m->slot[at].key == key) {
		memcpy(out, m->slot[at].hash, MERKLE_HASH_LEN);
		return ERROR_OK;
	}
	if ((rc = node_get(arg, level, index, out)) != 0)
		return rc;
	m->slot[at].gen = m->gen;
	m->slot[at].key = key;
	memcpy(m->slot[at].hash, out, MERKLE_HASH_LEN);
	return ERROR_OK;
}

static int
node_put(struct audit *a, MDB_txn *txn, unsigned level, uint64_t index,
    const uint8_t hash[MERKLE_HASH_LEN])
{
	uint8_t key[AUDIT_NODE_KEY];
	MDB_val k = {sizeof(key), key};
	MDB_val v = {MERKLE_HASH_LEN, (void *)(uintptr_t)hash};
	int rc;

	audit_node_key(key, level, index);
	rc = mdb_put(txn, a->dbi[DB_NODES], &k, &v, MDB_APPEND);
	return rc == MDB_KEYEXIST ? ERROR_TAMPERED : db_error(rc);
}

/* Checks size against the log's, for proofs and roots. */
static int
check_size(struct audit *a, MDB_txn *txn, uint64_t size)
{
	uint64_t have;
	int rc;

	if ((rc = audit_size(a, txn, &have)) != 0)
		return rc;
	return size <= have ? ERROR_OK : ERROR_INVAL;
}

int
audit_root(
    struct audit *a, MDB_txn *txn, uint64_t size, uint8_t root[MERKLE_HASH_LEN])
{
	struct store_arg arg = {a, txn, NULL};
	struct merkle_store s = {node_get, &arg, NULL};
	int rc;

	if ((rc = check_size(a, txn, size)) != 0)
		return rc;
	return merkle_root(&s, size, root);
}

int
audit_inclusion_memo(struct audit *a, MDB_txn *txn, struct audit_memo *memo,
    uint64_t index, uint64_t size, uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	struct store_arg arg = {a, txn, memo};
	struct merkle_store s = {memo != NULL ? memo_get : node_get, &arg,
	    memo != NULL ? &memo->edge : NULL};
	int rc;

	*n = 0;
	if (memo != NULL && memo->gen == 0)
		return ERROR_INVAL; /* never reset: its slots mean nothing */
	if ((rc = check_size(a, txn, size)) != 0)
		return rc;
	return merkle_inclusion(&s, index, size, path, n);
}

int
audit_inclusion(struct audit *a, MDB_txn *txn, uint64_t index, uint64_t size,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	return audit_inclusion_memo(a, txn, NULL, index, size, path, n);
}

int
audit_consistency(struct audit *a, MDB_txn *txn, uint64_t size1, uint64_t size2,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	struct store_arg arg = {a, txn, NULL};
	struct merkle_store s = {node_get, &arg, NULL};
	int rc;

	*n = 0;
	if ((rc = check_size(a, txn, size2)) != 0)
		return rc;
	return merkle_consistency(&s, size1, size2, path, n);
}

/* ----------------------------------------------------------- appending */

int
audit_append(
    struct audit *a, MDB_txn *txn, const struct event *ev, uint64_t *seq)
{
	struct store_arg arg = {a, txn, NULL};
	uint8_t *leaf = NULL, key[8], hash[MERKLE_HASH_LEN];
	uint8_t left[MERKLE_HASH_LEN];
	MDB_val k = {sizeof(key), key}, v;
	uint64_t n, index, indexed;
	unsigned level;
	size_t len;
	int rc;

	if ((a->flags & AUDIT_RDONLY) != 0)
		return ERROR_INVAL;
	if ((rc = event_encode(ev, &leaf, &len)) != 0)
		return rc;
	if ((rc = audit_size(a, txn, &n)) != 0)
		goto out;
	if (n >= MERKLE_MAX_SIZE) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	db_be64_put(key, n);
	v.mv_size = len;
	v.mv_data = leaf;
	rc = mdb_put(txn, a->dbi[DB_LEAVES], &k, &v, MDB_APPEND);
	if (rc != 0) {
		rc = rc == MDB_KEYEXIST ? ERROR_TAMPERED : db_error(rc);
		goto out;
	}
	/*
	 * The leaf completes one subtree per trailing one bit of n: pair it
	 * with its stored left siblings, storing each parent (RFC 6962 §2.1).
	 */
	merkle_hash_leaf(leaf, len, hash);
	if ((rc = node_put(a, txn, 0, n, hash)) != 0)
		goto out;
	for (level = 0, index = n; (index & 1) != 0; level++, index >>= 1) {
		if ((rc = node_get(&arg, level, index - 1, left)) != 0)
			goto out;
		merkle_hash_children(left, hash, hash);
		if ((rc = node_put(a, txn, level + 1, index >> 1, hash)) != 0)
			goto out;
	}
	db_be64_put(key, n + 1);
	if ((rc = audit_meta_put(a, txn, "size", key, sizeof(key))) != 0)
		goto out;
	/* The indexes, once a batch of leaves waits for them. */
	audit_index_note(a, n, ev);
	if ((rc = audit_indexed_of(a, txn, n + 1, &indexed)) != 0)
		goto out;
	if (n + 1 - indexed >= a->lag &&
	    (rc = audit_index_leaves(a, txn, indexed, n)) != 0)
		goto out;
	if (seq != NULL)
		*seq = n;
out:
	free(leaf);
	return rc;
}

/* --------------------------------------------------------- checkpoints */

/* Fills head from a stored note; the note must say size. */
static int
head_from_note(
    struct audit *a, const MDB_val *v, uint64_t size, struct audit_head *head)
{
	if (v->mv_size == 0 || v->mv_size >= sizeof(head->text))
		return ERROR_TAMPERED;
	memcpy(head->text, v->mv_data, v->mv_size);
	head->text[v->mv_size] = '\0';
	head->text_len = v->mv_size;
	if (checkpoint_parse(head->text, head->text_len, &head->cp) != 0 ||
	    head->cp.size != size || strcmp(head->cp.origin, a->origin) != 0)
		return ERROR_TAMPERED;
	return ERROR_OK;
}

int
audit_latest(struct audit *a, MDB_txn *txn, struct audit_head *head)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	memset(head, 0, sizeof(*head));
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_CHECKPOINTS], &c)) != 0)
		return db_error(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc != 0) {
		rc = db_error(rc);
		goto out;
	}
	if (k.mv_size != 8) {
		rc = ERROR_TAMPERED;
		goto out;
	}
	rc = head_from_note(a, &v, db_be64_get(k.mv_data), head);
out:
	mdb_cursor_close(c);
	return rc;
}

int
audit_checkpoint(struct audit *a, MDB_txn *txn, audit_sign_fn *sign, void *arg,
    struct audit_head *head)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	uint64_t size;
	int rc;

	if ((a->flags & AUDIT_RDONLY) != 0)
		return ERROR_INVAL;
	if ((rc = audit_size(a, txn, &size)) != 0)
		return rc;
	rc = audit_latest(a, txn, head);
	if (rc == 0 && head->cp.size == size)
		return ERROR_OK; /* nothing new to sign */
	if (rc != 0 && rc != ERROR_NOTFOUND)
		return rc;
	memset(head, 0, sizeof(*head));
	snprintf(head->cp.origin, sizeof(head->cp.origin), "%s", a->origin);
	head->cp.size = size;
	if ((rc = audit_root(a, txn, size, head->cp.root)) != 0 ||
	    (rc = sign(arg, &head->cp, head->text, sizeof(head->text),
	         &head->text_len)) != 0)
		return rc;
	db_be64_put(key, size);
	v.mv_size = head->text_len;
	v.mv_data = head->text;
	rc = mdb_put(txn, a->dbi[DB_CHECKPOINTS], &k, &v, MDB_APPEND);
	return rc == MDB_KEYEXIST ? ERROR_TAMPERED : db_error(rc);
}
