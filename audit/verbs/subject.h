/*
 * The person `audit report` and `audit query` are about (subject.c): the
 * options that name them, several identifiers at once, the check that the
 * log has seen the pepper they were resolved with, and the events about
 * any of them, merged in log order.
 */
#ifndef AUDIT_VERBS_SUBJECT_H
#define AUDIT_VERBS_SUBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/verbs/verbs_int.h"
#include "common/cli_subject.h"

/*
 * The options, in a verb's getopt table with these codes: "subject" 's',
 * "name" 'N', "dob" 'B', "subject-ref" 'S', "pepper" 'p'.
 */

/* The person as given, and the pepper file. */
struct verbs_person {
	struct cli_subjects s;
	const char *pepper;
};

/*
 * Takes getopt's c when it is one of the options above: 0 when taken,
 * EX_USAGE after saying what is wrong, -1 when c is not one of them.
 */
int verbs_person_opt(
    const char *verb, struct verbs_person *p, int c, const char *arg);

/* Resolves every identifier (cli_subject_resolve); 0 or a sysexits code. */
int verbs_person_resolve(const char *verb, struct verbs_person *p);

/* What the log says of the pepper (verbs_person_query). */
enum verbs_pepper {
	VERBS_PEPPER_SEEN = 1, /* an event names it */
	VERBS_PEPPER_NO_IDS,   /* no event names any pepper: cannot check */
	VERBS_PEPPER_NOT_GIVEN /* only --subject-ref, no --pepper */
};

/* The events about the person, by log sequence (verbs_person_find). */
struct verbs_found {
	uint64_t *seq; /* sorted, each once */
	size_t n, cap;
	const struct verbs_person *p;
	bool seen, any; /* p's pepper id, any pepper id, met in the log */
};

/*
 * Finds every event that matches f (its subject ignored) and any of p's
 * subject_refs, and checks p's pepper against the log. A pepper that no
 * event names while others are named is refused: "audit VERB: the pepper
 * FILE (id ..) was never used by any agency in this log: wrong pepper
 * file?", exit EX_DATAERR. *state says what the check found. 0, a sysexits
 * code (positive) after saying why, or an ERROR_* (negative). fd is
 * released by verbs_found_release, in any case.
 */
int verbs_person_find(const char *verb, struct reader *r,
    const struct audit_filter *f, const struct verbs_person *p,
    struct verbs_found *fd, enum verbs_pepper *state);

/*
 * Calls row for each event found, in log order: 0, an ERROR_*, or row's
 * non-zero return.
 */
int verbs_person_rows(struct reader *r, const struct verbs_found *fd,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg);

void verbs_found_release(struct verbs_found *fd);

/* The warning a log without pepper ids deserves, for the pepper file. */
void verbs_pepper_warning(const char *pepper, char *buf, size_t n);

#endif
