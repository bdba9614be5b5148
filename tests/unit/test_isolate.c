/*
 * isolate_run (common/isolate.h): a function run in a child process gives
 * back its result and its bytes; a child that dies, by a signal, an abort
 * or an early exit, is reported as such, never suffered by the caller.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/isolate.h"

struct answer {
	int n;
	char text[32];
};

static int
answers(void *arg, void *out, size_t len)
{
	struct answer *a = out;

	assert_int_equal(len, sizeof(*a));
	a->n = *(int *)arg * 2;
	snprintf(a->text, sizeof(a->text), "from pid %ld", (long)getpid());
	return ERROR_TAMPERED; /* any result comes back as it was */
}

static int
aborts(void *arg, void *out, size_t len)
{
	abort();
}

static int
faults(void *arg, void *out, size_t len)
{
	raise(SIGSEGV);
	return ERROR_OK;
}

static int
exits(void *arg, void *out, size_t len)
{
	_exit(3);
}

static int
killed(void *arg, void *out, size_t len)
{
	raise(SIGKILL);
	return ERROR_OK;
}

static int
prints(void *arg, void *out, size_t len)
{
	/* Buffered, not flushed: isolate_run flushes it in the child. */
	fputs("printed in the child\n", stdout);
	return ERROR_OK;
}

static void
test_answer(void **state)
{
	struct answer a;
	char mine[32];
	int in = 21, death = -1;

	memset(&a, 0, sizeof(a));
	assert_int_equal(
	    isolate_run(answers, &in, &a, sizeof(a), &death), ERROR_TAMPERED);
	assert_int_equal(death, 0);
	assert_int_equal(a.n, 42);
	snprintf(mine, sizeof(mine), "from pid %ld", (long)getpid());
	assert_string_not_equal(a.text, mine); /* it ran elsewhere */
	assert_non_null(strstr(a.text, "from pid "));
}

static void
test_deaths(void **state)
{
	struct answer a;
	char words[128];
	int death;

	memset(&a, 0x55, sizeof(a));
	assert_int_equal(
	    isolate_run(aborts, NULL, &a, sizeof(a), &death), ERROR_INTERNAL);
	assert_int_equal(death, SIGABRT);
	assert_int_equal(a.n, 0); /* nothing of a dead child is kept */
	assert_non_null(strstr(isolate_death(death, words, sizeof(words)),
	    "killed by signal SIGABRT"));

	assert_int_equal(
	    isolate_run(exits, NULL, &a, sizeof(a), &death), ERROR_INTERNAL);
	assert_int_equal(death, ISOLATE_EXITED + 3);
	assert_string_equal(
	    isolate_death(death, words, sizeof(words)), "exited with status 3");

	/* A segfault (a sanitizer may turn it into an abort or an exit). */
	assert_int_equal(
	    isolate_run(faults, NULL, &a, sizeof(a), &death), ERROR_INTERNAL);
	assert_true(death != 0);
	assert_true(isolate_fault(death));

	/* Faults are the child's; a kill from outside is not. */
	assert_true(isolate_fault(SIGABRT) && isolate_fault(SIGBUS));
	assert_true(isolate_fault(ISOLATE_EXITED + 1));
	assert_false(isolate_fault(SIGPIPE) || isolate_fault(SIGTERM));
	assert_int_equal(
	    isolate_run(killed, NULL, &a, sizeof(a), &death), ERROR_INTERNAL);
	assert_int_equal(death, SIGKILL);
	assert_false(isolate_fault(death));
}

static void
test_output(void **state)
{
	char path[] = "/tmp/test_isolate.XXXXXX";
	int fd = mkstemp(path), saved = dup(1), death;
	char buf[128];
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_int_equal(dup2(fd, 1), 1);
	/* Printed before: written once, not again by the child. */
	fputs("before\n", stdout);
	assert_int_equal(isolate_run(prints, NULL, NULL, 0, &death), 0);
	fflush(stdout);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "before\nprinted in the child\n");
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_deaths),
	    cmocka_unit_test(test_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
