/*
 * The verb layer of `concordat`: one dispatcher for the top level and for
 * each group of verbs (help, unknown verb with a suggestion, --version),
 * getopt with the house error format, the one check of standard output,
 * and the argument parsers the verbs share. Used by cli/main.c and by the
 * verbs in <folder>/verbs/; library code never includes it. Everything
 * is in libcommon (common/cli.c) but cli_parse_subject and
 * cli_subject_exit, which need keys/ and are in clikit (cli_subject.c).
 */
#ifndef COMMON_CLI_H
#define COMMON_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include "common/error.h"

/* One verb of a table. */
struct cli_verb {
	const char *name;    /* "query" */
	const char *summary; /* one line for the help built from the table */
	/* argv[0] is the verb's name; returns a sysexits code (or 1). */
	int (*run)(int argc, char **argv);
};

/*
 * The top level, called once from cli/main.c. Handles -h/--help/help
 * (usage from the table, to stdout), --version/-V, no verb (usage to
 * stderr, EX_USAGE) and an unknown verb ("concordat: unknown verb 'x'
 * (did you mean 'y'?)", EX_USAGE); otherwise runs the verb with argv + 1.
 * Then, once for every verb: fflush, ferror and fclose of stdout; any
 * failure prints "concordat: write error on standard output: <why>" and
 * the exit code becomes EX_IOERR (74). prog is the program's name as
 * usage shows it.
 */
int cli_main(const char *prog, const struct cli_verb *verbs, size_t nverbs,
    int argc, char **argv);

/*
 * A group of verbs (`concordat policy ...`), argv[0] being the group's
 * name. usage is the group's help text, printed as it is for -h/--help/help
 * (stdout, EX_OK) and for no verb (stderr, EX_USAGE); with usage NULL, a
 * help is built from the table's summaries. --version prints the version.
 * An unknown verb prints "concordat: GROUP: unknown verb 'x' (did you mean
 * 'y'?)" or, with no close name, the list of verbs; EX_USAGE. No stdout
 * check here: cli_main does it.
 */
int cli_group(const char *group, const char *usage,
    const struct cli_verb *verbs, size_t nverbs, int argc, char **argv);

/*
 * getopt_long for a verb's argv (argv[0] the verb's name). The first call
 * for a verb run by cli_main or cli_group starts afresh (optind reset: no
 * verb sets optind itself). An unknown option or a missing value prints
 * "concordat: GROUP VERB: unknown option '--x' (see --help)" (or "missing
 * value for '--x'") and returns '?'. Otherwise as getopt_long; shortopts
 * needs no leading ':'.
 */
int cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts);

/*
 * Prints "concordat: " and the formatted message to stderr (flushing
 * stdout first, so the two stay in order); returns code.
 */
int cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sysexits code for a project error (ERROR_*). */
int cli_exit_code(int err);

/*
 * The argument parsers the verbs share. Each prints nothing and returns
 * ERROR_OK or an ERROR_*; the verb words the failure.
 */

/*
 * An RFC 3339 time ("2026-11-23T13:26:02Z", optional fraction and offset)
 * or a date ("2026-11-23", midnight UTC), as the audit verbs' --since and
 * --until take them, into milliseconds since the epoch. ERROR_INVAL.
 */
WUR int cli_parse_time(const char *s, uint64_t *ms);

/* Exactly len bytes given as 2 * len hex digits, nothing else. ERROR_INVAL. */
WUR int cli_parse_hex(const char *s, uint8_t *out, size_t len);

/*
 * A subject given as an NHS number and the subject pepper's file, as the
 * audit verbs' --subject and --pepper take them, into its subject_ref
 * (CLI_REF_LEN bytes). On failure, why (size n) holds what is wrong, to
 * follow "audit VERB: ", and the result is:
 *   ERROR_INVAL  a usage mistake (not a valid NHS number, or no pepper
 *                file given): exit EX_USAGE;
 *   other        the pepper cannot be read (ERROR_PERM, ERROR_NOENT, ...,
 *                ERROR_KEY for a malformed file) or subject_ref failed
 *                (ERROR_INTERNAL): exit cli_exit_code(result).
 * cli_subject_exit(result) gives that exit code.
 */
#define CLI_REF_LEN 32
WUR int cli_parse_subject(const char *nhs, const char *pepper_path,
    uint8_t ref[CLI_REF_LEN], char *why, size_t n);
int cli_subject_exit(int err);

#endif
