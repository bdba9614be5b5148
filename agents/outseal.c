/*
 * The sender's own decision: before a
 * record is sealed, the sending agent evaluates the current agreement for
 * each recipient and wraps field keys only for the fields it allows, so
 * that a broker that redacts nothing still cannot hand a recipient a field
 * the agreement withholds from it. Called by outbox.c's process_file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/agreements.h"
#include "agents/outrecord.h"
#include "agents/spool.h"
#include "common/log.h"
#include "common/urgency.h"

/*
 * Field by field, as `concordat policy explain` says it: {"identity":
 * "withheld: no rule", "clinical": "withheld: never entry 1 (line 80)"}.
 */
static json_t *
explain(const struct policy_decision *d)
{
	char reason[128], line[160];
	json_t *o = json_object();

	for (int f = 1; o != NULL && f <= FIELDS_COUNT; f++) {
		policy_reason_format(&d->field[f - 1], reason, sizeof(reason));
		snprintf(line, sizeof(line), "%s: %s",
		    fields_has(d->disclosed, f) ? "disclosed" : "withheld",
		    reason);
		json_object_set_new(o, fields_name(f), json_string(line));
	}
	return o;
}

static void
question(const struct agent *a, const struct outrecord *r, size_t i,
    struct policy_question *q)
{
	memset(q, 0, sizeof(*q));
	q->from = a->cfg.agency;
	q->to = r->recipients[i];
	q->purpose = r->purpose;
	q->urgency = r->urgency;
	/* The emergency reason code; the broker and the recipient ask the
	 * same. */
	q->reason = r->reason;
	q->kind = r->kind;
}

int
outseal_grants(struct agent *a, const struct outrecord *r, fieldset *grants,
    uint8_t sha[WIRE_HASH_LEN], json_t *errors)
{
	const struct policy *p = agreements_current(a);
	struct policy_decision *d;
	struct policy_question q;
	char path[48], msg[512];
	fieldset any = 0;
	int rc = ERROR_OK;

	if (p == NULL)
		return ERROR_BUSY; /* waits in outbox/ for the agreement */
	if ((d = malloc(sizeof(*d))) == NULL)
		return ERROR_NOMEM;
	memcpy(sha, policy_sha256(p), WIRE_HASH_LEN);
	for (size_t i = 0; i < r->n_recipients; i++) {
		question(a, r, i, &q);
		snprintf(path, sizeof(path), "recipients[%zu]", i);
		rc = policy_eval(p, &q, d);
		if (rc == ERROR_PURPOSE) {
			outrecord_error(errors, "purpose",
			    "the agreement in force (%s version %lld, sha256 "
			    "%s) declares no purpose '%s'",
			    policy_agreement(p), policy_version(p),
			    policy_sha256_hex(p), r->purpose);
			rc = ERROR_POLICY;
			goto out;
		}
		if (rc != 0) {
			outrecord_error(errors, path, "cannot decide: %s",
			    error_strerror(rc));
			rc = ERROR_POLICY;
			goto out;
		}
		grants[i] = d->disclosed & FIELDS_ALL;
		any |= grants[i];
		if (grants[i] == 0)
			log_info("record for %s (%s): the agreement lets it "
			         "see nothing; it is granted no field",
			    r->recipients[i], r->purpose);
	}
	if (any != 0)
		goto out;
	/* Nothing to anyone: the explanation `policy explain` gives. */
	for (size_t i = 0; i < r->n_recipients; i++) {
		question(a, r, i, &q);
		snprintf(path, sizeof(path), "recipients[%zu]", i);
		if (policy_eval(p, &q, d) != 0)
			continue;
		snprintf(msg, sizeof(msg),
		    "the agreement in force (%s version %lld, sha256 %s) lets "
		    "'%s' see no field of this record for purpose '%s', "
		    "urgency %s (concordat policy explain says why, field by "
		    "field)",
		    policy_agreement(p), policy_version(p),
		    policy_sha256_hex(p), r->recipients[i], r->purpose,
		    urgency_name(r->urgency));
		json_array_append_new(errors,
		    json_pack("{s:s,s:s,s:o}", "path", path, "message", msg,
		        "explanation", explain(d)));
	}
	rc = ERROR_POLICY;
out:
	free(d);
	return rc;
}

bool
outseal_mismatch(struct agent *a, const struct wire_receipt *r,
    const struct event *evs, const bool *ok)
{
	char hex[33], want[2 * WIRE_HASH_LEN + 1];
	bool logged = false;

	spool_hex_id(r->msg_id, hex);
	for (size_t i = 0; i < r->n_decisions; i++)
		logged |= ok[i] && evs[i].type == EVENT_REJECTED &&
		    evs[i].reason == WIRE_REASON_AGREEMENT_MISMATCH;
	if (!logged || !r->has_agreement) {
		log_warn("%s: rejected agreement_mismatch, not sealed again: "
		         "%s; sent again later",
		    hex,
		    !logged ? "the rejection is not in the audit log"
		            : "the receipt names no current agreement");
		return false;
	}
	sodium_bin2hex(want, sizeof(want), r->agreement, WIRE_HASH_LEN);
	if (agreements_find(a, r->agreement, true) == NULL) {
		log_info("%s: sealed under an agreement no longer in force; "
		         "waiting for the current one (%s) to seal it again",
		    hex, want);
		return false;
	}
	return true;
}
