/*
 * The browser test kit: a page rendered by a real browser (Debian's
 * headless Chromium) and the DOM it parsed read back, for the tests of the
 * HTML pages (docs/HACKING.md, "Browser tests"). The DOM is Chromium's own
 * canonical serialisation (--dump-dom): every element has its end tag
 * (void elements excepted), attribute values are double-quoted with & " <
 * > escaped, text has & < > and U+00A0 escaped. dom_* walk that text
 * strictly; they are not a general HTML parser and fail on anything the
 * serialiser would not write.
 */
#ifndef TESTS_BROWSER_BROWSER_H
#define TESTS_BROWSER_BROWSER_H

#include <stdbool.h>
#include <stddef.h>

/* The longest a render may take before Chromium is killed, in seconds. */
#define BROWSER_TIMEOUT 60

/*
 * The Chromium program: $CONCORDAT_CHROMIUM when set, else the one CMake
 * found. NULL, with a message on stderr naming the fix, when there is none.
 */
const char *browser_program(void);

/*
 * Renders the HTML file at path (absolute or relative to the working
 * folder) headless and returns the DOM as Chromium serialised it after
 * loading: malloc'd, NUL-terminated, the caller frees it. Chromium runs in
 * a process group of its own with a fresh --user-data-dir, removed after;
 * the group is killed after timeout_s seconds (0: BROWSER_TIMEOUT) and in
 * any case once Chromium exits, so nothing is left running. NULL, with
 * the reason on stderr, when Chromium is missing, fails, times out or
 * prints no document.
 */
char *browser_dom(const char *path, unsigned timeout_s);

/*
 * Renders path to a PNG of width x height CSS pixels at png. Returns 0, or
 * -1 with the reason on stderr (no file then).
 */
int browser_screenshot(const char *path, const char *png, int width, int height,
    unsigned timeout_s);

/*
 * Writes html to a fresh file in dir (NAME.html) and renders it: the test
 * pages' usual path. The file is left for a reader of a failure.
 */
char *browser_dom_of(const char *dir, const char *name, const char *html);

/* ---------------------------------------------------- the DOM walker */

/*
 * The number of elements whose tag name is one of names ("td", or
 * alternatives "td|th"), in document order over the whole serialisation.
 * Comments, the doctype and the raw text of style and script are not
 * looked into. (size_t)-1 when dom is malformed.
 */
size_t dom_count(const char *dom, const char *names);

/*
 * The inner serialisation of the n-th (from 0) element named by names, up
 * to its matching end tag: malloc'd, the caller frees it. NULL when there
 * is no such element or the serialisation is malformed.
 */
char *dom_inner(const char *dom, const char *names, size_t n);

/* The inner serialisation of the element with id="id"; NULL if none. */
char *dom_by_id(const char *dom, const char *id);

/*
 * The inner serialisation of the cell (td or th) col of row row (both
 * from 0; rows of thead, tbody and tfoot counted in order) of the table-th
 * table of dom. NULL when there is none.
 */
char *dom_cell(const char *dom, size_t table, size_t row, size_t col);

/* The number of rows (tr) of the table-th table; (size_t)-1 if none. */
size_t dom_rows(const char *dom, size_t table);

/*
 * The text of a fragment of the serialisation: tags dropped and the
 * serialiser's escapes (&amp; &lt; &gt; &quot; &nbsp;) decoded. malloc'd;
 * NULL on any other '&' sequence (not something Chromium writes).
 */
char *dom_text(const char *fragment);

/* The text of the n-th element named by names (dom_inner, then dom_text). */
char *dom_text_of(const char *dom, const char *names, size_t n);

/*
 * The attributes of the n-th start tag named by names, as serialised
 * (' id="x" class="y"'), malloc'd; NULL if there is none.
 */
char *dom_attrs(const char *dom, const char *names, size_t n);

#endif
