/*
 * Break-glass reviews in the log, forged directly (the broker's own key
 * signs the checkpoints, as a rogue broker would): `concordat audit verify
 * --keyring` checks every breakglass_reviewed event's signature under its
 * agency's guardian key and the leaf it names, and fails (65) on a review
 * signed by another key, one naming another key, and one of a decision
 * that is not break-glass; a true review passes, and without --keyring is
 * said not to be checked. Then the library's views: the latest review of
 * a decision, and the unreviewed count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/merkle.h"
#include "audit/review.h"
#include "audittest.h"
#include "common/urgency.h"
#include "keys/keys.h"
#include "tests/lib/scratch.h"

#define T0 1795440362123ULL

enum forgery { GOOD, OTHER_KEY, NAMES_OTHER_KEY, NOT_BREAKGLASS };

struct fixture {
	char *dir;
	char ring[4096], rogue[4096], brokerpub[4096];
	struct keys_secret *broker, *guardian, *other;
};

static void
path(char *out, const char *dir, const char *name)
{
	if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096)
		fail_msg("path too long");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char keys[4096], p[4096];

	assert_non_null(f);
	f->dir = scratch_dir("review");
	path(keys, f->dir, "keys");
	path(f->ring, f->dir, "ring");
	path(f->rogue, f->dir, "rogue");
	assert_int_equal(keys_generate(NULL, keys), 0);
	assert_int_equal(
	    keys_generate_guardian("mental_health_trust", f->ring), 0);
	assert_int_equal(
	    keys_generate_guardian("mental_health_trust", f->rogue), 0);
	path(p, keys, "broker.key");
	assert_int_equal(keys_load_secret(p, &f->broker), 0);
	path(f->brokerpub, keys, "broker.pub");
	path(p, f->ring, "mental_health_trust.guardian.key");
	assert_int_equal(keys_load_guardian(p, &f->guardian), 0);
	path(p, f->rogue, "mental_health_trust.guardian.key");
	assert_int_equal(keys_load_guardian(p, &f->other), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	keys_secret_free(f->broker);
	keys_secret_free(f->guardian);
	keys_secret_free(f->other);
	scratch_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
decision(struct event *ev, uint64_t ms, bool breakglass, uint8_t msg)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->time_ms = ms;
	snprintf(ev->sender, sizeof(ev->sender), "mental_health_trust");
	snprintf(ev->recipient, sizeof(ev->recipient), "police");
	snprintf(ev->purpose, sizeof(ev->purpose), "triage_advice");
	ev->has_msg_id = true;
	memset(ev->msg_id, msg, sizeof(ev->msg_id));
	ev->urgency = breakglass ? URGENCY_EMERGENCY : URGENCY_URGENT;
	ev->breakglass = breakglass;
	ev->disclosed = FIELDS_BIT(FIELD_PHYSICAL_NEEDS);
	ev->n_obligations = 1;
	snprintf(ev->obligations[0], sizeof(ev->obligations[0]),
	    "review_breakglass");
}

/* Appends ev, checkpointed by the broker's key; returns its leaf. */
static uint64_t
append(struct fixture *f, struct audittest_log *l, const struct event *ev,
    uint8_t hash[32])
{
	struct audittest_key k;
	uint64_t seq;
	MDB_txn *txn;
	const uint8_t *leaf;
	size_t len;

	memcpy(k.sk, f->broker->sign_sk, 64);
	memcpy(k.pk, f->broker->pub.sign_pk, 32);
	seq = audittest_append_one(l, &k, ev);
	if (hash != NULL) {
		assert_int_equal(audit_txn_begin(l->env, MDB_RDONLY, &txn), 0);
		assert_int_equal(audit_leaf(l->a, txn, seq, &leaf, &len), 0);
		merkle_hash_leaf(leaf, len, hash);
		mdb_txn_abort(txn);
	}
	sodium_memzero(k.sk, sizeof(k.sk));
	return seq;
}

/* A log in dir with two decisions and a review of the kind asked for. */
static void
make_log(struct fixture *f, const char *dir, enum forgery how)
{
	struct audittest_log l;
	struct event *ev = calloc(1, sizeof(*ev));
	struct review *r;
	uint8_t hash[2][32];
	uint64_t seq[2];

	assert_non_null(ev);
	audittest_open(&l, dir, 0);
	decision(ev, T0, true, 0xa1);
	seq[0] = append(f, &l, ev, hash[0]);
	decision(ev, T0 + 1000, false, 0xa2);
	seq[1] = append(f, &l, ev, hash[1]);
	decision(ev, T0 + 2000, true, 0xa3);
	append(f, &l, ev, NULL); /* stays unreviewed */

	ev->type = EVENT_BREAKGLASS_REVIEWED;
	ev->time_ms = T0 + 60000;
	ev->breakglass = false;
	memset(ev->msg_id, 0xa1, sizeof(ev->msg_id));
	r = &ev->review;
	memset(r, 0, sizeof(*r));
	randombytes_buf(r->review_id, sizeof(r->review_id));
	snprintf(r->agency, sizeof(r->agency), "mental_health_trust");
	r->leaf_seq = how == NOT_BREAKGLASS ? seq[1] : seq[0];
	memcpy(r->leaf_hash, hash[how == NOT_BREAKGLASS], 32);
	r->outcome = REVIEW_JUSTIFIED;
	snprintf(r->reviewer, sizeof(r->reviewer), "Dr A. Khan");
	r->reviewed_at_ms = T0 + 50000;
	snprintf(r->guardian, sizeof(r->guardian), "%s",
	    (how == NAMES_OTHER_KEY ? f->other : f->guardian)->pub.fingerprint);
	assert_int_equal(review_sign(r,
	                     how == OTHER_KEY || how == NAMES_OTHER_KEY
	                         ? f->other->sign_sk
	                         : f->guardian->sign_sk),
	    0);
	append(f, &l, ev, NULL);
	/* A second review of the same decision supersedes the first. */
	if (how == GOOD) {
		randombytes_buf(r->review_id, sizeof(r->review_id));
		r->outcome = REVIEW_NEEDS_FOLLOW_UP;
		r->reviewed_at_ms = T0 + 70000;
		assert_int_equal(review_sign(r, f->guardian->sign_sk), 0);
		ev->time_ms = T0 + 80000;
		append(f, &l, ev, NULL);
	}
	audittest_close(&l);
	free(ev);
}

static int
verify(struct fixture *f, const char *dir, bool keyring, char **out, char **err)
{
	if (keyring)
		return audittest_cli(out, err, "verify", "--data", dir,
		    "--broker-key", f->brokerpub, "--keyring", f->ring,
		    "--witnesses", "0", NULL);
	return audittest_cli(out, err, "verify", "--data", dir, "--broker-key",
	    f->brokerpub, NULL);
}

static void
forged_reviews_fail(void **state)
{
	static const struct {
		enum forgery how;
		const char *why;
	} cases[] = {
	    {OTHER_KEY,
	        "leaf 3 (breakglass_reviewed): the review's signature "
	        "does not verify under the guardian key of "
	        "'mental_health_trust'"},
	    {NAMES_OTHER_KEY,
	        "not by the guardian key of "
	        "'mental_health_trust'"},
	    {NOT_BREAKGLASS,
	        "leaf 1 is not a break-glass decision of "
	        "'mental_health_trust'"},
	};
	struct fixture *f = *state;
	char dir[4096], *out, *err;

	/* The names the wire and the log give them. */
	assert_string_equal(wire_reason_name(17), "not_reviewable");
	assert_int_equal(wire_reason_parse("not_reviewable"), 17);
	assert_false(wire_reason_retryable(WIRE_REASON_NOT_REVIEWABLE));
	assert_string_equal(
	    event_type_name(EVENT_BREAKGLASS_REVIEWED), "breakglass_reviewed");
	assert_int_equal(event_type_parse("breakglass_reviewed"), 13);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/log%zu", f->dir, i);
		make_log(f, dir, cases[i].how);
		assert_int_equal(verify(f, dir, true, &out, &err), EX_DATAERR);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, err,
			    cases[i].why);
		free(out);
		free(err);
		/* The tree itself is sound: only the review is forged. */
		assert_int_equal(verify(f, dir, false, &out, &err), 0);
		assert_non_null(strstr(out, "signatures not checked"));
		free(out);
		free(err);
	}
}

static void
true_review_passes(void **state)
{
	struct fixture *f = *state;
	struct audittest_log l;
	struct review latest;
	char dir[4096], *out, *err, words[256];
	uint64_t count, oldest;
	MDB_txn *txn;

	snprintf(dir, sizeof(dir), "%s/good", f->dir);
	make_log(f, dir, GOOD);
	assert_int_equal(verify(f, dir, true, &out, &err), 0);
	if (strstr(out,
	        "2 break-glass review signatures verified against "
	        "the guardians' keys (1 justified, 0 not justified, "
	        "1 needing follow-up)") == NULL)
		fail_msg("verify said: %s", out);
	free(out);
	free(err);

	audittest_open(&l, dir, 0);
	assert_int_equal(audit_txn_begin(l.env, MDB_RDONLY, &txn), 0);
	/* The later review counts. */
	assert_int_equal(audit_review_latest(l.a, txn, 0, &latest), 0);
	assert_int_equal(latest.outcome, REVIEW_NEEDS_FOLLOW_UP);
	audit_review_describe(&latest, words, sizeof(words));
	assert_string_equal(
	    words, "needs_follow_up, by Dr A. Khan, 2026-11-23T13:27:12Z");
	assert_int_equal(
	    audit_review_latest(l.a, txn, 2, &latest), ERROR_NOTFOUND);
	/* Leaf 2 alone is unreviewed; before it was logged, none. */
	assert_int_equal(
	    audit_review_unreviewed(l.a, txn, 0, true, &count, &oldest), 0);
	assert_int_equal(count, 1);
	assert_int_equal(oldest, T0 + 2000);
	assert_int_equal(
	    audit_review_unreviewed(l.a, txn, T0 + 2000, true, &count, &oldest),
	    0);
	assert_int_equal(count, 0);
	mdb_txn_abort(txn);
	audittest_close(&l);

	/* The words a subject access report gives each decision. */
	struct audittest_log rd;
	struct event *dec = calloc(1, sizeof(*dec));
	const uint8_t *leaf;
	size_t len;
	assert_non_null(dec);
	audittest_open(&rd, dir, 0);
	assert_int_equal(audit_txn_begin(rd.env, MDB_RDONLY, &txn), 0);
	for (uint64_t i = 0; i < 3; i++) {
		static const char *const want[] = {
		    "needs_follow_up, by Dr A. Khan, 2026-11-23T13:27:12Z",
		    NULL, "not yet reviewed by the sending agency's guardian"};
		const char *got;
		assert_int_equal(audit_leaf(rd.a, txn, i, &leaf, &len), 0);
		assert_int_equal(event_decode(leaf, len, dec), 0);
		got =
		    audit_review_words(rd.a, txn, i, dec, words, sizeof(words));
		if (want[i] == NULL)
			assert_null(got);
		else
			assert_string_equal(got, want[i]);
	}
	mdb_txn_abort(txn);
	audittest_close(&rd);
	free(dec);

	/* audit stats counts decisions by their latest review. */
	assert_int_equal(
	    audittest_cli(&out, &err, "stats", "--data", dir, "--json", NULL),
	    0);
	if (strstr(out,
	        "\"reviews\":{\"reviews\":2,\"justified\":0,"
	        "\"not_justified\":0,\"needs_follow_up\":1,"
	        "\"unreviewed\":1}") == NULL)
		fail_msg("stats said: %s", out);
	free(out);
	free(err);
	assert_int_equal(
	    audittest_cli(&out, &err, "stats", "--data", dir, NULL), 0);
	assert_non_null(strstr(out, "  needs_follow_up"));
	free(out);
	free(err);

	/* The queue says the same. */
	assert_int_equal(audittest_cli(&out, &err, "query", "--data", dir,
	                     "--breakglass", "--unreviewed", "--json", NULL),
	    0);
	assert_int_equal(scratch_count(out, "\n"), 1);
	assert_non_null(strstr(out, "\"seq\":2,"));
	free(out);
	free(err);
	/* The page: the one row, anchored by its seq, and nothing loaded. */
	assert_int_equal(audittest_cli(&out, &err, "query", "--data", dir,
	                     "--breakglass", "--unreviewed", "--html", NULL),
	    0);
	assert_non_null(strstr(out, "<!DOCTYPE html>"));
	assert_non_null(strstr(out, "Break-glass review queue"));
	assert_non_null(strstr(out, "id=\"seq-2\""));
	assert_non_null(
	    strstr(out, "1 break-glass decision is waiting for review."));
	assert_null(strstr(out, "id=\"seq-0\""));
	assert_null(strstr(out, "<script"));
	assert_int_equal(scratch_count(out, "</html>"), 1);
	free(out);
	free(err);
	assert_int_equal(audittest_cli(&out, &err, "query", "--data", dir,
	                     "--unreviewed", NULL),
	    EX_USAGE);
	assert_non_null(strstr(err, "give both"));
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(forged_reviews_fail),
	    cmocka_unit_test(true_review_passes),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
