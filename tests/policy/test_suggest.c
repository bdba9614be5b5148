/*
 * Unit tests for common/suggest: edit distance and "did you mean".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/fields.h"
#include "common/suggest.h"

static void
test_distance(void **state)
{
	(void)state;
	assert_int_equal(suggest_distance("", ""), 0);
	assert_int_equal(suggest_distance("abc", "abc"), 0);
	assert_int_equal(suggest_distance("", "abc"), 3);
	assert_int_equal(suggest_distance("kitten", "sitting"), 3);
	assert_int_equal(suggest_distance("clincal", "clinical"), 1);
	/* A transposition is one edit. */
	assert_int_equal(suggest_distance("polcie", "police"), 1);
	assert_int_equal(suggest_distance("plocie", "police"), 2);
	assert_int_equal(suggest_distance("ab", "ba"), 1);
}

static void
test_too_long(void **state)
{
	char longer[SUGGEST_MAX_LEN + 2];
	const char *cands[] = {"identity"};

	(void)state;
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(suggest_distance(longer, "a"), SUGGEST_MAX_LEN + 1);
	assert_null(suggest_closest(longer, cands, 1));
}

static void
test_closest_fields(void **state)
{
	(void)state;
	assert_string_equal(
	    suggest_closest("clincal", fields_names, FIELDS_COUNT), "clinical");
	assert_string_equal(
	    suggest_closest("dependants", fields_names, FIELDS_COUNT),
	    "dependents");
	assert_string_equal(
	    suggest_closest("physical_need", fields_names, FIELDS_COUNT),
	    "physical_needs");
	assert_string_equal(
	    suggest_closest("risk", fields_names, FIELDS_COUNT), "risks");
	/* Nothing close: no suggestion rather than a wild one. */
	assert_null(suggest_closest("weather", fields_names, FIELDS_COUNT));
	assert_null(suggest_closest("x", fields_names, FIELDS_COUNT));
	assert_null(suggest_closest("", fields_names, FIELDS_COUNT));
	assert_null(suggest_closest(NULL, fields_names, FIELDS_COUNT));
}

static void
test_limits(void **state)
{
	const char *short_words[] = {"to", "id"};
	const char *agencies[] = {
	    "police", "ambulance", "mental_health_trust", "social_care"};
	const char *with_null[] = {NULL, "share"};

	(void)state;
	/* Short words: one edit only. */
	assert_string_equal(suggest_closest("ot", short_words, 2), "to");
	assert_null(suggest_closest("xy", short_words, 2));
	/* Long words: a third of their length. */
	assert_string_equal(suggest_closest("mental_helth_trst", agencies, 4),
	    "mental_health_trust");
	assert_null(suggest_closest("mental_health", agencies, 4));
	/* Ties go to the first candidate; NULL candidates are skipped. */
	assert_string_equal(suggest_closest("shre", with_null, 2), "share");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_closest_fields),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
