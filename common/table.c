/*
 * The table/JSON/CSV printer (table.h), for the audit verbs' rows.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/html.h"
#include "common/table.h"

/* A cell as text into sb: lists joined by sep, booleans by the format. */
static void
cell_text(struct strbuf *sb, const json_t *v, const char *sep, bool text)
{
	const json_t *e;
	size_t i;

	if (json_is_string(v)) {
		strbuf_add(sb, json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		strbuf_addstr(sb,
		    text ? (json_is_true(v) ? "yes" : "")
		         : (json_is_true(v) ? "true" : "false"));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			if (i > 0)
				strbuf_addstr(sb, sep);
			if (json_is_string(e))
				strbuf_addstr(sb, json_string_value(e));
		}
	}
}

/* RFC 4180: always quoted, quotes doubled, formulas defused. */
static void
csv_field(struct strbuf *sb, const char *s, size_t len, bool text)
{
	strbuf_addch(sb, '"');
	if (text && len > 0 && strchr("=+-@\t\r", s[0]) != NULL)
		strbuf_addch(sb, '\'');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			strbuf_addch(sb, '"');
		strbuf_addch(sb, s[i]);
	}
	strbuf_addch(sb, '"');
}

/* Ends a text line at sb->len from start: no trailing blanks. */
static void
end_line(struct strbuf *sb, size_t start)
{
	if (sb->failed)
		return;
	while (sb->len > start && sb->buf[sb->len - 1] == ' ')
		sb->buf[--sb->len] = '\0';
	strbuf_addch(sb, '\n');
}

/* The characters of UTF-8 text s: the bytes that start one. */
static size_t
chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Appends s, padded with blanks to |width| characters, and one blank. */
static void
padded(struct strbuf *sb, const char *s, size_t len, int width)
{
	size_t w = (size_t)(width < 0 ? -width : width);

	strbuf_add(sb, s, len);
	for (size_t i = chars(s, len); i < w; i++)
		strbuf_addch(sb, ' ');
	strbuf_addch(sb, ' ');
}

/* Cuts a text cell of more than max characters to max - 1 and "…". */
static void
bounded(struct strbuf *cell, int max)
{
	size_t keep, i = 0;

	if (max < 2 || cell->failed ||
	    chars(cell->buf, cell->len) <= (size_t)max)
		return;
	/* The byte where character max - 1 starts. */
	for (keep = 0; i < cell->len; i++)
		if (((unsigned char)cell->buf[i] & 0xc0) != 0x80 &&
		    keep++ == (size_t)max - 1)
			break;
	cell->len = i;
	cell->buf[i] = '\0';
	strbuf_addstr(cell, "\xe2\x80\xa6"); /* U+2026 … */
}

/* An HTML row's <tr>, named by the table's row_id member when it has one. */
static void
html_row_start(struct table *t, struct strbuf *sb, const json_t *row,
    struct strbuf *scratch)
{
	const json_t *v;

	if (t->row_id == NULL ||
	    (v = json_object_get(row, t->row_id)) == NULL) {
		html_row_begin(sb, NULL);
		return;
	}
	scratch->len = 0;
	strbuf_addf(scratch, "%s-", t->row_id);
	cell_text(scratch, v, ",", true);
	html_row_begin(sb, strbuf_str(scratch));
}

void
table_begin(struct table *t, struct strbuf *sb, enum table_format f,
    const struct table_column *cols, size_t ncols)
{
	table_begin_captioned(t, sb, f, cols, ncols, NULL);
}

void
table_begin_captioned(struct table *t, struct strbuf *sb, enum table_format f,
    const struct table_column *cols, size_t ncols, const char *caption)
{
	size_t start = sb->len;

	t->format = f;
	t->cols = cols;
	t->ncols = ncols;
	t->rows = 0;
	t->row_id = NULL;
	if (f == TABLE_HTML) {
		html_raw(sb, "<table>\n");
		if (caption != NULL)
			html_tag(sb, "caption", NULL, caption);
		html_raw(sb, "<thead><tr>");
		for (size_t i = 0; i < ncols; i++) {
			if (cols[i].head == NULL)
				continue;
			html_raw(sb, "<th scope=\"col\">");
			html_text(sb, cols[i].head);
			html_raw(sb, "</th>");
		}
		html_raw(sb, "</tr></thead>\n<tbody>\n");
	} else if (f == TABLE_CSV) {
		for (size_t i = 0; i < ncols; i++) {
			if (i > 0)
				strbuf_addch(sb, ',');
			strbuf_addstr(sb, cols[i].name);
		}
		strbuf_addstr(sb, "\r\n");
	} else if (f == TABLE_TEXT) {
		for (size_t i = 0; i < ncols; i++)
			if (cols[i].head != NULL)
				padded(sb, cols[i].head, strlen(cols[i].head),
				    cols[i].width);
		end_line(sb, start);
	}
}

int
table_row(struct table *t, struct strbuf *sb, const json_t *row)
{
	struct strbuf cell = STRBUF_INIT;
	size_t start = sb->len;
	char *dump;

	if (!json_is_object(row))
		return ERROR_INVAL;
	t->rows++;
	if (t->format == TABLE_JSON) {
		if ((dump = json_dumps(row, JSON_COMPACT)) == NULL)
			return ERROR_NOMEM;
		strbuf_addstr(sb, dump);
		strbuf_addch(sb, '\n');
		free(dump);
		return strbuf_error(sb);
	}
	if (t->format == TABLE_HTML)
		html_row_start(t, sb, row, &cell);
	for (size_t i = 0; i < t->ncols; i++) {
		const struct table_column *c = &t->cols[i];
		const json_t *v = json_object_get(row, c->name);

		cell.len = 0;
		if (cell.buf != NULL)
			cell.buf[0] = '\0';
		if (t->format == TABLE_CSV) {
			cell_text(&cell, v, ";", false);
			if (i > 0)
				strbuf_addch(sb, ',');
			csv_field(
			    sb, strbuf_str(&cell), cell.len, json_is_string(v));
			continue;
		}
		if (c->head == NULL)
			continue;
		cell_text(&cell, v, ",", true);
		if (cell.len == 0 && c->alt != NULL)
			cell_text(
			    &cell, json_object_get(row, c->alt), ",", true);
		if (cell.len == 0)
			strbuf_addch(&cell, '-');
		if (t->format == TABLE_HTML) {
			html_cell(sb, strbuf_str(&cell));
			continue;
		}
		if (c->width < 0)
			bounded(&cell, -c->width);
		padded(sb, strbuf_str(&cell), cell.len, c->width);
	}
	if (t->format == TABLE_CSV)
		strbuf_addstr(sb, "\r\n");
	else if (t->format == TABLE_HTML)
		html_row_end(sb);
	else
		end_line(sb, start);
	if (strbuf_error(&cell) != 0)
		sb->failed = true;
	strbuf_release(&cell);
	return strbuf_error(sb);
}

void
table_end(struct table *t, struct strbuf *sb)
{
	if (t->format == TABLE_HTML)
		html_table_end(sb);
}
