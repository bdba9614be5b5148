/*
 * The browser test kit itself (browser.h): Chromium renders a page and the
 * DOM read back is the browser's parse, not the file's text; the walker is
 * strict; a browser that hangs is killed with its whole process group.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/browser/browser.h"
#include "tests/lib/scratch.h"

static const char page[] =
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Kit &amp; test</title><style>td > b { color: #000 }</style>"
    "</head><body><h1 id=\"top\">Heading</h1>"
    /* No tbody, no end tags for td and tr: the browser adds them. */
    "<table><caption>First</caption><tr><th scope=\"col\">A<th>B"
    "<tr><td>police &lt;b&gt;<td title='a\"b'>x &amp; y</table>"
    "<table><tr><td>second</table>"
    "<p>unclosed <img src=\"data:,\" alt=\"\"></body></html>";

static void
test_program_present(void **state)
{
	(void)state;
	/* The project installs Chromium (scripts/install-deps): its absence
	 * is a failure, never a skip. */
	assert_non_null(browser_program());
}

static void
test_dom_is_the_browsers_parse(void **state)
{
	char *dir = scratch_dir("browser-kit");
	char *dom = browser_dom_of(dir, "kit", page), *s;

	(void)state;
	assert_non_null(dom);
	/* The parser's own additions: tbody, every end tag. */
	assert_int_equal(dom_count(dom, "tbody"), 2);
	assert_int_equal(dom_count(dom, "table"), 2);
	assert_int_equal(dom_count(dom, "td|th"), 5);
	assert_int_equal(dom_count(dom, "img"), 1);
	assert_int_equal(dom_count(dom, "script"), 0);
	assert_int_equal(dom_rows(dom, 0), 2);
	assert_int_equal(dom_rows(dom, 1), 1);
	assert_int_equal(dom_rows(dom, 2), (size_t)-1);
	s = dom_cell(dom, 0, 1, 0);
	assert_string_equal(s, "police &lt;b&gt;");
	free(s);
	s = dom_text_of(dom, "caption", 0);
	assert_string_equal(s, "First");
	free(s);
	/* Chromium re-quotes the attribute and escapes the quote. */
	assert_non_null(strstr(dom, "<td title=\"a&quot;b\">x &amp; y</td>"));
	s = dom_cell(dom, 0, 1, 1);
	char *t = dom_text(s);
	assert_string_equal(t, "x & y");
	free(t);
	free(s);
	s = dom_cell(dom, 1, 0, 0);
	assert_string_equal(s, "second");
	free(s);
	assert_null(dom_cell(dom, 0, 2, 0));
	assert_null(dom_cell(dom, 0, 0, 2));
	s = dom_by_id(dom, "top");
	assert_string_equal(s, "Heading");
	free(s);
	assert_null(dom_by_id(dom, "to"));
	s = dom_attrs(dom, "html", 0);
	assert_string_equal(s, " lang=\"en\"");
	free(s);
	/* The stylesheet's '>' is raw text, not a tag. */
	assert_int_equal(dom_count(dom, "b"), 0);
	free(dom);
	scratch_rmrf(dir);
	free(dir);
}

static void
test_walker_is_strict(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(dom_count("<p><b></p></b>", "p"), (size_t)-1);
	assert_int_equal(dom_count("<p>open", "p"), (size_t)-1);
	assert_int_equal(dom_count("<p a=\"x>y\"></p>", "p"), 1);
	assert_null(dom_inner("<p>x</q>", "p", 0));
	assert_null(dom_text("a &copy; b"));
	s = dom_text("<i>a</i> &lt;&amp;&gt; <!-- c --> b");
	assert_string_equal(s, "a <&>  b");
	free(s);
	s = dom_inner("<div><div>in</div></div><div>2</div>", "div", 2);
	assert_string_equal(s, "2");
	free(s);
	s = dom_inner("<div><div>in</div></div>", "div", 0);
	assert_string_equal(s, "<div>in</div>");
	free(s);
}

/* Whether any process of group pgid is still alive (not a zombie). */
static bool
group_alive(long pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool alive = false;

	assert_non_null(d);
	while (!alive && (e = readdir(d)) != NULL) {
		char path[300], buf[1024], st;
		long pid, ppid, pgrp;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *p = strrchr(buf, ')');
			if (p != NULL &&
			    sscanf(p + 1, " %c %ld %ld", &st, &ppid, &pgrp) ==
			        3 &&
			    pgrp == pgid && st != 'Z')
				alive = true;
		}
		(void)pid;
		fclose(f);
	}
	closedir(d);
	return alive;
}

static void
test_hung_browser_killed(void **state)
{
	char *dir = scratch_dir("browser-hang");
	char prog[4200], pidfile[4200], html[4200], *pid;
	time_t t0 = time(NULL);

	(void)state;
	snprintf(prog, sizeof(prog), "%s/hang", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(html, sizeof(html), "%s/p.html", dir);
	scratch_write(html, "<p>x</p>", 0644);
	{
		char script[9000];
		snprintf(script, sizeof(script),
		    "#!/bin/sh\necho $$ > %s\nsleep 30 &\nsleep 30\n", pidfile);
		scratch_write(prog, script, 0755);
	}
	setenv("CONCORDAT_CHROMIUM", prog, 1);
	assert_null(browser_dom(html, 1));
	unsetenv("CONCORDAT_CHROMIUM");
	assert_true(time(NULL) - t0 < 10);
	pid = scratch_read(pidfile, NULL);
	/* The group was sent SIGKILL; the grandchild (the background sleep,
	 * not the kit's to reap) leaves a moment later: within 2 s. */
	for (int i = 0; i < 200 && group_alive(atol(pid)); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_false(group_alive(atol(pid)));
	free(pid);
	scratch_rmrf(dir);
	free(dir);
}

static void
test_screenshot(void **state)
{
	char *dir = scratch_dir("browser-shot");
	char html[4200], png[4200];
	unsigned char *b;
	size_t len;

	(void)state;
	snprintf(html, sizeof(html), "%s/p.html", dir);
	snprintf(png, sizeof(png), "%s/p.png", dir);
	scratch_write(html, page, 0644);
	assert_int_equal(browser_screenshot(html, png, 640, 480, 0), 0);
	b = scratch_read(png, &len);
	assert_true(len > 24);
	assert_memory_equal(b, "\x89PNG\r\n\x1a\n", 8);
	/* IHDR: width and height, big-endian. */
	assert_int_equal(
	    (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19], 640);
	assert_int_equal(
	    (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23], 480);
	free(b);
	scratch_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_program_present),
	    cmocka_unit_test(test_walker_is_strict),
	    cmocka_unit_test(test_dom_is_the_browsers_parse),
	    cmocka_unit_test(test_hung_browser_killed),
	    cmocka_unit_test(test_screenshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
