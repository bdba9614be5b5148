/*
 * The audit log's indexes (DESIGN.md §7, §11): writing them, checking them
 * against the leaves (audit_verify_indexes) and rebuilding them
 * (audit_reindex). audit_append indexes leaves in batches, once a->lag of
 * them wait, in the caller's transaction; queries read the leaves not yet
 * indexed one by one.
 *
 * The agency, purpose, rule, type and time indexes take a batch's entries
 * directly: their keys are few, or rising, so a batch dirties a few pages.
 * The subject and msg_id indexes are keyed by values that are random by
 * nature, where a put per entry would dirty a page per key and a commit
 * would write megabytes. Their entries go instead into sorted runs, as in
 * a log-structured merge tree: a batch's entries, sorted, are appended
 * behind the batch's run prefix,
 *
 *	key = be64 end || u8 level || subject_ref or msg_id, value be64 seq
 *
 * so they fill fresh pages in order. A run holds the entries of leaves
 * start .. end-1; the runs tile leaves 0 .. indexed-1, oldest first, and
 * are listed in audit.meta under "run" || be64 end || u8 level -> be64
 * start. AUDIT_RUN_FANIN runs of one level are merged into one run of the
 * next, up to level AUDIT_RUN_LEVELS - 1, so a lookup probes a few dozen
 * runs at a million leaves and a run of a level is rewritten once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_int.h"

/* The two indexes kept in runs, with the length of their keys. */
static const struct {
	enum audit_db db;
	size_t keylen;
} run_dbs[] = {
    {DB_SUBJECT, WIRE_REF_LEN},
    {DB_MSGID, WIRE_MSG_ID_LEN},
};
#define RUN_DBS (sizeof(run_dbs) / sizeof(run_dbs[0]))

/* One entry of a run: a key (msg_id: zero padded) and a leaf index. */
struct posting {
	uint8_t key[WIRE_REF_LEN];
	uint64_t seq;
};

struct postings {
	struct posting *p;
	size_t n, cap;
};

_Static_assert(WIRE_MSG_ID_LEN <= WIRE_REF_LEN, "a posting holds a msg_id");

static int
postings_add(
    struct postings *ps, const uint8_t *key, size_t keylen, uint64_t seq)
{
	struct posting *grown;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 256;
		if ((grown = realloc(ps->p, cap * sizeof(*grown))) == NULL)
			return ERROR_NOMEM;
		ps->p = grown;
		ps->cap = cap;
	}
	memset(ps->p[ps->n].key, 0, sizeof(ps->p[ps->n].key));
	memcpy(ps->p[ps->n].key, key, keylen);
	ps->p[ps->n++].seq = seq;
	return ERROR_OK;
}

static int
cmp_posting(const void *x, const void *y)
{
	const struct posting *a = x, *b = y;
	/* random keys: the first eight bytes nearly always decide */
	uint64_t ka = db_be64_get(a->key), kb = db_be64_get(b->key);
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	c = memcmp(a->key + 8, b->key + 8, sizeof(a->key) - 8);
	return c != 0 ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* ----------------------------------------------------------- the runs */

static void
run_dir_key(uint8_t out[AUDIT_RUN_DIR_KEY], const struct audit_run *r)
{
	memcpy(out, AUDIT_RUN_DIR_PREFIX, 3);
	audit_run_hdr(out + 3, r);
}

int
audit_runs(struct audit *a, MDB_txn *txn, uint64_t indexed,
    struct audit_run **out, size_t *n)
{
	struct audit_run *runs = NULL, *grown;
	MDB_cursor *c;
	MDB_val k = {3, (void *)(uintptr_t)AUDIT_RUN_DIR_PREFIX}, v;
	size_t count = 0, cap = 0;
	uint64_t next = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_META], &c)) != 0)
		return db_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;
		struct audit_run r;
		if (k.mv_size < 3 || memcmp(key, AUDIT_RUN_DIR_PREFIX, 3) != 0)
			break;
		if (k.mv_size != AUDIT_RUN_DIR_KEY || v.mv_size != 8) {
			rc = ERROR_TAMPERED;
			goto out;
		}
		r.end = db_be64_get(key + 3);
		r.level = key[11];
		r.start = db_be64_get(v.mv_data);
		/* The runs tile the indexed leaves, in order. */
		if (r.start != next || r.end <= r.start || r.end > indexed ||
		    r.level >= AUDIT_RUN_LEVELS) {
			rc = ERROR_TAMPERED;
			goto out;
		}
		next = r.end;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(runs, cap * sizeof(*runs))) ==
			    NULL) {
				rc = ERROR_NOMEM;
				goto out;
			}
			runs = grown;
		}
		runs[count++] = r;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		rc = db_error(rc);
		goto out;
	}
	rc = next == indexed ? ERROR_OK : ERROR_TAMPERED;
out:
	mdb_cursor_close(c);
	if (rc != 0) {
		free(runs);
		return rc;
	}
	*out = runs;
	*n = count;
	return ERROR_OK;
}

/*
 * Stores run r with the entries ps[i] of run_dbs[i], sorting them. Every
 * key is appended: r's prefix sorts after every stored run's (a larger
 * end, or the same end at a higher level than the runs r replaces).
 */
static int
run_write(struct audit *a, MDB_txn *txn, const struct audit_run *r,
    struct postings ps[RUN_DBS])
{
	uint8_t key[AUDIT_RUN_HDR + WIRE_REF_LEN], seq[8],
	    dir[AUDIT_RUN_DIR_KEY];
	MDB_val k, v = {sizeof(seq), seq};
	int rc = 0;

	audit_run_hdr(key, r);
	for (size_t d = 0; d < RUN_DBS; d++) {
		const struct posting *prev = NULL;
		MDB_cursor *c;
		k.mv_size = AUDIT_RUN_HDR + run_dbs[d].keylen;
		k.mv_data = key;
		if (ps[d].n > 1)
			qsort(ps[d].p, ps[d].n, sizeof(*ps[d].p), cmp_posting);
		if ((rc = mdb_cursor_open(txn, a->dbi[run_dbs[d].db], &c)) != 0)
			return db_error(rc);
		for (size_t i = 0; i < ps[d].n; i++) {
			const struct posting *p = &ps[d].p[i];
			bool same = prev != NULL &&
			    memcmp(prev->key, p->key, run_dbs[d].keylen) == 0;
			if (same && prev->seq == p->seq)
				continue; /* one leaf names a key once */
			memcpy(key + AUDIT_RUN_HDR, p->key, run_dbs[d].keylen);
			db_be64_put(seq, p->seq);
			rc = mdb_cursor_put(
			    c, &k, &v, same ? MDB_APPENDDUP : MDB_APPEND);
			if (rc != 0)
				break;
			prev = p;
		}
		mdb_cursor_close(c);
		if (rc != 0)
			return rc == MDB_KEYEXIST ? ERROR_TAMPERED
			                          : db_error(rc);
	}
	run_dir_key(dir, r);
	k.mv_size = sizeof(dir);
	k.mv_data = dir;
	db_be64_put(seq, r->start);
	return db_error(mdb_put(txn, a->dbi[DB_META], &k, &v, 0));
}

/* Adds the entries of run r to ps. */
static int
run_read(struct audit *a, MDB_txn *txn, const struct audit_run *r,
    struct postings ps[RUN_DBS])
{
	uint8_t hdr[AUDIT_RUN_HDR];
	MDB_cursor *c;
	MDB_val k, v;
	int rc = ERROR_OK, mrc;

	audit_run_hdr(hdr, r);
	for (size_t d = 0; d < RUN_DBS && rc == ERROR_OK; d++) {
		mrc = mdb_cursor_open(txn, a->dbi[run_dbs[d].db], &c);
		if (mrc != 0)
			return db_error(mrc);
		k.mv_size = sizeof(hdr);
		k.mv_data = hdr;
		for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
		     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size < sizeof(hdr) ||
			    memcmp(k.mv_data, hdr, sizeof(hdr)) != 0)
				break;
			if (k.mv_size != sizeof(hdr) + run_dbs[d].keylen ||
			    v.mv_size != 8)
				rc = ERROR_TAMPERED;
			else
				rc = postings_add(&ps[d],
				    (const uint8_t *)k.mv_data + sizeof(hdr),
				    run_dbs[d].keylen, db_be64_get(v.mv_data));
			if (rc != ERROR_OK)
				break;
		}
		mdb_cursor_close(c);
		if (rc == ERROR_OK && mrc != 0 && mrc != MDB_NOTFOUND)
			rc = db_error(mrc);
	}
	return rc;
}

/* Removes run r: its entries and its line in the directory. */
static int
run_delete(struct audit *a, MDB_txn *txn, const struct audit_run *r)
{
	uint8_t hdr[AUDIT_RUN_HDR], dir[AUDIT_RUN_DIR_KEY];
	MDB_cursor *c;
	MDB_val k, v;
	int mrc = 0;

	audit_run_hdr(hdr, r);
	for (size_t d = 0; d < RUN_DBS && mrc == 0; d++) {
		mrc = mdb_cursor_open(txn, a->dbi[run_dbs[d].db], &c);
		if (mrc != 0)
			break;
		for (;;) {
			k.mv_size = sizeof(hdr);
			k.mv_data = hdr;
			mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			if (mrc != 0 || k.mv_size < sizeof(hdr) ||
			    memcmp(k.mv_data, hdr, sizeof(hdr)) != 0)
				break;
			/* the key with all its values */
			if ((mrc = mdb_cursor_del(c, MDB_NODUPDATA)) != 0)
				break;
		}
		mdb_cursor_close(c);
		if (mrc == MDB_NOTFOUND)
			mrc = 0;
	}
	if (mrc != 0)
		return db_error(mrc);
	run_dir_key(dir, r);
	k.mv_size = sizeof(dir);
	k.mv_data = dir;
	return db_error(mdb_del(txn, a->dbi[DB_META], &k, NULL));
}

/*
 * Merges the newest runs while AUDIT_RUN_FANIN of one level end the list:
 * level 0 into 1, then 1 into 2, and so on.
 */
static int
runs_merge(struct audit *a, MDB_txn *txn, uint64_t indexed)
{
	struct postings ps[RUN_DBS];
	struct audit_run *runs = NULL, merged;
	size_t n, same;
	int rc = ERROR_OK;

	memset(ps, 0, sizeof(ps));
	for (unsigned level = 0; level + 1 < AUDIT_RUN_LEVELS; level++) {
		free(runs);
		if ((rc = audit_runs(a, txn, indexed, &runs, &n)) != 0)
			break;
		for (same = 0; same < n && runs[n - 1 - same].level == level;
		     same++)
			;
		if (same < AUDIT_RUN_FANIN)
			break;
		for (size_t d = 0; d < RUN_DBS; d++)
			ps[d].n = 0;
		merged.start = runs[n - same].start;
		merged.end = runs[n - 1].end;
		merged.level = level + 1;
		for (size_t i = n - same; i < n && rc == 0; i++)
			rc = run_read(a, txn, &runs[i], ps);
		if (rc == 0)
			rc = run_write(a, txn, &merged, ps);
		for (size_t i = n - same; i < n && rc == 0; i++)
			rc = run_delete(a, txn, &runs[i]);
		if (rc != 0)
			break;
	}
	free(runs);
	for (size_t d = 0; d < RUN_DBS; d++)
		free(ps[d].p);
	return rc;
}

/* -------------------------------------------------- indexing a batch */

void
audit_type_tag(int type, char out[AUDIT_TAG_MAX])
{
	snprintf(
	    out, AUDIT_TAG_MAX, "%s%s", AUDIT_TAG_TYPE, event_type_name(type));
}

/*
 * One entry of the agency, purpose, rule, tag or time index, collected for
 * a batch: the batch's entries are sorted, and each key's leaves stored in
 * one put (MDB_MULTIPLE), after the ones already stored under it.
 */
struct entry {
	uint8_t db; /* enum audit_db */
	uint8_t keylen;
	uint8_t key[IDENT_NAME_MAX];
	uint64_t seq;
};

struct entries {
	struct entry *e;
	size_t n, cap;
};

_Static_assert(AUDIT_TAG_MAX <= IDENT_NAME_MAX, "an entry holds a tag");

static int
entry_add(struct entries *es, enum audit_db db, const void *key, size_t keylen,
    uint64_t seq)
{
	struct entry *grown, *e;

	if (keylen == 0)
		return ERROR_OK; /* nothing to find it by */
	if (keylen > sizeof(e->key))
		return ERROR_INTERNAL; /* ident.h bounds every name */
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 1024;
		if ((grown = realloc(es->e, cap * sizeof(*grown))) == NULL)
			return ERROR_NOMEM;
		es->e = grown;
		es->cap = cap;
	}
	e = &es->e[es->n++];
	e->db = (uint8_t)db;
	e->keylen = (uint8_t)keylen;
	memcpy(e->key, key, keylen);
	e->seq = seq;
	return ERROR_OK;
}

/* Index, then key in LMDB's order (bytes, then length), then leaf. */
static int
cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c;

	if (a->db != b->db)
		return a->db < b->db ? -1 : 1;
	c = memcmp(
	    a->key, b->key, a->keylen < b->keylen ? a->keylen : b->keylen);
	if (c != 0)
		return c;
	if (a->keylen != b->keylen)
		return a->keylen < b->keylen ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Stores a batch's entries: one put per index and key. */
static int
entries_write(struct audit *a, MDB_txn *txn, struct entries *es)
{
	uint8_t *seqs = NULL;
	MDB_cursor *c = NULL;
	int rc = ERROR_OK, open_db = -1;

	if (es->n == 0)
		return ERROR_OK;
	qsort(es->e, es->n, sizeof(*es->e), cmp_entry);
	if ((seqs = malloc(es->n * 8)) == NULL)
		return ERROR_NOMEM;
	for (size_t i = 0, j; i < es->n; i = j) {
		const struct entry *e = &es->e[i];
		size_t count = 0;
		MDB_val k = {e->keylen, (void *)(uintptr_t)e->key}, data[2];
		for (j = i; j < es->n && es->e[j].db == e->db &&
		     es->e[j].keylen == e->keylen &&
		     memcmp(es->e[j].key, e->key, e->keylen) == 0;
		     j++)
			if (j == i || es->e[j].seq != es->e[j - 1].seq)
				db_be64_put(seqs + 8 * count++, es->e[j].seq);
		if (e->db != open_db) {
			if (c != NULL)
				mdb_cursor_close(c);
			c = NULL;
			if ((rc = mdb_cursor_open(txn, a->dbi[e->db], &c)) != 0)
				break;
			open_db = e->db;
		}
		data[0].mv_size = 8;
		data[0].mv_data = seqs;
		data[1].mv_size = count;
		data[1].mv_data = NULL;
		if ((rc = mdb_cursor_put(c, &k, data, MDB_MULTIPLE)) != 0)
			break;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	free(seqs);
	return db_error(rc);
}

/* Each name once, empty ones not at all. */
static int
each_name(enum audit_db db, const char *const *names, size_t n,
    int (*fn)(void *arg, enum audit_db db, const void *key, size_t len),
    void *arg)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < i && strcmp(names[i], names[j]) != 0; j++)
			;
		if (j == i && names[i][0] != '\0' &&
		    (rc = fn(arg, db, names[i], strlen(names[i]))) != 0)
			return rc;
	}
	return ERROR_OK;
}

int
audit_event_keys(const struct event *ev,
    int (*fn)(void *arg, enum audit_db db, const void *key, size_t len),
    void *arg)
{
	const char *names[EVENT_MAX_LIST + 2];
	char tag[AUDIT_TAG_MAX];
	uint8_t time[8];
	size_t n = 0;
	int rc;

	db_be64_put(time, ev->time_ms);
	if ((rc = fn(arg, DB_TIME, time, sizeof(time))) != 0)
		return rc;
	names[0] = ev->purpose;
	if ((rc = each_name(DB_PURPOSE, names, 1, fn, arg)) != 0)
		return rc;
	names[n++] = ev->sender;
	names[n++] = ev->recipient;
	for (size_t i = 0; i < ev->n_recipients; i++)
		names[n++] = ev->recipients[i];
	if ((rc = each_name(DB_AGENCY, names, n, fn, arg)) != 0)
		return rc;
	for (n = 0; n < ev->n_rules; n++)
		names[n] = ev->rules[n];
	if ((rc = each_name(DB_RULE, names, n, fn, arg)) != 0)
		return rc;
	audit_type_tag(ev->type, tag);
	if ((rc = fn(arg, DB_TAG, tag, strlen(tag))) != 0)
		return rc;
	if (ev->breakglass &&
	    (rc = fn(arg, DB_TAG, AUDIT_TAG_BREAKGLASS,
	         strlen(AUDIT_TAG_BREAKGLASS))) != 0)
		return rc;
	return ERROR_OK;
}

/* audit_event_keys' fn for index_event. */
struct entry_arg {
	struct entries *es;
	uint64_t seq;
};

static int
entry_key(void *arg, enum audit_db db, const void *key, size_t len)
{
	struct entry_arg *ea = arg;

	return entry_add(ea->es, db, key, len, ea->seq);
}

/* Leaf seq's entries: into es, or, for a run, into ps. */
static int
index_event(const struct event *ev, uint64_t seq, struct entries *es,
    struct postings ps[RUN_DBS])
{
	struct entry_arg ea = {es, seq};
	int rc;

	_Static_assert(RUN_DBS == 2, "subject, then msg_id");
	if (ev->has_subject_ref &&
	    (rc = postings_add(
	         &ps[0], ev->subject_ref, sizeof(ev->subject_ref), seq)) != 0)
		return rc;
	if (ev->has_msg_id &&
	    (rc = postings_add(&ps[1], ev->msg_id, sizeof(ev->msg_id), seq)) !=
	        0)
		return rc;
	return audit_event_keys(ev, entry_key, &ea);
}

/*
 * The entries of the leaves from .. next-1, gathered as they were appended
 * (audit_index_note); empty when from == next.
 */
struct audit_pending {
	uint64_t from, next;
	struct entries es;
	struct postings ps[RUN_DBS];
};

/* Drops what was gathered; the next leaf gathered must be at. */
static void
pending_restart(struct audit_pending *pd, uint64_t at)
{
	pd->from = pd->next = at;
	pd->es.n = 0;
	for (size_t d = 0; d < RUN_DBS; d++)
		pd->ps[d].n = 0;
}

void
audit_index_note(struct audit *a, uint64_t seq, const struct event *ev)
{
	struct audit_pending *pd = a->pend;

	if (pd == NULL) {
		if ((pd = calloc(1, sizeof(*pd))) == NULL)
			return; /* the batch reads every leaf */
		a->pend = pd;
		pending_restart(pd, seq);
	}
	if (pd->next != seq)
		pending_restart(pd, seq); /* rolled back, or never gathered */
	if (index_event(ev, seq, &pd->es, pd->ps) != 0) {
		pending_restart(pd, seq + 1); /* out of memory: read them */
		return;
	}
	pd->next = seq + 1;
}

void
audit_index_pending_free(struct audit *a)
{
	if (a->pend == NULL)
		return;
	free(a->pend->es.e);
	for (size_t d = 0; d < RUN_DBS; d++)
		free(a->pend->ps[d].p);
	free(a->pend);
	a->pend = NULL;
}

/*
 * Takes what was gathered for leaves from .. last into es and ps, dropping
 * any entry of a leaf before from, and says from which leaf on they cover
 * (*covered: last + 1 when nothing was gathered for the tail).
 */
static void
pending_take(struct audit *a, uint64_t from, uint64_t last, struct entries *es,
    struct postings ps[RUN_DBS], uint64_t *covered)
{
	struct audit_pending *pd = a->pend;
	size_t k = 0;

	*covered = last + 1;
	if (pd == NULL || pd->next != last + 1 || pd->from == pd->next) {
		if (pd != NULL)
			pending_restart(pd, last + 1);
		return;
	}
	*covered = pd->from > from ? pd->from : from;
	*es = pd->es;
	memset(&pd->es, 0, sizeof(pd->es));
	for (size_t i = 0; i < es->n; i++)
		if (es->e[i].seq >= from)
			es->e[k++] = es->e[i];
	es->n = k;
	for (size_t d = 0; d < RUN_DBS; d++) {
		ps[d] = pd->ps[d];
		memset(&pd->ps[d], 0, sizeof(pd->ps[d]));
		for (size_t i = k = 0; i < ps[d].n; i++)
			if (ps[d].p[i].seq >= from)
				ps[d].p[k++] = ps[d].p[i];
		ps[d].n = k;
	}
	pending_restart(pd, last + 1);
}

int
audit_index_leaves(struct audit *a, MDB_txn *txn, uint64_t from, uint64_t last)
{
	struct postings ps[RUN_DBS];
	struct entries es = {NULL, 0, 0};
	struct event *read = NULL;
	struct audit_run run = {from, last + 1, 0};
	const uint8_t *leaf;
	uint8_t key[8];
	uint64_t covered;
	size_t len;
	int rc = ERROR_OK;

	memset(ps, 0, sizeof(ps));
	pending_take(a, from, last, &es, ps, &covered);
	/* The leaves before those gathered: read from the log. */
	for (uint64_t seq = from; seq < covered; seq++) {
		if (read == NULL && (read = malloc(sizeof(*read))) == NULL) {
			rc = ERROR_NOMEM;
			goto out;
		}
		rc = audit_leaf(a, txn, seq, &leaf, &len);
		if (rc != 0) {
			rc = rc == ERROR_NOTFOUND ? ERROR_TAMPERED : rc;
			goto out;
		}
		/* decoded before the next write can move the page */
		if ((rc = event_decode(leaf, len, read)) != 0) {
			rc = rc == ERROR_NOMEM ? rc : ERROR_TAMPERED;
			goto out;
		}
		if ((rc = index_event(read, seq, &es, ps)) != 0)
			goto out;
	}
	if ((rc = entries_write(a, txn, &es)) != 0 ||
	    (rc = run_write(a, txn, &run, ps)) != 0)
		goto out;
	db_be64_put(key, last + 1);
	if ((rc = audit_meta_put(a, txn, "indexed", key, sizeof(key))) != 0)
		goto out;
	rc = runs_merge(a, txn, last + 1);
out:
	free(read);
	free(es.e);
	for (size_t d = 0; d < RUN_DBS; d++)
		free(ps[d].p);
	return rc;
}

void
audit_set_index_lag(struct audit *a, unsigned lag)
{
	a->lag = lag == 0 ? 1 : lag;
}

int
audit_index(struct audit *a, MDB_txn *txn)
{
	uint64_t size, indexed;
	int rc;

	if ((a->flags & AUDIT_RDONLY) != 0)
		return ERROR_INVAL;
	if ((rc = audit_size(a, txn, &size)) != 0 ||
	    (rc = audit_indexed_of(a, txn, size, &indexed)) != 0)
		return rc;
	return indexed < size ? audit_index_leaves(a, txn, indexed, size - 1)
	                      : ERROR_OK;
}

int
audit_reindex(struct audit *a, MDB_txn *txn, uint64_t *entries)
{
	static const uint8_t zero[8];
	struct audit_verify_result res;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t size;
	int rc;

	if ((a->flags & AUDIT_RDONLY) != 0)
		return ERROR_INVAL;
	if ((rc = audit_size(a, txn, &size)) != 0)
		return rc;
	/* Empty every index and forget the runs. */
	for (int db = DB_SUBJECT; db < DB_COUNT; db++)
		if ((rc = mdb_drop(txn, a->dbi[db], 0)) != 0)
			return db_error(rc);
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_META], &c)) != 0)
		return db_error(rc);
	for (;;) {
		k.mv_size = 3;
		k.mv_data = (void *)(uintptr_t)AUDIT_RUN_DIR_PREFIX;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < 3 ||
		    memcmp(k.mv_data, AUDIT_RUN_DIR_PREFIX, 3) != 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_error(rc);
	if ((rc = audit_meta_put(a, txn, "indexed", zero, sizeof(zero))) != 0)
		return rc;
	/* Batch by batch, as the appends would have: the same runs, from
	 * the leaves themselves. */
	audit_index_pending_free(a);
	for (uint64_t from = 0; from + a->lag <= size; from += a->lag)
		if ((rc = audit_index_leaves(
		         a, txn, from, from + a->lag - 1)) != 0)
			return rc;
	if ((rc = audit_verify_indexes(a, txn, &res)) != 0)
		return rc;
	if (entries != NULL)
		*entries = res.index_entries;
	return ERROR_OK;
}

/* ------------------------------------------------- checking the indexes */

/*
 * A multiset hash of index entries: the sums of two keyed SipHash-2-4
 * values of each (index, key, leaf), with keys drawn for this check only,
 * so that a forger cannot make a different set of entries sum the same.
 */
struct mset {
	uint64_t sum[2];
	uint64_t n;
};

struct mset_keys {
	uint8_t k[2][crypto_shorthash_KEYBYTES];
};

static void
mset_add(struct mset *m, const struct mset_keys *keys, unsigned db,
    const void *key, size_t keylen, uint64_t seq)
{
	uint8_t buf[2 + AUDIT_RUN_HDR + IDENT_NAME_MAX + 8];
	uint8_t out[crypto_shorthash_BYTES];
	size_t len = 2 + keylen + 8;

	/* keylen <= AUDIT_RUN_HDR + IDENT_NAME_MAX: the callers check */
	buf[0] = (uint8_t)db;
	buf[1] = (uint8_t)keylen;
	memcpy(buf + 2, key, keylen);
	db_be64_put(buf + 2 + keylen, seq);
	for (int i = 0; i < 2; i++) {
		uint64_t v = 0;
		crypto_shorthash(out, buf, len, keys->k[i]);
		for (size_t j = 0; j < sizeof(out); j++)
			v = v << 8 | out[j];
		m->sum[i] += v;
	}
	m->n++;
}

/* What the indexes should hold: the entries of leaves 0 .. indexed-1. */
static int
expected_entries(struct audit *a, MDB_txn *txn, uint64_t indexed,
    const struct mset_keys *keys, struct mset want[DB_COUNT])
{
	struct postings ps[RUN_DBS];
	struct entries es = {NULL, 0, 0};
	struct audit_run *runs = NULL;
	struct event *ev = NULL;
	uint8_t key[AUDIT_RUN_HDR + WIRE_REF_LEN];
	const uint8_t *leaf;
	size_t nruns, r = 0, len;
	int rc;

	memset(ps, 0, sizeof(ps));
	if ((rc = audit_runs(a, txn, indexed, &runs, &nruns)) != 0)
		return rc;
	if ((ev = malloc(sizeof(*ev))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	for (uint64_t seq = 0; seq < indexed; seq++) {
		if ((rc = audit_leaf(a, txn, seq, &leaf, &len)) != 0) {
			rc = rc == ERROR_NOTFOUND ? ERROR_TAMPERED : rc;
			goto out;
		}
		if ((rc = event_decode(leaf, len, ev)) != 0) {
			rc = rc == ERROR_NOMEM ? rc : ERROR_TAMPERED;
			goto out;
		}
		es.n = 0;
		for (size_t d = 0; d < RUN_DBS; d++)
			ps[d].n = 0;
		if ((rc = index_event(ev, seq, &es, ps)) != 0)
			goto out;
		for (size_t i = 0; i < es.n; i++)
			mset_add(&want[es.e[i].db], keys, es.e[i].db,
			    es.e[i].key, es.e[i].keylen, seq);
		while (r < nruns && runs[r].end <= seq)
			r++; /* the runs tile 0 .. indexed-1 (audit_runs) */
		audit_run_hdr(key, &runs[r]);
		for (size_t d = 0; d < RUN_DBS; d++)
			for (size_t i = 0; i < ps[d].n; i++) {
				memcpy(key + AUDIT_RUN_HDR, ps[d].p[i].key,
				    run_dbs[d].keylen);
				mset_add(&want[run_dbs[d].db], keys,
				    run_dbs[d].db, key,
				    AUDIT_RUN_HDR + run_dbs[d].keylen, seq);
			}
	}
out:
	free(ev);
	free(runs);
	free(es.e);
	for (size_t d = 0; d < RUN_DBS; d++)
		free(ps[d].p);
	return rc;
}

/* What index db holds. */
static int
stored_entries(struct audit *a, MDB_txn *txn, enum audit_db db,
    const struct mset_keys *keys, struct mset *got)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, a->dbi[db], &c)) != 0)
		return db_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (v.mv_size != 8 ||
		    k.mv_size > AUDIT_RUN_HDR + IDENT_NAME_MAX) {
			rc = MDB_CORRUPTED; /* no entry audit writes */
			break;
		}
		mset_add(got, keys, db, k.mv_data, k.mv_size,
		    db_be64_get(v.mv_data));
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? ERROR_OK : db_error(rc);
}

/* "subject" for audit.subject: what `mdb_stat` shows, less the prefix. */
static const char *
index_name(int db)
{
	return audit_db_names[db] + strlen("audit.");
}

int
audit_verify_indexes(
    struct audit *a, MDB_txn *txn, struct audit_verify_result *res)
{
	struct mset want[DB_COUNT], got[DB_COUNT];
	struct mset_keys keys;
	uint64_t indexed;
	int rc;

	memset(want, 0, sizeof(want));
	memset(got, 0, sizeof(got));
	res->index_entries = 0;
	res->why[0] = '\0';
	randombytes_buf(&keys, sizeof(keys));
	if ((rc = audit_indexed(a, txn, &indexed)) != 0 ||
	    (rc = expected_entries(a, txn, indexed, &keys, want)) != 0) {
		snprintf(res->why, sizeof(res->why), "%s",
		    rc == ERROR_TAMPERED ? "the indexed leaves or the record "
		                           "of them is malformed"
		                         : error_strerror(rc));
		goto out;
	}
	for (int db = DB_SUBJECT; db < DB_COUNT; db++) {
		if ((rc = stored_entries(a, txn, db, &keys, &got[db])) != 0) {
			snprintf(res->why, sizeof(res->why), "the %s index: %s",
			    index_name(db),
			    rc == ERROR_TAMPERED ? "a malformed entry"
			                         : error_strerror(rc));
			goto out;
		}
		if (got[db].n != want[db].n ||
		    memcmp(got[db].sum, want[db].sum, sizeof(got[db].sum)) !=
		        0) {
			snprintf(res->why, sizeof(res->why),
			    "the %s index does not match the leaves: %" PRIu64
			    " entries where the leaves give %" PRIu64
			    " (entries missing, added or altered)",
			    index_name(db), got[db].n, want[db].n);
			rc = ERROR_TAMPERED;
			goto out;
		}
		res->index_entries += got[db].n;
	}
out:
	sodium_memzero(&keys, sizeof(keys));
	return rc;
}
