/*
 * The `concordat policy` verbs end to end, run in-process through
 * policy_cli() with stdout and stderr captured: exit codes, the one-line
 * check, explain (table and JSON), diff, test and summary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/fileio.h"
#include "common/urgency.h"
#include "policy/verbs/policy_verbs.h"

static char example[4096], example_cases[4096], tmpdir[64];
static char *out, *err; /* what the last run printed */

static char *
read_stream(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	n = ftell(f);
	assert_true(n >= 0);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(f);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* Runs `concordat policy ARGS...` (NULL-terminated); returns the status. */
static int
run(char *first, ...)
{
	static char verb[] = "policy";
	char *argv[32], *a;
	int argc = 0, rc, saved_out, saved_err;
	FILE *fo = tmpfile(), *fe = tmpfile();
	va_list ap;

	assert_non_null(fo);
	assert_non_null(fe);
	argv[argc++] = verb;
	va_start(ap, first);
	for (a = first; a != NULL && argc < 31; a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	free(out);
	free(err);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	rc = policy_cli(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	fseek(fo, 0, SEEK_END);
	fseek(fe, 0, SEEK_END);
	out = read_stream(fo);
	err = read_stream(fe);
	return rc;
}

/* The line of text that starts with prefix, or fails. */
static char *
line_with(const char *text, const char *prefix)
{
	static char line[1024];
	const char *p = text;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, "\n");

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(line, sizeof(line), "%.*s", (int)n, p);
			return line;
		}
		p = p[n] == '\n' ? p + n + 1 : NULL;
	}
	fail_msg("no line starting '%s' in:\n%s", prefix, text);
	return NULL;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The example with one replacement applied, written to tmpdir/name. */
static char *
variant(const char *name, const char *from, const char *to)
{
	static char path[4200];
	uint8_t *buf;
	size_t len;
	char *hit, *text;

	assert_int_equal(fileio_read(example, 1 << 20, &buf, &len), 0);
	hit = strstr((char *)buf, from);
	assert_non_null(hit);
	text = malloc(len + strlen(to) + 1);
	assert_non_null(text);
	sprintf(text, "%.*s%s%s", (int)(hit - (char *)buf), (char *)buf, to,
	    hit + strlen(from));
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	write_text(path, text);
	free(text);
	free(buf);
	return path;
}

static void
test_usage(void **state)
{
	(void)state;
	assert_int_equal(run("--help", NULL), 0);
	assert_non_null(strstr(out, "usage: concordat policy check FILE"));
	assert_int_equal(run("explain", "--help", NULL), 0);
	assert_non_null(strstr(out, "usage:"));
	assert_int_equal(run(NULL), 64);
	assert_non_null(strstr(err, "usage:"));
	assert_int_equal(run("chek", example, NULL), 64);
	assert_string_equal(err,
	    "concordat: policy: unknown verb 'chek' (did "
	    "you mean 'check'?)\n");
	assert_int_equal(run("check", NULL), 64);
	assert_int_equal(run("check", example, example, NULL), 64);
	assert_int_equal(run("check", "--bogus", example, NULL), 64);
	assert_int_equal(run("check", "--json", example, NULL), 64);
	assert_int_equal(run("--version", NULL), 0);
	assert_non_null(strstr(out, "concordat "));
}

static void
test_check(void **state)
{
	char want[20000], path[4200];

	(void)state;
	assert_int_equal(run("check", example, NULL), 0);
	snprintf(want, sizeof(want),
	    "%s: ok: agreement "
	    "example-crisis-care-concordat version 1, 4 agencies, 6 purposes, "
	    "8 rules, 2 never entries, sha256 ",
	    example);
	assert_int_equal(strncmp(out, want, strlen(want)), 0);
	assert_int_equal(strlen(out), strlen(want) + 64 + 1);
	assert_string_equal(err, "");

	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	write_text(path,
	    "agreement: x\nversion: 1\napproved_by: y\n"
	    "agencies: [police]\npurposes: {}\nrules:\n"
	    "  - {id: a, from: polce, to: [police], purposes: [], "
	    "share: [clincal], basis: b}\n");
	assert_int_equal(run("check", path, NULL), 78);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want),
	    "%s:7: rule 'a': 'purposes': must not be empty\n"
	    "%s:7: unknown agency 'polce' (did you mean 'police'?)\n"
	    "%s:7: unknown field 'clincal' (did you mean 'clinical'?)\n"
	    "concordat: policy check: %s: 3 errors\n",
	    path, path, path, path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	assert_int_equal(run("check", path, NULL), 66);
	snprintf(want, sizeof(want),
	    "concordat: policy check: cannot load "
	    "%s: no such file\n",
	    path);
	assert_string_equal(err, want);
	assert_int_equal(run("check", tmpdir, NULL), 78);
}

static void
test_explain(void **state)
{
	(void)state;
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", NULL),
	    0);
	assert_string_equal(line_with(out, "clinical "),
	    "clinical         withheld   never entry 1 (line 118)");
	assert_string_equal(line_with(out, "physical_needs "),
	    "physical_needs   withheld   no rule");
	assert_string_equal(line_with(out, "services "),
	    "services         disclosed  rule triage-reply (line 51)");
	assert_string_equal(
	    line_with(out, "break-glass:"), "break-glass:   no");
	assert_string_equal(line_with(out, "obligations:"),
	    "obligations:   no_onward_disclosure, review_breakglass");
	assert_string_equal(line_with(out, "expires:"),
	    "expires:       30m (an undelivered message is then deleted and "
	    "the sender told)");

	/* Break-glass: emergency and a reason. */
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", "--urgency",
	        "emergency", "--reason", "risk_to_life", NULL),
	    0);
	assert_string_equal(line_with(out, "physical_needs "),
	    "physical_needs   disclosed  rule triage-reply (line 51), "
	    "break-glass");
	assert_string_equal(line_with(out, "clinical "),
	    "clinical         withheld   never entry 1 (line 118)");
	assert_string_equal(
	    line_with(out, "break-glass:"), "break-glass:   physical_needs");
	assert_string_equal(
	    line_with(out, "reason:"), "reason:        risk to life");

	/* Emergency without a reason: no break-glass. A reason not on the
	 * list, or the old free text, is a usage error. */
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", "--urgency",
	        "emergency", NULL),
	    0);
	assert_string_equal(line_with(out, "physical_needs "),
	    "physical_needs   withheld   no rule");
	assert_string_equal(line_with(out, "reason:"),
	    "reason:        none (emergency_share does not apply)");
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", "--urgency",
	        "emergency", "--reason", "risk to life", NULL),
	    64);
	assert_string_equal(err,
	    "concordat: policy explain: bad --reason 'risk to life' "
	    "(" EMERGENCY_REASON_LIST ")\n");
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", "--urgency",
	        "emergency", "--justification", "risk to life", NULL),
	    64);

	/* S8: an undeclared purpose is an error of the question. */
	assert_int_equal(
	    run("explain", example, "--from", "police", "--to",
	        "mental_health_trust", "--purpose", "law_enforcement", NULL),
	    65);
	assert_non_null(strstr(err,
	    "concordat: policy explain: purpose "
	    "'law_enforcement' is not declared by "));
	assert_int_equal(run("explain", example, "--from", "polise", "--to",
	                     "police", "--purpose", "triage_advice", NULL),
	    65);
	assert_string_equal(err,
	    "concordat: policy explain: unknown agency "
	    "'polise' (did you mean 'police'?)\n");
	assert_int_equal(run("explain", example, "--from", "police",
	                     "--purpose", "triage_advice", NULL),
	    64);
	assert_int_equal(
	    run("explain", example, "--from", "police", "--to", "ambulance",
	        "--purpose", "triage_advice", "--urgency", "high", NULL),
	    64);
	assert_int_equal(
	    run("explain", example, "--from", "police", "--to", "ambulance",
	        "--purpose", "triage_advice", "--kind", "letter", NULL),
	    64);
}

static void
test_explain_json(void **state)
{
	json_error_t jerr;
	json_t *o, *f;
	const char *k;
	size_t nfields = 0;

	(void)state;
	assert_int_equal(
	    run("explain", example, "--from", "mental_health_trust", "--to",
	        "police", "--purpose", "triage_advice", "--urgency",
	        "emergency", "--reason", "risk_to_life", "--json", NULL),
	    0);
	/* Exactly one object: json_loads refuses anything after it. */
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "from")),
	    "mental_health_trust");
	assert_string_equal(
	    json_string_value(json_object_get(o, "to")), "police");
	assert_string_equal(
	    json_string_value(json_object_get(o, "purpose")), "triage_advice");
	assert_string_equal(
	    json_string_value(json_object_get(o, "urgency")), "emergency");
	assert_string_equal(
	    json_string_value(json_object_get(o, "emergency_reason")),
	    "risk_to_life");
	assert_true(json_is_true(json_object_get(o, "breakglass")));
	assert_int_equal(
	    strlen(json_string_value(json_object_get(o, "policy_sha256"))), 64);
	json_object_foreach(json_object_get(o, "fields"), k, f)
	{
		const char *dec =
		    json_string_value(json_object_get(f, "decision"));

		nfields++;
		assert_true(strcmp(dec, "disclosed") == 0 ||
		    strcmp(dec, "withheld") == 0);
		assert_non_null(json_object_get(f, "reason"));
		assert_non_null(json_object_get(f, "rule"));
	}
	assert_int_equal(nfields, 13);
	f = json_object_get(json_object_get(o, "fields"), "clinical");
	assert_string_equal(
	    json_string_value(json_object_get(f, "decision")), "withheld");
	assert_string_equal(json_string_value(json_object_get(f, "reason")),
	    "never entry 1 (line 118)");
	assert_true(json_is_null(json_object_get(f, "rule")));
	f = json_object_get(json_object_get(o, "fields"), "physical_needs");
	assert_string_equal(
	    json_string_value(json_object_get(f, "decision")), "disclosed");
	assert_string_equal(
	    json_string_value(json_object_get(f, "rule")), "triage-reply");
	assert_true(json_is_true(json_object_get(f, "breakglass")));
	assert_int_equal(json_array_size(json_object_get(o, "obligations")), 2);
	json_decref(o);
}

static void
test_diff(void **state)
{
	char *changed;
	json_error_t jerr;
	json_t *o, *c;

	(void)state;
	assert_int_equal(run("diff", example, example, NULL), 0);
	assert_non_null(strstr(out, "no decision changes"));

	/* Break-glass adds relatives for the triage reply. */
	changed = variant("more.yaml", "emergency_share: [physical_needs]",
	    "emergency_share: [physical_needs, relatives]");
	assert_int_equal(run("diff", example, changed, NULL), 1);
	char want[16384];
	snprintf(want, sizeof(want),
	    "mental_health_trust -> police, triage_advice, emergency: "
	    "withheld -> disclosed: relatives (was: no rule in %s; now: rule "
	    "triage-reply at %s:51 (break-glass))\n"
	    "1 change: 1 newly disclosed, 0 newly withheld, 0 to or from "
	    "rejected (purpose undeclared)\n",
	    example, changed);
	assert_string_equal(out, want);
	/* The same version for other decisions: a warning on stderr. */
	assert_non_null(strstr(err, "warning: 1 decision changes"));
	assert_non_null(strstr(err, "'version' does not change (1 -> 1)"));
	/* A never entry is named with its line: clinical shared by the
	 * triage reply but for the never entry, then the entry gone. */
	char *nev = strdup(variant("never.yaml",
	    "crisis_plan, risks, "
	    "communication, health, "
	    "dependents]",
	    "crisis_plan, risks, communication, health, dependents, "
	    "clinical]"));
	uint8_t *nb;
	size_t nl;
	assert_int_equal(fileio_read(nev, 1 << 20, &nb, &nl), 0);
	char *hit =
	    strstr((char *)nb, "  - to: police\n    fields: [clinical]");
	assert_non_null(hit);
	/* Same length: "clinical" -> "identity". */
	memcpy(hit + strlen("  - to: police\n    fields: ["), "identity", 8);
	char gone[4200];
	snprintf(gone, sizeof(gone), "%s/gone.yaml", tmpdir);
	write_text(gone, (char *)nb);
	free(nb);
	assert_int_equal(run("diff", nev, gone, NULL), 1);
	snprintf(want, sizeof(want),
	    "mental_health_trust -> police, triage_advice, routine: withheld "
	    "-> disclosed: clinical (was: never entry 1 at %s:118; now: rule "
	    "triage-reply at %s:51)",
	    nev, gone);
	assert_string_equal(line_with(out,
	                        "mental_health_trust -> police, "
	                        "triage_advice, routine: withheld"),
	    want);
	free(nev);
	changed = variant("more.yaml", "emergency_share: [physical_needs]",
	    "emergency_share: [physical_needs, relatives]");
	/* And back: newly withheld. */
	assert_int_equal(run("diff", changed, example, NULL), 1);
	assert_non_null(strstr(out,
	    "disclosed -> withheld: relatives (was: rule triage-reply at "));

	/* A new purpose: every field goes from rejected to a decision. */
	changed = variant("purpose.yaml", "  missing_person:",
	    "  law_enforcement:\n    description: x\n    expires_after: 1h\n"
	    "  missing_person:");
	assert_int_equal(run("diff", example, changed, "--json", NULL), 1);
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	/* 12 ordered pairs of agencies, 3 urgencies, 13 fields. */
	c = json_object_get(o, "changes");
	assert_int_equal(json_array_size(c), 12 * 3 * 13);
	c = json_array_get(c, 0);
	assert_string_equal(json_string_value(json_object_get(c, "purpose")),
	    "law_enforcement");
	assert_string_equal(
	    json_string_value(json_object_get(c, "old")), "rejected");
	assert_string_equal(
	    json_string_value(json_object_get(c, "new")), "withheld");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(o, "counts"), "rejected")),
	    12 * 3 * 13);
	json_decref(o);
	assert_int_equal(run("diff", example, changed, NULL), 1);
	snprintf(want, sizeof(want),
	    "police -> ambulance, law_enforcement, routine: rejected -> "
	    "withheld: all fields (was: purpose law_enforcement not declared "
	    "in %s; now: no rule in %s)",
	    example, changed);
	assert_string_equal(line_with(out,
	                        "police -> ambulance, "
	                        "law_enforcement, routine"),
	    want);

	assert_int_equal(run("diff", example, NULL), 64);
	assert_int_equal(run("diff", example, "/nonexistent/x.yaml", NULL), 66);
}

static void
test_test(void **state)
{
	char path[4200];

	(void)state;
	assert_int_equal(run("test", example, example_cases, NULL), 0);
	assert_string_equal(
	    line_with(out, "14 cases"), "14 cases: 14 passed, 0 failed");

	snprintf(path, sizeof(path), "%s/fail.cases.yaml", tmpdir);
	write_text(path,
	    "- name: clinical to police\n"
	    "  from: mental_health_trust\n"
	    "  to: police\n"
	    "  purpose: triage_advice\n"
	    "  expect:\n"
	    "    disclosed: [clinical, risks]\n"
	    "- name: passes\n"
	    "  from: police\n"
	    "  to: mental_health_trust\n"
	    "  purpose: law_enforcement\n"
	    "  expect: rejected\n");
	assert_int_equal(run("test", example, path, NULL), 1);
	assert_non_null(strstr(out, "FAIL  clinical to police"));
	assert_string_equal(line_with(out, "      expected:"),
	    "      expected: disclosed clinical, risks");
	assert_string_equal(line_with(out, "      wrong:"),
	    "      wrong:    clinical withheld: never entry 1 (line 118)");
	assert_non_null(strstr(out, "ok    passes\n"));
	assert_string_equal(
	    line_with(out, "2 cases"), "2 cases: 1 passed, 1 failed");

	write_text(path,
	    "- name: x\n  from: polce\n  to: police\n"
	    "  purpose: p\n  expect: {disclosed: [clincal]}\n");
	assert_int_equal(run("test", example, path, NULL), 78);
	assert_non_null(strstr(err,
	    ":2: unknown agency 'polce' (did you mean "
	    "'police'?)\n"));
	assert_non_null(strstr(err,
	    ":5: unknown field 'clincal' (did you "
	    "mean 'clinical'?)\n"));
	write_text(path, "");
	assert_int_equal(run("test", example, path, NULL), 78);
	assert_int_equal(run("test", example, NULL), 64);
}

static void
test_summary(void **state)
{
	(void)state;
	assert_int_equal(run("summary", example, NULL), 0);
	assert_non_null(strstr(out,
	    "Purpose: Street triage advice to an "
	    "officer before a section 136 decision\n"));
	assert_non_null(strstr(out, "not collected within 30 minutes is\n"));
	assert_non_null(strstr(out, "  From mental health trust to police:\n"));
	assert_non_null(strstr(out,
	    "    Only in an emergency, when there is "
	    "a risk to life or serious harm and\n"));
	assert_non_null(strstr(out,
	    "  Never shared with police, for any "
	    "purpose, even in an emergency:\n"
	    "      - clinical information such as "
	    "diagnosis, medication and therapy\n"));
	assert_non_null(strstr(out, "Legal basis: MHA 1983 s136(1C)"));
	/* Plain words, not field names. */
	assert_null(strstr(out, "physical_needs"));
	assert_null(strstr(out, "crisis_plan"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_explain_json),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_test),
	    cmocka_unit_test(test_summary),
	};
	const char *src = getenv("CONCORDAT_SOURCE_DIR");
	char cmd[128];
	int rc;

	snprintf(example, sizeof(example),
	    "%s/policy/examples/crisis-care.yaml", src ? src : ".");
	snprintf(example_cases, sizeof(example_cases),
	    "%s/policy/examples/crisis-care.cases.yaml", src ? src : ".");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/policy-cli-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	free(out);
	free(err);
	return rc;
}
