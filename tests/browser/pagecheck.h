/*
 * What every page must be, checked on the DOM Chromium parsed (cmocka
 * asserts; the browser tests only): one language, the policy that loads
 * nothing, no element a page never has, no URL out, links that land,
 * headings in order, tables with captions and scoped headers.
 */
#ifndef TESTS_BROWSER_PAGECHECK_H
#define TESTS_BROWSER_PAGECHECK_H

#include <stddef.h>

/* page: the file as written; dom: browser_dom's answer for it. */
void pagecheck(const char *page, const char *dom);

/* The number of times needle occurs in the text of dom (tags dropped). */
size_t pagecheck_text_count(const char *dom, const char *needle);

/* The text of cell (row, col) of the t-th table; fails the test if none. */
char *pagecheck_cell(const char *dom, size_t t, size_t row, size_t col);

/* The column of the t-th table whose heading reads head; fails if none. */
size_t pagecheck_column(const char *dom, size_t t, const char *head);

/* That the text of the cell is want. */
#define PAGECHECK_CELL(dom, t, r, c, want)                                     \
	do {                                                                   \
		char *s_ = pagecheck_cell(dom, t, r, c);                       \
		assert_string_equal(s_, want);                                 \
		free(s_);                                                      \
	} while (0)

#endif
