/*
 * `audit query --html` in Chromium: the table has the text table's
 * columns in its order, a row per event named seq-N, the cells of the
 * same rows, and one section per message linking every event of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/browser/pages.h"
#include "tests/lib/scratch.h"

#define ASSERT_COLUMN(dom, r, head, want)                                      \
	do {                                                                   \
		char *s_ =                                                     \
		    pagecheck_cell(dom, 0, r, pagecheck_column(dom, 0, head)); \
		assert_string_equal(s_, want);                                 \
		free(s_);                                                      \
	} while (0)

static void
test_query_page(void **state)
{
	char *dir = scratch_dir("browser-query"), *path, *page, *text, *dom;
	struct event ev[16];
	size_t n = pages_example_events(ev, 16), nh = 0;
	const char *log = pages_log(dir, ev, n);
	char *save = NULL, *line;

	(void)state;
	text = pages_run(
	    dir, "query-text", NULL, 0, "audit", "query", "--data", log, NULL);
	page = pages_run(dir, "query", &path, 0, "audit", "query", "--data",
	    log, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	/* The columns of the text table, in its order. */
	line = strtok_r(text, "\n", &save);
	for (char *w = strtok_r(line, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save), nh++) {
		char *h = pagecheck_cell(dom, 0, 0, nh);
		assert_string_equal(h, w);
		free(h);
	}
	assert_true(nh >= 8);
	assert_null(dom_cell(dom, 0, 0, nh));
	/* One row per event, named by its seq (from 0). */
	assert_int_equal(dom_rows(dom, 0), 1 + n);
	for (size_t r = 1; r <= n; r++) {
		char id[32], *row, *seq = pagecheck_cell(dom, 0, r, 0);

		assert_int_equal(atoi(seq), (int)r - 1);
		snprintf(id, sizeof(id), "seq-%zu", r - 1);
		row = dom_by_id(dom, id);
		assert_non_null(row);
		free(row);
		free(seq);
	}
	ASSERT_COLUMN(dom, 2, "EVENT", "decision");
	ASSERT_COLUMN(dom, 2, "FROM", "police");
	ASSERT_COLUMN(dom, 2, "TO", "mental_health_trust");
	ASSERT_COLUMN(dom, 2, "DISCLOSED", "identity,risks");
	ASSERT_COLUMN(dom, 2, "RULES", "triage-request");
	ASSERT_COLUMN(dom, 6, "BG", "yes");
	ASSERT_COLUMN(dom, 6, "EMERGENCY", "risk to life");
	/* Every event of each message: three messages, in order. */
	assert_int_equal(dom_count(dom, "h3"), 3);
	{
		char id[80] = "msg-", *sec;

		for (int i = 0; i < 16; i++)
			memcpy(id + 4 + 2 * i, "a1", 3);
		sec = dom_by_id(dom, id);
		assert_non_null(sec);
		free(sec);
		/* The section's list follows its heading: 4 events. */
		sec = dom_inner(dom, "ul", 0);
		assert_int_equal(scratch_count(sec, "<li>"), 4);
		for (int s = 0; s < 4; s++) {
			char href[40];
			snprintf(href, sizeof(href), "<a href=\"#seq-%d\">", s);
			assert_non_null(strstr(sec, href));
		}
		free(sec);
		/* Message 2: seq 4, 5 and 7, not 6 (another message). */
		sec = dom_inner(dom, "ul", 1);
		assert_int_equal(scratch_count(sec, "<li>"), 3);
		assert_non_null(strstr(sec, "#seq-7\""));
		assert_null(strstr(sec, "#seq-6\""));
		free(sec);
	}
	free(text);
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
	    cmocka_unit_test(test_query_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
