/*
 * The policy cases file: expected decisions, each a question (from, to,
 * purpose, urgency, justification, kind) and what the policy must answer
 * (fields disclosed and withheld, break-glass, obligations, rules, expiry,
 * or rejection). Parsed against a loaded policy and run against it; used
 * by `concordat policy test`, which prints the results. See docs/policy.md.
 */
#ifndef POLICY_CASES_H
#define POLICY_CASES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/yamlconf.h"
#include "policy/policy.h"

#define CASES_FILE_MAX (1024 * 1024)

struct cases;

/*
 * Parses the cases in buf (len bytes; name is the file's name for
 * messages) against p, which must outlive the result. Every problem found
 * goes to errs ("FILE:LINE: what", sorted by line), whatever is returned.
 * Returns ERROR_OK with *out set (free with cases_free), ERROR_CONFIG when
 * the file has errors, or ERROR_NOMEM, ERROR_TOOBIG; *out is then NULL.
 */
WUR int cases_parse(const void *buf, size_t len, const char *name,
    const struct policy *p, struct yamlconf_errors *errs, struct cases **out);

/* As cases_parse, from the file at path (also ERROR_NOENT, ERROR_IO...). */
WUR int cases_load_file(const char *path, const struct policy *p,
    struct yamlconf_errors *errs, struct cases **out);

void cases_free(struct cases *c);

/* The number of cases, and the question of case i (borrowed from c). */
size_t cases_count(const struct cases *c);
const struct policy_question *cases_question(const struct cases *c, size_t i);

/* The outcome of one case, in the words `policy test` prints. */
struct cases_result {
	const char *name; /* the case's name (borrowed from the cases) */
	unsigned line;    /* where the case starts in the file */
	bool pass;
	char expected[1024]; /* "disclosed a, b; withheld c; ..." */
	char actual[1024];   /* what the policy decided */
	char wrong[2048];    /* each difference that matters, or "" */
};

/*
 * Runs case i of c against p (the policy c was parsed against), filling
 * *r. Returns ERROR_OK (r->pass tells the outcome), ERROR_NOMEM, or
 * ERROR_INVAL when i is out of range.
 */
WUR int cases_run(const struct cases *c, const struct policy *p, size_t i,
    struct cases_result *r);

#endif
