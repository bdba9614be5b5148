/*
 * proto/jsonval.c: field sets, string lists and hex as JSON and back, and
 * the audit row of an event with every member in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/urgency.h"
#include "proto/jsonval.h"

static void
test_fields(void **state)
{
	fieldset set = FIELDS_BIT(FIELD_IDENTITY) | FIELDS_BIT(FIELD_RISKS),
	         back;
	json_t *v = jsonval_fields(set), *bad;
	char *s = json_dumps(v, JSON_COMPACT);

	(void)state;
	assert_string_equal(s, "[\"identity\",\"risks\"]");
	assert_int_equal(jsonval_to_fields(v, &back), 0);
	assert_int_equal(back, set);
	free(s);
	json_decref(v);
	v = jsonval_fields(0);
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	v = jsonval_fields(FIELDS_ALL);
	assert_int_equal(json_array_size(v), FIELDS_COUNT);
	assert_int_equal(jsonval_to_fields(v, &back), 0);
	assert_int_equal(back, FIELDS_ALL);
	json_decref(v);
	bad = json_pack("[s]", "clincal");
	assert_int_equal(jsonval_to_fields(bad, &back), ERROR_INVAL);
	json_decref(bad);
	bad = json_string("identity");
	assert_int_equal(jsonval_to_fields(bad, &back), ERROR_INVAL);
	json_decref(bad);
}

static void
test_strings(void **state)
{
	char list[3][8] = {"a", "bb", "ccc"}, back[3][8];
	size_t n;
	json_t *v = jsonval_strings(list[0], sizeof(list[0]), 3), *bad;

	(void)state;
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 2)), "ccc");
	assert_int_equal(
	    jsonval_to_strings(v, back[0], sizeof(back[0]), 3, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(back[1], "bb");
	/* more than max, or a string that does not fit */
	assert_int_equal(jsonval_to_strings(v, back[0], sizeof(back[0]), 2, &n),
	    ERROR_INVAL);
	json_decref(v);
	bad = json_pack("[s]", "eight ch");
	assert_int_equal(
	    jsonval_to_strings(bad, back[0], 8, 3, &n), ERROR_INVAL);
	json_decref(bad);
	bad = json_pack("[i]", 1);
	assert_int_equal(
	    jsonval_to_strings(bad, back[0], 8, 3, &n), ERROR_INVAL);
	json_decref(bad);
}

static void
test_hex(void **state)
{
	uint8_t b[4] = {0xde, 0xad, 0x00, 0x01}, back[4];
	bool has;
	json_t *v = jsonval_hex(b, sizeof(b), true), *e;

	(void)state;
	assert_string_equal(json_string_value(v), "dead0001");
	assert_int_equal(jsonval_to_hex(v, back, sizeof(back), &has), 0);
	assert_true(has);
	assert_memory_equal(back, b, sizeof(b));
	assert_int_equal(
	    jsonval_to_hex(v, back, sizeof(back) + 1, &has), ERROR_INVAL);
	json_decref(v);
	e = jsonval_hex(b, sizeof(b), false);
	assert_string_equal(json_string_value(e), "");
	assert_int_equal(jsonval_to_hex(e, back, sizeof(back), &has), 0);
	assert_false(has);
	json_decref(e);
	e = json_string("zz00aa11");
	assert_int_equal(
	    jsonval_to_hex(e, back, sizeof(back), &has), ERROR_INVAL);
	json_decref(e);
	assert_int_equal(
	    jsonval_to_hex(NULL, back, sizeof(back), &has), ERROR_INVAL);
}

static void
test_event(void **state)
{
	struct event *ev = calloc(1, sizeof(*ev));
	const char *key;
	json_t *o, *v;
	size_t i = 0;

	(void)state;
	assert_non_null(ev);
	ev->type = EVENT_DECISION;
	ev->time_ms = 1795440362000ULL; /* 2026-11-23T13:26:02Z */
	ev->has_msg_id = true;
	memset(ev->msg_id, 0xab, sizeof(ev->msg_id));
	strcpy(ev->sender, "police");
	strcpy(ev->recipient, "ambulance");
	strcpy(ev->purpose, "triage_advice");
	ev->urgency = URGENCY_URGENT;
	ev->disclosed = FIELDS_BIT(FIELD_IDENTITY);
	ev->n_rules = 1;
	strcpy(ev->rules[0], "triage-request");
	ev->breakglass = true;
	ev->count = 3;
	assert_non_null(o = jsonval_event(42, ev));
	assert_int_equal(json_object_size(o), JSONVAL_EVENT_NKEYS);
	json_object_foreach(o, key, v)
	{
		assert_string_equal(key, jsonval_event_keys[i]);
		i++;
	}
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "time")),
	    "2026-11-23T13:26:02.000Z");
	assert_string_equal(
	    json_string_value(json_object_get(o, "type")), "decision");
	assert_string_equal(json_string_value(json_object_get(o, "msg_id")),
	    "abababababababababababababababab");
	assert_string_equal(
	    json_string_value(json_object_get(o, "subject_ref")), "");
	assert_string_equal(
	    json_string_value(json_object_get(o, "urgency")), "urgent");
	assert_string_equal(
	    json_string_value(json_object_get(o, "reason")), "");
	assert_true(json_is_true(json_object_get(o, "breakglass")));
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 3);
	{
		fieldset set;
		assert_int_equal(
		    jsonval_to_fields(json_object_get(o, "disclosed"), &set),
		    0);
		assert_int_equal(set, ev->disclosed);
	}
	json_decref(o);
	free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
