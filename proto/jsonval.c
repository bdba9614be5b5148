/*
 * JSON values of the record and event types (jsonval.h), for the agent's
 * inbox and outbox records and the audit verbs.
 */
#include <string.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/urgency.h"
#include "proto/jsonval.h"
#include "proto/wire.h"

const char *const jsonval_event_keys[JSONVAL_EVENT_NKEYS] = {
    "seq",
    "time",
    "type",
    "msg_id",
    "sender",
    "recipient",
    "recipients",
    "purpose",
    "urgency",
    "kind",
    "subject_ref",
    "breakglass",
    "disclosed",
    "withheld",
    "rules",
    "bases",
    "obligations",
    "policy_sha256",
    "emergency_reason",
    "reason",
    "detail",
    "peer",
    "count",
    "agreement_id",
    "agreement_version",
    "signers",
    "key_before",
    "key_after",
};

json_t *
jsonval_fields(fieldset set)
{
	json_t *a = json_array();

	for (int f = 1; a != NULL && f <= FIELDS_COUNT; f++)
		if (fields_has(set, f) &&
		    json_array_append_new(a, json_string(fields_name(f))) !=
		        0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
jsonval_strings(const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(base + i * stride)) !=
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
jsonval_hex(const uint8_t *b, size_t n, bool has)
{
	char hex[2 * 64 + 1];

	if (!has)
		return json_string("");
	if (n > 64)
		return NULL;
	sodium_bin2hex(hex, sizeof(hex), b, n);
	return json_string(hex);
}

json_t *
jsonval_event(uint64_t seq, const struct event *ev)
{
	char when[40];
	json_t *o = json_object(), *v[JSONVAL_EVENT_NKEYS];
	size_t i = 0;
	bool ok = o != NULL;

	clock_format(ev->time_ms, when, sizeof(when));
	v[i++] = json_integer((json_int_t)seq);
	v[i++] = json_string(when);
	v[i++] = json_string(event_type_name(ev->type));
	v[i++] = jsonval_hex(ev->msg_id, sizeof(ev->msg_id), ev->has_msg_id);
	v[i++] = json_string(ev->sender);
	v[i++] = json_string(ev->recipient);
	v[i++] = jsonval_strings(
	    ev->recipients[0], sizeof(ev->recipients[0]), ev->n_recipients);
	v[i++] = json_string(ev->purpose);
	v[i++] = json_string(ev->urgency ? urgency_name(ev->urgency) : "");
	v[i++] = json_string(ev->kind ? urgency_kind_name(ev->kind) : "");
	v[i++] = jsonval_hex(
	    ev->subject_ref, sizeof(ev->subject_ref), ev->has_subject_ref);
	v[i++] = json_boolean(ev->breakglass);
	v[i++] = jsonval_fields(ev->disclosed);
	v[i++] = jsonval_fields(ev->withheld);
	v[i++] =
	    jsonval_strings(ev->rules[0], sizeof(ev->rules[0]), ev->n_rules);
	v[i++] =
	    jsonval_strings(ev->bases[0], sizeof(ev->bases[0]), ev->n_bases);
	v[i++] = jsonval_strings(
	    ev->obligations[0], sizeof(ev->obligations[0]), ev->n_obligations);
	v[i++] = jsonval_hex(ev->policy_sha256, sizeof(ev->policy_sha256),
	    ev->has_policy_sha256);
	v[i++] = json_string(ev->emergency_reason
	        ? emergency_reason_name(ev->emergency_reason)
	        : "");
	v[i++] = json_string(ev->reason ? wire_reason_name(ev->reason) : "");
	v[i++] = json_string(ev->detail);
	v[i++] = json_string(ev->peer);
	v[i++] = json_integer((json_int_t)ev->count);
	v[i++] = json_string(ev->agreement_id);
	v[i++] = json_integer((json_int_t)ev->agreement_version);
	v[i++] = jsonval_strings(
	    ev->signers[0], sizeof(ev->signers[0]), ev->n_signers);
	v[i++] = json_string(ev->key_before);
	v[i++] = json_string(ev->key_after);
	for (i = 0; i < JSONVAL_EVENT_NKEYS; i++)
		if (v[i] == NULL || !ok ||
		    json_object_set_new(o, jsonval_event_keys[i], v[i]) != 0) {
			ok = false;
			json_decref(v[i]);
		}
	if (ok && ev->type == EVENT_BREAKGLASS_REVIEWED &&
	    json_object_set_new(o, "review", review_json(&ev->review)) != 0)
		ok = false;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
jsonval_to_fields(const json_t *v, fieldset *set)
{
	const json_t *e;
	size_t i;
	int f;

	*set = 0;
	if (!json_is_array(v))
		return ERROR_INVAL;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) ||
		    (f = fields_lookup(json_string_value(e))) == 0)
			return ERROR_INVAL;
		*set |= FIELDS_BIT(f);
	}
	return ERROR_OK;
}

int
jsonval_to_strings(
    const json_t *v, char *base, size_t stride, size_t max, size_t *n)
{
	const json_t *e;
	size_t i;

	*n = 0;
	if (!json_is_array(v) || json_array_size(v) > max)
		return ERROR_INVAL;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) >= stride ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return ERROR_INVAL;
		memcpy(base + i * stride, json_string_value(e),
		    json_string_length(e) + 1);
	}
	*n = json_array_size(v);
	return ERROR_OK;
}

int
jsonval_to_hex(const json_t *v, uint8_t *out, size_t n, bool *has)
{
	const char *s = json_string_value(v), *end;
	size_t got;

	*has = false;
	if (s == NULL)
		return ERROR_INVAL;
	if (s[0] == '\0')
		return ERROR_OK;
	if (json_string_length(v) != 2 * n ||
	    sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 ||
	    got != n || *end != '\0')
		return ERROR_INVAL;
	*has = true;
	return ERROR_OK;
}
