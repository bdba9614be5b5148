/*
 * The pages the browser tests check and the screenshots show, built the
 * way a user builds them: the `concordat` verbs run in-process with
 * their output captured (tests/lib/capture.h), on real files and a real
 * audit log. A set-up failure aborts, saying why (tests/lib/scratch.h).
 */
#ifndef TESTS_BROWSER_PAGES_H
#define TESTS_BROWSER_PAGES_H

#include <stddef.h>

#include "proto/event.h"

/*
 * Runs `concordat GROUP ...` (the NULL-terminated strings after want,
 * "policy" or "audit" first), checks it exits want, and writes what it
 * printed to DIR/NAME.html. Returns the page (malloc'd); *path (may be
 * NULL) gets the file's path (malloc'd).
 */
char *pages_run(const char *dir, const char *name, char **path, int want, ...);

/*
 * text with each pairs[2i] replaced (its first occurrence) by pairs[2i+1],
 * for i < n; malloc'd. Aborts when one is not there.
 */
char *pages_edit(const char *text, const char *const *pairs, size_t n);

/*
 * DIR/new.yaml: the example agreement, version 2, with one field more
 * for one flow and one fewer for another (what the diff page shows).
 * Returns its path in a static buffer.
 */
const char *pages_new_policy(const char *dir);

/* The log's events as tests and screenshots use them: a small day. */
size_t pages_example_events(struct event *ev, size_t max);

/* Creates the audit log in DIR/log with the n events; returns its path. */
const char *pages_log(const char *dir, const struct event *ev, size_t n);

#endif
