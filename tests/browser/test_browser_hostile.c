/*
 * Escaping, proved in the browser: hostile agency names, purposes, legal
 * bases, approvers, never reasons and file names in a policy, and hostile
 * agencies, rule ids, purposes and reason details in the audit log, each
 * rendered through policy diff, policy summary and audit query --html.
 * Chromium's DOM shows the text as text and holds no element the input
 * tried to make; nothing on the page can load from outside.
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

#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/browser/pages.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

#define SCRIPT  "<script>alert(1)</script>"
#define IMG     "\"><img src=x onerror=alert(1)>"
#define AMP     "&amp; 'single' \"double\""
#define RLO     "evil\xe2\x80\xaetxt.exe"
#define TABLE   "</td></tr></table><form><input name=a>"
#define SVG     "<svg onload=alert(1)>"
#define ANCHOR  "<a href=javascript:alert(1)>click</a><!--"
#define CSSLOAD "<style>@import '//evil.example/x.css'</style>"

/* The example agreement made hostile wherever its text is free. */
static const char *const hostile_edits[] = {
    "{id: police, name: police}",
    "{id: police, name: \"" SCRIPT "\"}",
    "{id: ambulance, name: ambulance service}",
    "{id: ambulance, name: '\"><img src=x onerror=alert(1)>'}",
    "{id: mental_health_trust, name: mental health trust}",
    "{id: mental_health_trust, name: \"&amp; 'single' \\\"double\\\"\"}",
    "{id: social_care, name: social care}",
    "{id: social_care, name: \"evil\\u202Etxt.exe\"}",
    "approved_by: Caldicott Guardian, Example Mental Health NHS Foundation "
    "Trust",
    "approved_by: \"" SVG "\"",
    "description: Street triage advice to an officer before a section 136 "
    "decision",
    "description: \"" TABLE "\"",
    "basis: \"MHA 1983 s136(1C) consultation; UK GDPR Art 6(1)(e), 9(2)(h); "
    "DPA 2018 Sch 1 para 2\"",
    "basis: \"" CSSLOAD "\"",
    "reason: Diagnosis, treatment and clinical notes are never shared with "
    "the police through this system; a criminal investigation uses the "
    "formal disclosure route.",
    "reason: \"" ANCHOR "\"",
};

/* What each test must see as text: at least once, and as text only. */
static void
shows(const char *dom, const char *text)
{
	if (pagecheck_text_count(dom, text) == 0)
		fail_msg("the page does not show '%s' as text", text);
}

static char *
hostile_policy(const char *dir)
{
	char *yaml = scratch_read(fixture_agreement(), NULL), *edited,
	     path[PATH_MAX];

	edited = pages_edit(
	    yaml, hostile_edits, sizeof(hostile_edits) / sizeof(char *) / 2);
	free(yaml);
	/* A file name is text the pages show too ('/' cannot be in one). */
	snprintf(path, sizeof(path), "%s/%s.yaml", dir, IMG);
	scratch_write(path, edited, 0644);
	free(edited);
	return strdup(path);
}

static void
test_policy_pages(void **state)
{
	char *dir = scratch_dir("browser-hostile"), *yaml = hostile_policy(dir);
	char *page, *path, *dom, *v2, *v2path;

	(void)state;
	page = pages_run(dir, "summary", &path, 0, "policy", "summary", yaml,
	    "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	shows(dom, SCRIPT);
	shows(dom, IMG);
	shows(dom, AMP);
	shows(dom, RLO);
	shows(dom, TABLE);
	shows(dom, SVG);
	shows(dom, ANCHOR);
	shows(dom, CSSLOAD);
	/* The one style element is the page's own. */
	assert_int_equal(dom_count(dom, "style"), 1);
	assert_int_equal(dom_count(dom, "a"), 0);
	assert_int_equal(dom_count(dom, "h1"), 1);
	/* The agencies' list: the names exactly, one item each. */
	{
		char *li = dom_text_of(dom, "li", 0);
		assert_string_equal(li, SCRIPT);
		free(li);
		li = dom_text_of(dom, "li", 3);
		assert_string_equal(li, RLO);
		free(li);
	}
	free(dom);
	free(page);
	free(path);

	/* The diff: the file names and what decided each side. */
	v2 = scratch_read(yaml, NULL);
	{
		static const char *const up[] = {"version: 1\n", "version: 2\n",
		    "dependents, relatives, demographics,",
		    "dependents, demographics,"};
		char *e = pages_edit(v2, up, 2);
		char p2[PATH_MAX];

		/* A name cannot hold '/', so no end tag: an open one. */
		snprintf(p2, sizeof(p2), "%s/new %s.yaml", dir, "<b>bold<b>");
		scratch_write(p2, e, 0644);
		free(e);
		v2path = strdup(p2);
	}
	free(v2);
	page = pages_run(dir, "diff", &path, 1, "policy", "diff", yaml, v2path,
	    "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	shows(dom, IMG ".yaml");
	shows(dom, "new <b>bold<b>.yaml");
	assert_int_equal(dom_count(dom, "b"), 0);
	free(dom);
	free(page);
	free(path);
	free(v2path);
	free(yaml);
	scratch_rmrf(dir);
	free(dir);
}

static void
test_query_page(void **state)
{
	char *dir = scratch_dir("browser-hostile-log"), *page, *path, *dom;
	struct event ev[16];
	size_t n = pages_example_events(ev, 16);
	const char *log;

	(void)state;
	/* A log is bytes: whatever wrote it, the page shows text. */
	snprintf(ev[1].sender, sizeof(ev[1].sender), "%s", SCRIPT);
	snprintf(ev[1].recipient, sizeof(ev[1].recipient), "%s", "\"><img");
	snprintf(ev[1].rules[0], sizeof(ev[1].rules[0]), "%s", "</td><svg>");
	snprintf(ev[5].rules[0], sizeof(ev[5].rules[0]), "%s", RLO);
	snprintf(ev[6].detail, sizeof(ev[6].detail), "%s", IMG " " AMP);
	snprintf(ev[6].purpose, sizeof(ev[6].purpose), "%s", "<iframe>");
	log = pages_log(dir, ev, n);
	page = pages_run(dir, "query", &path, 0, "audit", "query", "--data",
	    log, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	shows(dom, SCRIPT);
	shows(dom, "\"><img");
	shows(dom, "</td><svg>");
	shows(dom, RLO);
	shows(dom, "<iframe>");
	/* Still one row per event, each with every column. */
	assert_int_equal(dom_rows(dom, 0), 1 + n);
	assert_int_equal(dom_count(dom, "td"), n * dom_count(dom, "th"));
	free(dom);
	free(page);
	free(path);
	scratch_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_pages),
	    cmocka_unit_test(test_query_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
