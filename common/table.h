/*
 * One printer for rows shown to people as a table and to programs as JSON
 * (one object per line) or CSV (RFC 4180), driven by a column table, so
 * that every format prints the same rows from the same code. It builds
 * into a struct strbuf; the verb that asked writes the text.
 */
#ifndef COMMON_TABLE_H
#define COMMON_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "common/strbuf.h"

enum table_format { TABLE_TEXT, TABLE_JSON, TABLE_CSV, TABLE_HTML };

/*
 * A column: the row object's member name (also the CSV header), and for
 * the text table its heading (NULL: not shown there) and width in
 * characters: 0 as wide as the cell, more than 0 padded to at least that,
 * less than 0 exactly -width, a longer cell cut to -width - 1 characters
 * and an ellipsis ("…"), so that the columns after it line up (HTML, CSV
 * and JSON cells are never cut). With alt set, an empty text cell shows
 * member alt instead. Every column is in the CSV; JSON prints the row
 * object whole.
 */
struct table_column {
	const char *name;
	const char *head;
	int width;
	const char *alt;
};

struct table {
	enum table_format format;
	const struct table_column *cols; /* borrowed for the table's life */
	size_t ncols;
	uint64_t rows; /* rows added so far */
	/*
	 * HTML only: the member whose value names each row (id="NAME-VALUE",
	 * through html_id), so that a page can link to it; NULL: none. Set
	 * after table_begin, which clears it.
	 */
	const char *row_id;
};

/*
 * Starts a table, appending the header line (none for JSON) to sb. HTML is
 * a <table> of the columns that have a heading, escaped, for a page that
 * html_begin started (common/html.h).
 */
void table_begin(struct table *t, struct strbuf *sb, enum table_format f,
    const struct table_column *cols, size_t ncols);

/*
 * table_begin with a caption for the HTML table (escaped; the other
 * formats show none). table_begin is this with NULL.
 */
void table_begin_captioned(struct table *t, struct strbuf *sb,
    enum table_format f, const struct table_column *cols, size_t ncols,
    const char *caption);

/*
 * Appends one row to sb. row is an object with a member per column: a
 * string, an integer, a boolean (text: "yes" or empty; CSV: true/false) or
 * a list of strings (joined by "," in text, ";" in CSV). An empty text
 * cell is "-"; text lines carry no trailing blanks. A CSV text cell that a
 * spreadsheet would run as a formula (= + - @ tab CR first) gets a leading
 * apostrophe. ERROR_NOMEM when sb ran out of memory, ERROR_INVAL when row
 * is not an object.
 */
WUR int table_row(struct table *t, struct strbuf *sb, const json_t *row);

/* Ends the table (HTML: closes it; nothing in the other formats). */
void table_end(struct table *t, struct strbuf *sb);

#endif
