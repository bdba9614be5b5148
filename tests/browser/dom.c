/*
 * A strict walker over Chromium's DOM serialisation (browser.h): tags and
 * text in document order, with a stack that must balance. For the browser
 * tests only; it refuses what the serialiser would not write.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/browser/browser.h"

#define NAME_MAX_LEN 32
#define DEPTH_MAX    512

enum tok { TOK_TEXT, TOK_START, TOK_END, TOK_EOF, TOK_ERR };

struct token {
	enum tok kind;
	const char *at;   /* first byte of the token */
	const char *next; /* first byte after it */
	char name[NAME_MAX_LEN + 1];
	const char *attrs; /* start tags: after the name, up to '>' */
	size_t attrs_len;
};

static bool
is_void(const char *name)
{
	static const char *const v[] = {"area", "base", "br", "col", "embed",
	    "hr", "img", "input", "link", "meta", "param", "source", "track",
	    "wbr", "keygen"};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(name, v[i]) == 0)
			return true;
	return false;
}

/* Elements whose children the serialiser writes unescaped. */
static bool
is_raw(const char *name)
{
	static const char *const r[] = {"style", "script", "xmp", "iframe",
	    "noembed", "noframes", "plaintext", "noscript"};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strcmp(name, r[i]) == 0)
			return true;
	return false;
}

static size_t
read_name(const char *p, char *out)
{
	size_t n = 0;

	while ((isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == ':') &&
	    n < NAME_MAX_LEN) {
		out[n] = (char)tolower((unsigned char)p[n]);
		n++;
	}
	out[n] = '\0';
	return n;
}

/* The token at p; a start tag of a raw element swallows its text. */
static void
next_token(const char *p, struct token *t)
{
	memset(t, 0, sizeof(*t));
	t->at = p;
	if (*p == '\0') {
		t->kind = TOK_EOF;
		t->next = p;
		return;
	}
	if (*p != '<') {
		const char *lt = strchr(p, '<');
		t->kind = TOK_TEXT;
		t->next = lt != NULL ? lt : p + strlen(p);
		return;
	}
	if (strncmp(p, "<!--", 4) == 0) {
		const char *e = strstr(p + 4, "-->");
		t->kind = e != NULL ? TOK_TEXT : TOK_ERR;
		t->next = e != NULL ? e + 3 : p;
		return;
	}
	if (p[1] == '!') {
		const char *e = strchr(p, '>');
		t->kind = e != NULL ? TOK_TEXT : TOK_ERR;
		t->next = e != NULL ? e + 1 : p;
		return;
	}
	if (p[1] == '/') {
		size_t n = read_name(p + 2, t->name);
		t->kind = n > 0 && p[2 + n] == '>' ? TOK_END : TOK_ERR;
		t->next = p + 3 + n;
		return;
	}
	size_t n = read_name(p + 1, t->name);
	const char *q = p + 1 + n;
	if (n == 0) {
		t->kind = TOK_ERR;
		return;
	}
	t->attrs = q;
	/* Values are double-quoted and '"' is escaped inside them. */
	for (bool quoted = false; *q != '\0' && (quoted || *q != '>'); q++)
		if (*q == '"')
			quoted = !quoted;
	if (*q != '>') {
		t->kind = TOK_ERR;
		return;
	}
	t->attrs_len = (size_t)(q - t->attrs);
	t->kind = TOK_START;
	t->next = q + 1;
	if (is_raw(t->name)) {
		char close[NAME_MAX_LEN + 4];
		const char *e;

		snprintf(close, sizeof(close), "</%s", t->name);
		e = strstr(t->next, close);
		if (e == NULL)
			t->kind = TOK_ERR;
		else
			t->next = e; /* the end tag is the next token */
	}
}

/* Whether name is one of the '|'-separated names. */
static bool
name_in(const char *name, const char *names)
{
	size_t n = strlen(name);

	for (const char *s = names; *s != '\0';) {
		size_t w = strcspn(s, "|");
		if (w == n && strncasecmp(s, name, n) == 0)
			return true;
		s += w;
		if (*s == '|')
			s++;
	}
	return false;
}

/*
 * The n-th start tag named by names, from p, into *t; its depth balance is
 * not checked here. false when there is none or the walk fails.
 */
static bool
find_start(const char *p, const char *names, size_t n, struct token *t)
{
	for (;;) {
		next_token(p, t);
		if (t->kind == TOK_EOF || t->kind == TOK_ERR)
			return false;
		if (t->kind == TOK_START && name_in(t->name, names) && n-- == 0)
			return true;
		p = t->next;
	}
}

/* The end of the element opened by start: where its end tag begins. */
static const char *
element_end(const struct token *start)
{
	char stack[DEPTH_MAX][NAME_MAX_LEN + 1];
	size_t depth = 0;
	const char *p = start->next;
	struct token t;

	if (is_void(start->name))
		return start->next;
	memcpy(stack[depth++], start->name, sizeof(stack[0]));
	for (;;) {
		next_token(p, &t);
		if (t.kind == TOK_EOF || t.kind == TOK_ERR)
			return NULL;
		if (t.kind == TOK_START && !is_void(t.name)) {
			if (depth == DEPTH_MAX)
				return NULL;
			memcpy(stack[depth++], t.name, sizeof(stack[0]));
		} else if (t.kind == TOK_END) {
			if (depth == 0 || strcmp(stack[depth - 1], t.name) != 0)
				return NULL;
			if (--depth == 0)
				return t.at;
		}
		p = t.next;
	}
}

static char *
dup_range(const char *a, const char *b)
{
	size_t n = (size_t)(b - a);
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, a, n);
	s[n] = '\0';
	return s;
}

/* Whether the whole document balances (each end tag closes its start). */
static bool
balanced(const char *dom)
{
	struct token t;
	size_t depth = 0;
	char stack[DEPTH_MAX][NAME_MAX_LEN + 1];

	for (const char *p = dom;; p = t.next) {
		next_token(p, &t);
		if (t.kind == TOK_ERR)
			return false;
		if (t.kind == TOK_EOF)
			return depth == 0;
		if (t.kind == TOK_START && !is_void(t.name)) {
			if (depth == DEPTH_MAX)
				return false;
			memcpy(stack[depth++], t.name, sizeof(stack[0]));
		} else if (t.kind == TOK_END) {
			if (depth == 0 || strcmp(stack[depth - 1], t.name) != 0)
				return false;
			depth--;
		}
	}
}

size_t
dom_count(const char *dom, const char *names)
{
	struct token t;
	size_t n = 0;

	if (!balanced(dom))
		return (size_t)-1;
	for (const char *p = dom;; p = t.next) {
		next_token(p, &t);
		if (t.kind == TOK_EOF)
			return n;
		if (t.kind == TOK_START && name_in(t.name, names))
			n++;
	}
}

char *
dom_inner(const char *dom, const char *names, size_t n)
{
	struct token t;
	const char *end;

	if (!balanced(dom) || !find_start(dom, names, n, &t))
		return NULL;
	if ((end = element_end(&t)) == NULL)
		return NULL;
	return dup_range(t.next, end);
}

char *
dom_attrs(const char *dom, const char *names, size_t n)
{
	struct token t;

	if (!balanced(dom) || !find_start(dom, names, n, &t))
		return NULL;
	return dup_range(t.attrs, t.attrs + t.attrs_len);
}

char *
dom_by_id(const char *dom, const char *id)
{
	size_t need = strlen(id) + 6;
	char *want = malloc(need);
	struct token t;
	char *out = NULL;

	if (want == NULL || !balanced(dom)) {
		free(want);
		return NULL;
	}
	snprintf(want, need, " id=\"%s", id);
	for (const char *p = dom;; p = t.next) {
		next_token(p, &t);
		if (t.kind == TOK_EOF || t.kind == TOK_ERR)
			break;
		if (t.kind != TOK_START)
			continue;
		/* The attribute whole: ' id="X"' followed by ' ' or end. */
		for (const char *a = t.attrs; a < t.attrs + t.attrs_len; a++) {
			size_t left = (size_t)(t.attrs + t.attrs_len - a);
			if (left > need - 1 &&
			    strncmp(a, want, need - 1) == 0 &&
			    a[need - 1] == '"') {
				const char *end = element_end(&t);
				out =
				    end != NULL ? dup_range(t.next, end) : NULL;
				free(want);
				return out;
			}
		}
	}
	free(want);
	return NULL;
}

char *
dom_cell(const char *dom, size_t table, size_t row, size_t col)
{
	char *tab = dom_inner(dom, "table", table), *tr, *cell;

	if (tab == NULL)
		return NULL;
	tr = dom_inner(tab, "tr", row);
	free(tab);
	if (tr == NULL)
		return NULL;
	cell = dom_inner(tr, "td|th", col);
	free(tr);
	return cell;
}

size_t
dom_rows(const char *dom, size_t table)
{
	char *tab = dom_inner(dom, "table", table);
	size_t n;

	if (tab == NULL)
		return (size_t)-1;
	n = dom_count(tab, "tr");
	free(tab);
	return n;
}

char *
dom_text(const char *fragment)
{
	static const struct {
		const char *ent, *text;
	} ents[] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
	    {"&quot;", "\""}, {"&nbsp;", "\xc2\xa0"}};
	char *out = malloc(strlen(fragment) + 1), *o = out;
	struct token t;

	if (out == NULL)
		return NULL;
	for (const char *p = fragment;; p = t.next) {
		next_token(p, &t);
		if (t.kind == TOK_ERR) {
			free(out);
			return NULL;
		}
		if (t.kind == TOK_EOF)
			break;
		if (t.kind != TOK_TEXT || t.at[0] == '<')
			continue; /* tags, comments and the doctype */
		for (const char *s = t.at; s < t.next;) {
			size_t e;

			if (*s != '&') {
				*o++ = *s++;
				continue;
			}
			for (e = 0; e < sizeof(ents) / sizeof(ents[0]); e++)
				if (strncmp(s, ents[e].ent,
				        strlen(ents[e].ent)) == 0)
					break;
			if (e == sizeof(ents) / sizeof(ents[0])) {
				free(out);
				return NULL;
			}
			memcpy(o, ents[e].text, strlen(ents[e].text));
			o += strlen(ents[e].text);
			s += strlen(ents[e].ent);
		}
	}
	*o = '\0';
	return out;
}

char *
dom_text_of(const char *dom, const char *names, size_t n)
{
	char *inner = dom_inner(dom, names, n), *text;

	if (inner == NULL)
		return NULL;
	text = dom_text(inner);
	free(inner);
	return text;
}
