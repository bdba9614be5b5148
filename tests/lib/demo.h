/*
 * The demo's records (scripts/demo-data, the files `make demo` shares) as
 * fixture data: read from where the demo reads them, never copied.
 */
#ifndef TESTS_LIB_DEMO_H
#define TESTS_LIB_DEMO_H

#include <stddef.h>

#include <jansson.h>

/* The folder of the demo's records. */
const char *demo_dir(void);

/* The path of record NAME (without .json: "s1-triage-request"). */
const char *demo_path(const char *name);

/* Record NAME parsed (the caller decrefs); aborts when it does not parse. */
json_t *demo_load(const char *name);

/*
 * The names of the demo's records (without .json), sorted: a malloc'd,
 * NULL-terminated array of malloc'd strings; *n (may be NULL) their count.
 * demo_names_free releases it.
 */
char **demo_names(size_t *n);
void demo_names_free(char **names);

#endif
