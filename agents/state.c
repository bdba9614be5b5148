/*
 * The agent's LMDB:
 *
 *	agent.msg   msg_id -> header | file | frame | receipt
 *	agent.file  outbox file name -> msg_id (while the file is in the outbox)
 *	agent.seen  msg_id -> received time (8 bytes)
 *	agent.meta  "checkpoint" -> struct checkpoint
 *
 * Every change is one durable commit: the agent acts on a message only
 * after its state is on disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "agents/state.h"
#include "common/clock.h"
#include "common/fileio.h"

#define MAPSIZE ((size_t)4 << 30)

struct state {
	MDB_env *env;
	MDB_dbi msg, file, seen, meta;
};

struct msg_hdr {
	uint8_t state;
	uint8_t pad;
	uint16_t file_len;
	uint32_t frame_len;
	uint32_t receipt_len;
};

static int
mdb_error(int rc)
{
	switch (rc) {
	case 0:
		return ERROR_OK;
	case MDB_NOTFOUND:
		return ERROR_NOTFOUND;
	case MDB_KEYEXIST:
		return ERROR_EXISTS;
	case MDB_MAP_FULL:
		return ERROR_MAPFULL;
	case ENOSPC:
		return ERROR_NOSPC;
	case EACCES:
		return ERROR_PERM;
	default:
		return ERROR_DB;
	}
}

int
state_open(const char *dir, struct state **out)
{
	struct state *s;
	MDB_txn *txn = NULL;
	int rc, dead;

	*out = NULL;
	if ((rc = fileio_mkdirs(dir, 0700)) != 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ERROR_NOMEM;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, 0, 0600)) != 0)
		goto fail;
	mdb_reader_check(s->env, &dead);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.msg", MDB_CREATE, &s->msg)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.file", MDB_CREATE, &s->file)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.seen", MDB_CREATE, &s->seen)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agent.meta", MDB_CREATE, &s->meta)) != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	*out = s;
	return ERROR_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	state_close(s);
	return mdb_error(rc);
}

void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

void
state_msg_release(struct state_msg *m)
{
	free(m->frame);
	free(m->receipt);
	m->frame = NULL;
	m->receipt = NULL;
}

static int
put_msg(struct state *s, MDB_txn *txn, const struct state_msg *m)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)m->msg_id}, v;
	struct msg_hdr h;
	size_t rlen = m->receipt != NULL ? strlen(m->receipt) : 0;
	uint8_t *p;
	int rc;

	memset(&h, 0, sizeof(h));
	h.state = (uint8_t)m->state;
	h.file_len = (uint16_t)strlen(m->file);
	h.frame_len = (uint32_t)m->frame_len;
	h.receipt_len = (uint32_t)rlen;
	v.mv_size = sizeof(h) + h.file_len + m->frame_len + rlen;
	if ((rc = mdb_put(txn, s->msg, &k, &v, MDB_RESERVE)) != 0)
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
	return 0;
}

static int
get_msg(
    struct state *s, MDB_txn *txn, const uint8_t *msg_id, struct state_msg *m)
{
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	struct msg_hdr h;
	const uint8_t *p;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = mdb_get(txn, s->msg, &k, &v)) != 0)
		return mdb_error(rc);
	if (v.mv_size < sizeof(h))
		return ERROR_TAMPERED;
	memcpy(&h, v.mv_data, sizeof(h));
	if (sizeof(h) + (size_t)h.file_len + h.frame_len + h.receipt_len !=
	        v.mv_size ||
	    h.file_len >= STATE_NAME_MAX)
		return ERROR_TAMPERED;
	p = (const uint8_t *)v.mv_data + sizeof(h);
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
	if (h.receipt_len == 0) {
		free(m->receipt);
		m->receipt = NULL;
	}
	return ERROR_OK;
}

int
state_put_msgs(
    struct state *s, const struct state_msg *ms, size_t n, int *results)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mdb_error(rc);
	for (size_t i = 0; i < n; i++) {
		const struct state_msg *m = &ms[i];
		MDB_val k = {strlen(m->file), (void *)(uintptr_t)m->file};
		MDB_val v = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)m->msg_id};

		results[i] = ERROR_INVAL;
		if (k.mv_size == 0 || k.mv_size >= STATE_NAME_MAX)
			continue;
		rc = mdb_put(txn, s->file, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			results[i] = ERROR_EXISTS; /* the txn stays usable */
			continue;
		}
		if (rc == 0)
			rc = put_msg(s, txn, m);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return mdb_error(rc);
		}
		results[i] = ERROR_OK;
	}
	return mdb_error(mdb_txn_commit(txn));
}

int
state_update_msg(struct state *s, const struct state_msg *m)
{
	struct state_msg old;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mdb_error(rc);
	if ((rc = get_msg(s, txn, m->msg_id, &old)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* Keep the stored frame and name; take the new state. */
	struct state_msg upd = old;
	upd.state = m->state;
	upd.receipt = m->receipt != NULL ? m->receipt : old.receipt;
	rc = put_msg(s, txn, &upd);
	state_msg_release(&old);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_error(rc);
	}
	return mdb_error(mdb_txn_commit(txn));
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
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_error(rc);
	rc = mdb_get(txn, s->file, &k, &v);
	if (rc == 0 && v.mv_size == WIRE_MSG_ID_LEN) {
		memcpy(id, v.mv_data, WIRE_MSG_ID_LEN);
		rc = get_msg(s, txn, id, m);
	} else {
		rc = rc != 0 ? mdb_error(rc) : ERROR_TAMPERED;
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

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_error(rc);
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
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
		free(ids);
		return mdb_error(rc);
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
	MDB_txn *txn;
	MDB_val k = {strlen(name), (void *)(uintptr_t)name};
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mdb_error(rc);
	rc = mdb_del(txn, s->file, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return mdb_error(rc);
	}
	return mdb_error(mdb_txn_commit(txn));
}

int
state_seen(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN], bool *seen)
{
	MDB_txn *txn;
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id}, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_error(rc);
	rc = mdb_get(txn, s->seen, &k, &v);
	mdb_txn_abort(txn);
	*seen = rc == 0;
	return rc == 0 || rc == MDB_NOTFOUND ? ERROR_OK : mdb_error(rc);
}

int
state_mark_seen(struct state *s, const uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	MDB_txn *txn;
	uint64_t now = clock_now_ms();
	MDB_val k = {WIRE_MSG_ID_LEN, (void *)(uintptr_t)msg_id};
	MDB_val v = {sizeof(now), &now};
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mdb_error(rc);
	if ((rc = mdb_put(txn, s->seen, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return mdb_error(rc);
	}
	return mdb_error(mdb_txn_commit(txn));
}

static const char cp_key[] = "checkpoint";

int
state_get_checkpoint(struct state *s, struct checkpoint *cp)
{
	MDB_txn *txn;
	MDB_val k = {sizeof(cp_key) - 1, (void *)(uintptr_t)cp_key}, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_error(rc);
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(*cp))
		memcpy(cp, v.mv_data, sizeof(*cp));
	else if (rc == 0)
		rc = -1;
	mdb_txn_abort(txn);
	if (rc == -1)
		return ERROR_TAMPERED;
	return mdb_error(rc);
}

int
state_put_checkpoint(struct state *s, const struct checkpoint *cp)
{
	MDB_txn *txn;
	MDB_val k = {sizeof(cp_key) - 1, (void *)(uintptr_t)cp_key};
	MDB_val v = {sizeof(*cp), (void *)(uintptr_t)cp};
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mdb_error(rc);
	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return mdb_error(rc);
	}
	return mdb_error(mdb_txn_commit(txn));
}
