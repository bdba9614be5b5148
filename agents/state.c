/*
 * The agent's LMDB:
 *
 *	agent.msg    msg_id -> header | file | frame | receipt | waiting | prev
 *	agent.file   outbox file name -> msg_id (while the file is in the
 *outbox) agent.seen   msg_id -> received time (8 bytes) agent.meta "checkpoint"
 *-> struct checkpoint agent.prune  kind | time (8 bytes, big-endian) | msg_id
 *-> (empty)
 *
 * agent.prune orders what may go, by kind and time: 'd' a sent message
 * done (final, no status report awaited) at that time; 'f' a sent message
 * final at that time (for the retention); 's' a msg_id seen then. An entry
 * whose record is already gone is simply dropped when its turn comes.
 *
 * Every change is one durable commit: the agent acts on a message only
 * after its state is on disk. Used by the agent's loop (agent.c), outbox.c
 * and inbox.c. The environment's rules (DESIGN.md §9) are db/'s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/state.h"
#include "agents/state_int.h"
#include "common/clock.h"
#include "db/db.h"

#define MAP_MIN ((uint64_t)1 << 20)

#define PRUNE_DONE  'd'
#define PRUNE_FINAL 'f'
#define PRUNE_SEEN  's'
#define PRUNE_KEY   (1 + 8 + WIRE_MSG_ID_LEN)

/*
 * A record's header. Version 0 (the first agents) ends after receipt_len
 * and is followed by file, frame and receipt alone; it is still read.
 */
struct msg_hdr {
	uint8_t state;
	uint8_t version;
	uint16_t file_len;
	uint32_t frame_len;
	uint32_t receipt_len;
	/* version 1 */
	uint8_t n_waiting; /* or STATE_WAITING_UNKNOWN */
	uint8_t n_prev;
	uint16_t reserved;
	uint64_t sealed_at_ms;
	uint64_t final_at_ms;
	uint8_t superseded_by[WIRE_MSG_ID_LEN];
};

#define HDR_V0 12
#define HDR_V1 sizeof(struct msg_hdr)
#define WAIT_W (IDENT_AGENCY_MAX + 1)

/*
 * The project error for an LMDB or errno result: db_error, with one rule
 * of the agent's own. Every way storage runs out (the map, the disk, a
 * quota, and a commit too big for LMDB, MDB_TXN_FULL, which db_error
 * calls ERROR_TOOBIG) is a storage-full error, which the agent waits out
 * (DESIGN.md §9); never "database error", and never a record refused as
 * too big. rc may be a project error already (put_msg's checks).
 */
static int
to_error(int rc)
{
	return rc == MDB_TXN_FULL ? ERROR_MAPFULL : db_error(rc);
}

/*
 * Commits txn; the project error. A write the file system cut short on a
 * full disk is ERROR_NOSPC (db_txn_commit).
 */
static int
commit(MDB_txn *txn)
{
	int rc = db_txn_commit(txn);

	return rc == ERROR_TOOBIG ? ERROR_MAPFULL : rc; /* MDB_TXN_FULL */
}

/* Aborts txn unless rc is 0, then commits; the project error. */
static int
finish_txn(MDB_txn *txn, int rc)
{
	if (rc != 0) {
		mdb_txn_abort(txn);
		return to_error(rc);
	}
	return commit(txn);
}

int
state_open(const char *dir, uint64_t map_size, struct state **out)
{
	/*
	 * A kill during LMDB's creation of the store may leave data.mdb of
	 * 0 bytes: for the agent's state that is a new store, as LMDB takes
	 * it (the audit log refuses it).
	 */
	struct db_open o = {
	    .mapsize = (size_t)map_size,
	    .maxdbs = 8,
	    .flags = DB_EMPTY_NEW,
	};
	struct state *s;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (map_size < MAP_MIN)
		return ERROR_INVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ERROR_NOMEM;
	if ((rc = db_env_open(dir, &o, &s->env)) != 0 ||
	    (rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "agent.msg", MDB_CREATE, &s->msg)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.file", MDB_CREATE, &s->file)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.seen", MDB_CREATE, &s->seen)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.meta", MDB_CREATE, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.prune", MDB_CREATE, &s->prune)) != 0)
		goto fail;
	rc = commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	*out = s;
	return ERROR_OK;
fail:
	db_txn_abort(txn);
	state_close(s);
	return to_error(rc);
}

void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	db_env_close(s->env);
	free(s);
}

int
state_set_map_size(struct state *s, uint64_t map_size)
{
	if (map_size < MAP_MIN)
		return ERROR_INVAL;
	return to_error(mdb_env_set_mapsize(s->env, (size_t)map_size));
}

int
state_reader_check(struct state *s, int *dead)
{
	return db_reader_check(s->env, dead);
}

int
state_usage(struct state *s, uint64_t *used, uint64_t *map_size)
{
	struct db_usage u;
	int rc;

	/* Pages written, less those on LMDB's free list. */
	if ((rc = db_usage(s->env, true, &u)) != 0)
		return rc;
	*used = u.used;
	*map_size = u.mapsize;
	return ERROR_OK;
}

void
state_msg_release(struct state_msg *m)
{
	free(m->frame);
	free(m->receipt);
	m->frame = NULL;
	m->receipt = NULL;
}

static void
prune_key(uint8_t k[PRUNE_KEY], char kind, uint64_t t, const uint8_t *id)
{
	k[0] = (uint8_t)kind;
	db_be64_put(k + 1, t);
	memcpy(k + 9, id, WIRE_MSG_ID_LEN);
}

static int
prune_put(
    struct state *s, MDB_txn *txn, char kind, uint64_t t, const uint8_t *id)
{
	uint8_t key[PRUNE_KEY];
	MDB_val k = {sizeof(key), key}, v = {0, NULL};

	prune_key(key, kind, t, id);
	return mdb_put(txn, s->prune, &k, &v, 0);
}

static int
put_msg(
    struct state *s, MDB_txn *txn, const struct state_msg *m, unsigned flags)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)m->msg_id}, v;
	struct msg_hdr h;
	size_t rlen = m->receipt != NULL ? strlen(m->receipt) : 0;
	size_t nw = m->n_waiting == STATE_WAITING_UNKNOWN ? 0 : m->n_waiting;
	uint8_t *p;
	int rc;

	if (strlen(m->file) >= STATE_NAME_MAX || nw > WIRE_MAX_RECIPIENTS ||
	    m->n_prev > STATE_MAX_PREV || m->frame_len > UINT32_MAX ||
	    rlen > UINT32_MAX)
		return ERROR_INVAL;
	memset(&h, 0, sizeof(h));
	h.state = (uint8_t)m->state;
	h.version = 1;
	h.file_len = (uint16_t)strlen(m->file);
	h.frame_len = (uint32_t)m->frame_len;
	h.receipt_len = (uint32_t)rlen;
	h.n_waiting = (uint8_t)m->n_waiting;
	h.n_prev = (uint8_t)m->n_prev;
	h.sealed_at_ms = m->sealed_at_ms;
	h.final_at_ms = m->final_at_ms;
	memcpy(h.superseded_by, m->superseded_by, WIRE_MSG_ID_LEN);
	v.mv_size = sizeof(h) + h.file_len + m->frame_len + rlen + nw * WAIT_W +
	    m->n_prev * WIRE_MSG_ID_LEN;
	if ((rc = mdb_put(txn, s->msg, &k, &v, flags | MDB_RESERVE)) != 0)
		return rc;
	p = v.mv_data;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, m->file, h.file_len);
	p += h.file_len;
	if (m->frame_len > 0)
		memcpy(p, m->frame, m->frame_len);
	p += m->frame_len;
	if (rlen > 0)
		memcpy(p, m->receipt, rlen);
	p += rlen;
	for (size_t i = 0; i < nw; i++, p += WAIT_W) {
		memset(p, 0, WAIT_W);
		memcpy(p, m->waiting[i], strnlen(m->waiting[i], WAIT_W - 1));
	}
	if (m->n_prev > 0)
		memcpy(p, m->prev, m->n_prev * WIRE_MSG_ID_LEN);
	return 0;
}

static int
get_msg(
    struct state *s, MDB_txn *txn, const uint8_t *msg_id, struct state_msg *m)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	struct msg_hdr h;
	const uint8_t *p;
	size_t hlen, nw;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = mdb_get(txn, s->msg, &k, &v)) != 0)
		return to_error(rc);
	memset(&h, 0, sizeof(h));
	if (v.mv_size < HDR_V0)
		return ERROR_TAMPERED;
	memcpy(&h, v.mv_data, HDR_V0);
	if (h.version == 1 && v.mv_size >= HDR_V1)
		memcpy(&h, v.mv_data, HDR_V1);
	else if (h.version != 0)
		return ERROR_TAMPERED;
	hlen = h.version == 0 ? HDR_V0 : HDR_V1;
	nw = h.n_waiting == STATE_WAITING_UNKNOWN ? 0 : h.n_waiting;
	if (hlen + (size_t)h.file_len + h.frame_len + h.receipt_len +
	            nw * WAIT_W + (size_t)h.n_prev * WIRE_MSG_ID_LEN !=
	        v.mv_size ||
	    h.file_len >= STATE_NAME_MAX || nw > WIRE_MAX_RECIPIENTS ||
	    h.n_prev > STATE_MAX_PREV)
		return ERROR_TAMPERED;
	p = (const uint8_t *)v.mv_data + hlen;
	memcpy(m->msg_id, msg_id, WIRE_MSG_ID_LEN);
	m->state = h.state;
	memcpy(m->file, p, h.file_len);
	m->file[h.file_len] = '\0';
	p += h.file_len;
	m->frame = malloc(h.frame_len ? h.frame_len : 1);
	m->receipt = malloc((size_t)h.receipt_len + 1);
	if (m->frame == NULL || m->receipt == NULL) {
		state_msg_release(m);
		return ERROR_NOMEM;
	}
	memcpy(m->frame, p, h.frame_len);
	m->frame_len = h.frame_len;
	p += h.frame_len;
	memcpy(m->receipt, p, h.receipt_len);
	m->receipt[h.receipt_len] = '\0';
	p += h.receipt_len;
	if (h.receipt_len == 0) {
		free(m->receipt);
		m->receipt = NULL;
	}
	m->sealed_at_ms = h.sealed_at_ms;
	m->final_at_ms = h.final_at_ms;
	m->n_waiting = h.n_waiting;
	for (size_t i = 0; i < nw; i++, p += WAIT_W) {
		memcpy(m->waiting[i], p, WAIT_W);
		m->waiting[i][WAIT_W - 1] = '\0';
	}
	m->n_prev = h.n_prev;
	memcpy(m->prev, p, (size_t)h.n_prev * WIRE_MSG_ID_LEN);
	memcpy(m->superseded_by, h.superseded_by, WIRE_MSG_ID_LEN);
	return ERROR_OK;
}

/* True when the file named in m leads to m (its move is unfinished). */
static bool
file_open(struct state *s, MDB_txn *txn, const struct state_msg *m)
{
	MDB_val k = {strlen(m->file), (void *)(uintptr_t)m->file}, v;

	return k.mv_size > 0 && mdb_get(txn, s->file, &k, &v) == 0 &&
	    v.mv_size == WIRE_MSG_ID_LEN &&
	    memcmp(v.mv_data, m->msg_id, WIRE_MSG_ID_LEN) == 0;
}

int
state_put_msgs(
    struct state *s, const struct state_msg *ms, size_t n, int *results)
{
	uint64_t now = clock_now_ms();
	MDB_txn *txn;
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct state_msg m = ms[i]; /* shallow: nothing to free */
		MDB_val k = {strlen(m.file), (void *)(uintptr_t)m.file};
		MDB_val v = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)m.msg_id};

		results[i] = ERROR_INVAL;
		if (k.mv_size == 0 || k.mv_size >= STATE_NAME_MAX)
			continue;
		rc = mdb_put(txn, s->file, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			results[i] = ERROR_EXISTS; /* the txn stays usable */
			continue;
		}
		if (m.sealed_at_ms == 0)
			m.sealed_at_ms = now;
		if (rc == 0)
			rc = put_msg(s, txn, &m, 0);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return to_error(rc);
		}
		results[i] = ERROR_OK;
	}
	return commit(txn);
}

/*
 * The writes of one state_apply operation inside txn. Each returns what
 * must abort the whole commit (a write's result); what only makes the
 * operation fail (it is not there, not final, damaged) goes to *op.
 */
static int
finish_in(struct state *s, MDB_txn *txn, const struct state_msg *m,
    uint64_t now_ms, int *op)
{
	struct state_msg old, upd;
	int rc;

	if (m->state != STATE_ACCEPTED && m->state != STATE_REJECTED) {
		*op = ERROR_INVAL;
		return 0;
	}
	if ((*op = get_msg(s, txn, m->msg_id, &old)) != 0)
		return 0;
	/* Keep the name; drop the frame: nothing will send it again. */
	upd = old;
	upd.state = m->state;
	upd.frame_len = 0;
	upd.receipt = m->receipt != NULL ? m->receipt : old.receipt;
	upd.final_at_ms = now_ms;
	upd.n_waiting = m->n_waiting;
	memcpy(upd.waiting, m->waiting, sizeof(upd.waiting));
	rc = put_msg(s, txn, &upd, 0);
	if (rc == 0)
		rc = prune_put(s, txn, PRUNE_FINAL, now_ms, m->msg_id);
	if (rc == 0 && upd.n_waiting == 0)
		rc = prune_put(s, txn, PRUNE_DONE, now_ms, m->msg_id);
	state_msg_release(&old);
	return rc;
}

static int
status_in(struct state *s, MDB_txn *txn, const uint8_t *msg_id,
    const char *recipient, uint64_t now_ms, int *op)
{
	struct state_msg m;
	size_t i;
	int rc;

	if ((*op = get_msg(s, txn, msg_id, &m)) != 0)
		return 0;
	for (i = 0; m.state == STATE_ACCEPTED &&
	     m.n_waiting != STATE_WAITING_UNKNOWN && i < m.n_waiting;
	     i++)
		if (strcmp(m.waiting[i], recipient) == 0)
			break;
	if (m.state != STATE_ACCEPTED || m.n_waiting == STATE_WAITING_UNKNOWN ||
	    i == m.n_waiting) {
		state_msg_release(&m);
		return 0; /* nothing waited for it */
	}
	memmove(m.waiting[i], m.waiting[i + 1],
	    (m.n_waiting - i - 1) * sizeof(m.waiting[0]));
	m.n_waiting--;
	rc = put_msg(s, txn, &m, 0);
	if (rc == 0 && m.n_waiting == 0)
		rc = prune_put(s, txn, PRUNE_DONE, now_ms, msg_id);
	state_msg_release(&m);
	return rc;
}

static int
seen_in(struct state *s, MDB_txn *txn, const uint8_t *msg_id, uint64_t now_ms)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id};
	MDB_val v = {sizeof(now_ms), &now_ms};
	int rc = mdb_put(txn, s->seen, &k, &v, 0);

	return rc != 0 ? rc : prune_put(s, txn, PRUNE_SEEN, now_ms, msg_id);
}

static int
close_in(struct state *s, MDB_txn *txn, const char *name)
{
	struct state_msg m;
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, v;
	uint8_t id[WIRE_MSG_ID_LEN];
	int rc;

	rc = mdb_get(txn, s->file, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != WIRE_MSG_ID_LEN)
		return mdb_del(txn, s->file, &k, NULL);
	memcpy(id, v.mv_data, WIRE_MSG_ID_LEN);
	if ((rc = mdb_del(txn, s->file, &k, NULL)) != 0)
		return rc;
	/* The receipt is in sent/ or failed/ now: keep the rest. */
	if (get_msg(s, txn, id, &m) == 0) {
		if (m.state != STATE_PENDING && m.receipt != NULL) {
			free(m.receipt);
			m.receipt = NULL;
			m.frame_len = 0;
			rc = put_msg(s, txn, &m, 0);
		}
		state_msg_release(&m);
	}
	return rc;
}

int
state_apply(struct state *s, struct state_op *ops, size_t n, uint64_t now_ms)
{
	MDB_txn *txn;
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct state_op *o = &ops[i];

		o->rc = ERROR_OK;
		switch (o->kind) {
		case STATE_OP_FINISH:
			rc = finish_in(s, txn, o->m, now_ms, &o->rc);
			break;
		case STATE_OP_STATUS:
			if (o->final)
				rc = status_in(s, txn, o->msg_id, o->recipient,
				    now_ms, &o->rc);
			break;
		case STATE_OP_CLOSE:
			rc = close_in(s, txn, o->file);
			break;
		case STATE_OP_SEEN:
			rc = seen_in(s, txn, o->msg_id, now_ms);
			break;
		default:
			o->rc = ERROR_INVAL;
			break;
		}
	}
	return finish_txn(txn, rc);
}

/* One operation, in a commit of its own; its result. */
static int
apply_one(struct state *s, struct state_op *o, uint64_t now_ms)
{
	int rc = state_apply(s, o, 1, now_ms);

	return rc != 0 ? rc : o->rc;
}

int
state_finish_msg(struct state *s, const struct state_msg *m, uint64_t now_ms)
{
	struct state_op o = {.kind = STATE_OP_FINISH, .m = m};

	return apply_one(s, &o, now_ms);
}

int
state_supersede(struct state *s, const struct state_msg *old,
    const struct state_msg *next, uint64_t now_ms)
{
	struct state_msg cur, nx = *next;
	MDB_txn *txn;
	MDB_val k = {strlen(old->file), (void *)(uintptr_t)old->file};
	MDB_val v = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)next->msg_id};
	int rc;

	if (strcmp(old->file, next->file) != 0)
		return ERROR_INVAL;
	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = get_msg(s, txn, old->msg_id, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if (cur.state != STATE_PENDING || !file_open(s, txn, &cur)) {
		state_msg_release(&cur);
		mdb_txn_abort(txn);
		return ERROR_EXISTS;
	}
	if (nx.sealed_at_ms == 0)
		nx.sealed_at_ms = now_ms;
	rc = put_msg(s, txn, &nx, MDB_NOOVERWRITE);
	if (rc == 0)
		rc = mdb_put(txn, s->file, &k, &v, 0);
	if (rc == 0) {
		cur.state = STATE_SUPERSEDED;
		cur.frame_len = 0;
		free(cur.receipt);
		cur.receipt = NULL;
		cur.final_at_ms = now_ms;
		cur.n_waiting = 0;
		memcpy(cur.superseded_by, next->msg_id, WIRE_MSG_ID_LEN);
		struct state_msg put = cur;
		put.receipt = old->receipt;
		rc = put_msg(s, txn, &put, 0);
	}
	/* Kept while its successor is: the record of what replaced what. */
	if (rc == 0)
		rc = prune_put(s, txn, PRUNE_FINAL, now_ms, old->msg_id);
	state_msg_release(&cur);
	return finish_txn(txn, rc);
}

int
state_status(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, bool final, uint64_t now_ms)
{
	struct state_op o = {.kind = STATE_OP_STATUS,
	    .msg_id = msg_id,
	    .recipient = recipient,
	    .final = final};

	if (!final)
		return ERROR_OK;
	return apply_one(s, &o, now_ms);
}

int
state_find_file(struct state *s, const char *name, struct state_msg *m)
{
	MDB_txn *txn;
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, v;
	uint8_t id[WIRE_MSG_ID_LEN];
	int rc;

	memset(m, 0, sizeof(*m));
	if (k.mv_size == 0 || k.mv_size >= STATE_NAME_MAX)
		return ERROR_NOTFOUND;
	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, s->file, &k, &v);
	if (rc == 0 && v.mv_size == WIRE_MSG_ID_LEN) {
		memcpy(id, v.mv_data, WIRE_MSG_ID_LEN);
		rc = get_msg(s, txn, id, m);
	} else {
		rc = rc != 0 ? to_error(rc) : ERROR_TAMPERED;
	}
	mdb_txn_abort(txn);
	return rc;
}

int
state_get_msg(
    struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN], struct state_msg *m)
{
	MDB_txn *txn;
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = get_msg(s, txn, msg_id, m);
	mdb_txn_abort(txn);
	return rc;
}

int
state_each_open(
    struct state *s, int (*fn)(void *arg, const struct state_msg *m), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0, cap = 64;
	uint8_t(*ids)[WIRE_MSG_ID_LEN] = malloc(cap * WIRE_MSG_ID_LEN);
	int rc;

	if (ids == NULL)
		return ERROR_NOMEM;
	/* Collect first: fn may write, which a read cursor must not see. */
	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
		free(ids);
		return rc;
	}
	if ((rc = mdb_cursor_open(txn, s->file, &c)) == 0) {
		while ((rc = mdb_cursor_get(
		            c, &k, &v, n ? MDB_NEXT : MDB_FIRST)) == 0) {
			if (v.mv_size != WIRE_MSG_ID_LEN)
				continue;
			if (n == cap) {
				void *g =
				    realloc(ids, 2 * cap * WIRE_MSG_ID_LEN);
				if (g == NULL)
					break;
				ids = g;
				cap *= 2;
			}
			memcpy(ids[n++], v.mv_data, WIRE_MSG_ID_LEN);
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	rc = ERROR_OK;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct state_msg m;
		if (state_get_msg(s, ids[i], &m) != 0)
			continue;
		rc = fn(arg, &m);
		state_msg_release(&m);
	}
	free(ids);
	return rc;
}

int
state_close_file(struct state *s, const char *name)
{
	struct state_op o = {.kind = STATE_OP_CLOSE, .file = name};

	return apply_one(s, &o, 0);
}

int
state_seen(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN], bool *seen)
{
	MDB_txn *txn;
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, s->seen, &k, &v);
	mdb_txn_abort(txn);
	*seen = rc == 0;
	return rc == 0 || rc == MDB_NOTFOUND ? ERROR_OK : to_error(rc);
}

/*
 * Walks the prune entries of kind up to time until (inclusive), deleting
 * what may go, at most *budget deletions. Returns an LMDB result.
 */
static int
prune_kind(struct state *s, MDB_txn *txn, char kind, uint64_t until,
    size_t *budget, size_t *count)
{
	static const uint8_t zero[WIRE_MSG_ID_LEN];
	uint8_t start[PRUNE_KEY];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op = MDB_SET_RANGE;

	prune_key(start, kind, 0, zero);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	if ((rc = mdb_cursor_open(txn, s->prune, &c)) != 0)
		return rc;
	while (*budget > 0 && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		const uint8_t *key = k.mv_data;
		uint8_t id[WIRE_MSG_ID_LEN];
		uint64_t t;

		op = MDB_NEXT;
		if (k.mv_size != PRUNE_KEY || key[0] != (uint8_t)kind)
			break;
		t = db_be64_get(key + 1);
		if (t > until)
			break;
		memcpy(id, key + 9, WIRE_MSG_ID_LEN);
		MDB_val ik = {WIRE_MSG_ID_LEN, id};
		if (kind == PRUNE_SEEN) {
			rc = mdb_del(txn, s->seen, &ik, NULL);
			if (rc == 0)
				(*count)++;
		} else {
			struct state_msg m;
			int g = get_msg(s, txn, id, &m);
			/* An unfinished move keeps its record and entry. */
			bool keep = g == 0 &&
			    (m.state == STATE_PENDING || file_open(s, txn, &m));
			if (g == 0)
				state_msg_release(&m);
			if (keep)
				continue;
			rc = g == 0 ? mdb_del(txn, s->msg, &ik, NULL)
			            : MDB_NOTFOUND;
			if (rc == 0)
				(*count)++;
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*budget)--;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
state_prune(struct state *s, uint64_t now_ms, uint64_t sent_keep_ms,
    uint64_t seen_keep_ms, size_t limit, struct state_pruned *out)
{
	MDB_txn *txn;
	size_t budget = limit;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	rc = 0;
	if (now_ms >= STATE_DONE_GRACE_MS)
		rc = prune_kind(s, txn, PRUNE_DONE,
		    now_ms - STATE_DONE_GRACE_MS, &budget, &out->msgs);
	if (rc == 0 && now_ms >= sent_keep_ms)
		rc = prune_kind(s, txn, PRUNE_FINAL, now_ms - sent_keep_ms,
		    &budget, &out->msgs);
	if (rc == 0 && now_ms >= seen_keep_ms)
		rc = prune_kind(s, txn, PRUNE_SEEN, now_ms - seen_keep_ms,
		    &budget, &out->seen);
	out->more = budget == 0;
	if (rc == 0 && budget == limit) {
		mdb_txn_abort(txn); /* nothing to write */
		return ERROR_OK;
	}
	return finish_txn(txn, rc);
}

int
state_probe(struct state *s, size_t bytes)
{
	static const char key[] = "probe";
	MDB_txn *txn;
	MDB_val k = {sizeof(key) - 1, (void *)(uintptr_t)key}, v;
	uint64_t now = clock_now_ms();
	int rc;

	if (bytes < sizeof(now) || bytes > 64 * 1024)
		return ERROR_INVAL;
	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	v.mv_size = bytes;
	/* Rewritten each time, so the commit needs fresh pages. */
	if ((rc = mdb_put(txn, s->meta, &k, &v, MDB_RESERVE)) == 0) {
		memset(v.mv_data, 0, bytes);
		memcpy(v.mv_data, &now, sizeof(now));
	}
	return finish_txn(txn, rc);
}

static const char cp_key[] = "checkpoint";

int
state_get_checkpoint(struct state *s, struct checkpoint *cp)
{
	MDB_txn *txn;
	MDB_val k = {sizeof(cp_key) - 1, (void *)(uintptr_t)cp_key}, v;
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(*cp))
		memcpy(cp, v.mv_data, sizeof(*cp));
	else if (rc == 0)
		rc = -1;
	mdb_txn_abort(txn);
	if (rc == -1)
		return ERROR_TAMPERED;
	return to_error(rc);
}

int
state_put_checkpoint(struct state *s, const struct checkpoint *cp)
{
	MDB_txn *txn;
	MDB_val k = {sizeof(cp_key) - 1, (void *)(uintptr_t)cp_key};
	MDB_val v = {sizeof(*cp), (void *)(uintptr_t)cp};
	int rc;

	if ((rc = db_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	return finish_txn(txn, mdb_put(txn, s->meta, &k, &v, 0));
}
