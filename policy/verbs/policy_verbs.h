/*
 * The `concordat policy` verbs (policy/verbs/, library policyverbs), linked
 * only by `concordat` and the CLI tests; the formats they print are
 * library modules (policy/cases.h, policy/summary.h, policy/policy_json.h).
 */
#ifndef POLICY_VERBS_H
#define POLICY_VERBS_H

#include <stdbool.h>
#include <stdio.h>

#include "policy/policy.h"

/* `concordat policy VERB ...`: the group (argv[0] is "policy"). */
int policy_cli(int argc, char **argv);

int policy_verb_check(int argc, char **argv);
int policy_verb_explain(int argc, char **argv);
int policy_verb_diff(int argc, char **argv);
int policy_verb_test(int argc, char **argv);
int policy_verb_summary(int argc, char **argv);

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

#endif
