/*
 * What the audit verbs share (verbs.c): the log opened read-only in one
 * transaction, the house wording of a missing argument or a damaged log,
 * the shared argument parsers worded for a verb, and writing a built text
 * to standard output.
 */
#ifndef AUDIT_VERBS_VERBS_INT_H
#define AUDIT_VERBS_VERBS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "common/strbuf.h"

/* The log a verb reads, in one read-only transaction. */
struct reader {
	MDB_env *env;
	MDB_txn *txn;
	struct audit *a;
};

/* Opens dir read-only into *r; 0 or a sysexits code after saying why. */
int verbs_open_log(const char *verb, const char *dir, struct reader *r);
/* Ends the transaction and closes the log; *r is zeroed. */
void verbs_close_log(struct reader *r);

/* "audit VERB: missing WHAT (see --help)"; returns EX_USAGE. */
int verbs_missing(const char *verb, const char *what);
/* "audit VERB: unexpected argument 'ARG'"; returns EX_USAGE. */
int verbs_unexpected(const char *verb, const char *arg);

/* --since (c 'f') or --until (c 'u') into *ms; a sysexits code. */
int verbs_time(const char *verb, int c, const char *arg, uint64_t *ms);
/* since_ms < until_ms when until is given; a sysexits code. */
int verbs_range(const char *verb, uint64_t since_ms, uint64_t until_ms);
/* The broker's public signing key from its .pub file; a sysexits code. */
int verbs_broker_key(
    const char *verb, const char *path, uint8_t pk[CHECKPOINT_PK_LEN]);

/*
 * Writes sb's text to stdout and empties sb. ERROR_NOMEM when sb ran out
 * of memory, ERROR_IO when stdout is in error (the one check of stdout,
 * at the end, says why); ERROR_OK otherwise.
 */
int verbs_write(struct strbuf *sb);

/*
 * witnesses.c: the cosignatures kept in r's log, checked against the
 * agencies' sign keys in the keyring folder, said into sb; the latest
 * cosigned checkpoint with its cosignature lines. ERROR_SIGNATURE, with
 * why, when fewer than n agencies' cosignatures are valid; another error
 * (and why) when the keyring or the log cannot be read. leaves: the log's.
 */
int verbs_witnesses(struct reader *r, const char *keyring, unsigned n,
    uint64_t leaves, struct strbuf *sb, char *why, size_t whylen);

/*
 * review.c: every breakglass_reviewed event of r's log checked against the
 * guardian keys of the keyring folder (NULL: counted only, and said), a
 * line into sb. ERROR_SIGNATURE or ERROR_TAMPERED with why at the first
 * forged one; another error (and why) when the keyring cannot be read.
 */
int verbs_reviews(struct reader *r, const char *keyring, struct strbuf *sb,
    char *why, size_t whylen);

/*
 * review_queue.c: the break-glass decisions by their latest review's
 * outcome (outcome[enum review_outcome]) and those with none, for
 * `audit stats`; as a JSON object (new reference, NULL when out of
 * memory) and as text lines.
 */
struct review_counts {
	uint64_t outcome[4], unreviewed, reviews;
};
int verbs_review_counts(struct reader *r, struct review_counts *out);
struct json_t *verbs_review_counts_json(const struct review_counts *c);
void verbs_review_counts_text(const struct review_counts *c, struct strbuf *sb);

#endif
