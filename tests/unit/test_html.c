/*
 * common/html.c and the table printer's HTML: every byte that is not the
 * caller's literal is escaped, ids are tokens, a page forbids every
 * external load and script, and a table row carries its cells in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <jansson.h>

#include "common/html.h"
#include "common/table.h"

static void
text_escaped(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	html_text(&sb, "<script>alert('x')</script> & \"q\"");
	assert_string_equal(strbuf_str(&sb),
	    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "&quot;q&quot;");
	sb.len = 0;
	html_textn(&sb, "a\0b", 3);
	assert_string_equal(strbuf_str(&sb),
	    "a\xEF\xBF\xBD"
	    "b");
	sb.len = 0;
	html_textf(&sb, "%d<%s>", 7, "&");
	assert_string_equal(strbuf_str(&sb), "7&lt;&amp;&gt;");
	sb.len = 0;
	html_text(&sb, NULL);
	assert_int_equal(sb.len, 0);
	strbuf_release(&sb);
}

static void
id_token(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	html_id(&sb, "msg-1a\"><x y=z");
	assert_string_equal(strbuf_str(&sb), "msg-1a_22_3e_3cx_20y_3dz");
	strbuf_release(&sb);
}

static void
page_is_closed(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *s;

	(void)state;
	html_begin(&sb, "Who saw <what>", "A lead & more");
	html_end(&sb);
	s = strbuf_str(&sb);
	assert_non_null(strstr(s, "<!DOCTYPE html>\n<html lang=\"en\">"));
	assert_non_null(strstr(s, "default-src 'none'"));
	assert_non_null(strstr(s, "<title>Who saw &lt;what&gt;</title>"));
	assert_non_null(strstr(s, "<h1>Who saw &lt;what&gt;</h1>"));
	assert_non_null(strstr(s, "<p class=\"lead\">A lead &amp; more</p>"));
	assert_null(strstr(s, "http:"));
	assert_null(strstr(s, "https:"));
	assert_null(strstr(s, "<script"));
	assert_non_null(strstr(s, "</html>\n"));
	strbuf_release(&sb);
}

static void
table_html(void **state)
{
	static const struct table_column cols[] = {
	    {"seq", "SEQ", 4, NULL},
	    {"who", "WHO", 6, NULL},
	    {"hidden", NULL, 0, NULL},
	    {"list", "LIST", 0, NULL},
	};
	struct strbuf sb = STRBUF_INIT;
	struct table t;
	json_t *row;

	(void)state;
	table_begin(&t, &sb, TABLE_HTML, cols, 4);
	t.row_id = "seq";
	row = json_pack("{s:i,s:s,s:s,s:[s,s]}", "seq", 42, "who",
	    "<b>police</b>", "hidden", "x", "list", "a", "b&c");
	assert_non_null(row);
	assert_int_equal(table_row(&t, &sb, row), 0);
	json_decref(row);
	row = json_pack("{s:i,s:s}", "seq", 43, "who", "");
	assert_int_equal(table_row(&t, &sb, row), 0);
	json_decref(row);
	table_end(&t, &sb);
	assert_string_equal(strbuf_str(&sb),
	    "<table>\n<thead><tr><th scope=\"col\">SEQ</th>"
	    "<th scope=\"col\">WHO</th><th scope=\"col\">LIST</th>"
	    "</tr></thead>\n<tbody>\n"
	    "<tr id=\"seq-42\"><td>42</td><td>&lt;b&gt;police&lt;/b&gt;</td>"
	    "<td>a,b&amp;c</td></tr>\n"
	    "<tr id=\"seq-43\"><td>43</td><td>-</td><td>-</td></tr>\n"
	    "</tbody>\n</table>\n");
	/* With a caption, escaped, before the header row. */
	sb.len = 0;
	table_begin_captioned(&t, &sb, TABLE_HTML, cols, 4, "Rows <all>");
	table_end(&t, &sb);
	assert_string_equal(strbuf_str(&sb),
	    "<table>\n<caption>Rows &lt;all&gt;</caption>\n<thead><tr>"
	    "<th scope=\"col\">SEQ</th><th scope=\"col\">WHO</th>"
	    "<th scope=\"col\">LIST</th></tr></thead>\n<tbody>\n"
	    "</tbody>\n</table>\n");
	/* The other formats show none. */
	sb.len = 0;
	table_begin_captioned(&t, &sb, TABLE_TEXT, cols, 4, "Rows");
	assert_null(strstr(strbuf_str(&sb), "Rows"));
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(text_escaped),
	    cmocka_unit_test(id_token),
	    cmocka_unit_test(page_is_closed),
	    cmocka_unit_test(table_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
