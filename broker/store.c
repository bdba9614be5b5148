/*
 * The broker's databases beside the audit log, in one LMDB environment so
 * that one commit holds a message, its audit leaves and its queue entries.
 *
 *	broker.replay  msg_id (16) -> struct replay_rec
 *	broker.replay_time  created_at_ms (8, BE) | msg_id -> "", to prune
 *	               the replay records past the freshness window
 *	broker.queue   agency NUL seq (8, big-endian) -> item header | payload
 *	broker.expiry  expires_ms (8, BE) | queue key -> ""
 *	broker.sent    queue key -> "" once the delivered event is logged
 *	               (apart, so that marking an item does not rewrite its
 *	               payload)
 *	broker.meta    "queue_seq" -> next sequence number (8, BE)
 *	               "queue_clock" -> the queue's clock and the wall clock
 *	               when it was saved (8 + 8, BE)
 *
 * An acknowledgement names its item by msg_id; the broker finds the item's
 * sequence number among those in flight on the connection (deliver.c), so
 * no index keyed by msg_id is written per delivery. A store from before
 * that holds one, broker.ack; store_open deletes it.
 *
 * Values are our own fixed layouts, written and read on one machine.
 * The environment, transactions, errors and the disk reserve are db/'s
 * (DESIGN.md §9's rules, coded there once).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store.h"
#include "broker/store_int.h"
#include "common/isolate.h"
#include "db/db.h"

struct replay_rec {
	char sender[IDENT_AGENCY_MAX + 1];
	uint8_t hash[32];
	uint64_t created_at_ms;
	uint64_t n_decisions;
	uint64_t decisions[STORE_MAX_DECISIONS];
};

static void
replay_time_key(uint8_t k[8 + WIRE_MSG_ID_LEN], uint64_t created_at_ms,
    const uint8_t *msg_id)
{
	db_be64_put(k, created_at_ms);
	memcpy(k + 8, msg_id, WIRE_MSG_ID_LEN);
}

/*
 * Replay records written before broker.replay_time existed get their time
 * entries once, so that they are pruned like the others.
 */
static int
index_replay_times(struct store *s, MDB_txn *txn)
{
	MDB_stat st;
	MDB_cursor *c;
	MDB_val k, v, tk, tv = {0, NULL};
	uint8_t key[8 + WIRE_MSG_ID_LEN];
	uint64_t created;
	int rc;

	if ((rc = mdb_stat(txn, s->replay_time, &st)) != 0)
		return db_error(rc);
	if (st.ms_entries > 0)
		return ERROR_OK;
	if ((rc = mdb_cursor_open(txn, s->replay, &c)) != 0)
		return db_error(rc);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size != WIRE_MSG_ID_LEN ||
		    v.mv_size < offsetof(struct replay_rec, created_at_ms) + 8)
			continue;
		memcpy(&created,
		    (const uint8_t *)v.mv_data +
		        offsetof(struct replay_rec, created_at_ms),
		    8);
		replay_time_key(key, created, k.mv_data);
		tk.mv_size = sizeof(key);
		tk.mv_data = key;
		if ((rc = mdb_put(txn, s->replay_time, &tk, &tv, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? ERROR_OK : db_error(rc);
}

/* The msg_id index of earlier versions, no longer kept (§11). */
static int
drop_ack_index(MDB_txn *txn)
{
	MDB_dbi dbi;
	int rc = mdb_dbi_open(txn, "broker.ack", 0, &dbi);

	if (rc == MDB_NOTFOUND)
		return ERROR_OK;
	if (rc != 0)
		return db_error(rc);
	return db_error(mdb_drop(txn, dbi, 1));
}

int
store_open(
    const char *dir, uint64_t mapsize, const char *origin, struct store **out)
{
	struct store *s;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ERROR_NOMEM;
	if ((rc = audit_env_open(dir, (size_t)mapsize, 0, &s->env)) != 0)
		goto fail;
	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = audit_open(s->env, txn, origin, 0, &s->audit)) != 0)
		goto fail;
	if ((rc = db_error(mdb_dbi_open(
	         txn, "broker.replay", MDB_CREATE, &s->replay))) != 0 ||
	    (rc = db_error(mdb_dbi_open(
	         txn, "broker.queue", MDB_CREATE, &s->queue))) != 0 ||
	    (rc = db_error(mdb_dbi_open(
	         txn, "broker.expiry", MDB_CREATE, &s->expiry))) != 0 ||
	    (rc = db_error(mdb_dbi_open(
	         txn, "broker.meta", MDB_CREATE, &s->meta))) != 0 ||
	    (rc = db_error(mdb_dbi_open(
	         txn, "broker.sent", MDB_CREATE, &s->sent))) != 0 ||
	    (rc = db_error(mdb_dbi_open(txn, "broker.replay_time", MDB_CREATE,
	         &s->replay_time))) != 0 ||
	    (rc = index_replay_times(s, txn)) != 0 ||
	    (rc = drop_ack_index(txn)) != 0)
		goto fail;
	rc = db_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	*out = s;
	return ERROR_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	audit_free(s->audit);
	db_env_close(s->env);
	free(s);
}

struct audit *
store_audit(struct store *s)
{
	return s->audit;
}

int
store_begin(struct store *s, bool write, MDB_txn **txn)
{
	return db_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
}

int
store_begin_nested(struct store *s, MDB_txn *parent, MDB_txn **txn)
{
	return db_txn_begin(s->env, parent, 0, txn);
}

int
store_commit(MDB_txn *txn)
{
	return db_txn_commit(txn);
}

void
store_abort(MDB_txn *txn)
{
	db_txn_abort(txn);
}

int
store_reserve(struct store *s, uint64_t room)
{
	return db_reserve(s->env, room, &s->reserved);
}

int
store_reader_check(struct store *s)
{
	int dead = 0;

	if (db_reader_check(s->env, &dead) != 0)
		return 0;
	return dead;
}

int
store_usage(struct store *s, uint64_t *used, uint64_t *mapsize)
{
	struct db_usage u;
	int rc;

	/* The file's high-water mark, less the pages LMDB has freed for
	 * reuse. */
	if ((rc = db_usage(s->env, true, &u)) != 0)
		return rc;
	*used = u.used;
	*mapsize = u.mapsize;
	return ERROR_OK;
}

/* ------------------------------------------------------------ replay */

int
store_replay_get(struct store *s, MDB_txn *txn,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], struct store_replay *out)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	struct replay_rec r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = mdb_get(txn, s->replay, &k, &v)) != 0)
		return db_error(rc);
	if (v.mv_size != sizeof(r))
		return ERROR_TAMPERED;
	memcpy(&r, v.mv_data, sizeof(r));
	if (r.n_decisions > STORE_MAX_DECISIONS ||
	    memchr(r.sender, '\0', sizeof(r.sender)) == NULL)
		return ERROR_TAMPERED;
	memcpy(out->sender, r.sender, sizeof(out->sender));
	memcpy(out->hash, r.hash, sizeof(out->hash));
	out->created_at_ms = r.created_at_ms;
	out->n_decisions = (size_t)r.n_decisions;
	memcpy(out->decisions, r.decisions, sizeof(out->decisions));
	return ERROR_OK;
}

int
store_replay_put(struct store *s, MDB_txn *txn,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], const struct store_replay *in)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	struct replay_rec r;

	memset(&r, 0, sizeof(r));
	memcpy(r.sender, in->sender, sizeof(r.sender));
	memcpy(r.hash, in->hash, sizeof(r.hash));
	r.created_at_ms = in->created_at_ms;
	r.n_decisions = in->n_decisions;
	memcpy(r.decisions, in->decisions, sizeof(r.decisions));
	v.mv_size = sizeof(r);
	v.mv_data = &r;
	int rc = mdb_put(txn, s->replay, &k, &v, MDB_NOOVERWRITE);
	if (rc != 0)
		return db_error(rc);
	uint8_t tkey[8 + WIRE_MSG_ID_LEN];
	replay_time_key(tkey, in->created_at_ms, msg_id);
	k.mv_size = sizeof(tkey);
	k.mv_data = tkey;
	v.mv_size = 0;
	v.mv_data = NULL;
	return db_error(mdb_put(txn, s->replay_time, &k, &v, 0));
}

int
store_replay_prune(struct store *s, MDB_txn *txn, uint64_t before_ms,
    size_t max, size_t *pruned)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	int rc;

	*pruned = 0;
	if ((rc = mdb_cursor_open(txn, s->replay_time, &c)) != 0)
		return db_error(rc);
	while (n < max && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		MDB_val id;
		if (k.mv_size != 8 + WIRE_MSG_ID_LEN) {
			rc = -1;
			break;
		}
		if (db_be64_get(k.mv_data) >= before_ms)
			break;
		id.mv_size = WIRE_MSG_ID_LEN;
		id.mv_data = (uint8_t *)k.mv_data + 8;
		rc = mdb_del(txn, s->replay, &id, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(c);
	*pruned = n;
	if (rc == -1)
		return ERROR_TAMPERED;
	return rc == 0 || rc == MDB_NOTFOUND ? ERROR_OK : db_error(rc);
}

/* ------------------------------------------------------------- queue */

static size_t
queue_key(uint8_t *k, const char *agency, uint64_t seq)
{
	size_t n = strlen(agency);

	memcpy(k, agency, n);
	k[n] = '\0';
	db_be64_put(k + n + 1, seq);
	return n + 1 + 8;
}

static int
next_seq(struct store *s, MDB_txn *txn, uint64_t *seq)
{
	static const char name[] = "queue_seq";
	MDB_val k = {sizeof(name) - 1, (void *)(uintptr_t)name}, v;
	uint8_t buf[8];
	int rc;

	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		*seq = 1;
	else if (rc != 0)
		return db_error(rc);
	else if (v.mv_size != 8)
		return ERROR_TAMPERED;
	else
		*seq = db_be64_get(v.mv_data);
	db_be64_put(buf, *seq + 1);
	v.mv_size = 8;
	v.mv_data = buf;
	return db_error(mdb_put(txn, s->meta, &k, &v, 0));
}

static int
decode_item(const char *agency, const MDB_val *v, struct store_item *it)
{
	struct item_rec r;

	if (v->mv_size < sizeof(r))
		return ERROR_TAMPERED;
	memcpy(&r, v->mv_data, sizeof(r));
	if ((r.type != STORE_DELIVERY && r.type != STORE_STATUS) ||
	    memchr(r.peer, '\0', sizeof(r.peer)) == NULL)
		return ERROR_TAMPERED;
	memset(it, 0, sizeof(*it));
	it->type = (enum store_item_type)r.type;
	it->state = r.state;
	memcpy(it->msg_id, r.msg_id, WIRE_MSG_ID_LEN);
	snprintf(it->agency, sizeof(it->agency), "%s", agency);
	memcpy(it->peer, r.peer, sizeof(it->peer));
	it->leaf = r.leaf;
	it->expires_ms = r.expires_ms;
	it->at_ms = r.at_ms;
	it->payload = (const uint8_t *)v->mv_data + sizeof(r);
	it->payload_len = v->mv_size - sizeof(r);
	return ERROR_OK;
}

int
store_queue_put(
    struct store *s, MDB_txn *txn, const struct store_item *it, uint64_t *seq)
{
	uint8_t qk[QKEY_MAX], ek[8 + QKEY_MAX];
	MDB_val k, v;
	struct item_rec r;
	size_t qn;
	int rc;

	if (!ident_agency_valid(it->agency))
		return ERROR_INVAL;
	if ((rc = next_seq(s, txn, seq)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.type = (uint8_t)it->type;
	r.state = (uint8_t)it->state;
	memcpy(r.msg_id, it->msg_id, WIRE_MSG_ID_LEN);
	snprintf(r.peer, sizeof(r.peer), "%s", it->peer);
	r.leaf = it->leaf;
	r.expires_ms = it->expires_ms;
	r.at_ms = it->at_ms;

	qn = queue_key(qk, it->agency, *seq);
	k.mv_size = qn;
	k.mv_data = qk;
	v.mv_size = sizeof(r) + it->payload_len;
	/* Reserve, then fill: the payload is copied once, into the map. */
	if ((rc = mdb_put(txn, s->queue, &k, &v, MDB_RESERVE)) != 0)
		return db_error(rc);
	memcpy(v.mv_data, &r, sizeof(r));
	if (it->payload_len > 0)
		memcpy((uint8_t *)v.mv_data + sizeof(r), it->payload,
		    it->payload_len);

	if (it->type == STORE_DELIVERY && it->expires_ms != 0) {
		db_be64_put(ek, it->expires_ms);
		memcpy(ek + 8, qk, qn);
		k.mv_size = 8 + qn;
		k.mv_data = ek;
		v.mv_size = 0;
		v.mv_data = NULL;
		if ((rc = mdb_put(txn, s->expiry, &k, &v, 0)) != 0)
			return db_error(rc);
	}
	return ERROR_OK;
}

int
store_queue_next(struct store *s, MDB_txn *txn, const char *agency,
    uint64_t after, struct store_item *it, uint64_t *seq)
{
	uint8_t qk[QKEY_MAX];
	size_t an = strlen(agency);
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (after == UINT64_MAX)
		return ERROR_NOTFOUND;
	k.mv_size = queue_key(qk, agency, after + 1);
	k.mv_data = qk;
	if ((rc = mdb_cursor_open(txn, s->queue, &c)) != 0)
		return db_error(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 &&
	    (k.mv_size != an + 9 || memcmp(k.mv_data, agency, an + 1) != 0))
		rc = MDB_NOTFOUND; /* past this agency's items */
	if (rc == 0) {
		MDB_val mark;
		*seq = db_be64_get((const uint8_t *)k.mv_data + an + 1);
		rc = decode_item(agency, &v, it);
		if (rc == 0)
			it->delivered_logged =
			    mdb_get(txn, s->sent, &k, &mark) == 0;
		mdb_cursor_close(c);
		return rc;
	}
	mdb_cursor_close(c);
	return db_error(rc);
}

/* Deletes the item at qk with its expiry entry and sent mark. */
static int
remove_item(struct store *s, MDB_txn *txn, const char *agency,
    const uint8_t *qk, size_t qn, struct store_item *it)
{
	uint8_t ek[8 + QKEY_MAX];
	MDB_val k = {qn, (void *)(uintptr_t)qk}, v;
	int rc;

	if ((rc = mdb_get(txn, s->queue, &k, &v)) != 0)
		return db_error(rc);
	if ((rc = decode_item(agency, &v, it)) != 0)
		return rc;
	it->payload = NULL;
	it->payload_len = 0;
	if ((rc = mdb_del(txn, s->queue, &k, NULL)) != 0)
		return db_error(rc);
	rc = mdb_del(txn, s->sent, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_error(rc);
	it->delivered_logged = rc == 0; /* it had the mark */
	if (it->type == STORE_DELIVERY && it->expires_ms != 0) {
		db_be64_put(ek, it->expires_ms);
		memcpy(ek + 8, qk, qn);
		k.mv_size = 8 + qn;
		k.mv_data = ek;
		rc = mdb_del(txn, s->expiry, &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return db_error(rc);
	}
	return ERROR_OK;
}

int
store_queue_take(struct store *s, MDB_txn *txn, const char *agency,
    uint64_t seq, struct store_item *it)
{
	uint8_t qk[QKEY_MAX];

	if (!ident_agency_valid(agency))
		return ERROR_INVAL;
	return remove_item(s, txn, agency, qk, queue_key(qk, agency, seq), it);
}

int
store_queue_mark(
    struct store *s, MDB_txn *txn, const char *agency, uint64_t seq)
{
	uint8_t qk[QKEY_MAX];
	MDB_val k, v = {0, NULL};

	k.mv_size = queue_key(qk, agency, seq);
	k.mv_data = qk;
	return db_error(mdb_put(txn, s->sent, &k, &v, 0));
}

int
store_queue_expire(
    struct store *s, MDB_txn *txn, uint64_t now, struct store_item *it)
{
	uint8_t qk[QKEY_MAX];
	MDB_cursor *c;
	MDB_val k, v;
	size_t qn;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->expiry, &c)) != 0)
		return db_error(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (rc != 0) {
		mdb_cursor_close(c);
		return db_error(rc);
	}
	if (k.mv_size < 8 + 10 || k.mv_size - 8 > sizeof(qk)) {
		mdb_cursor_close(c);
		return ERROR_TAMPERED;
	}
	if (db_be64_get(k.mv_data) > now) {
		mdb_cursor_close(c);
		return ERROR_NOTFOUND;
	}
	qn = k.mv_size - 8;
	memcpy(qk, (const uint8_t *)k.mv_data + 8, qn);
	mdb_cursor_close(c);
	if (memchr(qk, '\0', qn) == NULL)
		return ERROR_TAMPERED;
	return remove_item(s, txn, (const char *)qk, qk, qn, it);
}

int
store_queue_count(
    struct store *s, MDB_txn *txn, const char *agency, uint64_t *n)
{
	struct store_item it;
	uint64_t seq = 0, after = 0;
	int rc;

	*n = 0;
	while ((rc = store_queue_next(s, txn, agency, after, &it, &seq)) == 0) {
		(*n)++;
		after = seq;
	}
	return rc == ERROR_NOTFOUND ? ERROR_OK : rc;
}

/* ------------------------------------------------------------- clock */

static const char qclock_name[] = "queue_clock";

int
store_clock_get(struct store *s, MDB_txn *txn, uint64_t *qclock, uint64_t *wall)
{
	MDB_val k = {sizeof(qclock_name) - 1, (void *)(uintptr_t)qclock_name};
	MDB_val v;
	int rc;

	if ((rc = mdb_get(txn, s->meta, &k, &v)) != 0)
		return db_error(rc);
	if (v.mv_size != 16)
		return ERROR_TAMPERED;
	*qclock = db_be64_get(v.mv_data);
	*wall = db_be64_get((const uint8_t *)v.mv_data + 8);
	return ERROR_OK;
}

int
store_clock_put(struct store *s, MDB_txn *txn, uint64_t qclock, uint64_t wall)
{
	MDB_val k = {sizeof(qclock_name) - 1, (void *)(uintptr_t)qclock_name};
	uint8_t buf[16];
	MDB_val v = {sizeof(buf), buf};

	db_be64_put(buf, qclock);
	db_be64_put(buf + 8, wall);
	return db_error(mdb_put(txn, s->meta, &k, &v, 0));
}

/* -------------------------------------------------------- start check */

/* What the child needs; what it answers is struct store_check. */
struct check_arg {
	const char *dir;
	const char *origin;
	const uint8_t *pk;
	uint64_t at_size;
};

static int say(struct store_check *res, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
say(struct store_check *res, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return rc;
}

static int
replay_entry(const MDB_val *k, const MDB_val *v)
{
	struct replay_rec r;

	if (k->mv_size != WIRE_MSG_ID_LEN || v->mv_size != sizeof(r))
		return ERROR_TAMPERED;
	memcpy(&r, v->mv_data, sizeof(r));
	return r.n_decisions <= STORE_MAX_DECISIONS &&
	        memchr(r.sender, '\0', sizeof(r.sender)) != NULL
	    ? ERROR_OK
	    : ERROR_TAMPERED;
}

static int
queue_entry(const MDB_val *k, const MDB_val *v)
{
	const char *key = k->mv_data;
	char agency[IDENT_AGENCY_MAX + 1];
	struct store_item it;
	size_t an;

	if (k->mv_size < 10 || k->mv_size > QKEY_MAX)
		return ERROR_TAMPERED;
	an = k->mv_size - 9;
	if (key[an] != '\0')
		return ERROR_TAMPERED;
	memcpy(agency, key, an + 1);
	if (!ident_agency_valid(agency))
		return ERROR_TAMPERED;
	return decode_item(agency, v, &it);
}

/* audit_env_walk's check: the broker's own records, decoded. */
static int
record(void *arg, const char *db, const MDB_val *k, const MDB_val *v)
{
	struct store_check *res = arg;
	int rc = ERROR_OK;

	if (strcmp(db, "broker.replay") == 0)
		rc = replay_entry(k, v);
	else if (strcmp(db, "broker.queue") == 0)
		rc = queue_entry(k, v);
	if (rc != 0)
		res->record_fault = true;
	return rc;
}

/* In the child: everything store_check promises, into out. */
static int
check_child(void *argp, void *out, size_t len)
{
	const struct check_arg *arg = argp;
	struct store_check *res = out;
	struct audit_verify_result vr;
	struct audit_head latest;
	enum audit_file_state state;
	struct audit_walk walk;
	struct audit *a = NULL;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	int rc;

	memset(res, 0, len);
	if ((rc = audit_env_check(
	         arg->dir, &state, res->why, sizeof(res->why))) != 0)
		return say(res, rc, "data.mdb: %s", error_strerror(rc));
	if (state == AUDIT_FILE_NONE)
		return ERROR_OK;
	if (state != AUDIT_FILE_OK)
		return ERROR_TAMPERED;
	if ((rc = audit_env_open(arg->dir, 0, AUDIT_RDONLY, &env)) != 0) {
		if (rc == ERROR_TAMPERED)
			say(res, rc, "LMDB refuses data.mdb's meta pages");
		else
			say(res, rc, "cannot open it: %s", error_strerror(rc));
		goto out;
	}
	if ((rc = audit_txn_begin(env, MDB_RDONLY, &txn)) != 0) {
		say(res, rc, "cannot read it: %s", error_strerror(rc));
		goto out;
	}
	rc = audit_open(env, txn, NULL, AUDIT_RDONLY, &a);
	if (rc == ERROR_CONFIG) {
		say(res, rc,
		    "its audit log is in a format this version "
		    "does not read");
		goto out;
	}
	if (rc != 0 && rc != ERROR_NOTFOUND) {
		say(res, rc, "its audit log's records are damaged: %s",
		    error_strerror(rc));
		goto out;
	}
	if (rc == 0) {
		res->has_log = true;
		snprintf(
		    res->origin, sizeof(res->origin), "%s", audit_origin(a));
		if (strcmp(res->origin, arg->origin) != 0) {
			rc = ERROR_CONFIG;
			goto out;
		}
		if ((rc = audit_verify(a, txn, arg->pk, &vr)) != 0) {
			say(res, rc, "%s", vr.why);
			goto out;
		}
		res->leaves = vr.leaves;
		res->checkpoints = vr.checkpoints;
		rc = audit_latest(a, txn, &latest);
		if (rc == 0 && latest.text_len < sizeof(res->latest)) {
			res->has_latest = true;
			memcpy(res->latest, latest.text, latest.text_len);
			res->latest_len = latest.text_len;
		} else if (rc != ERROR_NOTFOUND) {
			say(res, ERROR_TAMPERED, "the latest checkpoint: %s",
			    rc != 0 ? error_strerror(rc) : "too long");
			rc = ERROR_TAMPERED;
			goto out;
		}
		if (arg->at_size <= res->leaves) {
			if ((rc = audit_root(
			         a, txn, arg->at_size, res->root)) != 0) {
				say(res, rc, "the root at size %" PRIu64 ": %s",
				    arg->at_size, error_strerror(rc));
				goto out;
			}
			res->has_root = true;
		}
	}
	rc = audit_env_walk(env, txn, record, res, &walk);
	res->entries = walk.entries;
	res->pages = walk.pages;
	if (rc != 0)
		say(res, rc, "%s", walk.why);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	audit_free(a);
	audit_env_close(env);
	return rc;
}

int
store_check(const char *dir, const char *origin,
    const uint8_t pk[CHECKPOINT_PK_LEN], uint64_t at_size,
    struct store_check *res)
{
	struct check_arg arg = {dir, origin, pk, at_size};
	char words[128];
	int death, rc;

	rc = isolate_run(check_child, &arg, res, sizeof(*res), &death);
	if (death != 0 && !isolate_fault(death))
		return say(res, ERROR_INTERNAL,
		    "the checker was stopped from outside (%s)",
		    isolate_death(death, words, sizeof(words)));
	if (death != 0)
		return say(res, ERROR_TAMPERED,
		    "reading it killed the checker (%s): %s",
		    isolate_death(death, words, sizeof(words)),
		    death == SIGBUS ? "a page it read lies past the end of "
		                      "data.mdb: the file was truncated"
		                    : "LMDB met a page it cannot read");
	return rc;
}
