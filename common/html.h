/*
 * Static, self-contained HTML pages built into a struct strbuf: the pages
 * auditors, guardians and the public read (the subject access letter, the
 * query table, the review queue, the agreement's summary and diff). A page
 * loads nothing from outside and runs no script: its Content-Security-
 * Policy says so to the browser. Everything that is not a literal written
 * by the caller goes through html_text, which escapes it, so that no
 * policy file or log field can add markup.
 */
#ifndef COMMON_HTML_H
#define COMMON_HTML_H

#include <stddef.h>

#include "common/strbuf.h"

/*
 * The document's start: doctype, language, character set, the policy that
 * forbids every external load and script, the title, the stylesheet, and
 * <h1>title</h1>, then <p class="lead">lead</p> unless lead is NULL.
 */
void html_begin(struct strbuf *sb, const char *title, const char *lead);

/* The document's end. */
void html_end(struct strbuf *sb);

/* s escaped (& < > " ' as entities); NULL appends nothing. */
void html_text(struct strbuf *sb, const char *s);
void html_textn(struct strbuf *sb, const char *s, size_t n);
void html_textf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A literal the caller wrote, appended as it is. */
void html_raw(struct strbuf *sb, const char *markup);

/*
 * s as a token safe in id="" and href="#": letters, digits and '-' kept,
 * every other byte as _XX (its hex).
 */
void html_id(struct strbuf *sb, const char *s);

/* <tag class="cls">text</tag>, text escaped; cls may be NULL. */
void html_tag(
    struct strbuf *sb, const char *tag, const char *cls, const char *text);

/*
 * A table: <table>, its caption (escaped; NULL: none), one header row of
 * column headings (th scope="col"), and <tbody>.
 */
void html_table_begin(struct strbuf *sb, const char *caption,
    const char *const *headers, size_t n);

/* <tr>, with id="id" (through html_id) unless id is NULL. */
void html_row_begin(struct strbuf *sb, const char *id);

/* <td>text</td>, escaped; NULL shows "-". */
void html_cell(struct strbuf *sb, const char *text);

/* <td>markup</td>: markup the caller built (escaping its own parts). */
void html_cell_raw(struct strbuf *sb, const char *markup);

void html_row_end(struct strbuf *sb);
void html_table_end(struct strbuf *sb);

#endif
