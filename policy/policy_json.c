/*
 * Decisions as JSON for `concordat policy explain --json` and the policy
 * case runner: one code path, so the tests check what administrators see.
 */
#include "common/urgency.h"
#include "policy/policy_json.h"

json_t *
policy_json_decision(const struct policy *p, const struct policy_question *q,
    const struct policy_decision *d, int rc)
{
	json_t *o, *fields = NULL, *rules = NULL, *obl = NULL;
	char reason[128];

	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "from", q->from, "to", q->to,
	    "purpose", q->purpose, "urgency", urgency_name(q->urgency), "kind",
	    urgency_kind_name(q->kind));
	if (o == NULL)
		return NULL;
	if (q->reason != 0 &&
	    json_object_set_new(o, "emergency_reason",
	        json_string(emergency_reason_name(q->reason))) < 0)
		goto fail;
	if (rc != ERROR_OK) {
		if (json_object_set_new(o, "rejected", json_true()) < 0 ||
		    json_object_set_new(
		        o, "error", json_string(error_strerror(rc))) < 0)
			goto fail;
		goto done;
	}
	if (json_object_set_new(o, "breakglass", json_boolean(d->breakglass)) <
	    0)
		goto fail;
	if ((fields = json_object()) == NULL ||
	    (rules = json_array()) == NULL || (obl = json_array()) == NULL)
		goto fail;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct policy_field_decision *fd = &d->field[f - 1];
		json_t *e;

		policy_reason_format(fd, reason, sizeof(reason));
		e = json_pack("{s:s, s:s, s:o, s:b}", "decision",
		    fields_has(d->disclosed, f) ? "disclosed" : "withheld",
		    "reason", reason, "rule",
		    fd->reason == POLICY_ALLOWED ? json_string(fd->rule)
		                                 : json_null(),
		    "breakglass", fd->breakglass);
		if (e == NULL ||
		    json_object_set_new(fields, fields_name(f), e) < 0)
			goto fail;
	}
	for (size_t i = 0; i < d->nrules; i++)
		if (json_array_append_new(rules,
		        json_pack("{s:s, s:s}", "id", d->rules[i], "basis",
		            d->bases[i])) < 0)
			goto fail;
	for (size_t i = 0; i < d->nobligations; i++)
		if (json_array_append_new(
		        obl, json_string(d->obligation_names[i])) < 0)
			goto fail;
	if (json_object_set_new(o, "fields", fields) < 0) {
		fields = NULL;
		goto fail;
	}
	fields = NULL;
	if (json_object_set_new(o, "rules", rules) < 0) {
		rules = NULL;
		goto fail;
	}
	rules = NULL;
	if (json_object_set_new(o, "obligations", obl) < 0) {
		obl = NULL;
		goto fail;
	}
	obl = NULL;
	if (json_object_set_new(o, "expires_after_ms",
	        json_integer((json_int_t)d->expires_ms)) < 0)
		goto fail;
done:
	if (json_object_set_new(
	        o, "policy_sha256", json_string(policy_sha256_hex(p))) < 0)
		goto fail;
	return o;
fail:
	json_decref(fields);
	json_decref(rules);
	json_decref(obl);
	json_decref(o);
	return NULL;
}
