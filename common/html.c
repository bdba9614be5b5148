/*
 * The HTML page kit (html.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/html.h"

/*
 * One stylesheet for every page: black on white (contrast above 15:1),
 * system fonts, tables with borders and a header row, and marks that
 * carry a symbol as well as a style, so nothing depends on colour.
 */
static const char style[] =
    "body{font-family:system-ui,sans-serif;color:#111;background:#fff;"
    "margin:2em auto;max-width:72em;padding:0 1em;line-height:1.45}"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:1em 0;width:100%}"
    "caption{text-align:left;font-weight:bold;padding:.3em 0}"
    "th,td{border:1px solid #444;padding:.25em .5em;text-align:left;"
    "vertical-align:top}"
    "thead th{background:#e8e8e8}"
    "a{color:#0645ad}"
    ".lead{font-size:1.1em}"
    ".small{font-size:.9em}"
    ".fingerprint{font-family:ui-monospace,monospace;"
    "overflow-wrap:anywhere}"
    ".mark-new{font-weight:bold}"
    ".mark-new::before{content:\"+ \"}"
    ".mark-gone{text-decoration:line-through}"
    ".mark-gone::before{content:\"\\2212  \"}"
    ".allowed::before{content:\"\\2713  \"}"
    ".withheld{color:#444}"
    ".warn{font-weight:bold;border-left:.4em solid #111;padding-left:.5em}"
    ".letter{max-width:44em}"
    "@media print{body{margin:0;max-width:none}a{color:#000}"
    "thead{display:table-header-group}tr{break-inside:avoid}}";

void
html_textn(struct strbuf *sb, const char *s, size_t n)
{
	size_t i, from = 0;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *e;

		switch (s[i]) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		case '\0':
			e = "\xEF\xBF\xBD"; /* U+FFFD: a NUL is not text */
			break;
		default:
			continue;
		}
		strbuf_add(sb, s + from, i - from);
		strbuf_addstr(sb, e);
		from = i + 1;
	}
	strbuf_add(sb, s + from, n - from);
}

void
html_text(struct strbuf *sb, const char *s)
{
	if (s != NULL)
		html_textn(sb, s, strlen(s));
}

void
html_textf(struct strbuf *sb, const char *fmt, ...)
{
	struct strbuf t = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&t, fmt, ap);
	va_end(ap);
	if (strbuf_error(&t) != 0)
		sb->failed = true;
	else if (t.len > 0)
		html_textn(sb, t.buf, t.len);
	strbuf_release(&t);
}

void
html_raw(struct strbuf *sb, const char *markup)
{
	strbuf_addstr(sb, markup);
}

void
html_id(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') {
			strbuf_addch(sb, (char)c);
		} else {
			strbuf_addch(sb, '_');
			strbuf_addch(sb, hex[c >> 4]);
			strbuf_addch(sb, hex[c & 15]);
		}
	}
}

void
html_tag(struct strbuf *sb, const char *tag, const char *cls, const char *text)
{
	strbuf_addf(sb, "<%s", tag);
	if (cls != NULL) {
		strbuf_addstr(sb, " class=\"");
		html_text(sb, cls);
		strbuf_addch(sb, '"');
	}
	strbuf_addch(sb, '>');
	html_text(sb, text);
	strbuf_addf(sb, "</%s>\n", tag);
}

void
html_begin(struct strbuf *sb, const char *title, const char *lead)
{
	strbuf_addstr(sb,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
	    "form-action 'none'; base-uri 'none'\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
	html_text(sb, title);
	strbuf_addstr(sb, "</title>\n<style>");
	strbuf_addstr(sb, style);
	strbuf_addstr(sb, "</style>\n</head>\n<body>\n<main>\n");
	html_tag(sb, "h1", NULL, title);
	if (lead != NULL)
		html_tag(sb, "p", "lead", lead);
}

void
html_end(struct strbuf *sb)
{
	strbuf_addstr(sb, "</main>\n</body>\n</html>\n");
}

void
html_table_begin(struct strbuf *sb, const char *caption,
    const char *const *headers, size_t n)
{
	strbuf_addstr(sb, "<table>\n");
	if (caption != NULL)
		html_tag(sb, "caption", NULL, caption);
	strbuf_addstr(sb, "<thead><tr>");
	for (size_t i = 0; i < n; i++) {
		strbuf_addstr(sb, "<th scope=\"col\">");
		html_text(sb, headers[i]);
		strbuf_addstr(sb, "</th>");
	}
	strbuf_addstr(sb, "</tr></thead>\n<tbody>\n");
}

void
html_row_begin(struct strbuf *sb, const char *id)
{
	if (id == NULL) {
		strbuf_addstr(sb, "<tr>");
		return;
	}
	strbuf_addstr(sb, "<tr id=\"");
	html_id(sb, id);
	strbuf_addstr(sb, "\">");
}

void
html_cell(struct strbuf *sb, const char *text)
{
	strbuf_addstr(sb, "<td>");
	html_text(sb, text != NULL ? text : "-");
	strbuf_addstr(sb, "</td>");
}

void
html_cell_raw(struct strbuf *sb, const char *markup)
{
	strbuf_addstr(sb, "<td>");
	strbuf_addstr(sb, markup);
	strbuf_addstr(sb, "</td>");
}

void
html_row_end(struct strbuf *sb)
{
	strbuf_addstr(sb, "</tr>\n");
}

void
html_table_end(struct strbuf *sb)
{
	strbuf_addstr(sb, "</tbody>\n</table>\n");
}
