/*
 * `audit query --html` (query_html.h): the page around the query's table.
 * The rows are the text table's, printed by common/table.c; this file adds
 * the caption, the count and, per message, the list of its events, from
 * the same row objects.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/verbs/query_html.h"
#include "common/html.h"

struct query_html_event {
	char msg[64]; /* msg_id in hex, "" when none */
	char type[32];
	char time[40];
	uint64_t seq;
};

static void
copy(char *dst, size_t n, const json_t *v)
{
	const char *s = json_string_value(v);

	snprintf(dst, n, "%s", s != NULL ? s : "");
}

void
query_html_begin(struct query_html *h, struct strbuf *sb, struct table *t,
    const struct table_column *cols, size_t ncols, int argc, char **argv)
{
	memset(h, 0, sizeof(h[0]));
	html_begin(sb, "Audit log: query result",
	    "The events of the audit log that match every filter given, "
	    "in the order they were recorded.");
	html_raw(sb, "<p>Query: <code>concordat audit query");
	for (int i = 1; i < argc; i++) {
		html_raw(sb, " ");
		html_text(sb, argv[i]);
	}
	html_raw(sb,
	    "</code></p>\n<p><a href=\"#messages\">Every event of "
	    "each message</a> follows the table.</p>\n");
	table_begin_captioned(t, sb, TABLE_HTML, cols, ncols,
	    "Matching events, one row each (id seq-N)");
	t->row_id = "seq";
}

int
query_html_row(struct query_html *h, const json_t *row)
{
	struct query_html_event *e;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		void *p = realloc(h->ev, cap * sizeof(h->ev[0]));
		if (p == NULL)
			return ERROR_NOMEM;
		h->ev = p;
		h->cap = cap;
	}
	e = &h->ev[h->n++];
	copy(e->msg, sizeof(e->msg), json_object_get(row, "msg_id"));
	copy(e->type, sizeof(e->type), json_object_get(row, "type"));
	copy(e->time, sizeof(e->time), json_object_get(row, "time"));
	e->seq = (uint64_t)json_integer_value(json_object_get(row, "seq"));
	return ERROR_OK;
}

/* Sorting: by message, then in the order the events came. */
static const struct query_html_event *sort_ev;

static int
by_message(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(sort_ev[i].msg, sort_ev[j].msg);

	return c != 0 ? c : (i > j) - (i < j);
}

/* A message's events: idx[start .. start + n), the first at idx[start]. */
struct group {
	size_t start, n;
};

static const size_t *sort_idx;

static int
by_first(const void *a, const void *b)
{
	size_t i = sort_idx[((const struct group *)a)->start],
	       j = sort_idx[((const struct group *)b)->start];

	return (i > j) - (i < j);
}

static void
message_section(const struct query_html *h, const size_t *idx,
    const struct group *g, struct strbuf *sb)
{
	const char *msg = h->ev[idx[g->start]].msg;

	html_raw(sb, "<h3 id=\"msg-");
	html_id(sb, msg);
	html_raw(sb, "\">Message <span class=\"fingerprint\">");
	html_text(sb, msg);
	html_raw(sb, "</span></h3>\n<p>");
	html_textf(
	    sb, "Every event of this message in the result (%zu):", g->n);
	html_raw(sb, "</p>\n<ul>\n");
	for (size_t k = g->start; k < g->start + g->n; k++) {
		const struct query_html_event *e = &h->ev[idx[k]];

		strbuf_addf(sb, "<li><a href=\"#seq-%llu\">",
		    (unsigned long long)e->seq);
		html_textf(sb, "seq %llu: %s at %s", (unsigned long long)e->seq,
		    e->type, e->time);
		html_raw(sb, "</a></li>\n");
	}
	html_raw(sb, "</ul>\n");
}

void
query_html_end(struct query_html *h, struct strbuf *sb, struct table *t)
{
	size_t *idx = malloc((h->n + 1) * sizeof(*idx)), ng = 0;
	struct group *g = malloc((h->n + 1) * sizeof(*g));

	table_end(t, sb);
	html_raw(sb, "<p>");
	html_textf(sb, "%zu event%s.", h->n, h->n == 1 ? "" : "s");
	html_raw(sb,
	    "</p>\n<h2 id=\"messages\">Every event of each "
	    "message</h2>\n");
	if (idx == NULL || g == NULL) {
		sb->failed = true;
		goto out;
	}
	for (size_t i = 0; i < h->n; i++)
		idx[i] = i;
	sort_ev = h->ev;
	qsort(idx, h->n, sizeof(*idx), by_message);
	for (size_t k = 0; k < h->n; k++) {
		if (h->ev[idx[k]].msg[0] == '\0')
			continue;
		if (ng > 0 &&
		    strcmp(h->ev[idx[g[ng - 1].start]].msg,
		        h->ev[idx[k]].msg) == 0) {
			g[ng - 1].n++;
			continue;
		}
		g[ng].start = k;
		g[ng++].n = 1;
	}
	/* Sections in the order their messages first appear. */
	sort_idx = idx;
	qsort(g, ng, sizeof(*g), by_first);
	for (size_t k = 0; k < ng; k++)
		message_section(h, idx, &g[k], sb);
	if (ng == 0)
		html_raw(sb,
		    "<p>No event in the result concerns a "
		    "message.</p>\n");
out:
	free(idx);
	free(g);
	html_end(sb);
}

void
query_html_release(struct query_html *h)
{
	free(h->ev);
	memset(h, 0, sizeof(*h));
}
