/*
 * The public summary of a policy (Caldicott principle 8): who receives
 * what from whom, for which purposes and on what legal basis, in plain
 * English wrapped at 76 columns. Built into a strbuf; `concordat policy
 * summary` writes it.
 */
#ifndef POLICY_SUMMARY_H
#define POLICY_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "policy/policy.h"

/*
 * Appends the summary of p to sb. Agencies are called by their display
 * names (policy_agency_name), or by their ids with '_' read as a space.
 * Returns ERROR_OK, or ERROR_NOMEM (sb then holds an incomplete text).
 */
WUR int summary_build(const struct policy *p, struct strbuf *sb);

/* One guardian's line of the agreement's note (FILE.sig), for the page. */
struct summary_signer {
	const char *agency;   /* the agency id; "" when the line names none */
	const char *key_name; /* as written in the note */
	const char *keyid;    /* the note's key id (8 hex digits), or "" */
	const char *fingerprint; /* the keyring's guardian key, or NULL */
	const char *status; /* "valid", "bad signature", "not checked"... */
	bool valid;         /* counted: a party's guardian, verified */
};

/* What the page says of the agreement's signatures. */
struct summary_signed {
	bool has_note; /* FILE.sig exists */
	bool checked;  /* against a keyring: statuses mean something */
	bool complete; /* checked, and every agency's guardian has signed */
	const char *problem; /* the note's text is not the file's; or NULL */
	size_t n;
	const struct summary_signer *signers; /* borrowed, n of them */
	size_t nmissing;
	const char *const *missing; /* agencies without a valid signature */
};

/*
 * The same summary as a page to publish (common/html.h): the agreement's
 * id, version and SHA-256, its signers as sig says, and per purpose a
 * table of who may see what from whom, with what an emergency adds, the
 * legal bases and conditions, then what is never shared. Built by the
 * same walk as summary_build. Returns ERROR_OK or ERROR_NOMEM.
 */
WUR int summary_build_html(const struct policy *p,
    const struct summary_signed *sig, struct strbuf *sb);

#endif
