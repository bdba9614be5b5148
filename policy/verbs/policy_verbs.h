/*
 * The `concordat policy` verbs (policy/verbs/, library policyverbs), linked
 * only by `concordat` and the CLI tests; the formats they print are
 * library modules (policy/cases.h, policy/summary.h, policy/policy_json.h).
 */
#ifndef POLICY_VERBS_H
#define POLICY_VERBS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "common/strbuf.h"
#include "keys/agreement.h"
#include "policy/policy.h"

/* `concordat policy VERB ...`: the group (argv[0] is "policy"). */
int policy_cli(int argc, char **argv);

int policy_verb_check(int argc, char **argv);
int policy_verb_explain(int argc, char **argv);
int policy_verb_diff(int argc, char **argv);
int policy_verb_test(int argc, char **argv);
int policy_verb_summary(int argc, char **argv);
int policy_verb_sign(int argc, char **argv);
int policy_verb_verify(int argc, char **argv);
int policy_verb_install(int argc, char **argv);

/* Shared by the verbs (policy/verbs/cli.c). */

/* The group's help, to f; returns code. */
int policy_verbs_usage(FILE *f, int code);

/* The exit code for a failure to load a policy or cases file. */
int policy_verbs_load_code(int rc);

/*
 * Loads the policy at path, printing every error on failure, each line of
 * the summary after who ("policy diff", "audit report"). Returns 0 with *p
 * set, or the exit code.
 */
int policy_verbs_load(const char *who, const char *path, struct policy **p);

/*
 * Parses the options of a verb that has only --help (and --json where json
 * is not NULL). Returns -1 to go on (operands from optind), or an exit
 * code.
 */
int policy_verbs_options(int argc, char **argv, bool *json);

/*
 * The same for a verb that also writes a page: --html sets *html (json
 * and html may each be NULL: not an option of the verb). --json and
 * --html together are a usage error.
 */
int policy_verbs_format_options(int argc, char **argv, bool *json, bool *html);

/*
 * The page of `policy diff --html` (diff_html.c) into sb, from the change
 * list that --json prints (an array of {from, to, purpose, urgency, field,
 * old, new, old_why, new_why}); counts are total, newly disclosed, newly
 * withheld and to or from rejected.
 */
void policy_verbs_diff_html(struct strbuf *sb, const char *old_path,
    const struct policy *a, const char *new_path, const struct policy *b,
    const json_t *changes, const size_t counts[4], bool version_warning);

/*
 * The decisions that change from a to b (diff.c): the number of (question,
 * field) pairs whose outcome differs, printing nothing. -1 when out of
 * memory.
 */
long policy_verbs_diff_count(const struct policy *a, const struct policy *b);

/*
 * When decisions change from old to new but the version does not go up,
 * a warning on stderr after who ("policy check"); nothing otherwise.
 * Returns the number of changes (or -1 out of memory).
 */
long policy_verbs_version_warn(
    const char *who, const struct policy *old, const struct policy *new);

/* An agreement read once for its bytes, its policy and its note (signed.c). */
struct policy_verbs_signed {
	const char *path; /* borrowed from argv */
	char sig[4096];   /* path ".sig" */
	uint8_t *yaml;
	size_t yaml_len;
	struct policy *p;
	char *note; /* NULL when there is no FILE.sig */
	size_t note_len;
};

/*
 * Reads path's bytes, the policy in them (every error printed) and path.sig
 * when there is one. Returns 0 or the exit code (the message printed, s
 * released).
 */
int policy_verbs_signed_load(
    const char *who, const char *path, struct policy_verbs_signed *s);
void policy_verbs_signed_release(struct policy_verbs_signed *s);

/*
 * Loads the keyring folder and checks s's note against it: *out (malloc'd,
 * the caller frees it) answers. Returns 0 or the exit code, printed.
 */
int policy_verbs_signed_check(const char *who, struct policy_verbs_signed *s,
    const char *keyring, struct agreement_check **out);

/* Who signed and who has not, and every line not counted and why, to f. */
void policy_verbs_check_print(FILE *f, const struct policy_verbs_signed *s,
    const struct agreement_check *c);
/* The same as one JSON object (new reference, NULL out of memory). */
json_t *policy_verbs_check_json(
    const struct policy_verbs_signed *s, const struct agreement_check *c);

#endif
