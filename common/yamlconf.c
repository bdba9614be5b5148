/*
 * The schema walker: libyaml's document API turned into a read-only tree
 * whose nodes keep their lines, checked against the keys a loader declares.
 * Shared by the policy and the daemons' configuration loaders.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/duration.h"
#include "common/fileio.h"
#include "common/suggest.h"
#include "common/yamlconf.h"

#define MSG_MAX   512
#define QUOTE_MAX 64 /* bytes of a user's value quoted in a message */

struct yamlconf {
	char *name;
	struct yamlconf_errors *errs;
	struct yamlconf_node *nodes;
	const struct yamlconf_node **ptrs;
	char *strings;
	const struct yamlconf_node *root;
};

void
yamlconf_errors_init(struct yamlconf_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void
yamlconf_errors_release(struct yamlconf_errors *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->msg[i]);
	memset(e, 0, sizeof(*e));
}

static void errors_vadd(struct yamlconf_errors *e, const char *file,
    unsigned line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
errors_vadd(struct yamlconf_errors *e, const char *file, unsigned line,
    const char *fmt, va_list ap)
{
	char body[MSG_MAX];
	char *m = NULL;
	int w;

	e->total++;
	if (e->n > YAMLCONF_MAX_ERRORS)
		return;
	if (e->n == YAMLCONF_MAX_ERRORS) {
		w = asprintf(&m,
		    "%s: too many errors (only the first %d are "
		    "shown)",
		    file, YAMLCONF_MAX_ERRORS);
		line = UINT_MAX; /* stays last when sorted */
	} else {
		vsnprintf(body, sizeof(body), fmt, ap);
		if (line > 0)
			w = asprintf(&m, "%s:%u: %s", file, line, body);
		else
			w = asprintf(&m, "%s: %s", file, body);
	}
	if (w < 0)
		return;
	for (char *p = m; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	e->msg[e->n] = m;
	e->line[e->n] = line;
	e->n++;
}

void
yamlconf_errors_add(struct yamlconf_errors *e, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

void
yamlconf_errors_sort(struct yamlconf_errors *e, size_t from)
{
	/* Insertion sort: stable, and n is at most 101. */
	for (size_t i = from + 1; i < e->n; i++) {
		char *m = e->msg[i];
		unsigned l = e->line[i];
		size_t j = i;

		for (; j > from && e->line[j - 1] > l; j--) {
			e->msg[j] = e->msg[j - 1];
			e->line[j] = e->line[j - 1];
		}
		e->msg[j] = m;
		e->line[j] = l;
	}
}

void
yamlconf_error(
    struct yamlconf *y, const struct yamlconf_node *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_vadd(y->errs, y->name, at != NULL ? at->line : 0, fmt, ap);
	va_end(ap);
}

const struct yamlconf_node *
yamlconf_root(const struct yamlconf *y)
{
	return y->root;
}

const char *
yamlconf_name(const struct yamlconf *y)
{
	return y->name;
}

void
yamlconf_free(struct yamlconf *y)
{
	if (y == NULL)
		return;
	free(y->name);
	free(y->nodes);
	free(y->ptrs);
	free(y->strings);
	free(y);
}

/* The line of a byte offset, for reader errors that carry no mark. */
static unsigned
offset_line(const unsigned char *buf, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

static bool
line_has_tab(const unsigned char *buf, size_t len, unsigned line)
{
	unsigned l = 1;

	for (size_t i = 0; i < len; i++) {
		if (l == line && buf[i] == '\t')
			return true;
		if (buf[i] == '\n' && ++l > line)
			break;
	}
	return false;
}

static void
syntax_error(struct yamlconf_errors *errs, const char *name,
    const yaml_parser_t *p, const unsigned char *buf, size_t len)
{
	const char *problem = p->problem != NULL ? p->problem : "syntax error";
	unsigned line;

	if (p->error == YAML_MEMORY_ERROR) {
		yamlconf_errors_add(errs, name, 0, "out of memory");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		line = offset_line(buf, len, p->problem_offset);
		yamlconf_errors_add(errs, name, line,
		    "YAML syntax error: %s (byte %zu)", problem,
		    p->problem_offset);
		return;
	}
	line = (unsigned)p->problem_mark.line + 1;
	if (line_has_tab(buf, len, line))
		yamlconf_errors_add(errs, name, line,
		    "YAML syntax error: %s (tabs are not allowed for "
		    "indentation: use spaces)",
		    problem);
	else if (p->context != NULL)
		yamlconf_errors_add(errs, name, line,
		    "YAML syntax error: %s (%s at line %u)", problem,
		    p->context, (unsigned)p->context_mark.line + 1);
	else
		yamlconf_errors_add(
		    errs, name, line, "YAML syntax error: %s", problem);
}

static void
anchor_error(struct yamlconf_errors *errs, const char *name,
    const yaml_event_t *ev, const yaml_char_t *anchor)
{
	if (anchor == NULL)
		return;
	yamlconf_errors_add(errs, name, (unsigned)ev->start_mark.line + 1,
	    "YAML anchor '&%.*s' is not allowed (anchors and aliases are "
	    "refused: write the value out in full)",
	    QUOTE_MAX, (const char *)anchor);
}

/*
 * A pass over the events before the document is built: syntax errors,
 * anchors and aliases, depth and extra documents are refused here, before
 * libyaml's loader spends memory on a hostile file.
 */
static int
prescan(struct yamlconf_errors *errs, const char *name,
    const unsigned char *buf, size_t len, bool *empty)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t before = errs->total;
	int depth = 0, docs = 0, events = 0;
	bool done = false;

	*empty = false;
	if (!yaml_parser_initialize(&parser))
		return ERROR_NOMEM;
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done) {
		unsigned line;

		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(errs, name, &parser, buf, len);
			break;
		}
		events++;
		line = (unsigned)ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				yamlconf_errors_add(errs, name, line,
				    "more than one YAML document in the file");
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			yamlconf_errors_add(errs, name, line,
			    "YAML alias '*%.*s' is not allowed (anchors and "
			    "aliases are refused: write the value out in "
			    "full)",
			    QUOTE_MAX, (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			anchor_error(errs, name, &ev, ev.data.scalar.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor_error(errs, name, &ev,
			    ev.type == YAML_SEQUENCE_START_EVENT
			        ? ev.data.sequence_start.anchor
			        : ev.data.mapping_start.anchor);
			if (++depth > YAMLCONF_MAX_DEPTH) {
				yamlconf_errors_add(errs, name, line,
				    "nesting deeper than %d levels",
				    YAMLCONF_MAX_DEPTH);
				done = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (errs->total != before)
		return ERROR_CONFIG;
	/* Stream start and end only: nothing but comments or space. */
	*empty = docs == 0 || events <= 2;
	return ERROR_OK;
}

static bool
scalar_is_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
	    strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0;
}

static void
scalar_types(struct yamlconf_node *n)
{
	const char *s = n->str;
	const char *d = s[0] == '-' ? s + 1 : s;
	long long v = 0;
	bool ok = *d != '\0';

	for (const char *p = d; ok && *p != '\0'; p++) {
		int digit = *p - '0';

		if (digit < 0 || digit > 9)
			ok = false;
		else if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_sub_overflow(v, digit, &v))
			ok = false; /* accumulate negatively: LLONG_MIN fits */
	}
	if (ok && s[0] != '-' && v == LLONG_MIN)
		ok = false;
	if (ok) {
		n->is_int = true;
		n->integer = s[0] == '-' ? v : -v;
	}
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0) {
		n->is_bool = true;
		n->boolean = true;
	} else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0) {
		n->is_bool = true;
		n->boolean = false;
	}
}

static int
key_cmp(const void *a, const void *b)
{
	const struct yamlconf_node *x = *(const struct yamlconf_node *const *)a;
	const struct yamlconf_node *y = *(const struct yamlconf_node *const *)b;
	int c = strcmp(x->str, y->str);

	/* Nodes are in document order in one array: ties by position. */
	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* Duplicate keys of one mapping, reported at each later occurrence. */
static int
check_duplicates(struct yamlconf *y, const struct yamlconf_node *map)
{
	const struct yamlconf_node **sorted;
	size_t first = 0;

	if (map->n < 2)
		return ERROR_OK;
	sorted = malloc(map->n * sizeof(*sorted));
	if (sorted == NULL)
		return ERROR_NOMEM;
	memcpy(sorted, map->keys, map->n * sizeof(*sorted));
	qsort(sorted, map->n, sizeof(*sorted), key_cmp);
	for (size_t i = 1; i < map->n; i++) {
		if (strcmp(sorted[i]->str, sorted[first]->str) != 0) {
			first = i;
			continue;
		}
		yamlconf_error(y, sorted[i],
		    "duplicate key '%.*s' (first at line %u)", QUOTE_MAX,
		    sorted[i]->str, sorted[first]->line);
	}
	free(sorted);
	return ERROR_OK;
}

/*
 * Copies libyaml's document into our nodes: one array of nodes in document
 * order, one of child pointers, one of strings. Each libyaml node may be
 * used once: the prescan refused aliases, and this refuses any sharing that
 * slipped past it, so a walk can never expand the document.
 */
static int
build(struct yamlconf *y, yaml_document_t *doc)
{
	size_t nn = (size_t)(doc->nodes.top - doc->nodes.start);
	size_t nptr = 0, nstr = 0, pi = 0, si = 0;
	unsigned char *seen = NULL;
	int rc = ERROR_OK;

	for (size_t i = 0; i < nn; i++) {
		yaml_node_t *n = doc->nodes.start + i;

		if (n->type == YAML_SCALAR_NODE)
			nstr += n->data.scalar.length + 1;
		else if (n->type == YAML_SEQUENCE_NODE)
			nptr += (size_t)(n->data.sequence.items.top -
			    n->data.sequence.items.start);
		else if (n->type == YAML_MAPPING_NODE)
			nptr += 2 *
			    (size_t)(n->data.mapping.pairs.top -
			        n->data.mapping.pairs.start);
	}
	y->nodes = calloc(nn, sizeof(*y->nodes));
	y->ptrs = calloc(nptr + 1, sizeof(*y->ptrs));
	y->strings = malloc(nstr + 1);
	seen = calloc(nn + 1, 1);
	if (y->nodes == NULL || y->ptrs == NULL || y->strings == NULL ||
	    seen == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	seen[1] = 1; /* the root */

#define CHILD(idx)                                                             \
	((idx) >= 1 && (size_t)(idx) <= nn && !seen[(idx)]++                   \
	        ? &y->nodes[(idx)-1]                                           \
	        : NULL)

	for (size_t i = 0; i < nn; i++) {
		yaml_node_t *n = doc->nodes.start + i;
		struct yamlconf_node *o = &y->nodes[i];

		o->line = (unsigned)n->start_mark.line + 1;
		o->column = (unsigned)n->start_mark.column + 1;
		o->str = "";
		switch (n->type) {
		case YAML_SCALAR_NODE:
			o->kind = YAMLCONF_NODE_SCALAR;
			memcpy(y->strings + si, n->data.scalar.value,
			    n->data.scalar.length);
			y->strings[si + n->data.scalar.length] = '\0';
			o->str = y->strings + si;
			o->len = n->data.scalar.length;
			si += n->data.scalar.length + 1;
			if (memchr(o->str, '\0', o->len) != NULL) {
				yamlconf_error(
				    y, o, "a string holds a NUL byte");
				rc = ERROR_CONFIG;
				break;
			}
			o->is_null = scalar_is_null(n);
			if (o->is_null) {
				o->str = "";
				o->len = 0;
			}
			scalar_types(o);
			break;
		case YAML_SEQUENCE_NODE:
			o->kind = YAMLCONF_NODE_LIST;
			o->items = y->ptrs + pi;
			for (yaml_node_item_t *it =
			         n->data.sequence.items.start;
			     it < n->data.sequence.items.top; it++) {
				const struct yamlconf_node *c = CHILD(*it);

				if (c == NULL)
					goto shared;
				y->ptrs[pi++] = c;
				o->n++;
			}
			break;
		case YAML_MAPPING_NODE:
			o->kind = YAMLCONF_NODE_MAP;
			o->n = (size_t)(n->data.mapping.pairs.top -
			    n->data.mapping.pairs.start);
			o->keys = y->ptrs + pi;
			o->values = y->ptrs + pi + o->n;
			for (size_t k = 0; k < o->n; k++) {
				yaml_node_pair_t *pr =
				    n->data.mapping.pairs.start + k;
				const struct yamlconf_node *kn = CHILD(pr->key);
				const struct yamlconf_node *vn =
				    CHILD(pr->value);

				if (kn == NULL || vn == NULL)
					goto shared;
				y->ptrs[pi + k] = kn;
				y->ptrs[pi + o->n + k] = vn;
			}
			pi += 2 * o->n;
			break;
		default:
			rc = ERROR_INTERNAL;
			goto out;
		}
	}
#undef CHILD

	/*
	 * Keys are checked once every node is filled in: a key node comes
	 * after its mapping in document order.
	 */
	for (size_t i = 0; i < nn && rc != ERROR_NOMEM; i++) {
		struct yamlconf_node *o = &y->nodes[i];
		bool strings = true;

		if (o->kind != YAMLCONF_NODE_MAP)
			continue;
		for (size_t k = 0; k < o->n; k++) {
			if (o->keys[k]->kind == YAMLCONF_NODE_SCALAR &&
			    !o->keys[k]->is_null)
				continue;
			yamlconf_error(y, o->keys[k],
			    "a mapping key must be a string, not %s",
			    yamlconf_kind_name(o->keys[k]));
			strings = false;
			rc = ERROR_CONFIG;
		}
		if (strings && check_duplicates(y, o) != ERROR_OK)
			rc = ERROR_NOMEM;
	}
	if (rc != ERROR_NOMEM)
		y->root = &y->nodes[0];
	goto out;
shared:
	yamlconf_error(y, NULL, "YAML aliases are not allowed");
	rc = ERROR_CONFIG;
out:
	free(seen);
	return rc;
}

int
yamlconf_load_buffer(const void *buf, size_t len, const char *name, size_t max,
    struct yamlconf_errors *errs, struct yamlconf **out)
{
	struct yamlconf *y = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_live = false, doc_live = false, empty;
	int rc;

	*out = NULL;
	if (len > max) {
		yamlconf_errors_add(
		    errs, name, 0, "file is larger than %zu bytes", max);
		return ERROR_TOOBIG;
	}
	y = calloc(1, sizeof(*y));
	if (y == NULL || (y->name = strdup(name)) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	y->errs = errs;
	rc = prescan(errs, name, buf, len, &empty);
	if (rc != ERROR_OK)
		goto out;
	if (empty) {
		yamlconf_errors_add(errs, name, 0, "file is empty");
		rc = ERROR_CONFIG;
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = ERROR_NOMEM;
		goto out;
	}
	parser_live = true;
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* The prescan parsed the same bytes: only memory is left. */
		syntax_error(errs, name, &parser, buf, len);
		rc = parser.error == YAML_MEMORY_ERROR ? ERROR_NOMEM
		                                       : ERROR_CONFIG;
		goto out;
	}
	doc_live = true;
	if (yaml_document_get_root_node(&doc) == NULL) {
		yamlconf_errors_add(errs, name, 0, "file is empty");
		rc = ERROR_CONFIG;
		goto out;
	}
	rc = build(y, &doc);
	if (y->root != NULL && y->root->kind == YAMLCONF_NODE_SCALAR &&
	    y->root->is_null) {
		yamlconf_errors_add(errs, name, 0, "file is empty");
		rc = ERROR_CONFIG;
	} else if (rc == ERROR_CONFIG && y->root != NULL) {
		/*
		 * Duplicate keys and the like leave a walkable tree: hand it
		 * over so that the loader reports its own errors too. The
		 * list already says the file is bad.
		 */
		rc = ERROR_OK;
	}
out:
	if (doc_live)
		yaml_document_delete(&doc);
	if (parser_live)
		yaml_parser_delete(&parser);
	if (rc == ERROR_NOMEM)
		yamlconf_errors_add(errs, name, 0, "out of memory");
	if (rc != ERROR_OK) {
		yamlconf_free(y);
		return rc;
	}
	*out = y;
	return ERROR_OK;
}

int
yamlconf_load_file(const char *path, size_t max, struct yamlconf_errors *errs,
    struct yamlconf **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fileio_read(path, max, &buf, &len);
	if (rc != ERROR_OK) {
		if (rc == ERROR_TOOBIG)
			yamlconf_errors_add(errs, path, 0,
			    "file is larger than %zu bytes", max);
		else if (rc == ERROR_INVAL)
			yamlconf_errors_add(
			    errs, path, 0, "not a regular file");
		else
			yamlconf_errors_add(
			    errs, path, 0, "%s", error_strerror(rc));
		return rc;
	}
	rc = yamlconf_load_buffer(buf, len, path, max, errs, out);
	free(buf);
	return rc;
}

const char *
yamlconf_kind_name(const struct yamlconf_node *node)
{
	if (node == NULL)
		return "nothing";
	switch (node->kind) {
	case YAMLCONF_NODE_SCALAR:
		return node->is_null ? "nothing" : "a string";
	case YAMLCONF_NODE_LIST:
		return "a list";
	case YAMLCONF_NODE_MAP:
		return "a mapping";
	}
	return "?";
}

static const char *
type_name(enum yamlconf_type type)
{
	switch (type) {
	case YAMLCONF_ANY:
		return "a value";
	case YAMLCONF_STRING:
		return "a string";
	case YAMLCONF_INT:
		return "an integer";
	case YAMLCONF_BOOL:
		return "true or false";
	case YAMLCONF_LIST:
		return "a list";
	case YAMLCONF_ONE_OR_LIST:
		return "a string or a list";
	case YAMLCONF_MAP:
		return "a mapping";
	case YAMLCONF_MAP_LIST:
		return "a list of mappings";
	}
	return "?";
}

/* "WHAT: " or "", for the start of a message. */
#define WHAT_FMT    "%s%s"
#define WHAT_ARG(w) (w) != NULL ? (w) : "", (w) != NULL ? ": " : ""

bool
yamlconf_expect(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, enum yamlconf_type type, unsigned flags)
{
	bool ok = true;

	switch (type) {
	case YAMLCONF_ANY:
		return true;
	case YAMLCONF_STRING:
		if (node->kind != YAMLCONF_NODE_SCALAR)
			break;
		if ((flags & YAMLCONF_NONEMPTY) && node->len == 0) {
			yamlconf_error(y, node, WHAT_FMT "must not be empty",
			    WHAT_ARG(what));
			return false;
		}
		return true;
	case YAMLCONF_INT:
	case YAMLCONF_BOOL:
		if (node->kind != YAMLCONF_NODE_SCALAR || node->is_null)
			break;
		if (type == YAMLCONF_INT ? node->is_int : node->is_bool)
			return true;
		yamlconf_error(y, node, WHAT_FMT "expected %s, found '%.*s'",
		    WHAT_ARG(what), type_name(type), QUOTE_MAX, node->str);
		return false;
	case YAMLCONF_ONE_OR_LIST:
		if (node->kind == YAMLCONF_NODE_SCALAR && !node->is_null)
			return true;
		/* FALLTHROUGH */
	case YAMLCONF_LIST:
	case YAMLCONF_MAP_LIST:
		if (node->kind != YAMLCONF_NODE_LIST)
			break;
		/*
		 * Items of a MAP_LIST are checked by yamlconf_map as the
		 * loader walks them, so that one bad item does not hide the
		 * errors of the others.
		 */
		for (size_t i = 0; i < node->n && type != YAMLCONF_MAP_LIST;
		     i++) {
			const struct yamlconf_node *it = node->items[i];

			if (it->kind == YAMLCONF_NODE_SCALAR)
				continue;
			yamlconf_error(y, it,
			    WHAT_FMT "expected a list of strings, found %s in "
			             "it",
			    WHAT_ARG(what), yamlconf_kind_name(it));
			ok = false;
		}
		if (ok && (flags & YAMLCONF_NONEMPTY) && node->n == 0) {
			yamlconf_error(y, node, WHAT_FMT "must not be empty",
			    WHAT_ARG(what));
			ok = false;
		}
		return ok;
	case YAMLCONF_MAP:
		if (node->kind == YAMLCONF_NODE_MAP)
			return true;
		break;
	}
	yamlconf_error(y, node, WHAT_FMT "expected %s, found %s",
	    WHAT_ARG(what), type_name(type), yamlconf_kind_name(node));
	return false;
}

int
yamlconf_map(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, const struct yamlconf_key *keys, size_t nkeys,
    const struct yamlconf_node **vals)
{
	const char *names[64];
	size_t before = y->errs->total, nnames = nkeys < 64 ? nkeys : 64;

	for (size_t i = 0; i < nkeys; i++)
		vals[i] = NULL;
	for (size_t i = 0; i < nnames; i++)
		names[i] = keys[i].name;
	if (node == NULL || !yamlconf_expect(y, node, what, YAMLCONF_MAP, 0))
		return ERROR_CONFIG;
	for (size_t k = 0; k < node->n; k++) {
		const struct yamlconf_node *kn = node->keys[k];
		const struct yamlconf_node *vn = node->values[k];
		const char *hint;
		char label[256];
		size_t i;

		if (kn->kind != YAMLCONF_NODE_SCALAR || kn->is_null)
			continue; /* reported at load */
		for (i = 0; i < nkeys; i++)
			if (strcmp(kn->str, keys[i].name) == 0)
				break;
		if (i == nkeys) {
			hint = suggest_closest(kn->str, names, nnames);
			if (hint != NULL)
				yamlconf_error(y, kn,
				    "unknown key '%.*s' (did you mean '%s'?)",
				    QUOTE_MAX, kn->str, hint);
			else
				yamlconf_error(y, kn, "unknown key '%.*s'",
				    QUOTE_MAX, kn->str);
			continue;
		}
		if (vals[i] != NULL)
			continue; /* a duplicate: reported at load */
		if (what != NULL)
			snprintf(label, sizeof(label), "%s: '%s'", what,
			    keys[i].name);
		else
			snprintf(label, sizeof(label), "'%s'", keys[i].name);
		if (yamlconf_expect(y, vn, label, keys[i].type, keys[i].flags))
			vals[i] = vn;
	}
	for (size_t i = 0; i < nkeys; i++) {
		bool present = false;

		if (vals[i] != NULL || !(keys[i].flags & YAMLCONF_REQUIRED))
			continue;
		for (size_t k = 0; k < node->n && !present; k++)
			present = strcmp(node->keys[k]->str, keys[i].name) == 0;
		if (!present)
			yamlconf_error(y, node,
			    WHAT_FMT "missing required key '%s'",
			    WHAT_ARG(what), keys[i].name);
	}
	return y->errs->total == before ? ERROR_OK : ERROR_CONFIG;
}

size_t
yamlconf_count(const struct yamlconf_node *node)
{
	if (node == NULL)
		return 0;
	return node->kind == YAMLCONF_NODE_SCALAR ? 1 : node->n;
}

const struct yamlconf_node *
yamlconf_item(const struct yamlconf_node *node, size_t i)
{
	if (node->kind == YAMLCONF_NODE_SCALAR)
		return i == 0 ? node : NULL;
	if (node->kind == YAMLCONF_NODE_LIST && i < node->n)
		return node->items[i];
	return NULL;
}

void
yamlconf_path(
    struct yamlconf *y, const struct yamlconf_node *node, char *out, size_t n)
{
	if (node != NULL &&
	    fileio_resolve(yamlconf_name(y), node->str, out, n) != 0)
		yamlconf_error(y, node, "path too long");
}

void
yamlconf_duration(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, uint64_t *ms)
{
	uint64_t v;

	if (node == NULL)
		return;
	if (duration_parse(node->str, &v) != 0) {
		yamlconf_error(y, node,
		    "%s: '%s' is not a duration (e.g. 5m, 30s)", what,
		    node->str);
		return;
	}
	*ms = v;
}
