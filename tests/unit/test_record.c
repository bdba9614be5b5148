/*
 * Unit tests of proto/record.c: each of the thirteen B8 fields (DESIGN.md
 * §2) from record JSON to plaintext and back, and every refusal with its
 * exact message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fields.h"
#include "proto/record.h"
#include "tests/unit/testutil.h"

static json_t *
parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", text, err.text);
	return j;
}

/* Encodes and decodes; the result must equal want (or the input). */
static void
roundtrip(int f, const char *in, const char *want)
{
	json_t *j = parse(in), *w = parse(want != NULL ? want : in), *back;
	uint8_t *plain = NULL;
	size_t len = 0;
	char why[256] = "";

	if (record_field_encode(f, j, &plain, &len, why, sizeof(why)) != 0)
		fail_msg("%s: %s", fields_name(f), why);
	assert_int_equal(record_field_decode(f, plain, len, &back), 0);
	if (!json_equal(back, w)) {
		char *got = json_dumps(back, JSON_SORT_KEYS);
		print_message("field %s: got %s\n", fields_name(f), got);
		free(got);
		fail();
	}
	json_decref(back);
	json_decref(j);
	json_decref(w);
	free(plain);
}

/* Every sub-field of DESIGN.md §2, filled. */
static const char *const full[FIELDS_COUNT + 1] = {
    NULL,
    "{\"name\": \"Alex Example\", \"nhs_number\": \"9434765919\","
    " \"date_of_birth\": \"1990-04-01\", \"address\": \"1 High St,"
    " Bradford BD1 1AA\", \"phone\": \"+44 7700 900123\","
    " \"description\": \"white male, 30s, red jacket\"}",
    "{\"contacts\": [{\"name\": \"Sam Example\", \"relationship\":"
    " \"sister\", \"phone\": \"07700 900456\"}, {\"name\": \"Dr Jones\","
    " \"relationship\": \"carer\"}, {}], \"school\": \"Bradford College\"}",
    "{\"gender\": \"male\", \"age\": 34}",
    "{\"language\": \"Polish\", \"interpreter_needed\": true,"
    " \"needs\": \"BSL interpreter\"}",
    "{\"description\": \"agitated, pacing, talking of voices\"}",
    "{\"alcohol\": true, \"drugs\": false, \"details\": \"smelled of"
    " alcohol\"}",
    "{\"impairments\": \"uses a wheelchair\", \"medicines\":"
    " \"insulin\", \"dietary\": \"gluten free\"}",
    "{\"gp\": \"Dr Patel, Manor Surgery\", \"known_to_mental_health\":"
    " true, \"team\": \"CMHT North\", \"professional\": \"J. Smith\"}",
    "{\"has_plan\": true, \"summary\": \"call sister first\","
    " \"advance_statements\": \"no restraint\"}",
    "{\"diagnosis\": \"bipolar disorder\", \"medication\": \"lithium\","
    " \"therapy\": \"CBT\", \"notes\": \"lithium level due\"}",
    "{\"self_harm\": \"high\", \"suicide\": \"medium\", \"aggression\":"
    " \"low\", \"confusion\": \"none\", \"impaired_judgement\":"
    " \"unknown\", \"self_neglect\": \"low\", \"missing_from_home\":"
    " \"high\", \"details\": \"ligature found 2024\"}",
    "{\"conditions\": \"type 1 diabetes\", \"notes\": \"hypo risk\"}",
    "{\"children\": \"two, aged 4 and 7\", \"dependents\": \"elderly"
    " mother\", \"pets\": \"dog\", \"notes\": \"children at school"
    " until 3pm\"}",
};

static void
test_every_field_roundtrip(void **state)
{
	(void)state;
	for (int f = 1; f <= FIELDS_COUNT; f++)
		roundtrip(f, full[f], NULL);
}

static void
test_every_field_plaintext_is_its_message(void **state)
{
	(void)state;
	/* Encoding is deterministic: the same record, the same plaintext
	 * (so the same padded size on the wire). */
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *j = parse(full[f]);
		uint8_t *a, *b;
		size_t alen, blen;
		assert_int_equal(
		    record_field_encode(f, j, &a, &alen, NULL, 0), 0);
		assert_int_equal(
		    record_field_encode(f, j, &b, &blen, NULL, 0), 0);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		assert_true(alen > 0);
		free(a);
		free(b);
		json_decref(j);
	}
}

static void
test_values_preserved(void **state)
{
	(void)state;
	/* false is not absent. */
	roundtrip(FIELD_COMMUNICATION, "{\"interpreter_needed\": false}", NULL);
	roundtrip(
	    FIELD_SUBSTANCES, "{\"alcohol\": false, \"drugs\": false}", NULL);
	roundtrip(FIELD_SERVICES, "{\"known_to_mental_health\": false}", NULL);
	roundtrip(FIELD_CRISIS_PLAN, "{\"has_plan\": false}", NULL);
	/* Age 0 is an age; the bounds. */
	roundtrip(FIELD_DEMOGRAPHICS, "{\"age\": 0}", NULL);
	roundtrip(FIELD_DEMOGRAPHICS, "{\"age\": 200}", NULL);
	/* Empty text is text. */
	roundtrip(FIELD_IDENTITY, "{\"name\": \"\"}", NULL);
	/* Every level. */
	static const char *const levels[] = {
	    "none", "low", "medium", "high", "unknown"};
	for (size_t i = 0; i < 5; i++) {
		char in[128];
		snprintf(in, sizeof(in),
		    "{\"self_harm\": \"%s\", \"missing_from_home\": \"%s\"}",
		    levels[i], levels[4 - i]);
		roundtrip(FIELD_RISKS, in, NULL);
	}
	/* UTF-8 and JSON escapes. */
	roundtrip(FIELD_IDENTITY,
	    "{\"name\": \"Zo\\u00eb \\u017b\\u00f3\\u0142\\u0107\","
	    " \"description\": \"line one\\nline two\\t\\\"quoted\\\"\"}",
	    NULL);
	/* null is the same as absent; the empty list is absent. */
	roundtrip(FIELD_IDENTITY, "{\"name\": null, \"phone\": \"1\"}",
	    "{\"phone\": \"1\"}");
	roundtrip(
	    FIELD_RELATIVES, "{\"contacts\": [], \"school\": null}", "{}");
	/* The most contacts. */
	{
		json_t *j = json_object(), *list = json_array();
		for (int i = 0; i < 64; i++)
			json_array_append_new(
			    list, json_pack("{s:s}", "name", "c"));
		json_object_set_new(j, "contacts", list);
		char *text = json_dumps(j, 0);
		roundtrip(FIELD_RELATIVES, text, NULL);
		free(text);
		json_decref(j);
	}
}

static void
test_empty(void **state)
{
	uint8_t *plain = NULL;
	size_t len = 99;
	json_t *back, *empty = json_object();

	(void)state;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		/* NULL, JSON null and {} are all the empty plaintext. */
		assert_int_equal(
		    record_field_encode(f, NULL, &plain, &len, NULL, 0), 0);
		assert_non_null(plain);
		assert_int_equal(len, 0);
		free(plain);
		json_t *jn = json_null();
		assert_int_equal(
		    record_field_encode(f, jn, &plain, &len, NULL, 0), 0);
		assert_int_equal(len, 0);
		free(plain);
		assert_int_equal(
		    record_field_encode(f, empty, &plain, &len, NULL, 0), 0);
		assert_int_equal(len, 0);
		assert_int_equal(record_field_decode(f, plain, len, &back), 0);
		assert_true(json_equal(back, empty));
		json_decref(back);
		free(plain);
	}
	json_decref(empty);
}

/* Encoding in must fail with ERROR_INVAL and exactly the message want. */
static void
refused(int f, const char *in, const char *want)
{
	json_t *j = parse(in);
	uint8_t *plain = (uint8_t *)&j;
	size_t len = 7;
	char why[512] = "";

	assert_int_equal(
	    record_field_encode(f, j, &plain, &len, why, sizeof(why)),
	    ERROR_INVAL);
	assert_null(plain);
	assert_int_equal(len, 0);
	if (strcmp(why, want) != 0)
		fail_msg("for %s\n got: %s\nwant: %s", in, why, want);
	/* A NULL why is allowed. */
	assert_int_equal(
	    record_field_encode(f, j, &plain, &len, NULL, 0), ERROR_INVAL);
	json_decref(j);
}

static void
test_unknown_keys(void **state)
{
	(void)state;
	refused(FIELD_IDENTITY, "{\"nmae\": \"x\"}",
	    "identity.nmae: unknown key (did you mean 'name'?)");
	refused(
	    FIELD_IDENTITY, "{\"nhs\": \"x\"}", "identity.nhs: unknown key");
	refused(FIELD_IDENTITY, "{\"date_of_brith\": \"x\"}",
	    "identity.date_of_brith: unknown key (did you mean "
	    "'date_of_birth'?)");
	refused(FIELD_RISKS, "{\"self_ham\": \"high\"}",
	    "risks.self_ham: unknown key (did you mean 'self_harm'?)");
	refused(FIELD_RISKS, "{\"weapons\": \"high\"}",
	    "risks.weapons: unknown key");
	refused(FIELD_SERVICES, "{\"known_to_mental_heath\": true}",
	    "services.known_to_mental_heath: unknown key (did you mean "
	    "'known_to_mental_health'?)");
	refused(FIELD_RELATIVES,
	    "{\"contacts\": [{\"name\": \"a\"}, {\"phon\": \"1\"}]}",
	    "relatives.contacts[1].phon: unknown key (did you mean "
	    "'phone'?)");
	/* A field's sub-field is not another field's. */
	refused(FIELD_DEMOGRAPHICS, "{\"name\": \"x\"}",
	    "demographics.name: unknown key");
	refused(FIELD_DEMOGRAPHICS, "{\"Age\": 3}",
	    "demographics.Age: unknown key (did you mean 'age'?)");
}

static void
test_wrong_types(void **state)
{
	(void)state;
	refused(FIELD_IDENTITY, "\"Alex\"", "identity: expected an object");
	refused(FIELD_IDENTITY, "[]", "identity: expected an object");
	refused(
	    FIELD_IDENTITY, "{\"name\": 5}", "identity.name: expected text");
	refused(FIELD_IDENTITY, "{\"name\": [\"a\"]}",
	    "identity.name: expected text");
	refused(FIELD_IDENTITY, "{\"name\": \"a\\u0000b\"}",
	    "identity.name: text holds a NUL character");
	refused(FIELD_COMMUNICATION, "{\"interpreter_needed\": \"yes\"}",
	    "communication.interpreter_needed: expected true or false");
	refused(FIELD_SUBSTANCES, "{\"alcohol\": 1}",
	    "substances.alcohol: expected true or false");
	refused(FIELD_CRISIS_PLAN, "{\"has_plan\": null, \"summary\": false}",
	    "crisis_plan.summary: expected text");
	refused(FIELD_RELATIVES, "{\"contacts\": {\"name\": \"a\"}}",
	    "relatives.contacts: expected a list");
	refused(FIELD_RELATIVES, "{\"contacts\": [\"Sam\"]}",
	    "relatives.contacts[0]: expected an object");
	refused(FIELD_RELATIVES, "{\"contacts\": [{}, {\"name\": 3}]}",
	    "relatives.contacts[1].name: expected text");
	{
		json_t *j = json_object(), *list = json_array();
		for (int i = 0; i < 65; i++)
			json_array_append_new(list, json_object());
		json_object_set_new(j, "contacts", list);
		char *text = json_dumps(j, 0);
		refused(FIELD_RELATIVES, text,
		    "relatives.contacts: more than 64 entries");
		free(text);
		json_decref(j);
	}
}

static void
test_levels(void **state)
{
	static const char *const bad[] = {"\"severe\"", "\"HIGH\"", "\"unset\"",
	    "\"level_high\"", "\"\"", "4", "true", "null"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[128];
		if (strcmp(bad[i], "null") == 0)
			continue; /* null is absent, not a level */
		snprintf(in, sizeof(in), "{\"suicide\": %s}", bad[i]);
		refused(FIELD_RISKS, in,
		    "risks.suicide: expected one of none, low, medium, high, "
		    "unknown");
	}
	refused(FIELD_RISKS, "{\"missing_from_home\": \"sometimes\"}",
	    "risks.missing_from_home: expected one of none, low, medium, "
	    "high, unknown");
	roundtrip(FIELD_RISKS, "{\"suicide\": null}", "{}");
}

static void
test_age_range(void **state)
{
	static const char *const bad[] = {"-1", "201", "1.5", "\"12\"", "true",
	    "4294967296", "9223372036854775807"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[128];
		snprintf(in, sizeof(in), "{\"age\": %s}", bad[i]);
		refused(FIELD_DEMOGRAPHICS, in,
		    "demographics.age: expected a whole number from 0 to 200");
	}
}

static void
test_field_numbers(void **state)
{
	json_t *j = parse("{}"), *back = NULL;
	uint8_t *plain = NULL;
	size_t len;

	(void)state;
	assert_int_equal(
	    record_field_encode(0, j, &plain, &len, NULL, 0), ERROR_INVAL);
	assert_int_equal(
	    record_field_encode(14, j, &plain, &len, NULL, 0), ERROR_INVAL);
	assert_int_equal(
	    record_field_encode(-1, j, &plain, &len, NULL, 0), ERROR_INVAL);
	assert_int_equal(
	    record_field_decode(0, (const uint8_t *)"", 0, &back), ERROR_INVAL);
	assert_int_equal(record_field_decode(14, (const uint8_t *)"", 0, &back),
	    ERROR_INVAL);
	assert_null(back);
	json_decref(j);
}

static void
test_decode_refusals(void **state)
{
	json_t *back = (json_t *)&back;
	uint8_t *plain;
	size_t len;

	(void)state;
	/* Not protobuf. */
	assert_int_equal(record_field_decode(FIELD_IDENTITY,
	                     (const uint8_t *)"\xff\xff\xff", 3, &back),
	    ERROR_DECODE);
	assert_null(back);
	/* A field number the message does not have. */
	assert_int_equal(record_field_decode(FIELD_PRESENTATION,
	                     (const uint8_t *)"\x10\x01", 2, &back),
	    ERROR_DECODE);
	/* Unknown fields, at the top and inside a contact. */
	{
		json_t *j = parse(full[FIELD_RELATIVES]);
		assert_int_equal(record_field_encode(
		                     FIELD_RELATIVES, j, &plain, &len, NULL, 0),
		    0);
		uint8_t *more = malloc(len + 2);
		memcpy(more, plain, len);
		more[len] = 9 << 3; /* field 9, varint */
		more[len + 1] = 1;
		assert_int_equal(
		    record_field_decode(FIELD_RELATIVES, more, len + 2, &back),
		    ERROR_DECODE);
		free(more);
		free(plain);
		json_decref(j);
	}
	{
		/* Relatives { contacts { name "a", field 4: 1 } } */
		static const uint8_t nested[] = {
		    0x0a, 0x05, 0x0a, 0x01, 'a', 0x20, 0x01};
		assert_int_equal(record_field_decode(FIELD_RELATIVES, nested,
		                     sizeof(nested), &back),
		    ERROR_DECODE);
		/* ...and without the stray field, it decodes. */
		static const uint8_t ok[] = {0x0a, 0x03, 0x0a, 0x01, 'a'};
		assert_int_equal(
		    record_field_decode(FIELD_RELATIVES, ok, sizeof(ok), &back),
		    0);
		json_t *w = parse("{\"contacts\": [{\"name\": \"a\"}]}");
		assert_true(json_equal(back, w));
		json_decref(w);
		json_decref(back);
	}
	/* Text that is not UTF-8, at the top or in a contact: refused,
	 * where it was once silently left out of the record. */
	{
		static const uint8_t top[] = {0x0a, 0x02, 0xc3, 0x28};
		static const uint8_t nested[] = {
		    0x0a, 0x07, 0x0a, 0x01, 'a', 0x12, 0x02, 0xff, 'x'};
		static const uint8_t second[] = {
		    0x0a, 0x01, 'a', 0x1a, 0x01, 0x80};
		assert_int_equal(record_field_decode(
		                     FIELD_IDENTITY, top, sizeof(top), &back),
		    ERROR_DECODE);
		assert_null(back);
		assert_int_equal(record_field_decode(FIELD_RELATIVES, nested,
		                     sizeof(nested), &back),
		    ERROR_DECODE);
		assert_int_equal(record_field_decode(FIELD_IDENTITY, second,
		                     sizeof(second), &back),
		    ERROR_DECODE);
		assert_null(back);
	}
	/* Text holding a NUL: refused, where it was once cut short. */
	{
		static const uint8_t nul[] = {0x0a, 0x03, 'a', 0x00, 'b'};
		assert_int_equal(record_field_decode(
		                     FIELD_IDENTITY, nul, sizeof(nul), &back),
		    ERROR_DECODE);
		assert_null(back);
	}
	/* Encodings other than the canonical one: a field twice, a bool
	 * as a long varint. */
	{
		static const uint8_t twice[] = {
		    0x0a, 0x01, 'a', 0x0a, 0x01, 'b'};
		static const uint8_t longbool[] = {0x08, 0x81, 0x00};
		assert_int_equal(record_field_decode(FIELD_IDENTITY, twice,
		                     sizeof(twice), &back),
		    ERROR_DECODE);
		assert_int_equal(record_field_decode(FIELD_SUBSTANCES, longbool,
		                     sizeof(longbool), &back),
		    ERROR_DECODE);
		assert_null(back);
	}
	/* A level that is none of the choices (out of range, or the unset
	 * value written explicitly): refused, where it was once silently
	 * left out of the record. */
	{
		static const uint8_t nine[] = {0x08, 0x09};  /* self_harm 9 */
		static const uint8_t unset[] = {0x10, 0x00}; /* suicide 0 */
		static const uint8_t high[] = {0x10, 0x04};  /* suicide high */
		assert_int_equal(
		    record_field_decode(FIELD_RISKS, nine, sizeof(nine), &back),
		    ERROR_DECODE);
		assert_null(back);
		assert_int_equal(record_field_decode(
		                     FIELD_RISKS, unset, sizeof(unset), &back),
		    ERROR_DECODE);
		assert_int_equal(
		    record_field_decode(FIELD_RISKS, high, sizeof(high), &back),
		    0);
		json_t *w = parse("{\"suicide\": \"high\"}");
		assert_true(json_equal(back, w));
		json_decref(w);
		json_decref(back);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_field_roundtrip),
	    cmocka_unit_test(test_every_field_plaintext_is_its_message),
	    cmocka_unit_test(test_values_preserved),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_age_range),
	    cmocka_unit_test(test_field_numbers),
	    cmocka_unit_test(test_decode_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
