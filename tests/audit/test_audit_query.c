/*
 * audit_query.c against a brute-force scan: a generated log of 100,000
 * events (CONCORDAT_AUDIT_EVENTS) with random agencies, purposes,
 * subjects, times, rules and break-glass flags; hundreds of random filters;
 * every result compared with a scan of an independent summary of the
 * events, and every plan checked to read only the most selective index
 * for the indexed leaves, then the tail. Twice: with the indexes written
 * in batches of AUDIT_INDEX_LAG, and of 7 (every level of runs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audittest.h"
#include "tests/lib/scratch.h"

#define SUBJECTS 5000
#define NONE     0xff

/* What the brute force knows of each event, kept apart from the log. */
struct summary {
	uint64_t time;
	uint8_t subject[WIRE_REF_LEN];
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	bool has_subject, has_msg_id, breakglass;
	uint8_t type;
	uint8_t purpose;   /* index in audittest_purposes, or NONE */
	uint16_t agencies; /* bit per audittest_agencies index */
	uint16_t rules;    /* bit per audittest_rules index */
};

struct world {
	char *dir;
	uint64_t n;
	unsigned lag;     /* audit_set_index_lag */
	uint64_t indexed; /* leaves 0 .. indexed-1 are in the indexes */
	struct summary *sum;
	/* what each single criterion selects, counted once */
	uint64_t n_agency[AUDITTEST_AGENCIES], n_purpose[AUDITTEST_PURPOSES];
	uint64_t n_rule[AUDITTEST_RULES], n_type[16], n_breakglass;
	struct audit *a;
	MDB_env *env;
	MDB_txn *txn;
};

static int
find(const char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

static void
summarise(const struct event *ev, struct summary *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->time = ev->time_ms;
	s->has_subject = ev->has_subject_ref;
	memcpy(s->subject, ev->subject_ref, WIRE_REF_LEN);
	s->has_msg_id = ev->has_msg_id;
	memcpy(s->msg_id, ev->msg_id, WIRE_MSG_ID_LEN);
	s->breakglass = ev->breakglass;
	s->type = (uint8_t)ev->type;
	i = find(audittest_purposes, AUDITTEST_PURPOSES, ev->purpose);
	s->purpose = i < 0 ? NONE : (uint8_t)i;
	if ((i = find(audittest_agencies, AUDITTEST_AGENCIES, ev->sender)) >= 0)
		s->agencies |= (uint16_t)(1u << i);
	if ((i = find(audittest_agencies, AUDITTEST_AGENCIES, ev->recipient)) >=
	    0)
		s->agencies |= (uint16_t)(1u << i);
	for (size_t j = 0; j < ev->n_recipients; j++)
		if ((i = find(audittest_agencies, AUDITTEST_AGENCIES,
		         ev->recipients[j])) >= 0)
			s->agencies |= (uint16_t)(1u << i);
	for (size_t j = 0; j < ev->n_rules; j++)
		if ((i = find(
		         audittest_rules, AUDITTEST_RULES, ev->rules[j])) >= 0)
			s->rules |= (uint16_t)(1u << i);
}

static int
setup_world(void **state, unsigned lag, uint64_t part)
{
	struct world *w = calloc(1, sizeof(*w));
	struct audittest_log l;
	struct audittest_key k;
	struct event *ev = malloc(sizeof(*ev));
	const char *env = getenv("CONCORDAT_AUDIT_EVENTS");
	uint64_t rng = 1, check = 1;

	assert_non_null(w);
	assert_non_null(ev);
	w->n = (env != NULL ? strtoull(env, NULL, 10) : 100000) / part;
	assert_true(w->n >= 1000);
	assert_non_null(w->sum = calloc(w->n, sizeof(*w->sum)));
	w->dir = scratch_dir("audit");
	audittest_key(&k, 1);
	audittest_open(&l, w->dir, 0);
	w->lag = lag;
	if (lag != 0)
		audit_set_index_lag(l.a, lag);
	audittest_fill(&l, &k, 0, w->n, 1000, SUBJECTS, &rng);
	audittest_close(&l);
	/* The same events again, from the same generator, summarised. */
	for (uint64_t i = 0; i < w->n; i++) {
		struct summary *s = &w->sum[i];
		audittest_event(ev, i, SUBJECTS, &check);
		summarise(ev, s);
		for (int j = 0; j < AUDITTEST_AGENCIES; j++)
			w->n_agency[j] += (s->agencies >> j) & 1;
		for (int j = 0; j < AUDITTEST_RULES; j++)
			w->n_rule[j] += (s->rules >> j) & 1;
		if (s->purpose != NONE)
			w->n_purpose[s->purpose]++;
		w->n_type[s->type]++;
		w->n_breakglass += s->breakglass;
	}
	free(ev);
	assert_int_equal(audit_env_open(w->dir, 0, AUDIT_RDONLY, &w->env), 0);
	assert_int_equal(audit_txn_begin(w->env, MDB_RDONLY, &w->txn), 0);
	assert_int_equal(
	    audit_open(w->env, w->txn, NULL, AUDIT_RDONLY, &w->a), 0);
	assert_int_equal(audit_indexed(w->a, w->txn, &w->indexed), 0);
	/* what the batches and merges wrote: exactly what the leaves give */
	{
		struct audit_verify_result res;
		assert_int_equal(audit_verify_indexes(w->a, w->txn, &res), 0);
		assert_true(res.index_entries > 5 * w->indexed);
	}
	/* the last leaves wait for a batch, fewer than the lag */
	assert_true(w->indexed <= w->n);
	assert_true(w->n - w->indexed < (lag != 0 ? lag : AUDIT_INDEX_LAG));
	*state = w;
	return 0;
}

/* The indexes as the broker leaves them: batches of AUDIT_INDEX_LAG. */
static int
setup(void **state)
{
	return setup_world(state, 0, 1);
}

/*
 * Batches of 7, on a quarter of the log: a short tail, and thousands of
 * runs merged through every level of the subject and msg_id indexes.
 */
static int
setup_small_batches(void **state)
{
	return setup_world(state, 7, 4);
}

static int
teardown(void **state)
{
	struct world *w = *state;

	mdb_txn_abort(w->txn);
	audit_free(w->a);
	audit_env_close(w->env);
	scratch_rmrf(w->dir);
	free(w->dir);
	free(w->sum);
	free(w);
	return 0;
}

/* A query as the brute force sees it: indexes into the pools. */
struct q {
	int subject; /* -1: any; else a subject number (may have no events) */
	int agency, purpose, rule, type; /* -1 / 0: any */
	bool breakglass, has_msg_id;
	uint64_t msg; /* msg_id number */
	uint64_t since, until;
};

static bool
brute_match(const struct q *q, const struct summary *s,
    const uint8_t subject[WIRE_REF_LEN], const uint8_t msg_id[16])
{
	if (q->subject >= 0 &&
	    (!s->has_subject || memcmp(s->subject, subject, WIRE_REF_LEN) != 0))
		return false;
	if (q->has_msg_id &&
	    (!s->has_msg_id || memcmp(s->msg_id, msg_id, 16) != 0))
		return false;
	if (q->agency >= 0 && (s->agencies & (1u << q->agency)) == 0)
		return false;
	if (q->purpose >= 0 && s->purpose != q->purpose)
		return false;
	if (q->rule >= 0 && (s->rules & (1u << q->rule)) == 0)
		return false;
	if (q->type > 0 && s->type != q->type)
		return false;
	if (q->breakglass && !s->breakglass)
		return false;
	if (s->time < q->since || (q->until != 0 && s->time >= q->until))
		return false;
	return true;
}

struct collect {
	uint64_t *seqs;
	size_t n, cap;
};

static int
collect(void *arg, uint64_t seq, const struct event *ev)
{
	struct collect *c = arg;

	(void)ev;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->seqs = realloc(c->seqs, c->cap * sizeof(*c->seqs));
		assert_non_null(c->seqs);
	}
	c->seqs[c->n++] = seq;
	return 0;
}

/* Counts what q selects among leaves from .. to-1. */
static uint64_t
brute_count(struct world *w, const struct q *q,
    const uint8_t subject[WIRE_REF_LEN], const uint8_t msg_id[16],
    uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	for (uint64_t i = from; i < to; i++)
		n += brute_match(q, &w->sum[i], subject, msg_id);
	return n;
}

/* What one criterion alone selects among the indexed leaves. */
static uint64_t
indexed_count(struct world *w, const struct q *q, int which,
    const uint8_t subject[WIRE_REF_LEN], const uint8_t msg_id[16])
{
	struct q one;

	memset(&one, 0, sizeof(one));
	one.subject = one.agency = one.purpose = one.rule = -1;
	switch (which) {
	case 0:
		one.subject = q->subject;
		break;
	case 1:
		one.has_msg_id = true;
		break;
	case 2:
		one.agency = q->agency;
		break;
	case 3:
		one.purpose = q->purpose;
		break;
	case 4:
		one.rule = q->rule;
		break;
	case 5:
		one.type = q->type;
		break;
	case 6:
		one.breakglass = true;
		break;
	default:
		one.since = q->since;
		one.until = q->until;
	}
	return brute_count(w, &one, subject, msg_id, 0, w->indexed);
}

static void
run(struct world *w, const struct q *q)
{
	struct audit_filter f;
	struct audit_plan plan;
	struct collect got = {NULL, 0, 0};
	uint8_t subject[WIRE_REF_LEN], msg_id[16] = {0};
	uint64_t want = 0, best = UINT64_MAX;

	memset(&f, 0, sizeof(f));
	if (q->subject >= 0) {
		audittest_subject((uint64_t)q->subject, subject);
		f.has_subject = true;
		memcpy(f.subject_ref, subject, WIRE_REF_LEN);
	}
	if (q->has_msg_id) {
		memcpy(msg_id, &q->msg, sizeof(q->msg));
		f.has_msg_id = true;
		memcpy(f.msg_id, msg_id, 16);
	}
	f.agency = q->agency >= 0 ? audittest_agencies[q->agency] : NULL;
	f.purpose = q->purpose >= 0 ? audittest_purposes[q->purpose] : NULL;
	f.rule = q->rule >= 0 ? audittest_rules[q->rule] : NULL;
	f.type = q->type;
	f.breakglass = q->breakglass;
	f.since_ms = q->since;
	f.until_ms = q->until;
	assert_int_equal(
	    audit_query(w->a, w->txn, &f, collect, &got, &plan), 0);
	/* the rows: exactly the brute force's, in leaf order */
	for (uint64_t i = 0; i < w->n; i++) {
		if (!brute_match(q, &w->sum[i], subject, msg_id))
			continue;
		if (want >= got.n || got.seqs[want] != i)
			fail_msg("query %s: leaf %llu missing or out of order",
			    plan.index, (unsigned long long)i);
		want++;
	}
	assert_int_equal(got.n, want);
	assert_int_equal(plan.matched, want);
	/*
	 * The plan: the smallest equality index, read and nothing else for
	 * the indexed leaves; then the tail, of which at least its matches
	 * are decoded.
	 */
	bool has[7] = {q->subject >= 0, q->has_msg_id, q->agency >= 0,
	    q->purpose >= 0, q->rule >= 0, q->type > 0, q->breakglass};
	uint64_t tail_matches =
	    brute_count(w, q, subject, msg_id, w->indexed, w->n);
	for (int c = 0; c < 7; c++) {
		uint64_t n;
		if (has[c] &&
		    (n = indexed_count(w, q, c, subject, msg_id)) < best)
			best = n;
	}
	if (best == UINT64_MAX && q->since == 0 && q->until == 0) {
		assert_string_equal(plan.index, "scan");
		assert_int_equal(plan.candidates, w->n);
		assert_int_equal(plan.tail, 0);
		free(got.seqs);
		return;
	}
	assert_int_equal(plan.tail, w->n - w->indexed);
	if (strcmp(plan.index, "time") == 0) {
		uint64_t in_time = indexed_count(w, q, 7, subject, msg_id);
		assert_in_range(plan.candidates, in_time + tail_matches,
		    in_time + plan.tail);
		/* chosen on an estimate: never much worse than the best */
		assert_true(
		    best == UINT64_MAX || in_time <= best + best / 2 + 100);
	} else {
		assert_string_not_equal(plan.index, "scan");
		assert_in_range(
		    plan.candidates, best + tail_matches, best + plan.tail);
	}
	free(got.seqs);
}

static uint64_t
pick(uint64_t *rng, uint64_t n)
{
	return audittest_rand(rng) % n;
}

static void
test_random_filters(void **state)
{
	struct world *w = *state;
	uint64_t rng = 4242, t0 = w->sum[0].time, span = w->n * 1000;

	for (int round = 0; round < 400; round++) {
		struct q q = {-1, -1, -1, -1, 0, false, false, 0, 0, 0};
		uint64_t mask = audittest_rand(&rng);
		/* each criterion with its own odds; several at once */
		if (mask % 4 == 0)
			q.subject = (int)pick(&rng, SUBJECTS + 10);
		if ((mask >> 2) % 3 == 0)
			q.agency = (int)pick(&rng, AUDITTEST_AGENCIES);
		if ((mask >> 4) % 3 == 0)
			q.purpose = (int)pick(&rng, AUDITTEST_PURPOSES);
		if ((mask >> 6) % 4 == 0)
			q.rule = (int)pick(&rng, AUDITTEST_RULES);
		if ((mask >> 8) % 4 == 0)
			q.type = 1 + (int)pick(&rng, 10);
		if ((mask >> 10) % 8 == 0)
			q.breakglass = true;
		if ((mask >> 13) % 16 == 0) {
			q.has_msg_id = true;
			q.msg = pick(&rng, w->n / 3 + 5);
		}
		if ((mask >> 17) % 3 == 0)
			q.since = t0 + pick(&rng, span);
		if ((mask >> 19) % 3 == 0)
			q.until = q.since + 1 + pick(&rng, span / 4);
		run(w, &q);
	}
}

/* The cases S10 names, and the edges. */
static void
test_named_queries(void **state)
{
	struct world *w = *state;
	uint64_t t0 = w->sum[0].time;
	struct q q;

#define RESET()                                                                \
	memset(&q, 0, sizeof(q));                                              \
	q.subject = q.agency = q.purpose = q.rule = -1
	/* everything: the one query that reads every leaf */
	RESET();
	run(w, &q);
	/* one person's disclosures (a subject access report) */
	RESET();
	q.subject = 17;
	q.type = EVENT_DECISION;
	run(w, &q);
	/* a subject with no events at all */
	RESET();
	q.subject = SUBJECTS + 3;
	run(w, &q);
	/* an agency's month of disclosures */
	RESET();
	q.agency = 2;
	q.type = EVENT_DECISION;
	q.since = t0 + 86400000ULL;
	q.until = q.since + 30 * 86400000ULL;
	run(w, &q);
	/* every break-glass disclosure of the last month */
	RESET();
	q.breakglass = true;
	q.since = t0 + w->n * 1000 - 30 * 86400000ULL;
	run(w, &q);
	/* a narrow time window: the time index wins */
	RESET();
	q.purpose = 1;
	q.since = t0 + 5000000;
	q.until = q.since + 60000;
	run(w, &q);
	/* a window before the first and after the last event */
	RESET();
	q.until = t0 - 10000;
	q.since = 1;
	run(w, &q);
	RESET();
	q.since = t0 + w->n * 1000 + 100000;
	run(w, &q);
	/* one message */
	RESET();
	q.has_msg_id = true;
	q.msg = 1234;
	run(w, &q);
#undef RESET
}

static int
stop_at_three(void *arg, uint64_t seq, const struct event *ev)
{
	int *n = arg;

	(void)seq;
	(void)ev;
	return ++*n == 3 ? ERROR_INTERNAL : 0;
}

/* Every counter's keys, in order, each with its count. */
struct stat_rows {
	uint64_t totals[4];
	uint64_t agency[AUDITTEST_AGENCIES], purpose[AUDITTEST_PURPOSES];
	uint64_t rule[AUDITTEST_RULES], type[16];
	int last_stat;
	char last_key[64];
};

static int
add_stat(void *arg, enum audit_stat stat, const char *key, uint64_t count)
{
	struct stat_rows *r = arg;
	int i;

	/* in key order within a counter, each key once */
	assert_true((int)stat >= r->last_stat);
	if ((int)stat == r->last_stat)
		assert_true(strcmp(key, r->last_key) > 0);
	r->last_stat = (int)stat;
	snprintf(r->last_key, sizeof(r->last_key), "%s", key);
	r->totals[stat] += count;
	switch (stat) {
	case AUDIT_STAT_AGENCY:
		i = find(audittest_agencies, AUDITTEST_AGENCIES, key);
		assert_true(i >= 0);
		r->agency[i] = count;
		break;
	case AUDIT_STAT_PURPOSE:
		i = find(audittest_purposes, AUDITTEST_PURPOSES, key);
		assert_true(i >= 0);
		r->purpose[i] = count;
		break;
	case AUDIT_STAT_RULE:
		i = find(audittest_rules, AUDITTEST_RULES, key);
		assert_true(i >= 0);
		r->rule[i] = count;
		break;
	case AUDIT_STAT_TYPE:
		for (i = 1; i < 16; i++)
			if (strcmp(event_type_name(i), key) == 0)
				break;
		assert_true(i < 16);
		r->type[i] = count;
		break;
	}
	return 0;
}

static void
test_stop_and_stats(void **state)
{
	struct world *w = *state;
	struct audit_filter f;
	struct stat_rows r;
	uint64_t bg;
	int n = 0;

	memset(&f, 0, sizeof(f));
	f.type = EVENT_DECISION;
	assert_int_equal(audit_query(w->a, w->txn, &f, stop_at_three, &n, NULL),
	    ERROR_INTERNAL);
	assert_int_equal(n, 3);
	/* the counts: indexed leaves and the tail together, per key */
	memset(&r, 0, sizeof(r));
	r.last_stat = -1;
	assert_int_equal(audit_query_stats(w->a, w->txn, add_stat, &r, &bg), 0);
	assert_int_equal(bg, w->n_breakglass);
	assert_int_equal(r.totals[AUDIT_STAT_TYPE], w->n);
	assert_memory_equal(r.agency, w->n_agency, sizeof(r.agency));
	assert_memory_equal(r.purpose, w->n_purpose, sizeof(r.purpose));
	assert_memory_equal(r.rule, w->n_rule, sizeof(r.rule));
	assert_memory_equal(r.type, w->n_type, sizeof(r.type));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_filters),
	    cmocka_unit_test(test_named_queries),
	    cmocka_unit_test(test_stop_and_stats),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name(
	           "batches of AUDIT_INDEX_LAG", tests, setup, teardown) |
	    cmocka_run_group_tests_name(
	        "batches of 7", tests, setup_small_batches, teardown);
}
