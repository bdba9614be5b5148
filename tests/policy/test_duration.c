/*
 * Unit tests for common/duration: the strict reader and the writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/duration.h"

static uint64_t
parse_ok(const char *s)
{
	uint64_t ms = 0;

	assert_int_equal(duration_parse(s, &ms), 0);
	return ms;
}

static void
test_good(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("30m"), 30 * 60000ULL);
	assert_int_equal(parse_ok("2h"), 2 * 3600000ULL);
	assert_int_equal(parse_ok("90s"), 90000);
	assert_int_equal(parse_ok("1d"), 86400000ULL);
	assert_int_equal(parse_ok("1h30m"), 5400000ULL);
	assert_int_equal(
	    parse_ok("1d2h3m4s5ms"), 86400000ULL + 7200000 + 180000 + 4000 + 5);
	assert_int_equal(parse_ok("500ms"), 500);
	assert_int_equal(parse_ok("0h30m"), 30 * 60000ULL);
	assert_int_equal(parse_ok("120m"), 7200000ULL);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {"", "30", "m", "30x", "30 m", " 30m",
	    "30m ", "-30m", "+30m", "1.5h", "30m1h", "1h1h", "1hh", "30mm",
	    "30M", "0s", "0h0m", "h30", "1d-", "30min", "3e2s", "1h 30m",
	    "0x10s"};
	uint64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(duration_parse(bad[i], &ms), 0);
		assert_int_equal(ms, 42); /* untouched on error */
	}
	assert_int_equal(duration_parse(NULL, &ms), ERROR_INVAL);
	assert_int_equal(duration_parse("0s", &ms), ERROR_INVAL);
}

static void
test_overflow(void **state)
{
	uint64_t ms = 0;

	(void)state;
	assert_int_equal(
	    duration_parse("99999999999999999999999s", &ms), ERROR_TOOBIG);
	assert_int_equal(
	    duration_parse("18446744073709551615ms", &ms), ERROR_TOOBIG);
	assert_int_equal(duration_parse("9223372036854775807ms", &ms), 0);
	assert_int_equal(ms, 9223372036854775807ULL);
	assert_int_equal(
	    duration_parse("9223372036854775808ms", &ms), ERROR_TOOBIG);
	assert_int_equal(duration_parse("106751991168d", &ms), ERROR_TOOBIG);
	assert_int_equal(duration_parse("106751991167d7h", &ms), 0);
	assert_int_equal(duration_parse("106751991167d8h", &ms), ERROR_TOOBIG);
}

static void
test_format(void **state)
{
	char buf[64];
	uint64_t ms;

	(void)state;
	assert_string_equal(duration_format(1800000, buf, sizeof(buf)), "30m");
	assert_string_equal(
	    duration_format(5400000, buf, sizeof(buf)), "1h30m");
	assert_string_equal(
	    duration_format(86400000ULL + 1, buf, sizeof(buf)), "1d1ms");
	assert_string_equal(duration_format(0, buf, sizeof(buf)), "0s");
	/* Round trip. */
	assert_int_equal(
	    duration_parse(duration_format(123456789, buf, sizeof(buf)), &ms),
	    0);
	assert_int_equal(ms, 123456789);
	/* Truncation is safe. */
	assert_string_equal(duration_format(5400000, buf, 3), "1h");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
