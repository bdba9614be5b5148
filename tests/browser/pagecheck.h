/*
 * What every page must be, checked on the DOM Chromium parsed (cmocka
 * asserts; the browser tests only): one language, the policy that loads
 * nothing, no element a page never has, no URL out, links that land,
 * headings in order, tables with captions and scoped headers.
 */
#ifndef TESTS_BROWSER_PAGECHECK_H
#define TESTS_BROWSER_PAGECHECK_H

/* page: the file as written; dom: browser_dom's answer for it. */
void pagecheck(const char *page, const char *dom);

/* The number of times needle occurs in the text of dom (tags dropped). */
size_t pagecheck_text_count(const char *dom, const char *needle);

#endif
