/*
 * `policy diff --html` and `policy summary --html` in Chromium: the facts
 * on the DOM it parsed. The diff's matrix marks each change in words and
 * by class and links it to the rule and line on both sides, the same as
 * --json says; the summary names the agreement, its SHA-256 and its
 * guardians' signatures as the keyring checks them.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/yamlconf.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/browser/pages.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

/* The text of cell (row, col) of table t. */
static char *
cell_text(const char *dom, size_t t, size_t row, size_t col)
{
	char *c = dom_cell(dom, t, row, col), *s;

	if (c == NULL)
		fail_msg("no cell %zu,%zu of table %zu", row, col, t);
	s = dom_text(c);
	free(c);
	return s;
}

#define ASSERT_CELL(dom, t, r, c, want)                                        \
	do {                                                                   \
		char *s_ = cell_text(dom, t, r, c);                            \
		assert_string_equal(s_, want);                                 \
		free(s_);                                                      \
	} while (0)

static void
test_diff_page(void **state)
{
	char *dir = scratch_dir("browser-diff"), *path, *page, *json, *dom, *c;
	const char *old = fixture_agreement(), *new = pages_new_policy(dir);
	json_t *root, *ch;

	(void)state;
	json = pages_run(dir, "diff-json", NULL, 1, "policy", "diff", old, new,
	    "--json", NULL);
	root = json_loads(json, 0, NULL);
	assert_non_null(root);
	ch = json_object_get(root, "changes");
	assert_int_equal(json_array_size(ch), 6);
	page = pages_run(
	    dir, "diff", &path, 1, "policy", "diff", old, new, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	c = dom_text_of(dom, "h1", 0);
	assert_string_equal(
	    c, "What changes between two versions of the agreement");
	free(c);
	/* The versions, then one matrix per urgency, then every change. */
	assert_int_equal(dom_count(dom, "table"), 5);
	ASSERT_CELL(dom, 0, 1, 3, "1");
	ASSERT_CELL(dom, 0, 2, 3, "2");
	ASSERT_CELL(dom, 1, 0, 0, "From \xe2\x86\x92 to");
	ASSERT_CELL(dom, 1, 0, 2, "relatives");
	ASSERT_CELL(dom, 1, 1, 0, "mental_health_trust \xe2\x86\x92 police");
	ASSERT_CELL(dom, 1, 1, 1, "triage_advice");
	/* Marked in words and by class, never by colour alone. */
	c = dom_cell(dom, 1, 1, 2);
	assert_string_equal(c,
	    "<a href=\"#change-1\"><span "
	    "class=\"mark-new\">newly disclosed</span></a>");
	free(c);
	c = dom_cell(dom, 1, 2, 2);
	assert_non_null(strstr(c,
	    "<span class=\"mark-gone\">disclosed</span>"
	    " now withheld"));
	free(c);
	assert_int_equal(dom_rows(dom, 1), 3);
	assert_int_equal(dom_rows(dom, 3), 3);
	/* Every change with what decided it on both sides: the --json's. */
	assert_int_equal(dom_rows(dom, 4), 1 + json_array_size(ch));
	for (size_t i = 0; i < json_array_size(ch); i++) {
		const json_t *e = json_array_get(ch, i);
		char id[32], *row;

		snprintf(id, sizeof(id), "change-%zu", i + 1);
		row = dom_by_id(dom, id);
		assert_non_null(row);
		free(row);
		ASSERT_CELL(dom, 4, i + 1, 3,
		    json_string_value(json_object_get(e, "urgency")));
		ASSERT_CELL(dom, 4, i + 1, 4,
		    json_string_value(json_object_get(e, "field")));
		ASSERT_CELL(dom, 4, i + 1, 7,
		    json_string_value(json_object_get(e, "old_why")));
		ASSERT_CELL(dom, 4, i + 1, 8,
		    json_string_value(json_object_get(e, "new_why")));
	}
	c = cell_text(dom, 4, 1, 8);
	assert_non_null(strstr(c, "rule triage-reply at "));
	assert_non_null(strstr(c, new));
	free(c);
	c = cell_text(dom, 4, 4, 7);
	assert_non_null(strstr(c, "rule detained-dependents at "));
	free(c);
	json_decref(root);
	free(json);
	free(page);
	free(path);
	free(dom);
	scratch_rmrf(dir);
	free(dir);
}

static void
test_summary_page(void **state)
{
	char *dir = scratch_dir("browser-summary"), *path, *page, *dom, *c;
	char yaml[PATH_MAX], err[256];
	struct fixture_keys k;
	struct yamlconf_errors errs;
	struct keyring *kr;
	struct policy *p;
	const struct keys_public *g;
	char *bytes = scratch_read(fixture_agreement(), NULL);

	(void)state;
	fixture_keys_make(&k, dir);
	snprintf(yaml, sizeof(yaml), "%s/agreement.yaml", dir);
	scratch_write(yaml, bytes, 0644);
	free(bytes);
	/* Three of the four guardians sign. */
	fixture_agreement_sign(yaml, k.keys, 0x7, NULL);
	page = pages_run(dir, "summary", &path, 0, "policy", "summary", yaml,
	    "--html", "--keyring", k.ring, NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_file(yaml, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	/* The agreement: id, version, SHA-256 of the file. */
	ASSERT_CELL(dom, 0, 1, 1, policy_agreement(p));
	ASSERT_CELL(dom, 0, 2, 1, "1");
	ASSERT_CELL(dom, 0, 4, 1, policy_sha256_hex(p));
	/* The signers: three lines verified, each with its guardian key. */
	assert_int_equal(dom_rows(dom, 1), 4);
	assert_int_equal(keyring_load(k.ring, &kr, err, sizeof(err)), 0);
	for (size_t i = 1; i <= 3; i++) {
		char *agency = cell_text(dom, 1, i, 0);

		g = keyring_find_guardian(kr, agency);
		assert_non_null(g);
		ASSERT_CELL(dom, 1, i, 3, g->fingerprint);
		ASSERT_CELL(dom, 1, i, 4, "valid");
		free(agency);
	}
	keyring_free(kr);
	assert_int_equal(
	    pagecheck_text_count(dom, "NOT complete: 1 agency"), 1);
	assert_int_equal(pagecheck_text_count(dom,
	                     "Not signed by the guardian of: "
	                     "social_care."),
	    1);
	/* Who may see what: a table per purpose that shares anything. */
	c = dom_by_id(dom, "purpose-triage_5fadvice");
	assert_non_null(c);
	assert_non_null(strstr(c, "Street triage advice to an officer"));
	free(c);
	assert_int_equal(dom_count(dom, "h3"), policy_purpose_count(p));
	ASSERT_CELL(dom, 2, 0, 2, "What is shared");
	ASSERT_CELL(dom, 2, 1, 0, "police");
	ASSERT_CELL(dom, 2, 1, 1, "mental health trust");
	policy_free(p);
	free(page);
	free(path);
	free(dom);
	scratch_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_page),
	    cmocka_unit_test(test_summary_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
