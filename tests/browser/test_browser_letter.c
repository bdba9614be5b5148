/*
 * The subject access letter (`audit report --html`) and the break-glass
 * review queue (`audit query --breakglass --unreviewed --html`) in
 * Chromium: the letter covers every identifier given and lists each
 * disclosure about the person once, as a row of its table, with what the
 * recipient was allowed to see and, for the emergency one, that it awaits
 * review; the queue lists exactly the unreviewed break-glass decision.
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

/* 64 hex digits of byte b: the subject_ref pages.c gives message b-0x40. */
static void
ref_hex(char out[65], unsigned b)
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b);
}

/* The text of row r's cell headed head in table 0. */
static char *
cell(const char *dom, size_t r, const char *head)
{
	return pagecheck_cell(dom, 0, r, pagecheck_column(dom, 0, head));
}

static void
test_letter(void **state)
{
	char *dir = scratch_dir("browser-letter"), *path, *page, *dom, *s;
	struct event ev[16];
	size_t n = pages_example_events(ev, 16);
	const char *log = pages_log(dir, ev, n);
	char one[65], two[65], none[65];

	(void)state;
	ref_hex(one, 0x41);
	ref_hex(two, 0x42);
	ref_hex(none, 0x4f);
	page = pages_run(dir, "letter", &path, 0, "audit", "report", "--data",
	    log, "--subject-ref", one, "--subject-ref", two, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	/* A letter, about both identifiers. */
	assert_int_equal(dom_count(dom, "div"), 1);
	s = dom_attrs(dom, "div", 0);
	assert_non_null(strstr(s, "class=\"letter\""));
	free(s);
	s = dom_text_of(dom, "main", 0);
	assert_non_null(strstr(s, one));
	assert_non_null(strstr(s, two));
	assert_non_null(strstr(s, "may have been empty"));
	free(s);
	/* One table, a row per disclosure: seq 1 (police) and 5 (the trust,
	 * an emergency), each once, in log order. */
	assert_int_equal(dom_count(dom, "table"), 1);
	assert_int_equal(dom_rows(dom, 0), 3);
	s = dom_by_id(dom, "entry-1");
	assert_non_null(s);
	free(s);
	s = dom_by_id(dom, "entry-5");
	assert_non_null(s);
	free(s);
	s = pagecheck_cell(dom, 0, 1, 0);
	assert_string_equal(s, "1");
	free(s);
	s = pagecheck_cell(dom, 0, 2, 0);
	assert_string_equal(s, "5");
	free(s);
	/* What the recipient was allowed to see, and the review. */
	s = dom_text_of(dom, "tr", 1);
	assert_non_null(strstr(s, "your name, address and contact details"));
	assert_non_null(strstr(s, "risks (self-harm"));
	assert_null(strstr(s, "Review:"));
	free(s);
	s = dom_text_of(dom, "tr", 2);
	assert_non_null(strstr(s, "prescribed medicines"));
	assert_null(strstr(s, "your name, address"));
	assert_non_null(strstr(s, "risk to life"));
	assert_non_null(strstr(s, "Review: not yet reviewed"));
	free(s);
	free(page);
	free(path);
	free(dom);

	/* A person of whom nothing is recorded: a letter that says so. */
	page = pages_run(dir, "letter-none", &path, 0, "audit", "report",
	    "--data", log, "--subject-ref", none, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	assert_int_equal(dom_count(dom, "table"), 0);
	s = dom_text_of(dom, "main", 0);
	assert_non_null(strstr(s, "No disclosure"));
	free(s);
	free(page);
	free(path);
	free(dom);
	scratch_rmrf(dir);
	free(dir);
}

static void
test_review_queue(void **state)
{
	char *dir = scratch_dir("browser-queue"), *path, *page, *dom, *s;
	struct event ev[16];
	size_t n = pages_example_events(ev, 16);
	const char *log = pages_log(dir, ev, n);

	(void)state;
	page = pages_run(dir, "queue", &path, 0, "audit", "query", "--data",
	    log, "--breakglass", "--unreviewed", "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	/* Exactly the emergency decision, seq 5, awaits review. */
	assert_int_equal(dom_rows(dom, 0), 2);
	s = cell(dom, 1, "SEQ");
	assert_string_equal(s, "5");
	free(s);
	s = cell(dom, 1, "FROM");
	assert_string_equal(s, "mental_health_trust");
	free(s);
	s = cell(dom, 1, "TO");
	assert_string_equal(s, "police");
	free(s);
	s = cell(dom, 1, "MSG_ID");
	assert_int_equal(strlen(s), 32);
	free(s);
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
	    cmocka_unit_test(test_letter),
	    cmocka_unit_test(test_review_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
