/*
 * Unit tests of the public summary (policy/summary.c) and of agency
 * display names (policy_agency_name): the summary built into a strbuf
 * calls agencies by their names, wraps at 76 columns, lists fields in the
 * plain words of common/fields.c, and the names' errors are reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fields.h"
#include "common/strbuf.h"
#include "policy/policy.h"
#include "policy/summary.h"

static const char named[] =
    "agreement: t\n"
    "version: 3\n"
    "approved_by: me\n"
    "agencies:\n"
    "  - {id: police, name: West Yorkshire Police}\n"
    "  - id: mental_health_trust\n"
    "    name: the Bradford District Care NHS FT\n"
    "  - social_care\n"
    "purposes:\n"
    "  triage: {description: Street triage advice, expires_after: 90m}\n"
    "rules:\n"
    "  - {id: r, from: police, to: [mental_health_trust],\n"
    "     purposes: [triage], share: [demographics],\n"
    "     emergency_share: [risks], basis: MHA 1983 s136(1C)}\n"
    "never:\n"
    "  - {to: social_care, fields: [clinical], reason: not needed}\n";

static int
load(const char *text, struct yamlconf_errors *errs, struct policy **p)
{
	yamlconf_errors_init(errs);
	return policy_load_buffer(text, strlen(text), "policy.yaml", errs, p);
}

static void
test_names(void **state)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;

	(void)state;
	assert_int_equal(load(named, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	assert_int_equal(policy_agency_count(p), 3);
	assert_string_equal(policy_agency_id(p, 1), "mental_health_trust");
	assert_string_equal(
	    policy_agency_name(p, "police"), "West Yorkshire Police");
	assert_string_equal(policy_agency_name(p, "mental_health_trust"),
	    "the Bradford District Care NHS FT");
	assert_null(policy_agency_name(p, "social_care"));
	assert_null(policy_agency_name(p, "ambulance"));
	policy_free(p);
}

static void
test_name_errors(void **state)
{
	static const char *const bad[] = {
	    "agencies:\n  - {id: police, nmae: x}\n",
	    "agencies:\n  - {name: x}\n",
	    "agencies:\n  - {id: police, name: ''}\n",
	    "agencies:\n  - [police]\n",
	    "agencies: {police: x}\n",
	    "agencies: []\n",
	};
	static const char *const want[] = {
	    "unknown key 'nmae' (did you mean 'name'?)",
	    "'id'",
	    "must not be empty",
	    "expected an agency id or a mapping of 'id' and 'name'",
	    "'agencies'",
	    "'agencies': must not be empty",
	};
	static const char rest[] =
	    "agreement: t\nversion: 1\napproved_by: me\n"
	    "purposes:\n  p: {description: d, expires_after: 1h}\n"
	    "rules: []\n";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct yamlconf_errors errs;
		struct policy *p = NULL;
		char text[512];
		bool found = false;

		snprintf(text, sizeof(text), "%s%s", bad[i], rest);
		assert_int_equal(load(text, &errs, &p), ERROR_POLICY);
		assert_null(p);
		for (size_t k = 0; k < errs.n; k++)
			if (strstr(errs.msg[k], want[i]) != NULL)
				found = true;
		if (!found)
			fail_msg("case %zu: no error with '%s' (first: %s)", i,
			    want[i], errs.n ? errs.msg[0] : "none");
		yamlconf_errors_release(&errs);
	}
}

static void
test_summary_text(void **state)
{
	struct yamlconf_errors errs;
	struct strbuf sb = STRBUF_INIT;
	struct policy *p = NULL;
	const char *s, *line;

	(void)state;
	assert_int_equal(load(named, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	assert_int_equal(summary_build(p, &sb), ERROR_OK);
	s = strbuf_str(&sb);
	assert_non_null(strstr(s,
	    "How we share information about people in "
	    "a mental health crisis\n\nAgreement t, "
	    "version 3.\n"));
	assert_non_null(strstr(s,
	    "The agencies: West Yorkshire Police, the Bradford District Care "
	    "NHS FT and\n              social care\n"));
	assert_non_null(strstr(s, "Purpose: Street triage advice\n"));
	assert_non_null(
	    strstr(s, "within 1 hour and 30\n  minutes is deleted"));
	assert_non_null(strstr(s,
	    "  From West Yorkshire Police to the Bradford District Care NHS "
	    "FT:\n"));
	char want[128];
	snprintf(want, sizeof(want), "      - %s\n",
	    fields_description(FIELD_DEMOGRAPHICS));
	assert_non_null(strstr(s, want));
	/* A long description wraps under its first word. */
	assert_non_null(strstr(s,
	    "      - risks such as self-harm, suicide, aggression, confusion "
	    "or going\n        missing\n"));
	assert_non_null(strstr(s, "    Legal basis: MHA 1983 s136(1C)\n"));
	assert_non_null(strstr(s,
	    "  Never shared with social care, for any purpose, even in an "
	    "emergency:\n"));
	assert_non_null(strstr(s, "    Why: not needed\n"));
	assert_non_null(strstr(s, "\nAny other purpose\n\n"));
	/* No ids where there are names, no line over 76 columns. */
	assert_null(strstr(s, "mental_health_trust"));
	assert_null(strstr(s, "From police"));
	for (line = s; *line != '\0';) {
		size_t n = strcspn(line, "\n");

		/* The fingerprint line is one long word. */
		if (strncmp(line, "Policy fingerprint", 18) != 0)
			assert_true(n <= 76);
		line += n + (line[n] == '\n');
	}
	/* Appends: a second summary follows the first. */
	size_t len = sb.len;
	assert_int_equal(summary_build(p, &sb), ERROR_OK);
	assert_int_equal(sb.len, 2 * len);
	strbuf_release(&sb);
	policy_free(p);
}

static void
test_field_words(void **state)
{
	(void)state;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		assert_non_null(fields_description(f));
		assert_non_null(fields_your(f));
	}
	assert_null(fields_description(0));
	assert_null(fields_your(FIELDS_COUNT + 1));
	assert_string_equal(fields_description(FIELD_CLINICAL),
	    "clinical information such as diagnosis, medication and therapy");
	assert_string_equal(fields_your(FIELD_IDENTITY),
	    "your name, address and contact details (or a description of "
	    "you)");
	assert_string_equal(
	    fields_your(FIELD_DEMOGRAPHICS), "your gender and age");
}

/*
 * The longest "never" line: 64 agencies (the most an agreement may have)
 * with long names, every one a recipient. The summary once built this
 * line in a fixed 2,048-byte buffer and wrote past its end; every name
 * must now be there, in order, with the rest of the line after them.
 */
static void
test_never_all_agencies(void **state)
{
	struct yamlconf_errors errs;
	struct strbuf yaml = STRBUF_INIT, sb = STRBUF_INIT;
	struct policy *p = NULL;
	const char *s, *at;
	char name[80];

	(void)state;
	strbuf_addstr(&yaml,
	    "agreement: t\nversion: 1\napproved_by: me\n"
	    "agencies:\n");
	for (int i = 0; i < 64; i++)
		strbuf_addf(&yaml,
		    "  - {id: agency_%02d, name: "
		    "Agency-%02d-of-a-very-long-name-that-goes-on-and-on}\n",
		    i, i);
	strbuf_addstr(&yaml,
	    "purposes:\n  triage: {description: Triage, "
	    "expires_after: 1h}\n"
	    "rules:\n  - {id: r, from: agency_00, to: "
	    "[agency_01], purposes: [triage], "
	    "share: [demographics], basis: b}\n"
	    "never:\n  - {to: [");
	for (int i = 0; i < 64; i++)
		strbuf_addf(&yaml, "%sagency_%02d", i ? ", " : "", i);
	strbuf_addstr(&yaml, "], fields: [clinical], reason: not needed}\n");
	assert_int_equal(strbuf_error(&yaml), ERROR_OK);
	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_buffer(strbuf_str(&yaml), yaml.len,
	                     "policy.yaml", &errs, &p),
	    0);
	yamlconf_errors_release(&errs);
	assert_int_equal(summary_build(p, &sb), ERROR_OK);
	s = strstr(strbuf_str(&sb), "What is never shared");
	assert_non_null(s);
	at = s;
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name),
		    "Agency-%02d-of-a-very-long-name-that-goes-on-and-on", i);
		at = strstr(at, name);
		assert_non_null(at);
	}
	assert_non_null(strstr(at, "emergency:"));
	assert_non_null(strstr(at, "Why: not needed"));
	strbuf_release(&sb);
	strbuf_release(&yaml);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_name_errors),
	    cmocka_unit_test(test_summary_text),
	    cmocka_unit_test(test_field_words),
	    cmocka_unit_test(test_never_all_agencies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
