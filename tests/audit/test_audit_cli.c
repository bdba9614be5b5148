/*
 * `concordat audit` run in-process (audit_cli with argv, output captured)
 * on a small log of the demo's crisis scenarios (S1, S2, S8 and S10,
 * docs/scenarios.md) signed with a broker key from keys/: every verb's output
 * asserted, every error path named with its exit code.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audittest.h"
#include "tests/lib/scratch.h"
#include "common/urgency.h"
#include "keys/keys.h"

#define NHS_X          "9434765919" /* has three disclosures' worth of events */
#define NHS_Y          "4010232137" /* one disclosure */
#define NHS_NONE       "9434765870" /* valid, never seen */
#define T0             1795440362123ULL /* 2026-11-23T13:26:02.123Z */
#define UNCHECKED_TEXT "valid (signature NOT checked: no --broker-key given)\n"

struct fixture {
	char *dir; /* scratch */
	char log[4096], key[4096], other_key[4096], pepper[4096];
	char open_pepper[4096], nolog[4096], empty[4096];
	uint64_t events;
};

static void
path(char *out, const char *dir, const char *name)
{
	if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096)
		fail_msg("path too long");
}

/* The events of one message, appended and checkpointed in one commit. */
static void
commit(struct audittest_log *l, const uint8_t *sk, struct event *evs, size_t n,
    uint64_t *count)
{
	struct audit_head head;
	MDB_txn *txn;

	assert_int_equal(audit_txn_begin(l->env, 0, &txn), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(audit_append(l->a, txn, &evs[i], NULL), 0);
	assert_int_equal(audit_checkpoint(l->a, txn, checkpoint_sign_key,
	                     (void *)(uintptr_t)sk, &head),
	    0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	*count += n;
}

static void
base(struct event *ev, int type, uint64_t ms, const char *from,
    const char *purpose, const uint8_t *ref, uint8_t msg)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->time_ms = ms;
	snprintf(ev->sender, sizeof(ev->sender), "%s", from);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", purpose);
	ev->has_msg_id = true;
	memset(ev->msg_id, msg, sizeof(ev->msg_id));
	ev->has_subject_ref = true;
	memcpy(ev->subject_ref, ref, 32);
	ev->kind = KIND_RECORD;
	ev->urgency = URGENCY_URGENT;
}

static void
to(struct event *ev, const char *recipient)
{
	snprintf(ev->recipient, sizeof(ev->recipient), "%s", recipient);
}

static void
decision(
    struct event *ev, fieldset disclosed, const char *rule, const char *basis)
{
	ev->disclosed = disclosed;
	ev->withheld = (fieldset)(FIELDS_ALL & ~disclosed);
	ev->n_rules = 1;
	snprintf(ev->rules[0], sizeof(ev->rules[0]), "%s", rule);
	ev->n_bases = 1;
	snprintf(ev->bases[0], sizeof(ev->bases[0]), "%s", basis);
	ev->n_obligations = 1;
	snprintf(ev->obligations[0], sizeof(ev->obligations[0]),
	    "no_onward_disclosure");
	ev->has_policy_sha256 = true;
	memset(ev->policy_sha256, 0x42, 32);
}

#define F(x) FIELDS_BIT(FIELD_##x)

static void
build_log(struct fixture *f)
{
	struct keys_secret *broker;
	struct audittest_log l;
	struct event *e = calloc(4, sizeof(*e));
	uint8_t *pepper, x[32], y[32];
	uint64_t n = 0;

	assert_non_null(e);
	assert_int_equal(keys_load_secret(f->key, &broker), 0);
	assert_int_equal(keys_pepper_load(f->pepper, &pepper), 0);
	assert_int_equal(keys_subject_ref_nhs(pepper, NHS_X, x), 0);
	assert_int_equal(keys_subject_ref_nhs(pepper, NHS_Y, y), 0);
	keys_pepper_free(pepper);
	audittest_open(&l, f->log, 0);
	/* leaves 0..9 indexed, 10 and 11 read as the tail */
	audit_set_index_lag(l.a, 5);

	memset(&e[0], 0, sizeof(e[0]));
	e[0].type = EVENT_BROKER_STARTED;
	e[0].time_ms = T0 - 60000;
	memset(&e[1], 0, sizeof(e[1]));
	e[1].type = EVENT_POLICY_ACTIVATED;
	e[1].time_ms = T0 - 60000;
	e[1].has_policy_sha256 = true;
	memset(e[1].policy_sha256, 0x42, 32);
	commit(&l, broker->sign_sk, e, 2, &n); /* seq 0, 1 */

	/* S1: police ask the trust for triage advice about X. */
	base(&e[0], EVENT_ACCEPTED, T0, "police", "triage_advice", x, 0xa1);
	e[0].n_recipients = 1;
	snprintf(e[0].recipients[0], sizeof(e[0].recipients[0]),
	    "mental_health_trust");
	base(&e[1], EVENT_DECISION, T0, "police", "triage_advice", x, 0xa1);
	to(&e[1], "mental_health_trust");
	decision(&e[1],
	    F(IDENTITY) | F(DEMOGRAPHICS) | F(COMMUNICATION) | F(PRESENTATION) |
	        F(SUBSTANCES) | F(RISKS) | F(HEALTH) | F(DEPENDENTS),
	    "triage-request", "MHA 1983 s136(1C); UK GDPR 6(1)(e), 9(2)(h)");
	commit(&l, broker->sign_sk, e, 2, &n); /* seq 2, 3 */
	base(&e[0], EVENT_DELIVERED, T0 + 1000, "police", "triage_advice", x,
	    0xa1);
	to(&e[0], "mental_health_trust");
	commit(&l, broker->sign_sk, e, 1, &n); /* seq 4 */
	base(&e[0], EVENT_ACKNOWLEDGED, T0 + 2000, "police", "triage_advice", x,
	    0xa1);
	to(&e[0], "mental_health_trust");
	commit(&l, broker->sign_sk, e, 1, &n); /* seq 5 */

	/* S2: the trust replies, break-glass, adding physical_needs. */
	base(&e[0], EVENT_ACCEPTED, T0 + 300000, "mental_health_trust",
	    "triage_advice", x, 0xb2);
	e[0].urgency = URGENCY_EMERGENCY;
	e[0].n_recipients = 1;
	snprintf(e[0].recipients[0], sizeof(e[0].recipients[0]), "police");
	base(&e[1], EVENT_DECISION, T0 + 300000, "mental_health_trust",
	    "triage_advice", x, 0xb2);
	e[1].urgency = URGENCY_EMERGENCY;
	to(&e[1], "police");
	decision(&e[1],
	    F(SERVICES) | F(CRISIS_PLAN) | F(RISKS) | F(COMMUNICATION) |
	        F(HEALTH) | F(DEPENDENTS) | F(PHYSICAL_NEEDS),
	    "triage-reply", "Caldicott principle 7; UK GDPR 6(1)(d)");
	e[1].breakglass = true;
	e[1].emergency_reason = EMERGENCY_REASON_RISK_TO_LIFE;
	commit(&l, broker->sign_sk, e, 2, &n); /* seq 6, 7 */

	/* S8: a purpose the agreement does not cover. */
	base(&e[0], EVENT_REJECTED, T0 + 600000, "police", "law_enforcement", x,
	    0xc3);
	e[0].reason = WIRE_REASON_UNDECLARED_PURPOSE;
	snprintf(e[0].detail, sizeof(e[0].detail),
	    "purpose 'law_enforcement' is not declared by the policy");
	commit(&l, broker->sign_sk, e, 1, &n); /* seq 8 */

	/* Y: social care asks police to support an assessment (S5). */
	base(&e[0], EVENT_DECISION, T0 + 86400000, "social_care",
	    "mha_assessment", y, 0xd4);
	to(&e[0], "police");
	decision(&e[0], F(IDENTITY) | F(RISKS) | F(DEPENDENTS), "amhp-support",
	    "MHA 1983 s135; UK GDPR 6(1)(e)");
	/* a decision that disclosed nothing is not a disclosure */
	base(&e[1], EVENT_DECISION, T0 + 86400000, "social_care",
	    "mha_assessment", y, 0xd4);
	to(&e[1], "ambulance");
	decision(&e[1], 0, "amhp-support", "MHA 1983 s135");
	memset(&e[2], 0, sizeof(e[2]));
	e[2].type = EVENT_CONNECTION_REFUSED;
	e[2].time_ms = T0 + 86400000 + 5;
	/* a name from the network, shaped as a spreadsheet formula */
	snprintf(e[2].peer, sizeof(e[2].peer), "=cmd|' /C calc'!A0");
	commit(&l, broker->sign_sk, e, 3, &n); /* seq 9, 10, 11 */

	audittest_close(&l);
	keys_secret_free(broker);
	free(e);
	f->events = n;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char keys[4096], other[4096];
	MDB_env *env;

	assert_non_null(f);
	f->dir = scratch_dir("audit");
	path(f->log, f->dir, "log");
	path(keys, f->dir, "keys");
	path(other, f->dir, "other");
	path(f->key, keys, "broker.key");
	path(f->other_key, other, "broker.pub");
	path(f->pepper, f->dir, "pepper");
	path(f->open_pepper, f->dir, "pepper-0644");
	path(f->nolog, f->dir, "no-such-log");
	path(f->empty, f->dir, "empty");
	assert_int_equal(keys_generate(NULL, keys), 0);
	assert_int_equal(keys_generate(NULL, other), 0);
	assert_int_equal(keys_pepper_generate(f->pepper), 0);
	assert_int_equal(keys_pepper_generate(f->open_pepper), 0);
	assert_int_equal(chmod(f->open_pepper, 0644), 0);
	build_log(f);
	path(f->key, keys, "broker.pub"); /* verifiers need only this */
	/* an LMDB environment that holds no audit log */
	assert_int_equal(audit_env_open(f->empty, 0, 0, &env), 0);
	audit_env_close(env);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	scratch_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/*
 * Runs the CLI with the NULL-terminated arguments; checks the exit code
 * and, when want_err is not NULL, that stderr holds it. *out (may be
 * NULL) receives stdout.
 */
static void
run(int want_rc, const char *want_err, char **out, ...)
{
	va_list ap;
	char *err;
	int rc;

	va_start(ap, out);
	rc = audittest_vcli(out, &err, ap);
	va_end(ap);
	if (rc != want_rc ||
	    (want_err != NULL && strstr(err, want_err) == NULL))
		fail_msg("exit %d (want %d%s%s), stderr: %s", rc, want_rc,
		    want_err != NULL ? ", saying " : "",
		    want_err != NULL ? want_err : "", err);
	free(err);
}

#define RUN(want_rc, want_err, out, ...)                                       \
	run(want_rc, want_err, out, __VA_ARGS__, (char *)NULL)

static void
has(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("output lacks '%s':\n%s", want, text);
}

static void
lacks(const char *text, const char *want)
{
	if (strstr(text, want) != NULL)
		fail_msg("output has '%s':\n%s", want, text);
}

static size_t
lines(const char *text)
{
	return scratch_count(text, "\n");
}

static void
test_help(void **state)
{
	static const char *const verbs[] = {"query", "report", "verify",
	    "reindex", "prove", "stats", "check-proof"};
	char *out, want[64];

	(void)state;
	RUN(EX_OK, NULL, &out, "--help");
	has(out, "usage: concordat audit query");
	has(out, "check-proof");
	free(out);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		RUN(EX_OK, NULL, &out, verbs[i], "--help");
		snprintf(
		    want, sizeof(want), "usage: concordat audit %s", verbs[i]);
		has(out, want);
		free(out);
		/* an unknown option, named */
		RUN(EX_USAGE, "unknown option '--frob'", NULL, verbs[i],
		    "--frob");
	}
	{
		char *err;
		assert_int_equal(audittest_cli(NULL, &err, NULL), EX_USAGE);
		has(err, "usage:");
		free(err);
	}
	RUN(EX_USAGE, "audit: unknown verb 'frob'", NULL, "frob");
}

static void
test_query_table(void **state)
{
	struct fixture *f = *state;
	char *out;

	RUN(EX_OK, NULL, &out, "query", "--data", f->log);
	assert_int_equal(lines(out), 1 + f->events);
	has(out, "EVENT              MSG_ID                           FROM");
	has(out, "2026-11-23T13:26:02.123Z");
	has(out, "broker_started");
	/* the S1 decision row, in its columns (test_audit_query_cli: all) */
	has(out, "mental_health_trust triage_advice    urgent    -   identity");
	has(out, "undeclared_purpose");
	has(out, "2       2026-11-23T13:26:02.123Z accepted           a1a1");
	lacks(out, " \n"); /* no trailing blanks */
	free(out);
}

static void
test_query_json(void **state)
{
	struct fixture *f = *state;
	char *out, *line, *save = NULL;
	json_error_t jerr;
	size_t n = 0;

	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--json");
	assert_int_equal(lines(out), f->events);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++) {
		json_t *o = json_loads(line, 0, &jerr);
		assert_non_null(o);
		assert_int_equal(
		    json_integer_value(json_object_get(o, "seq")), n);
		if (n == 7) {
			assert_string_equal(
			    json_string_value(json_object_get(o, "type")),
			    "decision");
			assert_true(
			    json_is_true(json_object_get(o, "breakglass")));
			assert_int_equal(
			    json_array_size(json_object_get(o, "disclosed")),
			    7);
			assert_string_equal(
			    json_string_value(json_array_get(
			        json_object_get(o, "disclosed"), 0)),
			    "communication");
			assert_string_equal(
			    json_string_value(json_object_get(o, "urgency")),
			    "emergency");
			assert_string_equal(json_string_value(json_object_get(
			                        o, "emergency_reason")),
			    "risk_to_life");
			assert_string_equal(
			    json_string_value(json_object_get(o, "emergency")),
			    "risk to life");
			assert_int_equal(
			    strlen(json_string_value(
			        json_object_get(o, "subject_ref"))),
			    64);
		}
		json_decref(o);
	}
	assert_int_equal(n, f->events);
	free(out);
}

static void
test_query_csv(void **state)
{
	struct fixture *f = *state;
	char *out;

	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--csv",
	    "--breakglass");
	assert_int_equal(lines(out), 2);
	has(out,
	    "seq,time,type,msg_id,sender,recipient,recipients,purpose,"
	    "urgency,kind,subject_ref,breakglass,disclosed,withheld,rules,"
	    "bases,obligations,policy_sha256,emergency_reason,emergency,"
	    "reason,detail,peer,count,agreement_id,agreement_version,"
	    "signers,key_before,key_after,note\r\n");
	has(out, "\"7\",\"2026-11-23T13:31:02.123Z\",\"decision\"");
	has(out,
	    ",\"true\",\"communication;physical_needs;services;"
	    "crisis_plan;risks;health;dependents\",");
	/* the reason, code and words; never a justification (sealed) */
	has(out, ",\"risk_to_life\",\"risk to life\",");
	free(out);
	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--csv", "--event",
	    "connection_refused");
	has(out, /* a field starting with = is defused with an apostrophe */
	    ",\"'=cmd|' /C calc'!A0\",\"0\",\"\",\"0\",\"\",\"\",\"\",\"from "
	    "=");
	free(out);
}

/* The number of data rows of a --json query with extra arguments. */
#define ROWS(f, ...)                                                           \
	({                                                                     \
		char *o_;                                                      \
		RUN(EX_OK, NULL, &o_, "query", "--data", (f)->log, "--json",   \
		    __VA_ARGS__);                                              \
		size_t n_ = lines(o_);                                         \
		free(o_);                                                      \
		n_;                                                            \
	})

static void
test_query_filters(void **state)
{
	struct fixture *f = *state;
	char ref[65], *out;

	assert_int_equal(ROWS(f, "--subject", NHS_X, "--pepper", f->pepper), 7);
	assert_int_equal(
	    ROWS(f, "--subject", "943 476 5919", "--pepper", f->pepper), 7);
	assert_int_equal(ROWS(f, "--subject", NHS_Y, "--pepper", f->pepper), 2);
	assert_int_equal(
	    ROWS(f, "--subject", NHS_NONE, "--pepper", f->pepper), 0);
	assert_int_equal(ROWS(f, "--agency", "social_care"), 2);
	assert_int_equal(ROWS(f, "--agency", "ambulance"), 1);
	assert_int_equal(
	    ROWS(f, "--agency", "police", "--event", "decision"), 3);
	assert_int_equal(ROWS(f, "--purpose", "triage_advice"), 6);
	assert_int_equal(ROWS(f, "--rule", "triage-reply"), 1);
	assert_int_equal(ROWS(f, "--breakglass"), 1);
	assert_int_equal(ROWS(f, "--event", "rejected"), 1);
	assert_int_equal(ROWS(f, "--since", "2026-11-24"), 3);
	assert_int_equal(ROWS(f, "--until", "2026-11-23T13:26:02.123Z"), 2);
	/* delivered and acknowledged; until is exclusive */
	assert_int_equal(ROWS(f, "--since", "2026-11-23T13:26:03Z", "--until",
	                     "2026-11-23T13:31:02.123Z"),
	    2);
	assert_int_equal(
	    ROWS(f, "--msg-id", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"), 4);
	assert_int_equal(
	    ROWS(f, "--msg-id", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "--event",
	        "acknowledged", "--agency", "mental_health_trust"),
	    1);
	/* --subject-ref: the hex the JSON gives */
	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--json", "--event",
	    "rejected");
	char *at = strstr(out, "\"subject_ref\":\"");
	assert_non_null(at);
	snprintf(ref, sizeof(ref), "%.64s", at + 15);
	free(out);
	assert_int_equal(ROWS(f, "--subject-ref", ref), 7);
}

static void
test_query_errors(void **state)
{
	struct fixture *f = *state;

	RUN(EX_USAGE, "audit query: missing --data DIR", NULL, "query");
	RUN(EX_USAGE, "missing value for '--data'", NULL, "query", "--data");
	RUN(EX_USAGE, "unexpected argument 'extra'", NULL, "query", "--data",
	    f->log, "extra");
	RUN(EX_NOINPUT, "no-such-log: no audit log there", NULL, "query",
	    "--data", f->nolog);
	RUN(EX_NOINPUT, "empty: not an audit log", NULL, "query", "--data",
	    f->empty);
	RUN(EX_USAGE, "invalid agency id 'Police'", NULL, "query", "--data",
	    f->log, "--agency", "Police");
	RUN(EX_USAGE, "invalid purpose 'triage advice'", NULL, "query",
	    "--data", f->log, "--purpose", "triage advice");
	RUN(EX_USAGE, "invalid rule id '-x'", NULL, "query", "--data", f->log,
	    "--rule", "-x");
	RUN(EX_USAGE, "unknown event type 'decided'", NULL, "query", "--data",
	    f->log, "--event", "decided");
	RUN(EX_USAGE, "--since 'yesterday': not an RFC 3339", NULL, "query",
	    "--data", f->log, "--since", "yesterday");
	RUN(EX_USAGE, "--until must be later than --since", NULL, "query",
	    "--data", f->log, "--since", "2026-11-24", "--until", "2026-11-23");
	RUN(EX_USAGE, "'9434765918' is not a valid NHS number", NULL, "query",
	    "--data", f->log, "--subject", "9434765918", "--pepper", f->pepper);
	RUN(EX_USAGE, "--subject needs --pepper FILE", NULL, "query", "--data",
	    f->log, "--subject", NHS_X);
	RUN(EX_USAGE, "--pepper is only used with --subject", NULL, "query",
	    "--data", f->log, "--pepper", f->pepper);
	RUN(EX_USAGE, "'SMITH,John' needs --dob", NULL, "query", "--data",
	    f->log, "--name", "SMITH,John", "--pepper", f->pepper);
	RUN(EX_USAGE, "--subject-ref 'xyz': want 64 hex digits", NULL, "query",
	    "--data", f->log, "--subject-ref", "xyz");
	RUN(EX_USAGE, "--msg-id 'a1': want 32 hex digits", NULL, "query",
	    "--data", f->log, "--msg-id", "a1");
	RUN(EX_NOINPUT, "pepper-missing", NULL, "query", "--data", f->log,
	    "--subject", NHS_X, "--pepper", "pepper-missing");
	RUN(EX_NOPERM, "readable by group or others", NULL, "query", "--data",
	    f->log, "--subject", NHS_X, "--pepper", f->open_pepper);
}

static void
test_report(void **state)
{
	struct fixture *f = *state;
	char *out;

	RUN(EX_OK, NULL, &out, "report", "--data", f->log, "--subject", NHS_X,
	    "--pepper", f->pepper);
	has(out,
	    "Subject access report\nPerson: NHS number 943 476 5919\n"
	    "Audit log: " AUDITTEST_ORIGIN ", 12 entries\n");
	has(out,
	    "\n1. 23 November 2026, 13:26:02 UTC\n"
	    "   The police shared information about you with the mental "
	    "health trust.\n"
	    "   Why: triage advice (urgent)\n"
	    "   What the recipient was allowed to see (a field may have been "
	    "empty):\n"
	    "     - your name, address and contact details (or a "
	    "description of you) [identity]\n");
	has(out,
	    "     - risks (self-harm, suicide, aggression, confusion, "
	    "impaired judgement, self-neglect, going missing) [risks]\n");
	has(out,
	    "   Held back (not allowed by the agreement): relatives, "
	    "physical_needs, services, crisis_plan, clinical\n");
	has(out,
	    "   Legal basis: MHA 1983 s136(1C); UK GDPR 6(1)(e), "
	    "9(2)(h)\n");
	has(out, "   Sharing rule: triage-request\n");
	has(out, "   Conditions on the recipient: no_onward_disclosure\n");
	has(out, "   Emergency (break-glass): no\n");
	has(out,
	    "   Received and stored by the recipient: 23 November 2026, "
	    "13:26:04 UTC\n   Log entry: 3\n");
	has(out,
	    "\n2. 23 November 2026, 13:31:02 UTC\n"
	    "   The mental health trust shared information about you with "
	    "the police.\n"
	    "   Why: triage advice (emergency)\n");
	has(out,
	    "   Emergency (break-glass): yes, in an emergency (risk to "
	    "life)\n");
	has(out, "\n2 disclosures in all.");
	lacks(out, "3. "); /* the rejected message disclosed nothing */
	lacks(out, "social care");
	free(out);

	RUN(EX_OK, NULL, &out, "report", "--data", f->log, "--subject", NHS_Y,
	    "--pepper", f->pepper, "--json");
	assert_int_equal(lines(out), 1); /* the empty decision is not listed */
	{
		json_error_t jerr;
		json_t *o = json_loads(out, 0, &jerr);
		assert_non_null(o);
		assert_string_equal(
		    json_string_value(json_object_get(o, "sender")),
		    "social_care");
		assert_int_equal(
		    json_integer_value(json_object_get(o, "seq")), 9);
		json_t *fields = json_object_get(o, "allowed");
		assert_int_equal(json_array_size(fields), 3);
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(fields, 0), "field")),
		    "identity");
		assert_string_equal(
		    json_string_value(json_object_get(o, "status")), "");
		json_decref(o);
	}
	free(out);

	RUN(EX_OK, NULL, &out, "report", "--data", f->log, "--subject",
	    NHS_NONE, "--pepper", f->pepper);
	has(out, "No disclosure of information about this person is recorded.");
	free(out);

	/* a date range: only the second disclosure */
	RUN(EX_OK, NULL, &out, "report", "--data", f->log, "--subject", NHS_X,
	    "--pepper", f->pepper, "--since", "2026-11-23T13:30:00Z");
	lacks(out, "Log entry: 3\n");
	has(out, "Log entry: 7\n");
	has(out, "\n1 disclosure in all.");
	free(out);
	RUN(EX_USAGE, "--until must be later than --since", NULL, "report",
	    "--data", f->log, "--subject", NHS_X, "--pepper", f->pepper,
	    "--since", "2026-11-24", "--until", "2026-11-24");
	RUN(EX_USAGE, "audit report: --until 'soon': not an RFC 3339", NULL,
	    "report", "--data", f->log, "--subject", NHS_X, "--pepper",
	    f->pepper, "--until", "soon");
	RUN(EX_USAGE, "audit report: missing --subject NHS", NULL, "report",
	    "--data", f->log);
	RUN(EX_USAGE, "audit report: missing --data DIR", NULL, "report",
	    "--subject", NHS_X);
	RUN(EX_USAGE, "not a valid NHS number", NULL, "report", "--data",
	    f->log, "--subject", "123", "--pepper", f->pepper);
	RUN(EX_USAGE, "--subject needs --pepper FILE", NULL, "report", "--data",
	    f->log, "--subject", NHS_X);
	RUN(EX_NOINPUT, "no audit log there", NULL, "report", "--data",
	    f->nolog, "--subject", NHS_X, "--pepper", f->pepper);
}

/* The report names agencies as the agreement given with --policy does. */
static void
test_report_names(void **state)
{
	struct fixture *f = *state;
	char policy[4096], example[4096], *text, *at, *out;
	FILE *in;
	long n;

	snprintf(example, sizeof(example),
	    "%s/policy/examples/crisis-care.yaml",
	    getenv("CONCORDAT_SOURCE_DIR"));
	assert_non_null(in = fopen(example, "rb"));
	assert_int_equal(fseek(in, 0, SEEK_END), 0);
	assert_true((n = ftell(in)) > 0);
	rewind(in);
	assert_non_null(text = calloc(1, (size_t)n + 64));
	assert_int_equal(fread(text, 1, (size_t)n, in), (size_t)n);
	fclose(in);
	/* the example, with the police named otherwise */
	assert_non_null(at = strstr(text, "{id: police, name: police}"));
	memmove(at + 42, at + 26, strlen(at + 26) + 1);
	memcpy(at, "{id: police, name: West Yorkshire Police }", 42);
	path(policy, f->dir, "names.yaml");
	scratch_write(policy, text, 0644);
	free(text);
	RUN(EX_OK, NULL, &out, "report", "--data", f->log, "--subject", NHS_X,
	    "--pepper", f->pepper, "--policy", policy);
	has(out,
	    "   West Yorkshire Police shared information about you with "
	    "mental health trust.\n");
	has(out,
	    "   Mental health trust shared information about you with West "
	    "Yorkshire Police.\n");
	free(out);
	RUN(EX_NOINPUT, "audit report: cannot load", NULL, "report", "--data",
	    f->log, "--subject", NHS_X, "--pepper", f->pepper, "--policy",
	    "no-such.yaml");
	scratch_write(policy, "agencies: [police\n", 0644);
	RUN(EX_CONFIG, "names.yaml: 1 error", NULL, "report", "--data", f->log,
	    "--subject", NHS_X, "--pepper", f->pepper, "--policy", policy);
}

/* Removes the index entry agency -> leaf seq. */
static void
drop_index_entry(const char *dir, const char *agency, uint64_t seq)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t val[8];
	MDB_val k = {strlen(agency), (void *)(uintptr_t)agency}, v = {8, val};

	for (int i = 7; i >= 0; i--, seq >>= 8)
		val[i] = (uint8_t)seq;
	assert_int_equal(audit_env_open(dir, 0, 0, &env), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "audit.agency", 0, &dbi), 0);
	assert_int_equal(mdb_del(txn, dbi, &k, &v), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_env_close(env);
}

/* Flips a byte of leaf seq in the stored log. */
static void
tamper(const char *dir, uint64_t seq)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8], buf[4096];
	MDB_val k = {8, key}, v;

	for (int i = 7; i >= 0; i--, seq >>= 8)
		key[i] = (uint8_t)seq;
	assert_int_equal(audit_env_open(dir, 0, 0, &env), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "audit.leaves", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size - 1] ^= 1;
	v.mv_data = buf;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audit_env_close(env);
}

static void
test_verify(void **state)
{
	struct fixture *f = *state;
	char *out;

	RUN(EX_OK, NULL, &out, "verify", "--data", f->log, "--broker-key",
	    f->key);
	has(out,
	    "ok: " AUDITTEST_ORIGIN ": 12 leaves, 7 checkpoints verified; "
	    "latest size 12 root ");
	assert_int_equal(lines(out), 1);
	free(out);
	RUN(EX_DATAERR, "audit verify: ", NULL, "verify", "--data", f->log,
	    "--broker-key", f->other_key);
	RUN(EX_DATAERR, "checkpoint at size 2: not signed by the broker key",
	    NULL, "verify", "--data", f->log, "--broker-key", f->other_key);
	RUN(EX_NOINPUT, "broker key nope.pub", NULL, "verify", "--data", f->log,
	    "--broker-key", "nope.pub");
	RUN(EX_DATAERR, "broker key", NULL, "verify", "--data", f->log,
	    "--broker-key", f->pepper);
	RUN(EX_USAGE, "audit verify: missing --broker-key FILE", NULL, "verify",
	    "--data", f->log);
	RUN(EX_USAGE, "audit verify: missing --data DIR", NULL, "verify",
	    "--broker-key", f->key);
	RUN(EX_NOINPUT, "not an audit log", NULL, "verify", "--data", f->empty,
	    "--broker-key", f->key);
	/* --indexes: the entries queries read, checked against the leaves */
	RUN(EX_OK, NULL, &out, "verify", "--data", f->log, "--broker-key",
	    f->key, "--indexes");
	/* leaves 0..9: subject, msg_id, time, purpose, agencies, rules, tags */
	has(out, "; 63 index entries match the leaves\n");
	free(out);
	/* an entry deleted to hide a disclosure from the police's queries */
	drop_index_entry(f->log, "police", 3);
	RUN(EX_OK, NULL, NULL, "verify", "--data", f->log, "--broker-key",
	    f->key);
	RUN(EX_DATAERR, "the agency index does not match the leaves: ", NULL,
	    "verify", "--data", f->log, "--broker-key", f->key, "--indexes");
	/* what the deletion did: the police's query misses leaf 3 */
	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--agency", "police",
	    "--json");
	lacks(out, "\"seq\":3,");
	free(out);
	/*
	 * The remedy: rebuilt from the entries, in batches of 1,024 as the
	 * broker makes them, so these 12 are all read one by one (test_audit
	 * rebuilds a larger log).
	 */
	RUN(EX_OK, NULL, &out, "reindex", "--data", f->log);
	has(out,
	    "reindexed: " AUDITTEST_ORIGIN ": no index entries: the 12 "
	    "entries are fewer than a batch and are read one by one\n");
	free(out);
	RUN(EX_OK, NULL, &out, "verify", "--data", f->log, "--broker-key",
	    f->key, "--indexes");
	has(out, "; 0 index entries match the leaves\n");
	free(out);
	RUN(EX_OK, NULL, &out, "query", "--data", f->log, "--agency", "police",
	    "--json");
	assert_true(lines(out) >= 4); /* leaf 3 found again, and the rest */
	has(out, "\"seq\":3,");
	free(out);
	RUN(EX_USAGE, "audit reindex: missing --data DIR", NULL, "reindex");
	RUN(EX_NOINPUT, "no audit log there", NULL, "reindex", "--data",
	    f->nolog);
	RUN(EX_NOINPUT, "not an audit log", NULL, "reindex", "--data",
	    f->empty);
	tamper(f->log, 6);
	RUN(EX_DATAERR, "audit verify: ", NULL, "verify", "--data", f->log,
	    "--broker-key", f->key);
	RUN(EX_DATAERR, "leaf 6: its bytes do not match its hash in the tree",
	    NULL, "verify", "--data", f->log, "--broker-key", f->key);
}

static void
test_prove_and_check(void **state)
{
	struct fixture *f = *state;
	char *out, file[4096], bad[4096];
	json_error_t jerr;
	json_t *o;

	RUN(EX_OK, NULL, &out, "prove", "--data", f->log, "--seq", "3");
	has(out, "leaf       3: decision at 2026-11-23T13:26:02.123Z\n");
	has(out, "tree size  12\n");
	has(out, "\nproof      ");
	has(out, "checkpoint\n" AUDITTEST_ORIGIN "\n12\n");
	free(out);

	RUN(EX_OK, NULL, &out, "prove", "--data", f->log, "--seq", "3",
	    "--json");
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "leafIdx")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "treeSize")), 12);
	assert_int_equal(json_array_size(json_object_get(o, "proof")), 4);
	has(json_string_value(json_object_get(o, "checkpoint")),
	    "\n\n\xe2\x80\x94 " AUDITTEST_ORIGIN " ");
	path(file, f->dir, "proof.json");
	scratch_write(file, out, 0644);
	free(out);

	RUN(2, NULL, &out, "check-proof", file);
	assert_string_equal(out, UNCHECKED_TEXT);
	free(out);
	RUN(1, NULL, &out, "check-proof", "--broker-key", f->key, file);
	has(out, "invalid: the checkpoint's origin is '" AUDITTEST_ORIGIN "'");
	free(out);
	RUN(1, NULL, &out, "check-proof", "--broker-key", f->other_key, file);
	assert_string_equal(
	    out, "invalid: checkpoint is not signed by the broker key\n");
	free(out);

	/* the proof of another leaf, a changed entry, another tree */
	path(bad, f->dir, "bad.json");
	json_object_set_new(o, "leafIdx", json_integer(4));
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(1, NULL, &out, "check-proof", bad);
	assert_string_equal(
	    out, "invalid: the proof does not lead from leafHash to root\n");
	free(out);
	json_object_set_new(o, "leafIdx", json_integer(3));
	{
		char *leaf =
		    strdup(json_string_value(json_object_get(o, "leaf")));
		leaf[5] = leaf[5] == 'A' ? 'B' : 'A';
		json_object_set_new(o, "leaf", json_string(leaf));
		free(leaf);
	}
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(1, NULL, &out, "check-proof", bad);
	assert_string_equal(out, "invalid: leafHash is not the hash of leaf\n");
	free(out);
	json_object_del(o, "leaf");
	json_object_set_new(o, "checkpoint", json_string("not a note"));
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(1, NULL, &out, "check-proof", bad);
	assert_string_equal(
	    out, "invalid: checkpoint is not a checkpoint note\n");
	free(out);
	json_object_del(o, "checkpoint");
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(2, NULL, &out, "check-proof", bad); /* vector shape only */
	free(out);
	RUN(1, NULL, &out, "check-proof", "--broker-key", f->key, bad);
	has(out, "has no checkpoint");
	free(out);
	json_decref(o);

	RUN(EX_DATAERR,
	    "leaf 12 is not covered by the latest checkpoint (size "
	    "12)",
	    NULL, "prove", "--data", f->log, "--seq", "12");
	RUN(EX_USAGE, "--seq 'x3': not a leaf number", NULL, "prove", "--data",
	    f->log, "--seq", "x3");
	RUN(EX_USAGE, "audit prove: give --seq N or --from SIZE", NULL, "prove",
	    "--data", f->log);
	RUN(EX_USAGE, "audit prove: give --seq N or --from SIZE", NULL, "prove",
	    "--data", f->log, "--seq", "1", "--from", "2");
	RUN(EX_USAGE, "--from '-1': not a tree size", NULL, "prove", "--data",
	    f->log, "--from", "-1");
	RUN(EX_DATAERR, "size 13 is beyond the latest checkpoint (size 12)",
	    NULL, "prove", "--data", f->log, "--from", "13");
	RUN(EX_USAGE, "audit prove: missing --data DIR", NULL, "prove", "--seq",
	    "1");
	RUN(EX_NOINPUT, "no audit log there", NULL, "prove", "--data", f->nolog,
	    "--seq", "1");

	/* consistency from an older size to the latest checkpoint */
	RUN(EX_OK, NULL, &out, "prove", "--data", f->log, "--from", "5");
	has(out, "from size  5\n");
	has(out, "tree size  12\n");
	free(out);
	RUN(EX_OK, NULL, &out, "prove", "--data", f->log, "--from", "5",
	    "--json");
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "size1")), 5);
	assert_int_equal(json_integer_value(json_object_get(o, "size2")), 12);
	scratch_write(file, out, 0644);
	free(out);
	RUN(1, NULL, &out, "check-proof", "--broker-key", f->key, file);
	has(out, "not 'concordat/");
	free(out);
	RUN(1, NULL, &out, "check-proof", "--broker-key", f->other_key, file);
	assert_string_equal(
	    out, "invalid: checkpoint is not signed by the broker key\n");
	free(out);
	json_object_set_new(o, "size1", json_integer(4));
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(1, NULL, &out, "check-proof", bad);
	has(out, "invalid: the proof does not show");
	free(out);
	json_object_set_new(o, "size1", json_integer(5));
	json_object_set_new(o, "size2", json_integer(11));
	assert_int_equal(json_dump_file(o, bad, 0), 0);
	RUN(1, NULL, &out, "check-proof", bad);
	has(out, "invalid: ");
	free(out);
	json_decref(o);
	/* the same size: no proof needed, the roots must match */
	RUN(EX_OK, NULL, &out, "prove", "--data", f->log, "--from", "12",
	    "--json");
	scratch_write(file, out, 0644);
	free(out);
	RUN(2, NULL, &out, "check-proof", file);
	free(out);

	/* check-proof's own errors */
	RUN(EX_USAGE, "audit check-proof: missing FILE.json", NULL,
	    "check-proof");
	RUN(EX_USAGE, "unexpected argument", NULL, "check-proof", file, file);
	RUN(EX_NOINPUT, "audit check-proof: nope.json", NULL, "check-proof",
	    "nope.json");
	scratch_write(bad, "{ not json", 0644);
	RUN(EX_DATAERR, "not JSON", NULL, "check-proof", bad);
	scratch_write(bad, "[1, 2]", 0644);
	RUN(EX_DATAERR, "not a JSON object", NULL, "check-proof", bad);
	scratch_write(bad, "{\"tree\": 1}", 0644);
	RUN(EX_DATAERR, "neither an inclusion proof", NULL, "check-proof", bad);
	scratch_write(
	    bad, "{\"size1\": 1, \"size2\": 1, \"root1\": \"x\"}", 0644);
	RUN(1, NULL, &out, "check-proof", bad);
	assert_string_equal(
	    out, "invalid: root1 is not a base64 SHA-256 hash\n");
	free(out);
}

/* A log with events but no checkpoint has nothing to prove against. */
static void
test_prove_unsigned(void **state)
{
	struct fixture *f = *state;
	struct audittest_log l;
	struct event ev;
	char dir[4096];
	MDB_txn *txn;

	path(dir, f->dir, "unsigned");
	audittest_open(&l, dir, 0);
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_BROKER_STARTED;
	assert_int_equal(audit_txn_begin(l.env, 0, &txn), 0);
	assert_int_equal(audit_append(l.a, txn, &ev, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	audittest_close(&l);
	RUN(EX_DATAERR, "no signed checkpoint yet", NULL, "prove", "--data",
	    dir, "--seq", "0");
	{
		char *out;
		RUN(EX_OK, NULL, &out, "verify", "--data", dir, "--broker-key",
		    f->key);
		has(out,
		    "1 leaves, 0 checkpoints verified; 1 leaves not yet "
		    "signed");
		free(out);
	}
}

/* check-proof agrees with every published vector. */
static void
test_check_proof_vectors(void **state)
{
	static const char *const kinds[] = {"inclusion", "consistency"};
	char dir[4096], sub[4096], file[8192];
	unsigned count = 0;

	(void)state;
	for (int k = 0; k < 2; k++) {
		if (snprintf(dir, sizeof(dir), "%s/%s",
		        audittest_source("vectors/rfc6962"),
		        kinds[k]) >= (int)sizeof(dir))
			fail_msg("path too long");
		DIR *d = opendir(dir);
		struct dirent *e;
		assert_non_null(d);
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", dir,
			        e->d_name) >= (int)sizeof(sub))
				fail_msg("path too long");
			DIR *s = opendir(sub);
			struct dirent *v;
			assert_non_null(s);
			while ((v = readdir(s)) != NULL) {
				if (strstr(v->d_name, ".json") == NULL)
					continue;
				if (snprintf(file, sizeof(file), "%s/%s", sub,
				        v->d_name) >= (int)sizeof(file))
					fail_msg("path too long");
				/* wantErr, read as text: one vector's numbers
				 * are beyond jansson's integers */
				FILE *fp = fopen(file, "r");
				char text[8192];
				size_t len =
				    fread(text, 1, sizeof(text) - 1, fp);
				fclose(fp);
				text[len] = '\0';
				bool want_valid =
				    strstr(text, "\"wantErr\": false") != NULL;
				char *out;
				int rc = audittest_cli(
				    &out, NULL, "check-proof", file, NULL);
				if (want_valid
				        ? (rc != 2 ||
				              strcmp(out, UNCHECKED_TEXT) != 0)
				        : (rc != 1 ||
				              strncmp(out, "invalid: ", 9) !=
				                  0))
					fail_msg(
					    "%s: exit %d: %s", file, rc, out);
				free(out);
				count++;
			}
			closedir(s);
		}
		closedir(d);
	}
	assert_int_equal(count, 92);
}

static void
test_stats(void **state)
{
	struct fixture *f = *state;
	char *out;
	json_error_t jerr;
	json_t *o;

	RUN(EX_OK, NULL, &out, "stats", "--data", f->log);
	has(out, "audit log " AUDITTEST_ORIGIN ": 12 events\n");
	has(out, "\nevent                                events\n");
	has(out, "  decision                                4\n");
	has(out, "  police                                  8\n");
	has(out, "  triage_advice                           6\n");
	has(out, "  triage-request                          1\n");
	has(out, "\nbreak-glass events                        1\n");
	free(out);
	RUN(EX_OK, NULL, &out, "stats", "--data", f->log, "--json");
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "events")), 12);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "breakglass")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(o, "types"), "accepted")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(o, "agencies"), "social_care")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(o, "purposes"), "mha_assessment")),
	    2);
	json_decref(o);
	free(out);
	RUN(EX_USAGE, "audit stats: missing --data DIR", NULL, "stats");
	RUN(EX_NOINPUT, "no audit log there", NULL, "stats", "--data",
	    f->nolog);
}

int
main(void)
{
	/* test_verify tampers with the log: it runs last */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_query_table),
	    cmocka_unit_test(test_query_json),
	    cmocka_unit_test(test_query_csv),
	    cmocka_unit_test(test_query_filters),
	    cmocka_unit_test(test_query_errors),
	    cmocka_unit_test(test_report),
	    cmocka_unit_test(test_report_names),
	    cmocka_unit_test(test_prove_and_check),
	    cmocka_unit_test(test_prove_unsigned),
	    cmocka_unit_test(test_check_proof_vectors),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_verify),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
