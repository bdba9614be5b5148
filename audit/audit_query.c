/*
 * Queries over the audit log's indexes: pick the most selective index the
 * filter allows, read only the leaves it names, check the rest of the
 * filter on each. Also the counters behind `concordat audit stats`. Used by
 * audit_cli.c and by the broker.
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

/* The exact number of leaves under one key of an index. */
static int
count_key(struct audit *a, MDB_txn *txn, struct access *ac)
{
	MDB_cursor *c;
	MDB_val v;
	size_t count = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, a->dbi[ac->db], &c)) != 0)
		return audit_mdb_error(rc);
	rc = mdb_cursor_get(c, &ac->key, &v, MDB_SET);
	if (rc == 0)
		rc = mdb_cursor_count(c, &count);
	else if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
	ac->estimate = count;
	return audit_mdb_error(rc);
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
		return audit_mdb_error(rc);
	audit_be64_put(key, f->since_ms);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0 || v.mv_size != 8)
		goto out;
	first = audit_be64_get(v.mv_data);
	if (f->until_ms == 0) {
		ac->estimate = size > first ? size - first : 0;
		goto out;
	}
	audit_be64_put(key, f->until_ms);
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
	if (audit_be64_get(k.mv_data) < f->since_ms)
		goto out; /* nothing in range */
	last = audit_be64_get(v.mv_data);
	ac->estimate = last >= first ? last - first + 1 : 1;
out:
	mdb_cursor_close(c);
	return audit_mdb_error(rc);
}

/* Decodes leaf seq and passes it to row when it matches. */
static int
visit(struct audit *a, MDB_txn *txn, const struct audit_filter *f, uint64_t seq,
    struct event *ev,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg,
    struct audit_plan *plan)
{
	const uint8_t *leaf;
	size_t len;
	int rc;

	rc = audit_leaf(a, txn, seq, &leaf, &len);
	if (rc == ERROR_NOTFOUND)
		return ERROR_TAMPERED; /* an index names a leaf that is gone */
	if (rc != 0)
		return rc;
	plan->candidates++;
	if ((rc = event_decode(leaf, len, ev)) != 0)
		return rc;
	if (!audit_query_match(f, ev))
		return ERROR_OK;
	plan->matched++;
	return row(arg, seq, ev);
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The leaves with a time in range, in leaf order. */
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
		return audit_mdb_error(rc);
	audit_be64_put(key, f->since_ms);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (f->until_ms != 0 &&
		    audit_be64_get(k.mv_data) >= f->until_ms)
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
		list[count++] = audit_be64_get(v.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(list);
		return audit_mdb_error(rc);
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), cmp_u64);
	*seqs = list;
	*n = count;
	return ERROR_OK;
}

int
audit_query(struct audit *a, MDB_txn *txn, const struct audit_filter *f,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg,
    struct audit_plan *plan)
{
	struct access acc[8], *best = NULL;
	struct audit_plan local;
	struct event *ev = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	char tag[AUDIT_TAG_MAX];
	uint64_t size, *seqs = NULL;
	size_t n = 0, nseqs;
	int rc;

	if (plan == NULL)
		plan = &local;
	memset(plan, 0, sizeof(*plan));
	if ((rc = audit_size(a, txn, &size)) != 0)
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
		if (acc[i].key.mv_size == 0 || acc[i].key.mv_size > 511)
			return ERROR_INVAL;
		if ((rc = count_key(a, txn, &acc[i])) != 0)
			return rc;
	}
	if (f->since_ms != 0 || f->until_ms != 0) {
		acc[n] = (struct access){"time", DB_TIME, {0, NULL}, true, 0};
		if ((rc = estimate_time(a, txn, f, size, &acc[n])) != 0)
			return rc;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (best == NULL || acc[i].estimate < best->estimate)
			best = &acc[i];
	plan->index = best != NULL ? best->name : "scan";
	if (best != NULL && best->estimate == 0 && !best->range)
		return ERROR_OK; /* a key with no leaves: nothing matches */
	if ((ev = malloc(sizeof(*ev))) == NULL)
		return ERROR_NOMEM;

	if (best != NULL && best->range) {
		if ((rc = time_range(a, txn, f, &seqs, &nseqs)) != 0)
			goto out;
		for (size_t i = 0; i < nseqs && rc == 0; i++)
			rc = visit(a, txn, f, seqs[i], ev, row, arg, plan);
		goto out;
	}
	if (best != NULL) {
		if ((rc = mdb_cursor_open(txn, a->dbi[best->db], &c)) != 0)
			goto mdb;
		k = best->key;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
			if (v.mv_size != 8) {
				rc = ERROR_TAMPERED;
				goto out;
			}
			rc = visit(a, txn, f, audit_be64_get(v.mv_data), ev,
			    row, arg, plan);
			if (rc != 0)
				goto out;
		}
		goto mdb;
	}
	/* No filter at all: every leaf, in order. */
	if ((rc = mdb_cursor_open(txn, a->dbi[DB_LEAVES], &c)) != 0)
		goto mdb;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = ERROR_TAMPERED;
			goto out;
		}
		rc = visit(
		    a, txn, f, audit_be64_get(k.mv_data), ev, row, arg, plan);
		if (rc != 0)
			goto out;
	}
mdb:
	rc = rc == MDB_NOTFOUND ? ERROR_OK : audit_mdb_error(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	free(seqs);
	free(ev);
	return rc;
}

/* Calls fn for every key of one index, with the number of leaves under it. */
static int
count_keys(struct audit *a, MDB_txn *txn, enum audit_db db,
    enum audit_stat stat, const char *prefix,
    int (*fn)(void *arg, enum audit_stat stat, const char *key, uint64_t count),
    void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	char key[512];
	size_t count, plen = prefix != NULL ? strlen(prefix) : 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, a->dbi[db], &c)) != 0)
		return audit_mdb_error(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
		if (k.mv_size < plen || k.mv_size >= sizeof(key) ||
		    (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
			continue;
		memcpy(key, (const char *)k.mv_data + plen, k.mv_size - plen);
		key[k.mv_size - plen] = '\0';
		if ((rc = mdb_cursor_count(c, &count)) != 0)
			break;
		if ((rc = fn(arg, stat, key, count)) != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? ERROR_OK : audit_mdb_error(rc);
out:
	mdb_cursor_close(c);
	return rc;
}

int
audit_query_stats(struct audit *a, MDB_txn *txn,
    int (*fn)(void *arg, enum audit_stat stat, const char *key, uint64_t count),
    void *arg, uint64_t *breakglass)
{
	struct access ac = {"breakglass", DB_TAG,
	    {strlen(AUDIT_TAG_BREAKGLASS),
	        (void *)(uintptr_t)AUDIT_TAG_BREAKGLASS},
	    false, 0};
	int rc;

	if ((rc = count_keys(a, txn, DB_TAG, AUDIT_STAT_TYPE, AUDIT_TAG_TYPE,
	         fn, arg)) != 0 ||
	    (rc = count_keys(
	         a, txn, DB_AGENCY, AUDIT_STAT_AGENCY, NULL, fn, arg)) != 0 ||
	    (rc = count_keys(
	         a, txn, DB_PURPOSE, AUDIT_STAT_PURPOSE, NULL, fn, arg)) != 0 ||
	    (rc = count_keys(
	         a, txn, DB_RULE, AUDIT_STAT_RULE, NULL, fn, arg)) != 0)
		return rc;
	if (breakglass != NULL) {
		if ((rc = count_key(a, txn, &ac)) != 0)
			return rc;
		*breakglass = ac.estimate;
	}
	return ERROR_OK;
}
