/*
 * A small schema walker over libyaml's document API, shared by the policy
 * file (policy/) and the daemons' configuration files (broker.yaml,
 * agent.yaml). Every node keeps its line, so every error points at one; all
 * errors of a file are collected in one run as "FILE:LINE: message".
 *
 * Typical use, for a file of three keys:
 *
 *	static const struct yamlconf_key keys[] = {
 *		{"listen", YAMLCONF_STRING, YAMLCONF_REQUIRED |
 *YAMLCONF_NONEMPTY},
 *		{"key", YAMLCONF_STRING, YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
 *		{"peers", YAMLCONF_LIST, 0},
 *	};
 *	const struct yamlconf_node *v[3];
 *	struct yamlconf_errors errs;
 *	struct yamlconf *y = NULL;
 *
 *	yamlconf_errors_init(&errs);
 *	if (yamlconf_load_file(path, 64 * 1024, &errs, &y) == 0)
 *		yamlconf_map(y, yamlconf_root(y), NULL, keys, 3, v);
 *	... v[0]->str, v[0]->line; yamlconf_error(y, v[1], "...") for a
 *	    meaning error of the loader's own ...
 *	if (errs.total > 0)
 *		... print errs.msg[0 .. errs.n - 1], refuse the file ...
 *	yamlconf_free(y);
 *	yamlconf_errors_release(&errs);
 *
 * Refused at load, each with its own message: files over the size cap, an
 * empty file (or comments only), YAML syntax errors (libyaml's problem text
 * and line; tabs get a hint), more than one document, anchors and aliases
 * (an alias can expand a small file into a huge one: "billion laughs"),
 * nesting deeper than YAMLCONF_MAX_DEPTH, non-string mapping keys, duplicate
 * keys, and strings holding a NUL byte.
 */
#ifndef COMMON_YAMLCONF_H
#define COMMON_YAMLCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define YAMLCONF_MAX_ERRORS 100 /* then one "too many errors" line */
#define YAMLCONF_MAX_DEPTH  32  /* nested lists and mappings */

/*
 * The errors of one or more files. The caller allocates it (usually on the
 * stack), calls yamlconf_errors_init, and releases it when done; the
 * messages belong to the list. msg[0 .. n - 1] are the messages, each
 * "FILE:LINE: what is wrong" (or "FILE: ..." when no line applies), at most
 * YAMLCONF_MAX_ERRORS of them plus a final "too many errors" line. total
 * counts every error found, including those not kept and those whose
 * message could not be allocated: a file is good only when total is 0.
 */
struct yamlconf_errors {
	char *msg[YAMLCONF_MAX_ERRORS + 1];
	unsigned line[YAMLCONF_MAX_ERRORS + 1]; /* 0 when none */
	size_t n;
	size_t total;
};

void yamlconf_errors_init(struct yamlconf_errors *e);
void yamlconf_errors_release(struct yamlconf_errors *e);

/*
 * Adds "FILE:LINE: message" (line 0: "FILE: message"). Control characters
 * in the message become '?', so a quoted value cannot break the one line
 * per error; messages are cut at 512 bytes.
 */
void yamlconf_errors_add(struct yamlconf_errors *e, const char *file,
    unsigned line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Sorts the kept messages from index from on by line, stably (messages
 * without a line first), so that one file's errors read top to bottom.
 */
void yamlconf_errors_sort(struct yamlconf_errors *e, size_t from);

enum yamlconf_kind {
	YAMLCONF_NODE_SCALAR = 1,
	YAMLCONF_NODE_LIST,
	YAMLCONF_NODE_MAP,
};

/*
 * A node of the loaded document, read-only for the caller and valid until
 * yamlconf_free. A null scalar (an empty plain value, "~" or "null") has
 * is_null set and str "". Line and column count from 1.
 */
struct yamlconf_node {
	enum yamlconf_kind kind;
	unsigned line, column;
	/* YAMLCONF_NODE_SCALAR */
	const char *str; /* NUL-terminated, never NULL, no inner NUL */
	size_t len;
	bool is_null;
	bool is_int;  /* a decimal integer that fits in long long */
	bool is_bool; /* true or false */
	long long integer;
	bool boolean;
	/* YAMLCONF_NODE_LIST: items; YAMLCONF_NODE_MAP: keys[i] -> values[i] */
	size_t n;
	const struct yamlconf_node *const *items;
	const struct yamlconf_node *const *keys;
	const struct yamlconf_node *const *values;
};

/* A loaded document: its nodes, its file name, and the error list it
 * reports to. */
struct yamlconf;

/*
 * Reads the file at path (at most max bytes) and parses it. Returns 0 and
 * sets *out, to be freed with yamlconf_free, whenever a tree could be
 * built; errs is borrowed by *out for the errors that walking it adds, and
 * must outlive it. Errors that leave the tree walkable (duplicate keys, a
 * non-string key, a NUL byte in a string) are already in errs then, so that
 * the loader's own errors are reported in the same run: the file is good
 * only when errs->total is unchanged at the end. Otherwise *out is NULL,
 * the reason is in errs, and the result is ERROR_CONFIG (empty, syntax,
 * aliases, depth), ERROR_NOENT, ERROR_TOOBIG, ERROR_IO, ERROR_PERM,
 * ERROR_INVAL (not a regular file) or ERROR_NOMEM.
 */
WUR int yamlconf_load_file(const char *path, size_t max,
    struct yamlconf_errors *errs, struct yamlconf **out);

/*
 * As yamlconf_load_file, from len bytes at buf (not necessarily
 * terminated; copied, so buf may go once this returns); name is used in
 * messages (copied).
 */
WUR int yamlconf_load_buffer(const void *buf, size_t len, const char *name,
    size_t max, struct yamlconf_errors *errs, struct yamlconf **out);

/* Frees y; NULL is a no-op. Every node of y becomes invalid. */
void yamlconf_free(struct yamlconf *y);

/* The root node (never NULL for a loaded document) and the file name. */
const struct yamlconf_node *yamlconf_root(const struct yamlconf *y);
const char *yamlconf_name(const struct yamlconf *y);

/* Adds "FILE:LINE: message" for node at (line 0 when at is NULL). */
void yamlconf_error(struct yamlconf *y, const struct yamlconf_node *at,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What a loader expects under a key. */
enum yamlconf_type {
	YAMLCONF_ANY = 1,     /* any node: the loader checks it */
	YAMLCONF_STRING,      /* a scalar (maybe null unless NONEMPTY) */
	YAMLCONF_INT,         /* a decimal integer: node->integer */
	YAMLCONF_BOOL,        /* true or false: node->boolean */
	YAMLCONF_LIST,        /* a list of scalars */
	YAMLCONF_ONE_OR_LIST, /* a scalar, or a list of scalars */
	YAMLCONF_MAP,         /* a mapping: walk it with yamlconf_map */
	YAMLCONF_MAP_LIST,    /* a list, each item walked with yamlconf_map
	                         (which reports an item that is no mapping) */
};

#define YAMLCONF_REQUIRED 0x1 /* missing is an error */
#define YAMLCONF_NONEMPTY 0x2 /* STRING: not null nor ""; lists: not [] */

struct yamlconf_key {
	const char *name;
	enum yamlconf_type type;
	unsigned flags;
};

/*
 * Checks that node is a mapping whose keys are among keys[0 .. nkeys - 1],
 * of the declared types, with every required key present. Sets vals[i] to
 * the value node of keys[i], or NULL when it is absent or not of its type.
 * Every problem is added to the error list: "expected a mapping", "unknown
 * key 'shre' (did you mean 'share'?)", "'to': expected a list, found a
 * string", "missing required key 'id'". what (may be NULL) names the
 * mapping in those messages ("rule 'x': 'to': expected a list, found a
 * string"). Returns 0 when node was clean,
 * else ERROR_CONFIG; callers may ignore it and check the list at the end.
 */
int yamlconf_map(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, const struct yamlconf_key *keys, size_t nkeys,
    const struct yamlconf_node **vals);

/*
 * Checks node against type alone, adding "WHAT: expected ..., found ..."
 * (what may be NULL) on mismatch. True when it matches.
 */
bool yamlconf_expect(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, enum yamlconf_type type, unsigned flags);

/*
 * The scalars of a YAMLCONF_LIST or YAMLCONF_ONE_OR_LIST value, uniformly:
 * a scalar counts as a list of one.
 */
size_t yamlconf_count(const struct yamlconf_node *node);
const struct yamlconf_node *yamlconf_item(
    const struct yamlconf_node *node, size_t i);

/*
 * A path written in the file at node: into out (size n), absolute, relative
 * paths taken from the file's folder (fileio_resolve). Adds "path too
 * long" for node when it does not fit. node NULL leaves out untouched.
 */
void yamlconf_path(
    struct yamlconf *y, const struct yamlconf_node *node, char *out, size_t n);

/*
 * A duration written at node ("30s", "5m", "1h30m") into *ms; with node
 * NULL *ms keeps its default. A bad one adds "WHAT: 'x' is not a duration"
 * for node and leaves *ms untouched.
 */
void yamlconf_duration(struct yamlconf *y, const struct yamlconf_node *node,
    const char *what, uint64_t *ms);

/* "a string", "nothing" (null), "a list", "a mapping": for messages. */
const char *yamlconf_kind_name(const struct yamlconf_node *node);

#endif
