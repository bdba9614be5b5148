/*
 * The person a subject access report or a query is about, as the verbs'
 * --subject NHS, --name SURNAME,FORENAME --dob YYYY-MM-DD and
 * --subject-ref HEX give it, several at once for one person, into the
 * subject_refs the agents compute (keys/keys.h, the one normaliser). In
 * clikit (cli_subject.c) with cli_parse_subject: it needs keys/.
 */
#ifndef COMMON_CLI_SUBJECT_H
#define COMMON_CLI_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cli.h"

#define CLI_SUBJECTS_MAX  16  /* identifiers of one person */
#define CLI_SUBJECT_WORDS 192 /* "name SMITH, John born 1970-01-01" */
#define CLI_PEPPER_ID_LEN 32

enum cli_subject_kind {
	CLI_SUBJECT_NHS = 1, /* --subject */
	CLI_SUBJECT_NAME,    /* --name with its --dob */
	CLI_SUBJECT_REF,     /* --subject-ref */
};

/* One identifier: what was given, and its subject_ref once resolved. */
struct cli_subject {
	enum cli_subject_kind kind;
	const char *arg; /* the option's value (borrowed from argv) */
	const char *dob; /* CLI_SUBJECT_NAME: its --dob, or NULL yet */
	uint8_t ref[CLI_REF_LEN];
	/* For the person: "NHS number 943 476 5919", "name SMITH, John born
	 * 1970-01-01", "subject_ref 1a2b...". */
	char words[CLI_SUBJECT_WORDS];
};

/* Every identifier given, in the order given; zero it to start. */
struct cli_subjects {
	size_t n;
	struct cli_subject s[CLI_SUBJECTS_MAX];
	size_t n_dob; /* --dob values seen: the i-th goes to the i-th --name */
	const char *pepper_path; /* set by cli_subject_resolve */
	bool has_pepper_id;      /* when a pepper was loaded */
	uint8_t pepper_id[CLI_PEPPER_ID_LEN];
};

/*
 * One option as getopt gave it: opt is "subject", "name", "dob" or
 * "subject-ref"; arg is borrowed and must outlive s. Each value is checked
 * here (a valid NHS number, SURNAME,FORENAME, a real date, 64 hex
 * digits). ERROR_INVAL with why (size n, to follow "audit VERB: ") when
 * it is wrong; ERROR_TOOBIG past CLI_SUBJECTS_MAX.
 */
WUR int cli_subject_add(struct cli_subjects *s, const char *opt,
    const char *arg, char *why, size_t n);

/*
 * Pairs each --name with its --dob, loads the pepper (needed when an NHS
 * number or a name was given; used, when given, to name it by its
 * pepper_id in any case) and computes every subject_ref. The errors of
 * cli_parse_subject: ERROR_INVAL for a usage mistake (no identifier, a
 * --name without a --dob, no pepper), another for a pepper that cannot be
 * read; cli_subject_exit gives the exit code.
 */
WUR int cli_subject_resolve(
    struct cli_subjects *s, const char *pepper_path, char *why, size_t n);

/* True when ref is one of s's subject_refs. */
bool cli_subject_match(const struct cli_subjects *s, const uint8_t *ref);

#endif
