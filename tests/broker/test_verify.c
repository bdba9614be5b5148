/*
 * Unit tests of the broker's verification pool (broker/verify.c): every
 * job of every batch is done exactly once, batches of any size (none
 * included) follow each other without a lost wake-up, and a start
 * overlaps with the caller's own work. A deadlock fails by the alarm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "broker/verify.h"

#define MAX_JOBS 300

static void
on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_verify: deadlock (alarm)\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

/*
 * Garbage frames: each job decodes (and fails) on its own bytes. Random
 * bytes alone are now and then a valid frame (seen once in about a million
 * decodes, failing the test), so each starts with a tag protobuf refuses:
 * field 0 with wire type 7.
 */
static void
fill(struct verify_job *jobs, size_t n, uint8_t bufs[][8])
{
	memset(jobs, 0, n * sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		randombytes_buf(bufs[i], 8);
		bufs[i][0] = 0x07;
		jobs[i].buf = bufs[i];
		jobs[i].len = 8;
		jobs[i].decode_rc = 12345; /* a value run_job never leaves */
		strcpy(jobs[i].agency, "police");
	}
}

static void
check_done(struct verify_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_not_equal(jobs[i].decode_rc, 12345);
		assert_int_not_equal(jobs[i].decode_rc, 0);
		assert_null(jobs[i].f);
	}
}

/* n decoded frames into spent, for the pool to free. */
static void
spend(struct wire_frame **spent, size_t n)
{
	uint8_t id[16] = {1}, *buf;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(wire_ack_encode(id, &buf, &len), 0);
		assert_int_equal(wire_decode(buf, len, &spent[i], NULL, 0), 0);
		free(buf);
	}
}

/*
 * Many batches, sizes 0 to MAX_JOBS, waited at once or after a while,
 * each with the frames of an earlier one to free, and some after a start
 * with frames to free but no job and no wait: under the sanitizers, a
 * frame freed twice, never, or while a thread still reads the list fails
 * the test, and a start that lost count of its jobs never returns.
 */
static void
test_batches(void **state)
{
	static struct verify_job jobs[MAX_JOBS];
	static struct wire_frame *spent[MAX_JOBS];
	static uint8_t bufs[MAX_JOBS][8];
	struct verifier *v = NULL;

	(void)state;
	for (unsigned threads = 1; threads <= 3; threads++) {
		assert_int_equal(verifier_new(threads, &v), 0);
		for (int round = 0; round < 2000; round++) {
			size_t n = randombytes_uniform(MAX_JOBS + 1);
			size_t n_spent = randombytes_uniform(MAX_JOBS + 1);
			if (round % 7 == 0)
				n = 0;
			fill(jobs, n, bufs);
			spend(spent, n_spent);
			if (round % 5 == 0) {
				/* No job: done at once, no wait needed, as
				 * the broker does when it receives nothing. */
				verifier_start(v, jobs, 0, spent, n_spent);
				spend(spent, n_spent);
			}
			verifier_start(v, jobs, n, spent, n_spent);
			if (round % 3 == 0)
				usleep(randombytes_uniform(200));
			verifier_wait(v);
			check_done(jobs, n);
			/* A wait with nothing started returns at once. */
			if (round % 11 == 0)
				verifier_wait(v);
		}
		verifier_free(v);
	}
}

/* Without a pool, start does the work itself. */
static void
test_no_pool(void **state)
{
	static struct verify_job jobs[16];
	static uint8_t bufs[16][8];

	(void)state;
	static struct wire_frame *spent[4];

	fill(jobs, 16, bufs);
	spend(spent, 4);
	verifier_start(NULL, jobs, 16, spent, 4);
	verifier_wait(NULL);
	check_done(jobs, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batches),
	    cmocka_unit_test(test_no_pool),
	};

	if (sodium_init() < 0)
		return 1;
	signal(SIGALRM, on_alarm);
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
