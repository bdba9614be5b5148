/*
 * The checks every page passes (pagecheck.h).
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/lib/scratch.h"

/* Every href is a fragment whose id is on the page. */
static void
links_land(const char *dom)
{
	for (const char *p = strstr(dom, " href=\""); p != NULL;
	     p = strstr(p + 1, " href=\"")) {
		const char *v = p + 7, *e = strchr(v, '"');
		char id[512], *inner;

		assert_non_null(e);
		assert_true(v[0] == '#');
		assert_true((size_t)(e - v) < sizeof(id));
		memcpy(id, v + 1, (size_t)(e - v - 1));
		id[e - v - 1] = '\0';
		inner = dom_by_id(dom, id);
		if (inner == NULL)
			fail_msg("href=\"#%s\": no element has that id", id);
		free(inner);
	}
}

/* h1 first and once; no level skipped on the way down. */
static void
headings_in_order(const char *dom)
{
	int last = 0;

	assert_int_equal(dom_count(dom, "h1"), 1);
	for (const char *p = strstr(dom, "<h"); p != NULL;
	     p = strstr(p + 1, "<h")) {
		int level;

		if (p[2] < '1' || p[2] > '6' || (p[3] != '>' && p[3] != ' '))
			continue;
		level = p[2] - '0';
		if (level > last + 1)
			fail_msg("<h%d> after <h%d>", level, last);
		last = level;
	}
	assert_int_equal(last > 0, 1);
}

void
pagecheck(const char *page, const char *dom)
{
	static const char *const never = "script|img|iframe|object|embed|"
	                                 "link|svg|math|form|input|button|"
	                                 "base|frame|video|audio|source";
	size_t th;
	char *attrs;

	/* NULL: Chromium missing or failed; browser_dom said why. */
	assert_non_null(dom);
	th = dom_count(dom, "th");
	assert_int_equal(strncmp(dom, "<!DOCTYPE html>", 15), 0);
	attrs = dom_attrs(dom, "html", 0);
	assert_string_equal(attrs, " lang=\"en\"");
	free(attrs);
	assert_non_null(strstr(dom, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(dom,
	    "<meta http-equiv=\"Content-Security-"
	    "Policy\" content=\"default-src 'none'"));
	/* Nothing the pages never have: whatever an input tried. */
	assert_int_equal(dom_count(dom, never), 0);
	/* No URL out at all, in the file or in what the browser made. */
	assert_null(strstr(page, "http:"));
	assert_null(strstr(page, "https:"));
	assert_null(strstr(dom, "http:"));
	assert_null(strstr(dom, "https:"));
	assert_null(strstr(dom, " src=\""));
	links_land(dom);
	headings_in_order(dom);
	/* Semantic tables: a caption each, every header cell scoped. */
	assert_int_equal(dom_count(dom, "caption"), dom_count(dom, "table"));
	assert_int_equal(scratch_count(dom, "<th scope=\"col\">") +
	        scratch_count(dom, "<th scope=\"row\">"),
	    th);
}

size_t
pagecheck_text_count(const char *dom, const char *needle)
{
	char *body = dom_inner(dom, "body", 0), *text;
	size_t n;

	assert_non_null(body);
	text = dom_text(body);
	assert_non_null(text);
	n = scratch_count(text, needle);
	free(text);
	free(body);
	return n;
}

char *
pagecheck_cell(const char *dom, size_t t, size_t row, size_t col)
{
	char *c = dom_cell(dom, t, row, col), *s;

	if (c == NULL)
		fail_msg("no cell %zu,%zu of table %zu", row, col, t);
	s = dom_text(c);
	free(c);
	assert_non_null(s);
	return s;
}

size_t
pagecheck_column(const char *dom, size_t t, const char *head)
{
	for (size_t c = 0;; c++) {
		char *cell = dom_cell(dom, t, 0, c), *s;
		bool same;

		if (cell == NULL)
			fail_msg("no column %s in table %zu", head, t);
		s = dom_text(cell);
		assert_non_null(s);
		same = strcmp(s, head) == 0;
		free(s);
		free(cell);
		if (same)
			return c;
	}
}
