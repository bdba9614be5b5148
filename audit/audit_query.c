/*
 * Queries over the audit log's indexes: pick the most selective index the
 * filter allows, read only the leaves it names, check the rest of the
 * filter on each. Also the counters behind `concordat audit stats`. Used by
 * the audit verbs (audit/verbs/) and by the broker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"

bool
audit_query_match(const struct audit_filter *f, const struct event *ev)
{
	bool found;

	if (f->has_subject &&
	    (!ev->has_subject_ref ||
	        memcmp(ev->subject_ref, f->subject_ref, WIRE_REF_LEN) != 0))
		return false;
	if (f->has_msg_id &&
	    (!ev->has_msg_id ||
	        memcmp(ev->msg_id, f->msg_id, WIRE_MSG_ID_LEN) != 0))
		return false;
	if (f->purpose != NULL && strcmp(f->purpose, ev->purpose) != 0)
		return false;
	if (f->type != 0 && (int)ev->type != f->type)
		return false;
	if (f->breakglass && !ev->breakglass)
		return false;
	if (ev->time_ms < f->since_ms ||
	    (f->until_ms != 0 && ev->time_ms >= f->until_ms))
		return false;
	if (f->agency != NULL) {
		found = strcmp(f->agency, ev->sender) == 0 ||
		    strcmp(f->agency, ev->recipient) == 0;
		for (size_t i = 0; !found && i < ev->n_recipients; i++)
			found = strcmp(f->agency, ev->recipients[i]) == 0;
		if (!found)
			return false;
	}
	if (f->rule != NULL) {
		found = false;
		for (size_t i = 0; !found && i < ev->n_rules; i++)
			found = strcmp(f->rule, ev->rules[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* One way to find candidate leaves. */
struct access {
	const char *name;
	enum audit_db db; /* DB_LEAVES for a scan */
	MDB_val key;      /* equality lookups */
	bool range;       /* the time index, since..until */
	uint64_t estimate;
};

/* What a query reads the indexes with. */
struct indexes {
	uint64_t indexed;       /* leaves 0 .. indexed-1 are in the indexes */
	struct audit_run *runs; /* of the subject and msg_id indexes */
	size_t nruns;
};

static bool
in_runs(enum audit_db db)
{
	return db == DB_SUBJECT || db == DB_MSGID;
}

/*
 * Calls fn with a cursor on each stored key of access ac: the key itself,
 * or in each run, oldest first, the run's prefix and the key.
 */
static int
each_key(struct audit *a, MDB_txn *txn, const struct indexes *ix,
    const struct access *ac, int (*fn)(void *arg, MDB_cursor *c), void *arg)
{
	uint8_t key[AUDIT_RUN_HDR + WIRE_REF_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = in_runs(ac->db) ? ix->nruns : 1;
	int rc = 0;

	if ((rc = mdb_cursor_open(txn, a->dbi[ac->db], &c)) != 0)
		return db_error(rc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		k = ac->key;
		if (in_runs(ac->db)) {
			audit_run_hdr(key, &ix->runs[i]);
			memcpy(key + AUDIT_RUN_HDR, ac->key.mv_data,
			    ac->key.mv_size);
			k.mv_size = AUDIT_RUN_HDR + ac->key.mv_size;
			k.mv_data = key;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_SET);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		else if (rc == 0)
			rc = fn(arg, c);
		else
			rc = db_error(rc);
	}
	mdb_cursor_close(c);
	return rc;
}

static int
add_count(void *arg, MDB_cursor *c)
{
	size_t count;
	int rc;

	if ((rc = mdb_cursor_count(c, &count)) != 0)
		return db_error(rc);
	*(uint64_t *)arg += count;
	return ERROR_OK;
}

/* The exact number of indexed leaves under one key of an index. */
static int
count_key(
    struct audit *a, MDB_txn *txn, const struct indexes *ix, struct access *ac)
{
	ac->estimate = 0;
	return each_key(a, txn, ix, ac, add_count, &ac->estimate);
}

/*
 * Estimates how many leaves fall in [since, until) from the first and last
 * leaf index in that range of the time index: leaves are appended in
 * close to time order, so the difference is near the count.
 */
static int
estimate_time(struct audit *a, MDB_txn *txn, const struct audit_filter *f,
    uint64_t size, struct access *ac)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];
	uint64_t first, last;
	int rc;

	ac->estimate = 0;
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_TIME], &c)) != 0)
		return db_error(rc);
	db_be64_put(key, f->since_ms);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0 || v.mv_size != 8)
		goto out;
	first = db_be64_get(v.mv_data);
	if (f->until_ms == 0) {
		ac->estimate = size > first ? size - first : 0;
		goto out;
	}
	db_be64_put(key, f->until_ms);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0 || v.mv_size != 8)
		goto out;
	if (db_be64_get(k.mv_data) < f->since_ms)
		goto out; /* nothing in range */
	last = db_be64_get(v.mv_data);
	ac->estimate = last >= first ? last - first + 1 : 1;
out:
	mdb_cursor_close(c);
	return db_error(rc);
}

/* A query under way. */
struct query {
	struct audit *a;
	MDB_txn *txn;
	const struct audit_filter *f;
	const struct indexes *ix;
	struct event *ev;
	int (*row)(void *arg, uint64_t seq, const struct event *ev);
	void *arg;
	struct audit_plan *plan;
	uint64_t size; /* leaves in the log */
};

/* Decodes a leaf and passes it to row when it matches. */
static int
visit_leaf(struct query *q, uint64_t seq, const uint8_t *leaf, size_t len)
{
	int rc;

	q->plan->candidates++;
	if ((rc = event_decode(leaf, len, q->ev)) != 0)
		return rc;
	if (!audit_query_match(q->f, q->ev))
		return ERROR_OK;
	q->plan->matched++;
	return q->row(q->arg, seq, q->ev);
}

/* Reads leaf seq, which an index names, and visits it. */
static int
visit(struct query *q, uint64_t seq)
{
	const uint8_t *leaf;
	size_t len;
	int rc;

	if (seq >= q->ix->indexed)
		return ERROR_TAMPERED; /* an index names an unindexed leaf */
	rc = audit_leaf(q->a, q->txn, seq, &leaf, &len);
	if (rc == ERROR_NOTFOUND)
		return ERROR_TAMPERED; /* an index names a leaf that is gone */
	if (rc != 0)
		return rc;
	return visit_leaf(q, seq, leaf, len);
}

/*
 * False when the leaf's bytes cannot hold an event that matches: a value
 * the filter asks for (subject_ref, msg_id, agency, purpose, rule) is not
 * among them. The encoding stores each verbatim, so this skips decoding
 * most of a tail that a filter does not match.
 */
static bool
may_match(const struct audit_filter *f, const uint8_t *leaf, size_t len)
{
	if (f->has_subject &&
	    memmem(leaf, len, f->subject_ref, sizeof(f->subject_ref)) == NULL)
		return false;
	if (f->has_msg_id &&
	    memmem(leaf, len, f->msg_id, sizeof(f->msg_id)) == NULL)
		return false;
	if (f->agency != NULL && f->agency[0] != '\0' &&
	    memmem(leaf, len, f->agency, strlen(f->agency)) == NULL)
		return false;
	if (f->purpose != NULL && f->purpose[0] != '\0' &&
	    memmem(leaf, len, f->purpose, strlen(f->purpose)) == NULL)
		return false;
	if (f->rule != NULL && f->rule[0] != '\0' &&
	    memmem(leaf, len, f->rule, strlen(f->rule)) == NULL)
		return false;
	return true;
}

/*
 * Visits leaves from .. size-1 in order; with check, those may_match.
 * ERROR_TAMPERED when one is missing.
 */
static int
visit_from(struct query *q, uint64_t from, bool check)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];
	uint64_t seq = from;
	int rc = ERROR_OK, mrc;

	if (from >= q->size)
		return ERROR_OK;
	if ((mrc = mdb_cursor_open(q->txn, q->a->dbi[DB_LEAVES], &c)) != 0)
		return db_error(mrc);
	db_be64_put(key, from);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || db_be64_get(k.mv_data) != seq) {
			rc = ERROR_TAMPERED; /* a leaf missing, or extra */
			break;
		}
		if (check) {
			q->plan->tail++;
			if (!may_match(q->f, v.mv_data, v.mv_size))
				goto next;
		}
		if ((rc = visit_leaf(q, seq, v.mv_data, v.mv_size)) != 0)
			break;
	next:
		if (++seq == q->size)
			break; /* past the recorded size: not yet committed */
	}
	mdb_cursor_close(c);
	if (rc != ERROR_OK)
		return rc;
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return db_error(mrc);
	return seq == q->size ? ERROR_OK : ERROR_TAMPERED;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The indexed leaves with a time in range, in leaf order. */
static int
time_range(struct audit *a, MDB_txn *txn, const struct audit_filter *f,
    uint64_t **seqs, size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];
	uint64_t *list = NULL, *grown;
	size_t cap = 0, count = 0;
	int rc;

	*seqs = NULL;
	*n = 0;
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_TIME], &c)) != 0)
		return db_error(rc);
	db_be64_put(key, f->since_ms);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (f->until_ms != 0 && db_be64_get(k.mv_data) >= f->until_ms)
			break;
		if (count == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((grown = realloc(list, cap * sizeof(*list))) ==
			    NULL) {
				rc = ENOMEM;
				break;
			}
			list = grown;
		}
		list[count++] = db_be64_get(v.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(list);
		return db_error(rc);
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), cmp_u64);
	*seqs = list;
	*n = count;
	return ERROR_OK;
}

/* each_key's fn: visits every leaf under the cursor's key. */
static int
visit_dups(void *arg, MDB_cursor *c)
{
	struct query *q = arg;
	MDB_val k, v;
	int rc;

	for (rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		if (v.mv_size != 8)
			return ERROR_TAMPERED;
		if ((rc = visit(q, db_be64_get(v.mv_data))) != 0)
			return rc;
	}
	return rc == MDB_NOTFOUND ? ERROR_OK : db_error(rc);
}

/* Loads what a query needs to read the indexes of a log of size leaves. */
static int
indexes_load(struct audit *a, MDB_txn *txn, uint64_t size, struct indexes *ix)
{
	memset(ix, 0, sizeof(*ix));
	int rc = audit_indexed_of(a, txn, size, &ix->indexed);
	if (rc == 0)
		rc = audit_runs(a, txn, ix->indexed, &ix->runs, &ix->nruns);
	return rc;
}

int
audit_query(struct audit *a, MDB_txn *txn, const struct audit_filter *f,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg,
    struct audit_plan *plan)
{
	struct access acc[8], *best = NULL;
	struct audit_plan local;
	struct indexes ix;
	struct query q = {a, txn, f, &ix, NULL, row, arg, NULL, 0};
	char tag[AUDIT_TAG_MAX];
	uint64_t *seqs = NULL;
	size_t n = 0, nseqs;
	int rc;

	if (plan == NULL)
		plan = &local;
	memset(plan, 0, sizeof(*plan));
	q.plan = plan;
	if ((rc = audit_size(a, txn, &q.size)) != 0 ||
	    (rc = indexes_load(a, txn, q.size, &ix)) != 0)
		return rc;
		/* Every equality the filter holds, with its index and key. */
#define ACCESS(nm, d, data, len)                                               \
	acc[n++] = (struct access)                                             \
	{                                                                      \
		nm, d, {len, (void *)(uintptr_t)(data)}, false, 0              \
	}
	if (f->has_subject)
		ACCESS("subject", DB_SUBJECT, f->subject_ref, WIRE_REF_LEN);
	if (f->has_msg_id)
		ACCESS("msgid", DB_MSGID, f->msg_id, WIRE_MSG_ID_LEN);
	if (f->agency != NULL)
		ACCESS("agency", DB_AGENCY, f->agency, strlen(f->agency));
	if (f->rule != NULL)
		ACCESS("rule", DB_RULE, f->rule, strlen(f->rule));
	if (f->purpose != NULL)
		ACCESS("purpose", DB_PURPOSE, f->purpose, strlen(f->purpose));
	if (f->breakglass)
		ACCESS("breakglass", DB_TAG, AUDIT_TAG_BREAKGLASS,
		    strlen(AUDIT_TAG_BREAKGLASS));
	if (f->type != 0) {
		audit_type_tag(f->type, tag);
		ACCESS("type", DB_TAG, tag, strlen(tag));
	}
#undef ACCESS
	for (size_t i = 0; i < n; i++) {
		rc = ERROR_INVAL;
		if (acc[i].key.mv_size == 0 || acc[i].key.mv_size > 511 ||
		    (rc = count_key(a, txn, &ix, &acc[i])) != 0)
			goto out;
	}
	if (f->since_ms != 0 || f->until_ms != 0) {
		acc[n] = (struct access){"time", DB_TIME, {0, NULL}, true, 0};
		if ((rc = estimate_time(a, txn, f, ix.indexed, &acc[n])) != 0)
			goto out;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (best == NULL || acc[i].estimate < best->estimate)
			best = &acc[i];
	plan->index = best != NULL ? best->name : "scan";
	if ((q.ev = malloc(sizeof(*q.ev))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if (best == NULL) {
		/* No filter at all: every leaf, in order. */
		rc = visit_from(&q, 0, false);
		goto out;
	}
	if (best->range) {
		if ((rc = time_range(a, txn, f, &seqs, &nseqs)) != 0)
			goto out;
		for (size_t i = 0; i < nseqs && rc == 0; i++)
			rc = visit(&q, seqs[i]);
	} else if (best->estimate > 0) {
		rc = each_key(a, txn, &ix, best, visit_dups, &q);
	}
	/* Then the leaves not yet indexed, which follow every indexed one. */
	if (rc == 0)
		rc = visit_from(&q, ix.indexed, true);
out:
	free(ix.runs);
	free(seqs);
	free(q.ev);
	return rc;
}

/* ---------------------------------------------------------------- stats */

/* What the leaves not yet indexed add to one counter's key. */
struct tally {
	enum audit_stat stat;
	char key[IDENT_NAME_MAX + 1];
	uint64_t count;
};

struct tallies {
	struct tally *t;
	size_t n, cap;
	uint64_t breakglass;
};

_Static_assert(IDENT_NAME_MAX >= IDENT_AGENCY_MAX, "a tally holds an agency");

static int
tally(struct tallies *ts, enum audit_stat stat, const char *key)
{
	struct tally *grown;

	if (key[0] == '\0')
		return ERROR_OK; /* as the indexes: no entry for no value */
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].stat == stat && strcmp(ts->t[i].key, key) == 0) {
			ts->t[i].count++;
			return ERROR_OK;
		}
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 64;
		if ((grown = realloc(ts->t, cap * sizeof(*grown))) == NULL)
			return ERROR_NOMEM;
		ts->t = grown;
		ts->cap = cap;
	}
	ts->t[ts->n].stat = stat;
	snprintf(ts->t[ts->n].key, sizeof(ts->t[ts->n].key), "%s", key);
	ts->t[ts->n++].count = 1;
	return ERROR_OK;
}

/* audit_event_keys' fn: counts a key as the index holding it would. */
static int
tally_key(void *arg, enum audit_db db, const void *key, size_t len)
{
	struct tallies *ts = arg;
	char name[AUDIT_TAG_MAX > IDENT_NAME_MAX ? AUDIT_TAG_MAX
	                                         : IDENT_NAME_MAX + 1];
	size_t plen = strlen(AUDIT_TAG_TYPE);

	if (len >= sizeof(name))
		return ERROR_INTERNAL; /* ident.h bounds every name */
	memcpy(name, key, len);
	name[len] = '\0';
	switch (db) {
	case DB_AGENCY:
		return tally(ts, AUDIT_STAT_AGENCY, name);
	case DB_PURPOSE:
		return tally(ts, AUDIT_STAT_PURPOSE, name);
	case DB_RULE:
		return tally(ts, AUDIT_STAT_RULE, name);
	case DB_TAG:
		if (strcmp(name, AUDIT_TAG_BREAKGLASS) == 0)
			ts->breakglass++;
		else if (strncmp(name, AUDIT_TAG_TYPE, plen) == 0)
			return tally(ts, AUDIT_STAT_TYPE, name + plen);
		return ERROR_OK;
	default:
		return ERROR_OK; /* time: not a counter */
	}
}

/* audit_query's row: counts an unindexed leaf as the indexes would. */
static int
tally_row(void *arg, uint64_t seq, const struct event *ev)
{
	(void)seq;
	return audit_event_keys(ev, tally_key, arg);
}

static int
cmp_tally(const void *x, const void *y)
{
	const struct tally *a = x, *b = y;

	if (a->stat != b->stat)
		return a->stat < b->stat ? -1 : 1;
	return strcmp(a->key, b->key);
}

/*
 * Calls fn for every key of one index, in key order, with the number of
 * leaves under it, the indexed ones and those of *t (the tallies of this
 * counter, sorted; *t moves past them).
 */
static int
count_keys(struct audit *a, MDB_txn *txn, enum audit_db db,
    enum audit_stat stat, const char *prefix, const struct tally **t,
    const struct tally *end,
    int (*fn)(void *arg, enum audit_stat stat, const char *key, uint64_t count),
    void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	char key[512];
	size_t count, plen = prefix != NULL ? strlen(prefix) : 0;
	int rc, cmp;

	if ((rc = mdb_cursor_open(txn, a->dbi[db], &c)) != 0)
		return db_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
		if (k.mv_size < plen || k.mv_size >= sizeof(key) ||
		    (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
			continue;
		memcpy(key, (const char *)k.mv_data + plen, k.mv_size - plen);
		key[k.mv_size - plen] = '\0';
		if ((rc = mdb_cursor_count(c, &count)) != 0)
			break;
		/* the keys only unindexed leaves have, in order */
		while (*t < end && (*t)->stat == stat &&
		    (cmp = strcmp((*t)->key, key)) <= 0) {
			if (cmp == 0)
				count += (*t)->count;
			else if ((rc = fn(arg, stat, (*t)->key, (*t)->count)) !=
			    0)
				goto out;
			(*t)++;
		}
		if ((rc = fn(arg, stat, key, count)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND) {
		rc = db_error(rc);
		goto out;
	}
	for (rc = 0; rc == 0 && *t < end && (*t)->stat == stat; (*t)++)
		rc = fn(arg, stat, (*t)->key, (*t)->count);
out:
	mdb_cursor_close(c);
	return rc;
}

int
audit_query_stats(struct audit *a, MDB_txn *txn,
    int (*fn)(void *arg, enum audit_stat stat, const char *key, uint64_t count),
    void *arg, uint64_t *breakglass)
{
	static const struct {
		enum audit_db db;
		enum audit_stat stat;
		const char *prefix;
	} counters[] = {
	    {DB_TAG, AUDIT_STAT_TYPE, AUDIT_TAG_TYPE},
	    {DB_AGENCY, AUDIT_STAT_AGENCY, NULL},
	    {DB_PURPOSE, AUDIT_STAT_PURPOSE, NULL},
	    {DB_RULE, AUDIT_STAT_RULE, NULL},
	};
	struct access ac = {"breakglass", DB_TAG,
	    {strlen(AUDIT_TAG_BREAKGLASS),
	        (void *)(uintptr_t)AUDIT_TAG_BREAKGLASS},
	    false, 0};
	struct audit_filter all;
	struct tallies ts = {NULL, 0, 0, 0};
	struct indexes ix;
	struct event *ev = NULL;
	struct audit_plan plan;
	struct query q = {a, txn, &all, &ix, NULL, tally_row, &ts, &plan, 0};
	const struct tally *t;
	int rc;

	memset(&all, 0, sizeof(all));
	memset(&plan, 0, sizeof(plan));
	if ((rc = audit_size(a, txn, &q.size)) != 0 ||
	    (rc = indexes_load(a, txn, q.size, &ix)) != 0)
		return rc;
	rc = ERROR_NOMEM;
	if ((ev = q.ev = malloc(sizeof(*ev))) == NULL)
		goto out;
	/* The leaves not yet indexed, counted here; then the indexes. */
	if ((rc = visit_from(&q, ix.indexed, true)) != 0)
		goto out;
	if (ts.n > 1)
		qsort(ts.t, ts.n, sizeof(*ts.t), cmp_tally);
	t = ts.t;
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if ((rc = count_keys(a, txn, counters[i].db, counters[i].stat,
		         counters[i].prefix, &t, ts.t + ts.n, fn, arg)) != 0)
			goto out;
	if (breakglass != NULL) {
		if ((rc = count_key(a, txn, &ix, &ac)) != 0)
			goto out;
		*breakglass = ac.estimate + ts.breakglass;
	}
out:
	free(ix.runs);
	free(ts.t);
	free(ev);
	return rc;
}
