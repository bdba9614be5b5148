/*
 * Checking an outbox record against the record format. Collects every
 * problem rather than stopping at the first, so that a local system's
 * developer sees the whole list in the .error.json beside a failed file.
 *
 * The file may be anything someone put in the outbox, so no message
 * quotes its bytes: a position (line, column, byte offset) says where,
 * and only keys and values checked to be plain names are quoted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents/outrecord.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "keys/keys.h"
#include "proto/envelope.h"
#include "proto/record.h"

#define KEY_NAME_MAX 64 /* a key quoted in a path: [A-Za-z_][A-Za-z0-9_]* */
#define KEY_WALK_MAX 16 /* deeper than record.c reads, which stops at 4 */

static const char *const top_keys[] = {"recipients", "purpose", "urgency",
    "kind", "local_id", "subject", "fields", "in_reply_to", "requested_fields",
    "reason", "justification"};
#define N_TOP (sizeof(top_keys) / sizeof(top_keys[0]))

/* Whether key is one of the n names of list. */
static bool
one_of(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

void
outrecord_error(json_t *errors, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	/* A file of a million unknown keys gets a short list, not a huge
	 * error file. */
	if (json_array_size(errors) > OUTRECORD_MAX_ERRORS)
		return;
	if (json_array_size(errors) == OUTRECORD_MAX_ERRORS) {
		json_array_append_new(errors,
		    json_pack("{s:s,s:s}", "path", "", "message",
		        "more problems, not listed: put these right first"));
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(
	    errors, json_pack("{s:s,s:s}", "path", path, "message", msg));
}

void
outrecord_release(struct outrecord *r)
{
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (r->plain[f] != NULL) {
			sodium_memzero(r->plain[f], r->plain_len[f]);
			free(r->plain[f]);
		}
		r->plain[f] = NULL;
		r->plain_len[f] = 0;
	}
	sodium_memzero(r->justification, sizeof(r->justification));
}

void
outrecord_subject_args(const struct outrecord *r, struct envelope_seal_args *a)
{
	a->subject_ref = r->subject_ref;
	a->pepper_id = r->has_pepper_id ? r->pepper_id : NULL;
}

void
outrecord_emergency_args(
    const struct outrecord *r, struct envelope_seal_args *a)
{
	a->reason = r->reason;
	a->justification = r->justification;
}

/* A key that may be quoted: [A-Za-z_][A-Za-z0-9_]{0,63}. */
static bool
plain_key(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0' && i < KEY_NAME_MAX; i++) {
		char c = k[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_';
		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return i > 0 && k[i] == '\0';
}

/*
 * The path of the key that is the nth (from 1) of its object, under
 * prefix ("" at the top): "prefix.key" for a plain key, otherwise by its
 * position, "prefix.(key 3)", since the key is the file's own text.
 */
static void
key_path(char *out, size_t n, const char *prefix, const char *key, size_t nth)
{
	const char *dot = prefix[0] != '\0' ? "." : "";

	if (plain_key(key))
		snprintf(out, n, "%s%s%s", prefix, dot, key);
	else
		snprintf(out, n, "%s%s(key %zu)", prefix, dot, nth);
}

/*
 * Reports the first key under v (at path) that is not plain; true when
 * there is none. record.c names keys in its messages; this keeps any it
 * would name plain.
 */
static bool
keys_plain(const json_t *v, const char *path, int depth, json_t *errors)
{
	char sub[300];
	const char *key;
	json_t *item;
	size_t i = 0;

	if (depth > KEY_WALK_MAX)
		return true;
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!keys_plain(item, sub, depth + 1, errors))
				return false;
		}
		return true;
	}
	if (!json_is_object(v))
		return true;
	json_object_foreach((json_t *)(uintptr_t)v, key, item)
	{
		i++;
		if (!plain_key(key)) {
			key_path(sub, sizeof(sub), path, key, i);
			outrecord_error(errors, sub,
			    "unknown key (not a name: keys are letters, digits "
			    "and '_')");
			return false;
		}
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (!keys_plain(item, sub, depth + 1, errors))
			return false;
	}
	return true;
}

/* Line and column (from 1) of byte offset off of buf. */
static void
line_col(const uint8_t *buf, size_t off, size_t *line, size_t *col)
{
	size_t start = 0;

	*line = 1;
	for (size_t i = 0; i < off; i++)
		if (buf[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = off - start + 1;
}

/*
 * The offset of the first byte of buf that is not valid UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF) or is NUL; len
 * when there is none.
 */
static size_t
utf8_bad_at(const uint8_t *b, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = b[i];
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			return i;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= len)
				return i;
			uint8_t d = b[i + k];
			if (d < (k == 1 ? lo : 0x80) ||
			    d > (k == 1 ? hi : 0xbf))
				return i;
		}
		i += need + 1;
	}
	return len;
}

/*
 * What jansson found wrong, in words of our own: its message ends by
 * quoting the text near the error ("near 'CCSKEY01'"), which may be
 * anything, so only the kind of error is taken from it.
 */
static const char *
json_problem(const json_error_t *e)
{
	static const struct {
		const char *jansson, *ours;
	} kinds[] = {
	    {"premature end of input",
	        "the file ends before the JSON value does"},
	    {"end of file expected", "there is more after the JSON value"},
	    {"'[' or '{' expected", "a record is a JSON object, '{' ... '}'"},
	    {"string or '}' expected", "expected a key in quotes, or '}'"},
	    {"':' expected", "expected ':' after a key"},
	    {"',' or '}' expected", "expected ',' or '}' in an object"},
	    {"',' or ']' expected", "expected ',' or ']' in a list"},
	    {"unexpected token", "a value was expected here"},
	    {"invalid token",
	        "text outside quotes that is not a number, true, false or "
	        "null"},
	    {"invalid escape", "an invalid escape in a string"},
	    {"invalid Unicode", "an invalid \\u escape in a string"},
	    {"control character",
	        "a control character in a string (it must be escaped)"},
	    {"unable to decode byte", "not UTF-8"},
	    {"duplicate object key", "a key given twice in one object"},
	    {"NUL byte in object key", "a key holding \\u0000"},
	    {"\\u0000 is not allowed", "a string holding \\u0000"},
	    {"too big", "a number too large"},
	    {"real number overflow", "a number too large"},
	    {"maximum parsing depth", "nested too deeply"},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(e->text, kinds[i].jansson,
		        strlen(kinds[i].jansson)) == 0)
			return kinds[i].ours;
	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_premature_end_of_input:
		return "the file ends before the JSON value does";
	case json_error_end_of_input_expected:
		return "there is more after the JSON value";
	case json_error_duplicate_key:
		return "a key given twice in one object";
	case json_error_numeric_overflow:
		return "a number too large";
	default:
		return "invalid syntax";
	}
}

static const char *
str_member(const json_t *o, const char *key, json_t *errors, bool required)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL) {
		if (required)
			outrecord_error(errors, key, "missing");
		return NULL;
	}
	if (!json_is_string(v)) {
		outrecord_error(errors, key, "expected text");
		return NULL;
	}
	return json_string_value(v);
}

/*
 * An emergency's reason (one of the list) and justification (free text
 * for the recipients only: it is sealed), both required then and neither
 * allowed otherwise.
 */
static void
check_emergency(const json_t *o, struct outrecord *r, json_t *errors)
{
	const json_t *j = json_object_get(o, "justification");
	const char *reason = str_member(o, "reason", errors, false);
	const char *text = str_member(o, "justification", errors, false);
	bool emergency = r->urgency == URGENCY_EMERGENCY;

	if (reason != NULL && !emergency)
		outrecord_error(errors, "reason",
		    "only an emergency record gives a reason (urgency is not "
		    "emergency)");
	else if (reason != NULL &&
	    (r->reason = emergency_reason_parse(reason)) == 0)
		outrecord_error(errors, "reason",
		    "unknown reason (expected one of %s)",
		    EMERGENCY_REASON_LIST);
	else if (reason == NULL && emergency &&
	    json_object_get(o, "reason") == NULL)
		outrecord_error(errors, "reason",
		    "missing: an emergency record must give a reason, one of "
		    "%s",
		    EMERGENCY_REASON_LIST);
	if (text == NULL) {
		if (emergency && j == NULL)
			outrecord_error(errors, "justification",
			    "missing: an emergency record must say why, for "
			    "the "
			    "recipients (it is sealed for them: the broker and "
			    "the audit log see only the reason)");
		return;
	}
	if (!emergency)
		outrecord_error(errors, "justification",
		    "only an emergency record carries a justification "
		    "(urgency is not emergency)");
	else if (json_string_length(j) > WIRE_JUSTIFICATION_MAX)
		outrecord_error(errors, "justification",
		    "longer than %d bytes (%zu)", WIRE_JUSTIFICATION_MAX,
		    json_string_length(j));
	else if (strlen(text) != json_string_length(j))
		outrecord_error(
		    errors, "justification", "holds a NUL character");
	else if (text[strspn(text, " \t\r\n")] == '\0')
		outrecord_error(errors, "justification",
		    "empty: an emergency record must say why");
	else
		memcpy(r->justification, text, strlen(text) + 1);
}

static void
check_recipients(const json_t *o, struct outrecord *r, json_t *errors)
{
	json_t *v = json_object_get(o, "recipients"), *item;
	size_t i;

	if (v == NULL) {
		outrecord_error(errors, "recipients", "missing");
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		outrecord_error(errors, "recipients",
		    "expected a list of one or more agency ids");
		return;
	}
	if (json_array_size(v) > WIRE_MAX_RECIPIENTS) {
		outrecord_error(errors, "recipients", "more than %d recipients",
		    WIRE_MAX_RECIPIENTS);
		return;
	}
	json_array_foreach(v, i, item)
	{
		char path[48];
		const char *s = json_string_value(item);
		snprintf(path, sizeof(path), "recipients[%zu]", i);
		if (s == NULL || !ident_agency_valid(s)) {
			outrecord_error(errors, path,
			    "not an agency id ([a-z][a-z0-9_]{0,31})");
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < r->n_recipients; j++)
			dup |= strcmp(r->recipients[j], s) == 0;
		if (dup) {
			outrecord_error(errors, path, "'%s' listed twice", s);
			continue;
		}
		snprintf(r->recipients[r->n_recipients++],
		    sizeof(r->recipients[0]), "%s", s);
	}
}

static void
check_subject(
    const json_t *o, const uint8_t *pepper, struct outrecord *r, json_t *errors)
{
	json_t *s = json_object_get(o, "subject");
	const char *key, *nhs, *sur, *fore, *dob;
	json_t *v;
	int rc;

	if (s == NULL) {
		outrecord_error(errors, "subject", "missing");
		return;
	}
	if (!json_is_object(s)) {
		outrecord_error(errors, "subject",
		    "expected an object with nhs_number, or surname, forename "
		    "and date_of_birth");
		return;
	}
	size_t nth = 0;
	json_object_foreach(s, key, v)
	{
		static const char *const allowed[] = {
		    "nhs_number", "surname", "forename", "date_of_birth"};
		char path[300];
		key_path(path, sizeof(path), "subject", key, ++nth);
		/* A suggestion is worked out only for a key not known. */
		const char *near = NULL;
		if (one_of(key, allowed, 4))
			;
		else if ((near = suggest_closest(key, allowed, 4)) != NULL)
			outrecord_error(errors, path,
			    "unknown key (did you mean '%s'?)", near);
		else
			outrecord_error(errors, path, "unknown key");
		if (!json_is_string(v))
			outrecord_error(errors, path, "expected text");
	}
	nhs = json_string_value(json_object_get(s, "nhs_number"));
	sur = json_string_value(json_object_get(s, "surname"));
	fore = json_string_value(json_object_get(s, "forename"));
	dob = json_string_value(json_object_get(s, "date_of_birth"));
	if (nhs != NULL) {
		if (!keys_nhs_valid(nhs)) {
			outrecord_error(errors, "subject.nhs_number",
			    "not a valid NHS number (ten digits with a "
			    "modulus-11 check digit)");
			return;
		}
		if (pepper != NULL) {
			rc = keys_subject_ref_nhs(pepper, nhs, r->subject_ref);
			r->has_subject_ref = rc == 0;
		}
		return;
	}
	if (sur == NULL || fore == NULL || dob == NULL) {
		outrecord_error(errors, "subject",
		    "needs nhs_number, or surname, forename and "
		    "date_of_birth");
		return;
	}
	uint8_t scratch[KEYS_PEPPER_LEN] = {0};
	rc = keys_subject_ref_name(
	    pepper != NULL ? pepper : scratch, sur, fore, dob, r->subject_ref);
	if (rc != 0) {
		outrecord_error(errors, "subject",
		    "surname and forename must not be empty or hold '|', and "
		    "date_of_birth must be a date YYYY-MM-DD");
		return;
	}
	r->has_subject_ref = pepper != NULL;
	if (pepper == NULL)
		sodium_memzero(r->subject_ref, sizeof(r->subject_ref));
}

static void
check_fields(const json_t *o, struct outrecord *r, json_t *errors)
{
	json_t *fields = json_object_get(o, "fields"), *v;
	const char *key;

	if (fields == NULL) {
		if (r->kind != KIND_REQUEST)
			outrecord_error(errors, "fields", "missing");
		return;
	}
	if (!json_is_object(fields)) {
		outrecord_error(
		    errors, "fields", "expected an object of B8 fields");
		return;
	}
	size_t nth = 0;
	json_object_foreach(fields, key, v)
	{
		char path[300], why[512];
		int f = fields_lookup(key);
		key_path(path, sizeof(path), "fields", key, ++nth);
		if (f == 0) {
			const char *near =
			    suggest_closest(key, fields_names, FIELDS_COUNT);
			if (near != NULL)
				outrecord_error(errors, path,
				    "unknown field (did you mean '%s'?)", near);
			else
				outrecord_error(errors, path,
				    "unknown field (the B8 fields are "
				    "identity, relatives, demographics, "
				    "communication, presentation, substances, "
				    "physical_needs, services, crisis_plan, "
				    "clinical, risks, health, dependents)");
			continue;
		}
		if (!keys_plain(v, path, 0, errors))
			continue;
		why[0] = '\0';
		int rc = record_field_encode(
		    f, v, &r->plain[f], &r->plain_len[f], why, sizeof(why));
		if (rc != 0) {
			/* why reads "risks.self_harm: ..." */
			char *colon = strstr(why, ": ");
			if (colon != NULL) {
				*colon = '\0';
				snprintf(
				    path, sizeof(path), "fields.%.250s", why);
				outrecord_error(errors, path, "%s", colon + 2);
			} else {
				outrecord_error(errors, path, "%s",
				    why[0] ? why : error_strerror(rc));
			}
			continue;
		}
		if (r->plain_len[f] > ENVELOPE_FIELD_MAX) {
			outrecord_error(errors, path,
			    "%zu bytes once encoded, over the limit of %d "
			    "bytes "
			    "(64 KiB) for one field",
			    r->plain_len[f], ENVELOPE_FIELD_MAX);
			continue;
		}
		if (!json_is_null(v))
			r->filled |= FIELDS_BIT(f);
	}
}

static void
check_request(const json_t *o, struct outrecord *r, json_t *errors)
{
	json_t *v = json_object_get(o, "requested_fields"), *item;
	size_t i;

	if (v == NULL) {
		if (r->kind == KIND_REQUEST)
			outrecord_error(errors, "requested_fields",
			    "a request must name the fields it asks for");
		return;
	}
	if (r->kind != KIND_REQUEST) {
		outrecord_error(errors, "requested_fields",
		    "only a record of kind 'request' asks for fields");
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		outrecord_error(errors, "requested_fields",
		    "expected a list of field names");
		return;
	}
	json_array_foreach(v, i, item)
	{
		char path[48];
		const char *s = json_string_value(item);
		int f = s != NULL ? fields_lookup(s) : 0;
		snprintf(path, sizeof(path), "requested_fields[%zu]", i);
		if (f == 0) {
			const char *near = s != NULL
			    ? suggest_closest(s, fields_names, FIELDS_COUNT)
			    : NULL;
			if (near != NULL)
				outrecord_error(errors, path,
				    "unknown field (did you mean '%s'?)", near);
			else
				outrecord_error(
				    errors, path, "not a B8 field name");
			continue;
		}
		r->requested |= FIELDS_BIT(f);
	}
}

int
outrecord_parse(const uint8_t *buf, size_t len, const uint8_t *pepper,
    struct outrecord *r, json_t *errors)
{
	json_error_t jerr;
	json_t *o;
	const char *key, *s;
	json_t *v;
	size_t before = json_array_size(errors), bad, line, col, nth = 0;
	char path[300];

	memset(r, 0, sizeof(*r));
	/* Checked here, not by jansson, to say where without quoting. */
	if ((bad = utf8_bad_at(buf, len)) < len) {
		line_col(buf, bad, &line, &col);
		snprintf(path, sizeof(path), "line %zu", line);
		outrecord_error(errors, path,
		    "%s at byte offset %zu (line %zu, column %zu): a record is "
		    "UTF-8 JSON",
		    buf[bad] == 0 ? "a NUL byte" : "not UTF-8", bad, line, col);
		return ERROR_INVAL;
	}
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		snprintf(path, sizeof(path), "line %d", jerr.line);
		outrecord_error(errors, path,
		    "not valid JSON: %s (line %d, column %d)",
		    json_problem(&jerr), jerr.line, jerr.column);
		return ERROR_INVAL;
	}
	if (!json_is_object(o)) {
		outrecord_error(errors, "", "expected a JSON object");
		json_decref(o);
		return ERROR_INVAL;
	}
	json_object_foreach(o, key, v)
	{
		nth++;
		if (one_of(key, top_keys, N_TOP))
			continue;
		const char *near = suggest_closest(key, top_keys, N_TOP);
		key_path(path, sizeof(path), "", key, nth);
		if (near != NULL)
			outrecord_error(errors, path,
			    "unknown key (did you mean '%s'?)", near);
		else
			outrecord_error(errors, path, "unknown key");
	}
	check_recipients(o, r, errors);
	if ((s = str_member(o, "purpose", errors, true)) != NULL) {
		if (!ident_name_valid(s))
			outrecord_error(errors, "purpose",
			    "not a purpose name (a lower-case letter, then up "
			    "to 63 of a-z, 0-9, '_' and '-')");
		else
			snprintf(r->purpose, sizeof(r->purpose), "%s", s);
	}
	if ((s = str_member(o, "urgency", errors, true)) != NULL &&
	    (r->urgency = urgency_parse(s)) == 0)
		outrecord_error(
		    errors, "urgency", "expected routine, urgent or emergency");
	r->kind = KIND_RECORD;
	if ((s = str_member(o, "kind", errors, false)) != NULL &&
	    (r->kind = urgency_kind_parse(s)) == 0)
		outrecord_error(errors, "kind", "expected record or request");
	if ((s = str_member(o, "local_id", errors, false)) != NULL) {
		if (strlen(s) >= sizeof(r->local_id))
			outrecord_error(errors, "local_id",
			    "longer than %d bytes", OUTRECORD_LOCAL_ID_MAX - 1);
		else
			snprintf(r->local_id, sizeof(r->local_id), "%s", s);
	}
	check_emergency(o, r, errors);
	if ((s = str_member(o, "in_reply_to", errors, false)) != NULL) {
		size_t got = 0;
		if (strlen(s) != 2 * WIRE_MSG_ID_LEN ||
		    sodium_hex2bin(r->in_reply_to, WIRE_MSG_ID_LEN, s,
		        strlen(s), NULL, &got, NULL) != 0 ||
		    got != WIRE_MSG_ID_LEN)
			outrecord_error(errors, "in_reply_to",
			    "expected a msg_id: 32 hexadecimal digits");
		else
			r->has_in_reply_to = true;
	}
	check_subject(o, pepper, r, errors);
	/* Names the pepper in the manifest whenever subject_ref is made. */
	if (r->has_subject_ref) {
		keys_pepper_id(pepper, r->pepper_id);
		r->has_pepper_id = true;
	}
	check_fields(o, r, errors);
	check_request(o, r, errors);
	json_decref(o);
	if (json_array_size(errors) > before) {
		outrecord_release(r);
		return ERROR_INVAL;
	}
	return ERROR_OK;
}
