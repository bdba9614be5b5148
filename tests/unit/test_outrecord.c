/*
 * Unit tests of the outbox record parser's messages (agents/outrecord.c):
 * whatever the file holds, an error names where and what, and never
 * quotes the file's bytes (a key file, a pepper, a name that is not a
 * name); every problem is still listed, up to the cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agents/outrecord.h"
#include "common/urgency.h"

#define GOOD_TAIL                                                              \
	"\"recipients\": [\"mental_health_trust\"], "                          \
	"\"purpose\": \"triage_advice\", \"urgency\": \"urgent\", "            \
	"\"subject\": {\"nhs_number\": \"9434765919\"}"

/* The errors of parsing len bytes at buf (the caller decrefs). */
static json_t *
parse(const void *buf, size_t len)
{
	struct outrecord r;
	json_t *errors = json_array();

	assert_non_null(errors);
	if (outrecord_parse(buf, len, NULL, &r, errors) == 0)
		outrecord_release(&r);
	return errors;
}

static json_t *
parse_text(const char *text)
{
	return parse(text, strlen(text));
}

/* All of errors as text, for searching. */
static char *
dump(const json_t *errors)
{
	char *d = json_dumps(errors, 0);

	assert_non_null(d);
	return d;
}

/* Fails when the errors quote needle. */
static void
assert_unquoted(const json_t *errors, const char *needle)
{
	char *d = dump(errors);

	if (strstr(d, needle) != NULL)
		fail_msg("'%s' is quoted: %s", needle, d);
	free(d);
}

/* The one error's path and message, checked. */
static void
assert_one(const json_t *errors, const char *path, const char *says)
{
	char *d = dump(errors);
	const json_t *e = json_array_get(errors, 0);

	if (json_array_size(errors) != 1 ||
	    strcmp(json_string_value(json_object_get(e, "path")), path) != 0 ||
	    strstr(json_string_value(json_object_get(e, "message")), says) ==
	        NULL)
		fail_msg("expected one error at '%s' saying '%s': %s", path,
		    says, d);
	free(d);
}

/* A secret key file's first bytes, and text that begins with its magic. */
static void
key_file_not_quoted(void **state)
{
	static const uint8_t key[32] = {'C', 'C', 'S', 'K', 'E', 'Y', '0', '1',
	    1, 'p', 'o', 'l', 'i', 'c', 'e', 0, 0, 0, 0x9a, 0xfe};
	json_t *e;

	(void)state;
	e = parse(key, sizeof(key));
	assert_one(e, "line 1", "a NUL byte at byte offset 15");
	assert_unquoted(e, "CCSKEY");
	json_decref(e);
	/* Without the NUL, jansson's own message would say "near
	 * 'CCSKEY01'". */
	e = parse_text("CCSKEY01 police");
	assert_one(e, "line 1", "not valid JSON");
	assert_unquoted(e, "CCSKEY");
	assert_unquoted(e, "police");
	json_decref(e);
}

/* A pepper file: 64 hex digits and a newline. No 8 of them in a row. */
static void
pepper_not_quoted(void **state)
{
	/* Digits, then 'e': jansson took these for numbers and quoted up
	 * to 20 of them. */
	static const char *const peppers[] = {
	    "1234567eabcdef0123456789abcdef0123456789abcdef0123456789abcdef01"
	    "\n",
	    "12345678e0123456789abcdef0123456789abcdef0123456789abcdef0123456"
	    "\n",
	    "8f3a9c01d2e4b5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e"
	    "\n",
	    "af3a9c01d2e4b5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e"
	    "\n",
	    "12345678901234567890123456789012345678901234567890123456789012ab"
	    "\n",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(peppers) / sizeof(peppers[0]); k++) {
		json_t *e = parse_text(peppers[k]);
		char *d = dump(e);
		assert_int_equal(json_array_size(e), 1);
		assert_non_null(strstr(d, "not valid JSON"));
		for (size_t i = 0; i + 8 <= 64; i++)
			if (memmem(d, strlen(d), peppers[k] + i, 8) != NULL)
				fail_msg("pepper quoted: %s", d);
		free(d);
		json_decref(e);
	}
}

/* Line, column and kind for syntax errors; the token never. */
static void
json_errors_placed(void **state)
{
	json_t *e;

	(void)state;
	e = parse_text("{\"purpose\": \"x\",\n \"urgency\": secretword}");
	assert_one(e, "line 2", "line 2, column");
	assert_unquoted(e, "secretword");
	json_decref(e);
	e = parse_text("{\"purpose\": \"x\",\n \"urgency\": \"urgent\"");
	assert_one(e, "line 2", "the file ends before the JSON value does");
	json_decref(e);
	e = parse_text("{\"purpose\": \"x\"} trailing");
	assert_one(e, "line 1", "there is more after the JSON value");
	assert_unquoted(e, "trailing");
	json_decref(e);
	e = parse_text("{\"secretkey\": 1, \"secretkey\": 2}");
	assert_one(e, "line 1", "a key given twice");
	assert_unquoted(e, "secretkey");
	json_decref(e);
	e = parse_text("[\"secret\"]");
	assert_one(e, "", "expected a JSON object");
	assert_unquoted(e, "secret");
	json_decref(e);
}

/* Bytes that are not UTF-8: the first bad one's offset, line, column. */
static void
utf8_offsets(void **state)
{
	static const struct {
		const char *text;
		const char *says;
	} bad[] = {
	    {"{\"a\": \"caf\xe9\"}",
	        "not UTF-8 at byte offset 10 (line 1, "
	        "column 11)"},
	    {"{\n\"a\": \"\xc0\xaf\"}",
	        "not UTF-8 at byte offset 8 (line 2, "
	        "column 7)"},                               /* overlong '/' */
	    {"{\"a\": \"\xed\xa0\x80\"}", "byte offset 7"}, /* a surrogate */
	    {"{\"a\": \"\xf4\x90\x80\x80\"}", "byte offset 7"}, /* > 10FFFF */
	    {"{\"a\": \"\xe2\x82", "byte offset 7"},            /* cut short */
	    {"{\"a\": \"\x80\"}", "byte offset 7"}, /* a lone follower */
	};
	json_t *e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = parse_text(bad[i].text);
		assert_one(e, strchr(bad[i].text, '\n') ? "line 2" : "line 1",
		    bad[i].says);
		json_decref(e);
	}
	/* Good UTF-8 of every length passes this check. */
	e = parse_text(
	    "{" GOOD_TAIL ", \"fields\": {\"identity\": "
	    "{\"name\": \"Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80\"}}}");
	assert_int_equal(json_array_size(e), 0);
	json_decref(e);
}

/* Keys that are not plain names are placed, not quoted. */
static void
keys_by_position(void **state)
{
	json_t *e;

	(void)state;
	e = parse_text("{" GOOD_TAIL ", \"fields\": {}, \"sec ret\": 1}");
	assert_one(e, "(key 6)", "unknown key");
	assert_unquoted(e, "sec ret");
	json_decref(e);
	e = parse_text("{" GOOD_TAIL ", \"fields\": {\"risks\": {}, "
	               "\"x\\u00e9y\": {}}}");
	assert_one(e, "fields.(key 2)", "unknown field");
	json_decref(e);
	e = parse_text("{" GOOD_TAIL ", \"fields\": {\"identity\": "
	               "{\"name\": \"a\", \"pass word\": \"b\"}}}");
	assert_one(e, "fields.identity.(key 2)", "unknown key");
	assert_unquoted(e, "pass word");
	json_decref(e);
	e = parse_text(
	    "{\"recipients\": [\"mental_health_trust\"], "
	    "\"purpose\": \"triage_advice\", \"urgency\": \"urgent\", "
	    "\"subject\": {\"nhs_number\": \"9434765919\", "
	    "\"sur-name\": \"x\"}, \"fields\": {}}");
	assert_unquoted(e, "sur-name");
	json_decref(e);
	/* A plain key is still quoted, with a suggestion. */
	e = parse_text("{" GOOD_TAIL ", \"fields\": {\"clincal\": {}}}");
	assert_one(e, "fields.clincal", "did you mean 'clinical'?");
	json_decref(e);
}

/* Values are not quoted when they fail their check. */
static void
values_not_quoted(void **state)
{
	json_t *e = parse_text(
	    "{\"recipients\": [\"mental_health_trust\"], "
	    "\"purpose\": \"Secret Purpose!\", \"urgency\": \"urgent\", "
	    "\"subject\": {\"nhs_number\": \"9434765919\"}, \"fields\": {}}");

	(void)state;
	assert_one(e, "purpose", "not a purpose name");
	assert_unquoted(e, "Secret");
	json_decref(e);
}

/* A field over 64 KiB once encoded: which, and the limit. */
static void
oversized_field(void **state)
{
	size_t n = 70000;
	char *text = malloc(n + 512);
	int w;

	(void)state;
	assert_non_null(text);
	w = snprintf(text, 512,
	    "{" GOOD_TAIL ", \"fields\": {\"risks\": {\"self_harm\": "
	    "\"low\"}, \"presentation\": {\"description\": \"");
	memset(text + w, 'x', n);
	snprintf(text + w + n, 64, "\"}}}");
	json_t *e = parse_text(text);
	assert_one(e, "fields.presentation", "over the limit of 65536 bytes");
	json_decref(e);
	free(text);
}

/* A million problems make a short list. */
static void
errors_capped(void **state)
{
	size_t n = 5000;
	char *text = malloc(n * 12 + 16), *p = text;

	(void)state;
	assert_non_null(text);
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"k%zu\": 1", i ? ", " : "", i);
	*p++ = '}';
	*p = '\0';
	json_t *e = parse_text(text);
	assert_int_equal(json_array_size(e), OUTRECORD_MAX_ERRORS + 1);
	assert_non_null(
	    strstr(json_string_value(json_object_get(
	               json_array_get(e, OUTRECORD_MAX_ERRORS), "message")),
	        "more problems"));
	json_decref(e);
	free(text);
}

/* A record of urgency u with more members (", ..." or ""). */
static json_t *
parse_emergency(const char *u, const char *more, struct outrecord *r, int *rc)
{
	static char text[4096 + 512];
	json_t *errors = json_array();

	snprintf(text, sizeof(text),
	    "{\"recipients\": [\"police\"], \"purpose\": \"triage_advice\", "
	    "\"urgency\": \"%s\", \"subject\": {\"nhs_number\": "
	    "\"9434765919\"}, \"fields\": {\"risks\": {\"self_harm\": "
	    "\"high\"}}%s}",
	    u, more);
	*rc = outrecord_parse(
	    (const uint8_t *)text, strlen(text), NULL, r, errors);
	return errors;
}

/* An emergency gives a reason from the list and a justification; no
 * other record gives either; each problem named. */
static void
emergency_reason_and_justification(void **state)
{
	static char more[2200 + 64], text[2100];
	struct outrecord r;
	json_t *e;
	int rc;

	(void)state;
	e = parse_emergency("emergency",
	    ", \"reason\": \"risk_to_life\", \"justification\": \"on a "
	    "bridge\"",
	    &r, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(r.reason, EMERGENCY_REASON_RISK_TO_LIFE);
	assert_string_equal(r.justification, "on a bridge");
	outrecord_release(&r);
	json_decref(e);

	e = parse_emergency("emergency", "", &r, &rc);
	assert_int_not_equal(rc, 0);
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(e, 0), "path")),
	    "reason");
	assert_non_null(strstr(
	    json_string_value(json_object_get(json_array_get(e, 0), "message")),
	    "missing: an emergency record must give a reason, one of "
	    "risk_to_life, serious_harm, safeguarding_child, "
	    "safeguarding_adult"));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(e, 1), "path")),
	    "justification");
	json_decref(e);

	e = parse_emergency("emergency",
	    ", \"reason\": \"danger\", \"justification\": \"x\"", &r, &rc);
	assert_one(e, "reason",
	    "unknown reason (expected one of risk_to_life, serious_harm, "
	    "safeguarding_child, safeguarding_adult)");
	assert_unquoted(e, "danger");
	json_decref(e);

	e = parse_emergency("urgent", ", \"justification\": \"x\"", &r, &rc);
	assert_one(e, "justification",
	    "only an emergency record carries a justification");
	json_decref(e);
	e = parse_emergency(
	    "routine", ", \"reason\": \"serious_harm\"", &r, &rc);
	assert_one(e, "reason", "only an emergency record gives a reason");
	json_decref(e);

	e = parse_emergency("emergency",
	    ", \"reason\": \"serious_harm\", \"justification\": \" \\n \"", &r,
	    &rc);
	assert_one(e, "justification", "empty");
	json_decref(e);

	/* 2,048 bytes, and one more. */
	memset(text, 'j', 2049);
	text[2049] = '\0';
	snprintf(more, sizeof(more),
	    ", \"reason\": \"safeguarding_child\", \"justification\": \"%s\"",
	    text);
	e = parse_emergency("emergency", more, &r, &rc);
	assert_one(e, "justification", "longer than 2048 bytes (2049)");
	assert_unquoted(e, "jjjj");
	json_decref(e);
	text[2048] = '\0';
	snprintf(more, sizeof(more),
	    ", \"reason\": \"safeguarding_child\", \"justification\": \"%s\"",
	    text);
	e = parse_emergency("emergency", more, &r, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(r.justification), 2048);
	outrecord_release(&r);
	/* Released: no copy of the text is left in the struct. */
	assert_int_equal(r.justification[0], '\0');
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_file_not_quoted),
	    cmocka_unit_test(pepper_not_quoted),
	    cmocka_unit_test(json_errors_placed),
	    cmocka_unit_test(utf8_offsets),
	    cmocka_unit_test(keys_by_position),
	    cmocka_unit_test(values_not_quoted),
	    cmocka_unit_test(oversized_field),
	    cmocka_unit_test(errors_capped),
	    cmocka_unit_test(emergency_reason_and_justification),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
