/*
 * The Caldicott policy engine (DESIGN.md §6): loads a sharing agreement
 * from YAML, checks it for meaning, and decides, field by field, what one
 * agency may disclose to another for a purpose. A pure library: no sockets,
 * no database, no global state. Called by the broker at ingest, by the
 * `concordat policy` verbs, and by the tests.
 */
#ifndef POLICY_POLICY_H
#define POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/fields.h"
#include "common/yamlconf.h"

#define POLICY_FILE_MAX     (1024 * 1024) /* bytes of policy file */
#define POLICY_MAX_AGENCIES 64
#define POLICY_MAX_PURPOSES 64
#define POLICY_MAX_RULES    256
#define POLICY_MAX_NEVER    256
#define POLICY_BASIS_MAX    255 /* bytes of a rule's basis */

/* A loaded policy: immutable once loaded, so it may be shared by threads. */
struct policy;

/*
 * Loads and checks the policy file at path (at most POLICY_FILE_MAX bytes).
 * On success returns 0 and sets *out, freed with policy_free. On failure
 * *out is NULL and no policy exists at all: a file with any error never
 * yields a policy. Every problem found is added to errs (which the caller
 * initialised with yamlconf_errors_init and releases), one "FILE:LINE:
 * what is wrong" each, sorted by line. Returns ERROR_POLICY (the file has
 * errors), ERROR_NOENT, ERROR_TOOBIG, ERROR_PERM, ERROR_IO, ERROR_INVAL
 * (not a regular file) or ERROR_NOMEM; errs always says why.
 */
WUR int policy_load_file(
    const char *path, struct yamlconf_errors *errs, struct policy **out);

/*
 * As policy_load_file, from len bytes at buf (copied as needed; buf may go
 * once this returns); name stands for the file in messages.
 */
WUR int policy_load_buffer(const void *buf, size_t len, const char *name,
    struct yamlconf_errors *errs, struct policy **out);

/* Frees p; NULL is a no-op. Every string borrowed from p becomes invalid. */
void policy_free(struct policy *p);

/*
 * Describing a loaded policy. Strings are borrowed from p and valid until
 * policy_free.
 */
const char *policy_name(const struct policy *p); /* the file, as given */
const char *policy_agreement(const struct policy *p);
long long policy_version(const struct policy *p);
const char *policy_approved_by(const struct policy *p);
/* SHA-256 of the file's exact bytes: 32 bytes, and as 64 hex digits. */
const uint8_t *policy_sha256(const struct policy *p);
const char *policy_sha256_hex(const struct policy *p);

/* Agencies and purposes in file order, i in 0 .. count - 1. */
size_t policy_agency_count(const struct policy *p);
const char *policy_agency_id(const struct policy *p, size_t i);
/*
 * The display name the agreement gives agency (its optional `name:`, as in
 * "mental health trust"), or NULL when it gives none or agency is not
 * listed. Borrowed: valid until policy_free(p).
 */
const char *policy_agency_name(const struct policy *p, const char *agency);
/* The index of an agency or purpose by name, or -1. */
int policy_agency_index(const struct policy *p, const char *name);

size_t policy_purpose_count(const struct policy *p);
const char *policy_purpose_name(const struct policy *p, size_t i);
const char *policy_purpose_description(const struct policy *p, size_t i);
uint64_t policy_purpose_expiry(const struct policy *p, size_t i);
int policy_purpose_index(const struct policy *p, const char *name);

/*
 * How long the broker keeps an undelivered message of purpose: *ms set and
 * 0, or ERROR_PURPOSE when the policy does not declare it.
 */
WUR int policy_expiry_ms(
    const struct policy *p, const char *purpose, uint64_t *ms);

size_t policy_rule_count(const struct policy *p);
size_t policy_never_count(const struct policy *p);

/*
 * A `never` entry, for explanations and the public summary. from, to and
 * purposes are sets of agency and purpose indices (bit i for index i); an
 * entry written without from or purposes has every bit set.
 */
struct policy_never_info {
	unsigned line;
	uint64_t from, to, purposes;
	bool any_from, any_purpose;
	fieldset fields;
	const char *reason; /* borrowed; "" when the entry gives none */
};
WUR int policy_never_get(
    const struct policy *p, size_t i, struct policy_never_info *out);

/*
 * Obligations a rule may place on recipients: a fixed set, because an
 * obligation the agencies' systems do not know cannot be honoured.
 */
enum policy_obligation {
	POLICY_NO_ONWARD_DISCLOSURE = 0, /* no_onward_disclosure */
	POLICY_RETAIN_30_DAYS,           /* retain_30_days */
	POLICY_REVIEW_BREAKGLASS,        /* review_breakglass */
	POLICY_INFORM_SUBJECT,           /* inform_subject */
	POLICY_DELETE_AFTER_USE,         /* delete_after_use */
	POLICY_OBLIGATION_COUNT
};

/*
 * The review deadline of break-glass decisions (review_breakglass_within,
 * docs/policy.md): how long after a break-glass decision under a rule with
 * the review_breakglass obligation its guardian's review is due. 0 when
 * no rule carries the obligation; POLICY_REVIEW_DEFAULT (7 days) when the
 * agreement does not say.
 */
#define POLICY_REVIEW_DEFAULT (7ULL * 24 * 3600 * 1000)
uint64_t policy_review_within_ms(const struct policy *p);
/* A review_breakglass_within value: a duration from 1s to 365d, or
 * ERROR_INVAL. */
WUR int policy_review_parse(const char *s, uint64_t *ms);

/* The name of obligation o, or NULL when out of range. */
const char *policy_obligation_name(int o);
/* A plain-English sentence for obligation o, or NULL. */
const char *policy_obligation_text(int o);
/* The obligation named s, or -1. */
int policy_obligation_lookup(const char *s);

/* Why a field was disclosed or withheld. */
enum policy_reason {
	POLICY_NO_RULE = 0, /* withheld: no rule shares it (default deny) */
	POLICY_ALLOWED,     /* disclosed by a rule */
	POLICY_NEVER,       /* withheld by a never entry */
};

/* The question: what may this message disclose to this recipient? */
struct policy_question {
	const char *from; /* sending agency */
	const char *to;   /* one recipient */
	const char *purpose;
	int urgency; /* enum urgency */
	int reason;  /* enum emergency_reason, or 0: why it is an emergency */
	int kind;    /* enum kind: reported, not decisive */
};

struct policy_field_decision {
	enum policy_reason reason;
	bool breakglass;  /* disclosed only through an emergency_share */
	const char *rule; /* POLICY_ALLOWED: the first rule that allows it */
	unsigned never;   /* POLICY_NEVER: the entry's number, from 1 */
	unsigned line;    /* the line of that rule or never entry */
};

/*
 * The answer. The caller allocates it (it is large: keep it off small
 * stacks in hot loops, or reuse one); policy_eval fills it. Every pointer
 * in it is borrowed from the policy and valid until policy_free.
 */
struct policy_decision {
	struct policy_field_decision field[FIELDS_COUNT]; /* field[f - 1] */
	fieldset disclosed;
	fieldset breakglass_fields; /* the subset disclosed by break-glass */
	bool breakglass;            /* breakglass_fields is not empty */
	bool known_agencies;        /* from and to are both in `agencies` */
	int urgency, kind;
	const char *purpose;
	uint64_t expires_ms; /* the purpose's expires_after */
	/* Rules that disclosed at least one field, in file order, once each. */
	size_t nrules;
	const char *rules[POLICY_MAX_RULES];
	const char *bases[POLICY_MAX_RULES];
	/* The union of those rules' obligations, in enum order, once each. */
	unsigned obligations; /* bit o for enum policy_obligation o */
	size_t nobligations;
	const char *obligation_names[POLICY_OBLIGATION_COUNT];
};

/*
 * Writes why field decision fd went as it did, for people and logs: "rule
 * triage-reply", "rule triage-reply (break-glass)", "no rule" or "never
 * entry 1 (line 80)", into buf of size n (always terminated). Returns buf.
 */
char *policy_reason_format(
    const struct policy_field_decision *fd, char *buf, size_t n);

/*
 * Decides q against p into *d, without allocating. Default deny: a field
 * is disclosed only when a rule from q->from to q->to for q->purpose shares
 * it; several matching rules add up. A rule's emergency_share fields are
 * added only when urgency is URGENCY_EMERGENCY and a reason is given
 * (break-glass). A matching never entry withholds its fields whatever the
 * rules say, emergency included. An agency the policy does not list gets
 * nothing (every field POLICY_NO_RULE, known_agencies false; still 0): the
 * broker checks agencies against its keyring before it asks.
 * Returns 0; ERROR_PURPOSE when the purpose is not declared (the message
 * must be rejected; *d then holds no disclosure); ERROR_INVAL for a NULL
 * name or an urgency or kind out of range.
 */
WUR int policy_eval(const struct policy *p, const struct policy_question *q,
    struct policy_decision *d);

#endif
