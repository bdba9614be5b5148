/*
 * The broker's head file (broker/head.h) on real files: its path beside the
 * key; written, read back, rewritten in alternate slots at one size; a
 * torn newest slot leaves the one before it as the head, two torn slots no
 * head at all; a file open to others, a symlink, a second holder refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "broker/head.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_head.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/broker.head", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s/link.head", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A note of size n, as checkpoints look (the head does not parse it). */
static const char *
note(unsigned n)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
	    "concordat/"
	    "test\n%u\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
	    "\xe2\x80\x94 concordat/test sig%u\n",
	    n, n);
	return buf;
}

/* Opens path and returns the head's note (static), or NULL with *rc. */
static const char *
head_of(const char *path, int *rc)
{
	static char buf[HEAD_NOTE_MAX + 1];
	struct head *h;
	size_t len;

	*rc = head_open(path, &h, buf, &len);
	if (*rc != 0)
		return NULL;
	assert_int_equal(len, strlen(buf));
	head_close(h);
	return buf;
}

static void
flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void
test_path(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(
	    head_path("/etc/concordat/broker.key", out, sizeof(out)), 0);
	assert_string_equal(out, "/etc/concordat/broker.head");
	assert_int_equal(head_path("keys/mine", out, sizeof(out)), 0);
	assert_string_equal(out, "keys/mine.head");
	assert_int_equal(head_path(".key", out, sizeof(out)), 0);
	assert_string_equal(out, ".key.head");
	assert_int_equal(head_path("broker.key", out, 11), ERROR_TOOBIG);
}

static void
test_write_and_read(void **state)
{
	struct fixture *f = *state;
	struct head *h;
	struct stat st;
	int rc;

	assert_null(head_of(f->path, &rc));
	assert_int_equal(rc, ERROR_NOENT);
	assert_int_equal(head_create(f->path, note(0), strlen(note(0)), &h), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 2 * HEAD_SLOT);
	/* Held: another process is refused. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		head_of(f->path, &rc);
		_exit(rc == ERROR_BUSY ? 0 : 1);
	}
	int wst;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	/* Rewritten in turn, at one size; the last written is the head. */
	for (unsigned i = 1; i <= 5; i++) {
		assert_int_equal(head_write(h, note(i), strlen(note(i))), 0);
		assert_int_equal(stat(f->path, &st), 0);
		assert_int_equal(st.st_size, 2 * HEAD_SLOT);
	}
	assert_int_equal(head_write(h, "", 0), ERROR_TOOBIG);
	{
		char big[HEAD_NOTE_MAX + 2];
		memset(big, 'x', sizeof(big));
		assert_int_equal(head_write(h, big, sizeof(big)), ERROR_TOOBIG);
	}
	head_close(h);
	assert_string_equal(head_of(f->path, &rc), note(5));
	assert_int_equal(head_create(f->path, note(9), 10, &h), ERROR_EXISTS);
}

static void
test_torn_slots(void **state)
{
	struct fixture *f = *state;
	struct head *h;
	int rc;

	/* Generation 1 is written to slot 1, 2 to slot 0, 3 to slot 1. */
	assert_int_equal(
	    head_create(f->path, note(10), strlen(note(10)), &h), 0);
	assert_int_equal(head_write(h, note(11), strlen(note(11))), 0);
	assert_int_equal(head_write(h, note(12), strlen(note(12))), 0);
	head_close(h);
	assert_string_equal(head_of(f->path, &rc), note(12));
	/* The newest slot torn (a crash in its write): the one before. */
	flip(f->path, HEAD_SLOT + 40);
	assert_string_equal(head_of(f->path, &rc), note(11));
	/* Rewriting goes on from there, into the torn slot. */
	assert_int_equal(
	    head_open(f->path, &h, (char[HEAD_NOTE_MAX + 1]){0}, &(size_t){0}),
	    0);
	assert_int_equal(head_write(h, note(13), strlen(note(13))), 0);
	head_close(h);
	assert_string_equal(head_of(f->path, &rc), note(13));
	/* Both torn: no head, which the broker refuses to guess. */
	flip(f->path, 20);
	flip(f->path, HEAD_SLOT + 20);
	assert_null(head_of(f->path, &rc));
	assert_int_equal(rc, ERROR_TAMPERED);
	/* A slot copied into the other's place is not whole either. */
	unlink(f->path);
	assert_int_equal(
	    head_create(f->path, note(20), strlen(note(20)), &h), 0);
	head_close(h);
	{
		uint8_t slot[HEAD_SLOT];
		int fd = open(f->path, O_RDWR);
		assert_int_equal(
		    pread(fd, slot, HEAD_SLOT, HEAD_SLOT), HEAD_SLOT);
		assert_int_equal(pwrite(fd, slot, HEAD_SLOT, 0), HEAD_SLOT);
		assert_int_equal(ftruncate(fd, HEAD_SLOT), 0);
		close(fd);
	}
	assert_null(head_of(f->path, &rc));
	assert_int_equal(rc, ERROR_TAMPERED);
	unlink(f->path);
}

static void
test_refused_files(void **state)
{
	struct fixture *f = *state;
	char link[PATH_MAX + 16];
	struct head *h;
	int rc;

	assert_int_equal(head_create(f->path, note(1), strlen(note(1)), &h), 0);
	head_close(h);
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_null(head_of(f->path, &rc));
	assert_int_equal(rc, ERROR_PERM);
	assert_int_equal(chmod(f->path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link.head", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_null(head_of(link, &rc));
	assert_int_equal(rc, ERROR_PERM);
	assert_string_equal(head_of(f->path, &rc), note(1));
	unlink(f->path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test_setup_teardown(
	        test_write_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_refused_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
