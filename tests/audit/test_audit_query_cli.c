/*
 * `concordat audit query`'s table for people (in-process, as
 * test_audit_cli): the msg_id and urgency columns, long cells cut with an
 * ellipsis so that every row's columns start where the heading's do, the
 * NOTE column (a policy event's agreement and version, a rejection's why),
 * and the names a filter gives checked against the log and the agreements
 * it archived, a misspelt one answered with the closest known name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <cmocka.h>

#include "audittest.h"
#include "common/urgency.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

#define T0   1795440362123ULL /* 2026-11-23T13:26:02.123Z */
#define F(x) FIELDS_BIT(FIELD_##x)

static char *dir, logdir[4096];

static void
commit(struct audittest_log *l, struct event *evs, size_t n)
{
	struct audit_head head;
	struct audittest_key k;
	MDB_txn *txn;

	audittest_key(&k, 7);
	assert_int_equal(audit_txn_begin(l->env, 0, &txn), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(audit_append(l->a, txn, &evs[i], NULL), 0);
	assert_int_equal(audit_checkpoint(l->a, txn, checkpoint_sign_key,
	                     (void *)(uintptr_t)k.sk, &head),
	    0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
message(struct event *ev, int type, const char *from, const char *to,
    const char *purpose, uint8_t msg)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->time_ms = T0;
	snprintf(ev->sender, sizeof(ev->sender), "%s", from);
	snprintf(ev->recipient, sizeof(ev->recipient), "%s", to);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", purpose);
	ev->has_msg_id = true;
	memset(ev->msg_id, msg, sizeof(ev->msg_id));
	ev->kind = KIND_RECORD;
	ev->urgency = URGENCY_URGENT;
}

/*
 * A log of a broker's start under the example agreement, S1's decision
 * (eight fields: a long DISCLOSED cell) and a rejection with a long why;
 * the example agreement archived beside it, as the broker keeps it.
 */
static int
setup(void **state)
{
	struct audittest_log l;
	struct event *e = calloc(2, sizeof(*e));
	char path[4200], *text;
	size_t len;

	(void)state;
	assert_non_null(e);
	dir = scratch_dir("query-cli");
	snprintf(logdir, sizeof(logdir), "%s/data", dir);
	audittest_open(&l, logdir, 0);
	e[0].type = EVENT_BROKER_STARTED;
	e[0].time_ms = T0 - 60000;
	snprintf(e[0].detail, sizeof(e[0].detail), "0.1.0");
	e[1].type = EVENT_POLICY_ACTIVATED;
	e[1].time_ms = T0 - 60000;
	e[1].has_policy_sha256 = true;
	memset(e[1].policy_sha256, 0x42, 32);
	snprintf(e[1].agreement_id, sizeof(e[1].agreement_id),
	    "example-crisis-care-concordat");
	e[1].agreement_version = 3;
	snprintf(e[1].detail, sizeof(e[1].detail), "at start");
	commit(&l, e, 2); /* seq 0, 1 */
	message(&e[0], EVENT_DECISION, "police", "mental_health_trust",
	    "triage_advice", 0xa1);
	e[0].disclosed = F(IDENTITY) | F(DEMOGRAPHICS) | F(COMMUNICATION) |
	    F(PRESENTATION) | F(SUBSTANCES) | F(RISKS) | F(HEALTH) |
	    F(DEPENDENTS);
	e[0].n_rules = 1;
	snprintf(e[0].rules[0], sizeof(e[0].rules[0]), "triage-request");
	message(&e[1], EVENT_REJECTED, "police", "", "triage_advice", 0xb2);
	e[1].reason = WIRE_REASON_AGREEMENT_MISMATCH;
	snprintf(e[1].detail, sizeof(e[1].detail),
	    "the message was sealed under an agreement that is not in force "
	    "at the broker, and this why is longer than any cell");
	commit(&l, e, 2); /* seq 2, 3 */
	audittest_close(&l);
	free(e);
	/* The archive: the names of agencies that sent nothing yet. */
	text = scratch_read(fixture_agreement(), &len);
	snprintf(path, sizeof(path), "%s/agreements", logdir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/agreements/%064d.yaml", logdir, 42);
	scratch_spit(path, text, len, 0644);
	free(text);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	free(dir);
	return 0;
}

static int
run(char **out, char **err, ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = audittest_vcli(out, err, ap);
	va_end(ap);
	return rc;
}

/* The character (not byte) offset of needle in line, or -1. */
static long
column_of(const char *line, size_t len, const char *needle)
{
	const char *hit = memmem(line, len, needle, strlen(needle));
	long n = 0;

	if (hit == NULL)
		return -1;
	for (const char *p = line; p < hit; p++)
		n += ((unsigned char)*p & 0xc0) != 0x80;
	return n;
}

static void
table(void **state)
{
	char *out, *err, *line, *nl;
	long note, rule;

	(void)state;
	assert_int_equal(
	    run(&out, &err, "query", "--data", logdir, (char *)NULL), EX_OK);
	/* msg_id and urgency, in their columns; the long cells cut */
	assert_non_null(strstr(out,
	    "2       2026-11-23T13:26:02.123Z decision           "
	    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 police              "
	    "mental_health_trust triage_advice    urgent    -   "
	    "identity,demographics,communication,pre\xe2\x80\xa6 "
	    "triage-request"));
	/* the agreement and version of policy_activated, not "- - -" */
	assert_non_null(
	    strstr(out, " example-crisis-care-concordat v3: at start\n"));
	assert_non_null(strstr(out, " version 0.1.0\n"));
	assert_non_null(strstr(out, " agreement_mismatch   the message"));
	assert_non_null(strstr(out, "\xe2\x80\xa6\n")); /* the why, cut */
	/* every row's NOTE and RULES start where the heading's do */
	nl = strchr(out, '\n');
	note = column_of(out, (size_t)(nl - out), "NOTE");
	rule = column_of(out, (size_t)(nl - out), "RULES");
	assert_true(note > 0 && rule > 0);
	for (line = nl + 1; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		const char *p = line;
		/* the byte where character `note` starts: a cell starts
		 * there, after a blank; likewise for RULES */
		for (long i = 0; p < nl && i < note; p++)
			i += ((unsigned char)p[1] & 0xc0) != 0x80;
		assert_true(p < nl && p[-1] == ' ' && p[0] != ' ');
		p = line;
		for (long i = 0; p < nl && i < rule; p++)
			i += ((unsigned char)p[1] & 0xc0) != 0x80;
		assert_true(p < nl && p[-1] == ' ' && p[0] != ' ');
	}
	/* JSON and CSV hold the whole values */
	free(out);
	free(err);
	assert_int_equal(
	    run(&out, &err, "query", "--data", logdir, "--json", (char *)NULL),
	    EX_OK);
	assert_non_null(strstr(out, "longer than any cell"));
	assert_non_null(strstr(out,
	    "\"note\":\"example-crisis-care-concordat "
	    "v3: at start\""));
	free(out);
	free(err);
}

/* Exit status and stderr of a query with one filter. */
static int
filtered(const char *opt, const char *value, char **err)
{
	char *out;
	int rc =
	    run(&out, err, "query", "--data", logdir, opt, value, (char *)NULL);

	free(out);
	return rc;
}

static void
names(void **state)
{
	static const struct {
		const char *opt, *value, *says;
	} wrong[] = {
	    {"--agency", "polic",
	        "no agency 'polic' in this log or agreement: did you mean "
	        "'police'?"},
	    {"--purpose", "triage_advise",
	        "no purpose 'triage_advise' in this log or agreement: did "
	        "you mean 'triage_advice'?"},
	    {"--rule", "triage-requst",
	        "no rule 'triage-requst' in this log or agreement: did you "
	        "mean 'triage-request'?"},
	    {"--agency", "probation",
	        "no agency 'probation' in this log or agreement (audit stats "
	        "lists the log's)"},
	};
	/* Known to the archived agreement, not yet in the log: no rows. */
	static const char *const known[][2] = {
	    {"--agency", "ambulance"},
	    {"--purpose", "missing_person"},
	    {"--rule", "crew-to-trust"},
	    {"--agency", "police"},
	};
	char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		assert_int_equal(
		    filtered(wrong[i].opt, wrong[i].value, &err), 66);
		if (strstr(err, wrong[i].says) == NULL)
			fail_msg("stderr '%s' lacks '%s'", err, wrong[i].says);
		free(err);
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (filtered(known[i][0], known[i][1], &err) != EX_OK)
			fail_msg("%s %s: %s", known[i][0], known[i][1], err);
		free(err);
	}
	/* an event type: a usage error, with the closest type */
	assert_int_equal(filtered("--event", "acepted", &err), EX_USAGE);
	assert_non_null(strstr(
	    err, "unknown event type 'acepted': did you mean 'accepted'?"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
