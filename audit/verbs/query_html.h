/*
 * `audit query --html` (query_html.c): the query's table as a page, its
 * rows the text table's (common/table.h, TABLE_HTML) with id="seq-N", and
 * after it one section per message listing every event of that message.
 * query.c calls these around the rows it prints.
 */
#ifndef AUDIT_VERBS_QUERY_HTML_H
#define AUDIT_VERBS_QUERY_HTML_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/strbuf.h"
#include "common/table.h"

/* The events seen so far, by message (owned; query_html_release frees). */
struct query_html {
	struct query_html_event *ev;
	size_t n, cap;
};

/*
 * The page's start into sb: title, the query as given (argv after the
 * verb, escaped), and the table's head (t begun as TABLE_HTML, rows named
 * by seq) with a caption.
 */
void query_html_begin(struct query_html *h, struct strbuf *sb, struct table *t,
    const struct table_column *cols, size_t ncols, int argc, char **argv);

/* Notes row (the object table_row printed) for the message sections. */
WUR int query_html_row(struct query_html *h, const json_t *row);

/*
 * The table's end, the count, a section per message (id="msg-HEX") with
 * a link to every event of it, and the page's end.
 */
void query_html_end(struct query_html *h, struct strbuf *sb, struct table *t);

void query_html_release(struct query_html *h);

#endif
