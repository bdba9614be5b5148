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

/* The placeholder of a reply's in_reply_to: S1's msg_id, known only once
 * S1 is sent (the demo substitutes it, as a local system would). */
#define DEMO_S1_MSG_ID "@S1_MSG_ID@"

/*
 * Record NAME's text (malloc'd, NUL-terminated; *len may be NULL), with
 * DEMO_S1_MSG_ID replaced by s1_msg_id (32 hex digits) when that is not
 * NULL.
 */
char *demo_text(const char *name, const char *s1_msg_id, size_t *len);

/* Record NAME parsed, as it stands (the caller decrefs); aborts when it
 * does not parse. */
json_t *demo_load(const char *name);

/*
 * The names of the demo's records (without .json), sorted: a malloc'd,
 * NULL-terminated array of malloc'd strings; *n (may be NULL) their count.
 * demo_names_free releases it.
 */
char **demo_names(size_t *n);
void demo_names_free(char **names);

#endif
