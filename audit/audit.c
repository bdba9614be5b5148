/*
 * The audit log's store in LMDB: the environment, appending leaves with
 * their tree nodes (audit_index.c writes the index entries), per-commit
 * signed checkpoints, and roots and proofs read from the stored complete
 * subtrees. The broker calls it inside its own write transactions;
 * `concordat audit` reads. The layout is described in audit_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit_int.h"
#include "common/fileio.h"

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

_Static_assert(DB_COUNT == AUDIT_DBS, "AUDIT_DBS counts audit's databases");

int
audit_mdb_error(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return ERROR_OK;
	case MDB_MAP_FULL:
		return ERROR_MAPFULL;
	case ENOSPC:
	case EDQUOT:
		return ERROR_NOSPC;
	case MDB_NOTFOUND:
		return ERROR_NOTFOUND;
	case MDB_TXN_FULL:
		return ERROR_TOOBIG;
	case EACCES:
	case EPERM:
	case EROFS:
		return ERROR_PERM;
	case ENOENT:
		return ERROR_NOENT;
	case EIO:
		return ERROR_IO;
	case ENOMEM:
		return ERROR_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return ERROR_TAMPERED;
	default:
		return ERROR_DB;
	}
}

/* ---------------------------------------------------------- environment */

int
audit_env_open(const char *dir, size_t mapsize, unsigned flags, MDB_env **out)
{
	enum audit_file_state state;
	MDB_env *env = NULL;
	unsigned mdb_flags = 0;
	int rc, dead;

	*out = NULL;
	/* Never map a file shorter than LMDB thinks (SIGBUS), nor let LMDB
	 * start a new environment in an emptied one. */
	if ((rc = audit_env_check(dir, &state, NULL, 0)) != 0)
		return rc;
	if ((flags & AUDIT_RDONLY) != 0) {
		if (state == AUDIT_FILE_NONE)
			return ERROR_NOENT;
		if (state != AUDIT_FILE_OK)
			return ERROR_TAMPERED;
		mdb_flags |= MDB_RDONLY;
	} else {
		if (state == AUDIT_FILE_EMPTY || state == AUDIT_FILE_DAMAGED)
			return ERROR_TAMPERED;
		if ((rc = fileio_mkdirs(dir, 0700)) != 0)
			return rc;
		if (mapsize == 0)
			mapsize = AUDIT_MAPSIZE_DEFAULT;
	}
	if ((rc = mdb_env_create(&env)) != 0)
		return audit_mdb_error(rc);
	if ((rc = mdb_env_set_maxdbs(env, AUDIT_DBS + AUDIT_BROKER_DBS)) != 0)
		goto out;
	/* A reader takes the map size the writer recorded. */
	if ((flags & AUDIT_RDONLY) == 0 &&
	    (rc = mdb_env_set_mapsize(env, mapsize)) != 0)
		goto out;
	if ((rc = mdb_env_open(env, dir, mdb_flags, 0600)) != 0)
		goto out;
	if ((rc = mdb_reader_check(env, &dead)) != 0)
		goto out;
	*out = env;
	env = NULL;
out:
	if (env != NULL)
		mdb_env_close(env);
	return audit_mdb_error(rc);
}

void
audit_env_close(MDB_env *env)
{
	if (env != NULL)
		mdb_env_close(env);
}

int
audit_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn)
{
	int rc;

	rc = mdb_txn_begin(env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* The writer grew the map: adopt its size (0 = as recorded). */
		rc = mdb_env_set_mapsize(env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(env, NULL, flags, txn);
	}
	if (rc != 0)
		*txn = NULL;
	return audit_mdb_error(rc);
}

int
audit_env_usage(MDB_env *env, uint64_t *used, uint64_t *mapsize)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	if ((rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &st)) != 0)
		return audit_mdb_error(rc);
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*mapsize = info.me_mapsize;
	return ERROR_OK;
}

/* ------------------------------------------------------------- opening */

int
audit_meta_get(struct audit *a, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};

	return audit_mdb_error(mdb_get(txn, a->dbi[DB_META], &k, v));
}

int
audit_meta_put(struct audit *a, MDB_txn *txn, const char *key, const void *data,
    size_t len)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};
	MDB_val v = {len, (void *)(uintptr_t)data};

	return audit_mdb_error(mdb_put(txn, a->dbi[DB_META], &k, &v, 0));
}

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
		rc = audit_mdb_error(
		    mdb_dbi_open(txn, audit_db_names[i], dbflags, &a->dbi[i]));
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
	free(a);
}

const char *
audit_origin(const struct audit *a)
{
	return a->origin;
}

/* ------------------------------------------------------------ the tree */

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
	*size = audit_be64_get(v.mv_data);
	return ERROR_OK;
}

struct store_arg {
	struct audit *a;
	MDB_txn *txn;
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
		return audit_mdb_error(rc);
	if (v.mv_size != MERKLE_HASH_LEN)
		return ERROR_TAMPERED;
	memcpy(out, v.mv_data, MERKLE_HASH_LEN);
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
	return rc == MDB_KEYEXIST ? ERROR_TAMPERED : audit_mdb_error(rc);
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
	struct store_arg arg = {a, txn};
	struct merkle_store s = {node_get, &arg};
	int rc;

	if ((rc = check_size(a, txn, size)) != 0)
		return rc;
	return merkle_root(&s, size, root);
}

int
audit_inclusion(struct audit *a, MDB_txn *txn, uint64_t index, uint64_t size,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	struct store_arg arg = {a, txn};
	struct merkle_store s = {node_get, &arg};
	int rc;

	*n = 0;
	if ((rc = check_size(a, txn, size)) != 0)
		return rc;
	return merkle_inclusion(&s, index, size, path, n);
}

int
audit_consistency(struct audit *a, MDB_txn *txn, uint64_t size1, uint64_t size2,
    uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	struct store_arg arg = {a, txn};
	struct merkle_store s = {node_get, &arg};
	int rc;

	*n = 0;
	if ((rc = check_size(a, txn, size2)) != 0)
		return rc;
	return merkle_consistency(&s, size1, size2, path, n);
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
	audit_be64_put(key, seq);
	rc = mdb_get(txn, a->dbi[DB_LEAVES], &k, &v);
	if (rc != 0)
		return audit_mdb_error(rc);
	*leaf = v.mv_data;
	*len = v.mv_size;
	return ERROR_OK;
}

/* ----------------------------------------------------------- appending */

int
audit_append(
    struct audit *a, MDB_txn *txn, const struct event *ev, uint64_t *seq)
{
	struct store_arg arg = {a, txn};
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
	audit_be64_put(key, n);
	v.mv_size = len;
	v.mv_data = leaf;
	rc = mdb_put(txn, a->dbi[DB_LEAVES], &k, &v, MDB_APPEND);
	if (rc != 0) {
		rc = rc == MDB_KEYEXIST ? ERROR_TAMPERED : audit_mdb_error(rc);
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
	audit_be64_put(key, n + 1);
	if ((rc = audit_meta_put(a, txn, "size", key, sizeof(key))) != 0)
		goto out;
	/* The indexes, once a batch of leaves waits for them. */
	if ((rc = audit_indexed_of(a, txn, n + 1, &indexed)) != 0)
		goto out;
	if (n + 1 - indexed >= a->lag &&
	    (rc = audit_index_leaves(a, txn, indexed, n, ev)) != 0)
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
		return audit_mdb_error(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc != 0) {
		rc = audit_mdb_error(rc);
		goto out;
	}
	if (k.mv_size != 8) {
		rc = ERROR_TAMPERED;
		goto out;
	}
	rc = head_from_note(a, &v, audit_be64_get(k.mv_data), head);
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
	audit_be64_put(key, size);
	v.mv_size = head->text_len;
	v.mv_data = head->text;
	rc = mdb_put(txn, a->dbi[DB_CHECKPOINTS], &k, &v, MDB_APPEND);
	return rc == MDB_KEYEXIST ? ERROR_TAMPERED : audit_mdb_error(rc);
}
