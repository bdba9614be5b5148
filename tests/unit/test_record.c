/*
 * Unit tests of proto/record.c: each of the thirteen B8 fields (DESIGN.md
 * §2) from record JSON to plaintext and back, every refusal with its
 * exact message, the decode budget on plaintexts, and no plaintext left in
 * freed memory after the whole path an agent takes with a record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/fields.h"
#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "tests/unit/testutil.h"

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

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

/* ------------------------------------------------ the decode budget */

/* The largest plaintexts a sender's encoder makes still decode. */
static void
test_largest_plaintexts_decode(void **state)
{
	json_t *j, *back, *list;
	uint8_t *plain = NULL;
	size_t len = 0;
	char why[256] = "", *text;

	(void)state;
	/* One text as long as a field may be. */
	text = malloc(ENVELOPE_FIELD_MAX);
	assert_non_null(text);
	memset(text, 'n', ENVELOPE_FIELD_MAX - 8);
	text[ENVELOPE_FIELD_MAX - 8] = '\0';
	j = json_pack("{s:s}", "notes", text);
	assert_int_equal(record_field_encode(
	                     FIELD_CLINICAL, j, &plain, &len, why, sizeof(why)),
	    0);
	assert_true(len <= ENVELOPE_FIELD_MAX);
	assert_int_equal(
	    record_field_decode(FIELD_CLINICAL, plain, len, &back), 0);
	assert_true(json_equal(j, back));
	json_decref(back);
	json_decref(j);
	free(plain);
	free(text);

	/* The longest list, of the smallest entries: the most entries per
	 * byte an encoder writes. */
	list = json_array();
	for (int i = 0; i < 64; i++)
		json_array_append_new(list, json_pack("{s:s}", "name", ""));
	j = json_pack("{s:o}", "contacts", list);
	assert_int_equal(record_field_encode(FIELD_RELATIVES, j, &plain, &len,
	                     why, sizeof(why)),
	    0);
	assert_int_equal(
	    record_field_decode(FIELD_RELATIVES, plain, len, &back), 0);
	assert_int_equal(
	    json_array_size(json_object_get(back, "contacts")), 64);
	json_decref(back);
	json_decref(j);
	free(plain);
}

struct flood {
	const uint8_t *buf;
	size_t len;
};

static int
decode_flood(void *arg)
{
	const struct flood *fl = arg;
	json_t *j = NULL;
	int rc = record_field_decode(FIELD_RELATIVES, fl->buf, fl->len, &j);

	json_decref(j);
	return rc;
}

/*
 * A Relatives plaintext of 64 KiB of empty contacts (two bytes each, some
 * 32,000 of them) is refused, and what it cost while refused is bounded.
 */
static void
test_plaintext_flood_refused(void **state)
{
	struct flood fl;
	uint8_t *buf;
	size_t grown;

	(void)state;
	buf = malloc(ENVELOPE_FIELD_MAX);
	assert_non_null(buf);
	for (size_t i = 0; i + 1 < ENVELOPE_FIELD_MAX; i += 2) {
		buf[i] = 0x0a; /* contacts = 1, length-delimited */
		buf[i + 1] = 0x00;
	}
	fl.buf = buf;
	fl.len = ENVELOPE_FIELD_MAX;
	assert_int_equal(
	    tu_peak_growth(decode_flood, &fl, &grown), ERROR_DECODE);
	print_message(
	    "32768 empty contacts: peak grew %zu KiB\n", grown / 1024);
	assert_true(grown < 2 * 1024 * 1024);
	free(buf);
}

/* ------------------------------------- plaintext left in freed memory */

struct agents {
	struct tu_agency police, mht;
};

#define CHILD_CHECK(c)                                                         \
	do {                                                                   \
		if (!(c))                                                      \
			tu_child_fail("%s:%d: %s", __FILE__, __LINE__, #c);    \
	} while (0)

/*
 * What concordat-agent does with a record, both ways, in one process:
 * parse an outbox record's JSON and encode its fields (agents/outrecord.c),
 * seal them, let the broker check and redact the frame, then as the
 * recipient decode the delivery, open it, decode each field to JSON and
 * write the inbox record's text (agents/inbox.c). Everything is freed the
 * way the agent frees it; the explicit copies of text are wiped first.
 */
static void
agent_paths(const char *canary, void *arg)
{
	/* Texts of several sizes, so that the copies land in every kind of
	 * heap block: small and large, reused soon and not. */
	static const char fmt[] =
	    "{\"recipients\": [\"mental_health_trust\"],"
	    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
	    " \"subject\": {\"nhs_number\": \"9434765919\"},"
	    " \"fields\": {"
	    "  \"identity\": {\"name\": \"Jane Example %s\","
	    "   \"address\": \"1 Example Road, %s, Bradford\"},"
	    "  \"relatives\": {\"contacts\": [{\"name\": \"Sam %s\","
	    "   \"relationship\": \"sister\", \"phone\": \"07700 900123\"}]},"
	    "  \"presentation\": {\"description\": \"%.300s %s %.300s\"},"
	    "  \"clinical\": {\"notes\": \"%s %s %s\"},"
	    "  \"risks\": {\"self_harm\": \"high\", \"details\": \"Said %s "
	    "to the officer\"}}}";
	static char filler[5000];
	const struct agents *ag = arg;
	const char *recipients[1] = {ag->mht.id};
	struct envelope_seal_args sa;
	struct envelope_opened *o = NULL;
	struct wire_frame *sub = NULL, *del = NULL;
	struct wire_audit_proof proof;
	uint8_t shared[1][32], msg_id[16], ref[32] = {1};
	uint8_t *plain[FIELDS_COUNT + 1] = {0}, *frame, *red, *dframe;
	size_t plain_len[FIELDS_COUNT + 1] = {0}, flen, rlen, dlen, tlen;
	json_t *rec, *fields, *v;
	json_error_t jerr;
	fieldset sent;
	const char *key;
	char *text;

	record_wipe_on_free(); /* what the agent's main calls first */

	/* The outbox file and its parse. */
	memset(filler, 'x', sizeof(filler) - 1);
	tlen = sizeof(fmt) + 6 * TU_CANARY_LEN + 2 * 300 + 2 * sizeof(filler);
	CHILD_CHECK((text = malloc(tlen)) != NULL);
	snprintf(text, tlen, fmt, canary, canary, canary, filler, canary,
	    filler, filler, canary, filler, canary);
	rec = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &jerr);
	sodium_memzero(text, tlen);
	free(text);
	CHILD_CHECK(rec != NULL);
	json_object_foreach(json_object_get(rec, "fields"), key, v)
	{
		int f = fields_lookup(key);
		char why[256];
		CHILD_CHECK(f != 0);
		CHILD_CHECK(record_field_encode(f, v, &plain[f], &plain_len[f],
		                why, sizeof(why)) == 0);
	}
	json_decref(rec);

	/* Sealed, then wiped the way outrecord_release wipes. */
	memset(&sa, 0, sizeof(sa));
	sa.sender = ag->police.id;
	sa.sign_sk = ag->police.sign_sk;
	sa.created_at_ms = 1795000000000ull;
	sa.kind = KIND_RECORD;
	sa.urgency = URGENCY_URGENT;
	sa.purpose = "triage_advice";
	sa.subject_ref = ref;
	sa.n_recipients = 1;
	sa.recipients = recipients;
	tu_shared(&ag->police, &ag->mht, shared[0]);
	sa.shared = (const uint8_t(*)[32])shared;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		sa.plain[f] = plain[f];
		sa.plain_len[f] = plain_len[f];
	}
	CHILD_CHECK(envelope_seal(&sa, msg_id, &frame, &flen) == 0);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (plain[f] != NULL)
			sodium_memzero(plain[f], plain_len[f]);
		free(plain[f]);
	}

	/* The broker's part: ciphertext only. */
	CHILD_CHECK(envelope_check(
	                frame, flen, ag->police.sign_pk, &sub, NULL, 0) == 0);
	CHILD_CHECK(envelope_redact(&sub->u.submit, ag->mht.id, FIELDS_ALL,
	                &sent, &red, &rlen) == 0);
	tu_dummy_proof(&proof);
	CHILD_CHECK(
	    wire_delivery_frame(red, rlen, &proof, &dframe, &dlen) == 0);

	/* The recipient's part. */
	CHILD_CHECK(wire_decode(dframe, dlen, &del, NULL, 0) == 0);
	tu_shared(&ag->mht, &ag->police, shared[0]);
	CHILD_CHECK(envelope_open(&del->u.delivery, ag->mht.id,
	                ag->police.sign_pk, shared[0], &o) == 0);
	sodium_memzero(shared, sizeof(shared));
	CHILD_CHECK((fields = json_object()) != NULL);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (!fields_has(o->disclosed, f) || o->plain_len[f] == 0)
			continue;
		CHILD_CHECK(record_field_decode(
		                f, o->plain[f], o->plain_len[f], &v) == 0);
		json_object_set_new(fields, fields_name(f), v);
	}
	rec = json_pack("{s:s,s:s,s:o}", "sender", del->u.delivery.m.sender,
	    "purpose", del->u.delivery.m.purpose, "fields", fields);
	CHILD_CHECK(rec != NULL);
	CHILD_CHECK((text = json_dumps(rec, JSON_INDENT(2))) != NULL);
	/* The decoded record really holds the canary. */
	CHILD_CHECK(strstr(text, canary) != NULL);
	sodium_memzero(text, strlen(text));
	free(text);
	json_decref(rec);
	envelope_opened_free(o);
	wire_frame_free(del);
	wire_frame_free(sub);
	free(dframe);
	free(red);
	free(frame);
}

static void
test_plaintext_wiped_from_freed_memory(void **state)
{
	struct agents ag;

	(void)state;
	tu_agency_init(&ag.police, "police", 0);
	tu_agency_init(&ag.mht, "mental_health_trust", 0);
	assert_int_equal(tu_canary_survivors(agent_paths, &ag), 0);
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
	    cmocka_unit_test(test_largest_plaintexts_decode),
	    cmocka_unit_test(test_plaintext_flood_refused),
	    cmocka_unit_test(test_plaintext_wiped_from_freed_memory),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
