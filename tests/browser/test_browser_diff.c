/*
 * `policy diff --html` in Chromium: the facts on the DOM it parsed. The
 * matrix marks each change in words and by class and links it to the rule
 * and line on both sides, the same as --json says.
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
#include <sodium.h>

#include "common/yamlconf.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/browser/pages.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

static void
test_diff_page(void **state)
{
	char *dir = scratch_dir("browser-diff"), *path, *page, *json, *dom, *c;
	const char *old = fixture_agreement(), *new = pages_new_policy(dir);
	json_t *root, *ch;

	(void)state;
	/* One format at a time. */
	free(pages_run(dir, "diff-both", NULL, 64, "policy", "diff", old, new,
	    "--json", "--html", NULL));
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
	PAGECHECK_CELL(dom, 0, 1, 3, "1");
	PAGECHECK_CELL(dom, 0, 2, 3, "2");
	PAGECHECK_CELL(dom, 1, 0, 0, "From \xe2\x86\x92 to");
	PAGECHECK_CELL(dom, 1, 0, 2, "relatives");
	PAGECHECK_CELL(dom, 1, 1, 0, "mental_health_trust \xe2\x86\x92 police");
	PAGECHECK_CELL(dom, 1, 1, 1, "triage_advice");
	/* Marked in words and by class, never by colour alone. */
	c = dom_cell(dom, 1, 1, 2);
	assert_int_equal(
	    strncmp(c, "<a href=\"#change-1\" title=\"was: ", 32), 0);
	assert_non_null(strstr(c,
	    "\"><span class=\"mark-new\">newly "
	    "disclosed</span></a>"));
	free(c);
	/* The link's title says what decided each side, as --json does. */
	{
		const json_t *e = json_array_get(ch, 0);
		char want[1024], *a = dom_attrs(dom, "a", 0);

		snprintf(want, sizeof(want), " title=\"was: %s; now: %s\"",
		    json_string_value(json_object_get(e, "old_why")),
		    json_string_value(json_object_get(e, "new_why")));
		assert_non_null(a);
		assert_non_null(strstr(a, want));
		free(a);
	}
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
		PAGECHECK_CELL(dom, 4, i + 1, 3,
		    json_string_value(json_object_get(e, "urgency")));
		PAGECHECK_CELL(dom, 4, i + 1, 4,
		    json_string_value(json_object_get(e, "field")));
		PAGECHECK_CELL(dom, 4, i + 1, 7,
		    json_string_value(json_object_get(e, "old_why")));
		PAGECHECK_CELL(dom, 4, i + 1, 8,
		    json_string_value(json_object_get(e, "new_why")));
	}
	c = pagecheck_cell(dom, 4, 1, 8);
	assert_non_null(strstr(c, "rule triage-reply at "));
	assert_non_null(strstr(c, new));
	free(c);
	c = pagecheck_cell(dom, 4, 4, 7);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
