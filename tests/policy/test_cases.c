/*
 * Unit tests of the cases-file module (policy/cases.c) without the verb:
 * parsing against a policy (every error at once, with suggestions), and
 * the runner's results for passing, failing and rejected cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/urgency.h"
#include "policy/cases.h"
#include "policy/policy.h"

static const char policy_text[] =
    "agreement: t\n"
    "version: 1\n"
    "approved_by: me\n"
    "agencies: [police, trust]\n"
    "purposes:\n"
    "  triage: {description: d, expires_after: 30m}\n"
    "rules:\n"
    "  - {id: r, from: police, to: [trust], purposes: [triage],\n"
    "     share: [identity, risks], emergency_share: [clinical],\n"
    "     basis: x, obligations: [no_onward_disclosure]}\n";

static struct policy *
load_policy(void)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;

	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_buffer(policy_text, strlen(policy_text),
	                     "policy.yaml", &errs, &p),
	    0);
	yamlconf_errors_release(&errs);
	return p;
}

/* Parses text; returns the result, with *cs and errs (initialised) set. */
static int
parse(const struct policy *p, const char *text, struct yamlconf_errors *errs,
    struct cases **cs)
{
	yamlconf_errors_init(errs);
	return cases_parse(text, strlen(text), "cases.yaml", p, errs, cs);
}

static void
test_pass_and_fail(void **state)
{
	static const char text[] =
	    "- name: routine share\n"
	    "  from: police\n"
	    "  to: trust\n"
	    "  purpose: triage\n"
	    "  expect:\n"
	    "    disclosed: [identity, risks]\n"
	    "    withheld: others\n"
	    "    obligations: [no_onward_disclosure]\n"
	    "    expires_after: 30m\n"
	    "- name: wrong on purpose\n"
	    "  from: police\n"
	    "  to: trust\n"
	    "  purpose: triage\n"
	    "  urgency: emergency\n"
	    "  reason: risk_to_life\n"
	    "  expect: {disclosed: [identity], withheld: [clinical],\n"
	    "           breakglass: false}\n"
	    "- name: undeclared purpose\n"
	    "  from: trust\n"
	    "  to: police\n"
	    "  purpose: investigation\n"
	    "  expect: rejected\n";
	struct yamlconf_errors errs;
	struct policy *p = load_policy();
	struct cases *cs = NULL;
	struct cases_result r;

	(void)state;
	assert_int_equal(parse(p, text, &errs, &cs), ERROR_OK);
	assert_int_equal(errs.total, 0);
	assert_int_equal(cases_count(cs), 3);
	assert_string_equal(cases_question(cs, 1)->from, "police");
	assert_int_equal(cases_question(cs, 1)->urgency, URGENCY_EMERGENCY);
	assert_int_equal(
	    cases_question(cs, 1)->reason, EMERGENCY_REASON_RISK_TO_LIFE);
	assert_null(cases_question(cs, 3));

	assert_int_equal(cases_run(cs, p, 0, &r), ERROR_OK);
	assert_true(r.pass);
	assert_string_equal(r.name, "routine share");
	assert_int_equal(r.line, 1);
	assert_string_equal(r.wrong, "");

	assert_int_equal(cases_run(cs, p, 1, &r), ERROR_OK);
	assert_false(r.pass);
	assert_int_equal(r.line, 10);
	assert_string_equal(r.expected,
	    "disclosed identity; withheld clinical; break-glass no");
	assert_string_equal(r.actual,
	    "disclosed identity, clinical, risks; break-glass clinical; "
	    "obligations no_onward_disclosure");
	assert_non_null(strstr(r.wrong, "clinical disclosed: "));
	assert_non_null(strstr(r.wrong, "break-glass used"));

	assert_int_equal(cases_run(cs, p, 2, &r), ERROR_OK);
	assert_true(r.pass);
	assert_string_equal(r.actual, "rejected (purpose undeclared)");
	assert_int_equal(cases_run(cs, p, 3, &r), ERROR_INVAL);

	cases_free(cs);
	yamlconf_errors_release(&errs);
	policy_free(p);
}

static void
test_errors(void **state)
{
	static const char text[] =
	    "- name: typos\n"
	    "  from: polce\n"
	    "  to: trust\n"
	    "  purpose: triage\n"
	    "  urgency: soon\n"
	    "  expect: {disclosed: [clincal], obligations: [tell_me]}\n"
	    "- from: police\n"
	    "  to: trust\n"
	    "  purpose: triage\n"
	    "  expect: {}\n";
	struct yamlconf_errors errs;
	struct policy *p = load_policy();
	struct cases *cs = NULL;

	(void)state;
	assert_int_equal(parse(p, text, &errs, &cs), ERROR_CONFIG);
	assert_null(cs);
	assert_true(errs.total >= 5);
	/* Sorted by line, each with the file's name. */
	assert_string_equal(errs.msg[0],
	    "cases.yaml:2: unknown agency 'polce' (did you mean 'police'?)");
	assert_non_null(
	    strstr(errs.msg[1], "cases.yaml:5: bad urgency 'soon'"));
	for (size_t i = 0; i + 1 < errs.n; i++)
		assert_true(strcmp(errs.msg[i], "") != 0);
	bool saw_field = false, saw_name = false;
	for (size_t i = 0; i < errs.n; i++) {
		if (strstr(errs.msg[i],
		        "unknown field 'clincal' (did you "
		        "mean 'clinical'?)"))
			saw_field = true;
		if (strstr(errs.msg[i], "cases.yaml:7:") &&
		    strstr(errs.msg[i], "name"))
			saw_name = true;
	}
	assert_true(saw_field);
	assert_true(saw_name);
	yamlconf_errors_release(&errs);

	/* Not a list; empty; not YAML. */
	assert_int_equal(parse(p, "a: b\n", &errs, &cs), ERROR_CONFIG);
	assert_true(errs.total > 0);
	yamlconf_errors_release(&errs);
	assert_int_equal(parse(p, "", &errs, &cs), ERROR_CONFIG);
	yamlconf_errors_release(&errs);
	assert_int_equal(parse(p, "- [\n", &errs, &cs), ERROR_CONFIG);
	assert_null(cs);
	yamlconf_errors_release(&errs);
	policy_free(p);
}

static void
test_load_file(void **state)
{
	struct yamlconf_errors errs;
	struct policy *p = load_policy();
	struct cases *cs = NULL;

	(void)state;
	yamlconf_errors_init(&errs);
	assert_int_equal(
	    cases_load_file("/nonexistent/cases.yaml", p, &errs, &cs),
	    ERROR_NOENT);
	assert_null(cs);
	yamlconf_errors_release(&errs);
	cases_free(NULL);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_and_fail),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
