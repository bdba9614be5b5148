/*
 * common/table.c: the same rows as a text table, JSON lines and CSV, byte
 * for byte: widths, no trailing blanks, "-" for empty cells, the alternate
 * member, lists, booleans, CSV quoting and formula defusing; bounded
 * cells cut with an ellipsis in text only, and widths in characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/table.h"

static const struct table_column cols[] = {
    {"n", "N", 3, NULL},
    {"who", "WHO", 6, "list"},
    {"list", NULL, 0, NULL},
    {"bg", "BG", 3, NULL},
    {"text", "TEXT", 0, NULL},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static json_t *
row(int n, const char *who, const char *a, const char *b, int bg,
    const char *text)
{
	json_t *o = json_pack("{s:i,s:s,s:[],s:b,s:s}", "n", n, "who", who,
	    "list", "bg", bg, "text", text);
	json_t *l = json_object_get(o, "list");

	assert_non_null(o);
	if (a != NULL)
		json_array_append_new(l, json_string(a));
	if (b != NULL)
		json_array_append_new(l, json_string(b));
	return o;
}

/* The table of the two rows in format f. */
static char *
print(enum table_format f)
{
	struct strbuf sb = STRBUF_INIT;
	struct table t;
	json_t *r1 = row(1, "police", NULL, NULL, 1, "say \"hi\""),
	       *r2 = row(22, "", "a", "b", 0, "=SUM(A1)");
	char *s;

	table_begin(&t, &sb, f, cols, NCOLS);
	assert_int_equal(table_row(&t, &sb, r1), 0);
	assert_int_equal(table_row(&t, &sb, r2), 0);
	table_end(&t, &sb);
	assert_int_equal(t.rows, 2);
	assert_int_equal(strbuf_error(&sb), 0);
	s = strdup(strbuf_str(&sb));
	strbuf_release(&sb);
	json_decref(r1);
	json_decref(r2);
	return s;
}

static void
test_text(void **state)
{
	char *s = print(TABLE_TEXT);

	(void)state;
	assert_string_equal(s,
	    "N   WHO    BG  TEXT\n"
	    "1   police yes say \"hi\"\n"
	    "22  a,b    -   =SUM(A1)\n");
	free(s);
}

static void
test_csv(void **state)
{
	char *s = print(TABLE_CSV);

	(void)state;
	assert_string_equal(s,
	    "n,who,list,bg,text\r\n"
	    "\"1\",\"police\",\"\",\"true\",\"say \"\"hi\"\"\"\r\n"
	    "\"22\",\"\",\"a;b\",\"false\",\"'=SUM(A1)\"\r\n");
	free(s);
}

static void
test_json(void **state)
{
	char *s = print(TABLE_JSON);

	(void)state;
	assert_string_equal(s,
	    "{\"n\":1,\"who\":\"police\",\"list\":[],\"bg\":true,"
	    "\"text\":\"say \\\"hi\\\"\"}\n"
	    "{\"n\":22,\"who\":\"\",\"list\":[\"a\",\"b\"],\"bg\":false,"
	    "\"text\":\"=SUM(A1)\"}\n");
	free(s);
}

static void
test_formulas(void **state)
{
	static const struct table_column one[] = {{"v", "V", 0, NULL}};
	static const char *const risky[] = {"+1", "-1", "@x", "\tx", "\rx"};
	struct strbuf sb = STRBUF_INIT;
	struct table t;

	(void)state;
	for (size_t i = 0; i < sizeof(risky) / sizeof(risky[0]); i++) {
		json_t *o = json_pack("{s:s}", "v", risky[i]);
		table_begin(&t, &sb, TABLE_CSV, one, 1);
		assert_int_equal(table_row(&t, &sb, o), 0);
		assert_int_equal(sb.buf[strlen("v\r\n") + 1], '\'');
		strbuf_release(&sb);
		json_decref(o);
	}
	/* numbers are not text: no apostrophe */
	json_t *o = json_pack("{s:i}", "v", -3);
	table_begin(&t, &sb, TABLE_CSV, one, 1);
	assert_int_equal(table_row(&t, &sb, o), 0);
	assert_string_equal(strbuf_str(&sb), "v\r\n\"-3\"\r\n");
	strbuf_release(&sb);
	json_decref(o);
	/* not an object */
	o = json_array();
	assert_int_equal(table_row(&t, &sb, o), ERROR_INVAL);
	json_decref(o);
	strbuf_release(&sb);
}

/* A bounded column (width -8): text cut to 8 characters with "…", so the next
 * column lines up; a cell of max characters or fewer is whole; CSV and
 * JSON keep every byte; widths count characters, not bytes. */
static void
test_bounded(void **state)
{
	static const struct table_column two[] = {
	    {"v", "V", -8, NULL},
	    {"w", "W", 0, NULL},
	};
	static const char *const in[] = {
	    "abcdefghijk", "abcdefgh", "é", "ééééééééé"};
	static const char *const out[] = {"abcdefg\xe2\x80\xa6 x\n",
	    "abcdefgh x\n", "\xc3\xa9        x\n",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xe2\x80\xa6 x\n"};
	struct strbuf sb = STRBUF_INIT;
	struct table t;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		json_t *o = json_pack("{s:s,s:s}", "v", in[i], "w", "x");
		table_begin(&t, &sb, TABLE_TEXT, two, 2);
		assert_string_equal(strbuf_str(&sb), "V        W\n");
		assert_int_equal(table_row(&t, &sb, o), 0);
		assert_string_equal(
		    strbuf_str(&sb) + strlen("V        W\n"), out[i]);
		strbuf_release(&sb);
		table_begin(&t, &sb, TABLE_CSV, two, 2);
		assert_int_equal(table_row(&t, &sb, o), 0);
		assert_non_null(strstr(strbuf_str(&sb), in[i]));
		strbuf_release(&sb);
		json_decref(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_formulas),
	    cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
