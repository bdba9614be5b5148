/*
 * `concordat audit`: the audit group and its verbs, one file each in
 * audit/verbs/ (the auditverbs library, linked only by concordat and the
 * CLI tests). cli/main.c dispatches the group; each verb's argv[0] is its
 * name. Every one prints to stdout, errors to stderr as "concordat: ...",
 * and returns a sysexits code (check-proof: 1 for an invalid proof).
 */
#ifndef AUDIT_VERBS_AUDIT_VERBS_H
#define AUDIT_VERBS_AUDIT_VERBS_H

/*
 * `concordat audit VERB ...` (argv[0] is "audit"). A verb that reads a
 * log runs in a child process (common/isolate.h), which checks its
 * standard output before it ends.
 */
int audit_cli(int argc, char **argv);

int audit_verb_query(int argc, char **argv);
int audit_verb_report(int argc, char **argv);
int audit_verb_verify(int argc, char **argv);
int audit_verb_reindex(int argc, char **argv);
int audit_verb_prove(int argc, char **argv);
int audit_verb_stats(int argc, char **argv);
int audit_verb_check_proof(int argc, char **argv);
int audit_verb_agreement(int argc, char **argv);
int audit_verb_review(int argc, char **argv);
/* review_queue.c: `audit query --breakglass --unreviewed` */
int audit_verb_review_queue(int argc, char **argv);

#endif
