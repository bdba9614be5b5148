/*
 * Unit tests of the `concordat keys` verbs (keys/verbs/), run
 * in-process: exit codes, the files they write and refuse to overwrite,
 * and what `keys show` prints and refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"
#include "tests/lib/scratch.h"
#include "testutil.h"

static char dir[256];

static int
setup(void **state)
{
	(void)state;
	scratch_dir_in(dir, sizeof(dir), "unit");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	return 0;
}

/* Runs `keys ARGS...` with stdout in a file; returns the exit code and,
 * when out is not NULL, what it printed (malloc'd). */
static int
run(char **out, ...)
{
	static char prog[] = "keys";
	char *argv[16];
	int argc = 0, rc, saved, fd;
	va_list ap;
	const char *a;
	char path[300];

	argv[argc++] = prog;
	va_start(ap, out);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)(uintptr_t)a;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(path, sizeof(path), "%s/stdout", dir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	close(fd);
	rc = keys_cli(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	if (out != NULL) {
		size_t len;
		uint8_t *b = scratch_read(path, &len);
		*out = malloc(len + 1);
		memcpy(*out, b, len);
		(*out)[len] = '\0';
		free(b);
	}
	unlink(path);
	return rc;
}

static void
test_generate_agency(void **state)
{
	char *out = NULL;
	struct stat st;
	struct keys_secret *s = NULL;
	struct keys_public p;

	(void)state;
	const char *kd = tu_path(dir, "k");
	char keydir[300];
	snprintf(keydir, sizeof(keydir), "%s", kd);
	assert_int_equal(
	    run(&out, "generate", "--agency", "police", "--out", keydir, NULL),
	    EX_OK);
	assert_non_null(strstr(out, "police.key (secret, 0600)"));
	free(out);
	assert_int_equal(stat(tu_path(keydir, "police.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(
	    keys_load_secret(tu_path(keydir, "police.key"), &s), 0);
	assert_int_equal(
	    keys_load_public(tu_path(keydir, "police.pub"), &p), 0);
	assert_memory_equal(p.sign_pk, s->pub.sign_pk, 32);
	assert_string_equal(p.fingerprint, s->pub.fingerprint);
	keys_secret_free(s);

	/* A second generate is refused and names what exists. */
	assert_int_equal(
	    run(NULL, "generate", "--agency", "police", "--out", keydir, NULL),
	    EX_CANTCREAT);
}

static void
test_generate_usage(void **state)
{
	(void)state;
	/* Neither or both of --agency and --broker; no --out; bad id. */
	assert_int_equal(run(NULL, "generate", "--out", dir, NULL), EX_USAGE);
	assert_int_equal(run(NULL, "generate", "--broker", "--agency", "x",
	                     "--out", dir, NULL),
	    EX_USAGE);
	assert_int_equal(
	    run(NULL, "generate", "--agency", "police", NULL), EX_USAGE);
	assert_int_equal(
	    run(NULL, "generate", "--agency", "Police", "--out", dir, NULL),
	    EX_USAGE);
	assert_int_equal(
	    run(NULL, "generate", "--agency", "../x", "--out", dir, NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "frobnicate", NULL), EX_USAGE);
	assert_int_equal(run(NULL, NULL), EX_USAGE);
	char *out = NULL;
	assert_int_equal(run(&out, "--help", NULL), EX_OK);
	assert_non_null(strstr(out, "usage: concordat keys generate"));
	free(out);
}

static void
test_broker_and_show(void **state)
{
	char *out = NULL;
	char key[300], pub[300];

	(void)state;
	assert_int_equal(
	    run(NULL, "generate", "--broker", "--out", dir, NULL), EX_OK);
	snprintf(key, sizeof(key), "%s", tu_path(dir, "broker.key"));
	snprintf(pub, sizeof(pub), "%s", tu_path(dir, "broker.pub"));
	assert_int_equal(run(&out, "show", pub, NULL), EX_OK);
	assert_non_null(strstr(out, "role:        broker"));
	assert_null(strstr(out, "box:")); /* the broker has no box key */
	free(out);
	assert_int_equal(run(&out, "show", key, NULL), EX_OK);
	assert_non_null(strstr(out, "secret key (permissions ok)"));
	free(out);
	/* A secret others may read is refused, with the permission code. */
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(run(NULL, "show", key, NULL), EX_NOPERM);
	/* A file that is not a key. */
	scratch_spit(tu_path(dir, "junk.pub"), "{}", 2, 0644);
	assert_int_equal(
	    run(NULL, "show", tu_path(dir, "junk.pub"), NULL), EX_DATAERR);
	assert_int_equal(
	    run(NULL, "show", tu_path(dir, "none.pub"), NULL), EX_NOINPUT);
}

static void
test_pepper(void **state)
{
	struct stat st;
	uint8_t *p = NULL;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s", tu_path(dir, "pepper"));
	assert_int_equal(run(NULL, "pepper", "--out", path, NULL), EX_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keys_pepper_load(path, &p), 0);
	keys_pepper_free(p);
	assert_int_equal(
	    run(NULL, "pepper", "--out", path, NULL), EX_CANTCREAT);
	assert_int_equal(run(NULL, "pepper", NULL), EX_USAGE);
}

/* keys subject-ref: the agents' subject_ref, in hex; each mistake named. */
static void
test_subject_ref(void **state)
{
	uint8_t *p = NULL, ref[KEYS_REF_LEN];
	char path[300], hex[2 * KEYS_REF_LEN + 2], *out;

	(void)state;
	snprintf(path, sizeof(path), "%s", tu_path(dir, "pepper"));
	assert_int_equal(run(NULL, "pepper", "--out", path, NULL), EX_OK);
	assert_int_equal(keys_pepper_load(path, &p), 0);
	assert_int_equal(keys_subject_ref_nhs(p, "9434765919", ref), 0);
	sodium_bin2hex(hex, sizeof(hex), ref, sizeof(ref));
	memcpy(hex + 2 * sizeof(ref), "\n", 2);
	assert_int_equal(run(&out, "subject-ref", "--pepper", path, "--subject",
	                     "943 476 5919", NULL),
	    EX_OK);
	assert_string_equal(out, hex);
	free(out);
	/* The name as the agents normalise it. */
	assert_int_equal(
	    keys_subject_ref_name(p, "smith", "john", "1970-01-01", ref), 0);
	sodium_bin2hex(hex, sizeof(hex), ref, sizeof(ref));
	memcpy(hex + 2 * sizeof(ref), "\n", 2);
	assert_int_equal(run(&out, "subject-ref", "--pepper", path, "--name",
	                     "  SMITH ,John ", "--dob", "1970-01-01", NULL),
	    EX_OK);
	assert_string_equal(out, hex);
	free(out);
	keys_pepper_free(p);
	assert_int_equal(run(NULL, "subject-ref", "--pepper", path, "--subject",
	                     "9434765918", NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "subject-ref", "--pepper", path, "--name",
	                     "SMITH,John", NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "subject-ref", "--pepper", path, "--name",
	                     "S,J", "--dob", "1970-02-29", NULL),
	    EX_USAGE);
	assert_int_equal(
	    run(NULL, "subject-ref", "--subject", "9434765919", NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "subject-ref", "--pepper", path, "--subject",
	                     "9434765919", "--subject", "9434765919", NULL),
	    EX_USAGE);
	assert_int_equal(
	    run(NULL, "subject-ref", "--pepper", tu_path(dir, "none"),
	        "--subject", "9434765919", NULL),
	    EX_NOINPUT);
}

/* keys rotate: begin, promote, and what each refuses. */
static void
test_rotate(void **state)
{
	char kd[300], *out = NULL;
	struct keys_public before, next, after;
	struct keys_secret *s = NULL;
	struct stat st;

	(void)state;
	snprintf(kd, sizeof(kd), "%s", tu_path(dir, "k"));
	assert_int_equal(run(NULL, "rotate", "promote", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_NOINPUT);
	assert_int_equal(
	    run(NULL, "generate", "--agency", "police", "--out", kd, NULL),
	    EX_OK);
	assert_int_equal(
	    keys_load_public(tu_path(kd, "police.pub"), &before), 0);
	assert_int_equal(run(NULL, "rotate", "promote", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_NOINPUT);
	assert_int_equal(run(&out, "rotate", "begin", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_OK);
	assert_non_null(strstr(out, "police.next.pub"));
	free(out);
	assert_int_equal(stat(tu_path(kd, "police.next.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(
	    keys_load_public(tu_path(kd, "police.next.pub"), &next), 0);
	assert_string_not_equal(next.fingerprint, before.fingerprint);
	assert_int_equal(run(NULL, "rotate", "begin", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_CANTCREAT);
	assert_int_equal(run(NULL, "rotate", "promote", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_OK);
	assert_int_equal(
	    keys_load_public(tu_path(kd, "police.pub"), &after), 0);
	assert_string_equal(after.fingerprint, next.fingerprint);
	assert_int_equal(keys_load_secret(tu_path(kd, "police.key"), &s), 0);
	assert_string_equal(s->pub.fingerprint, next.fingerprint);
	keys_secret_free(s);
	char name[96], hex[33];
	size_t o = 0;
	for (const char *c = before.fingerprint; *c != '\0'; c++)
		if (*c != ':')
			hex[o++] = *c;
	hex[o] = '\0';
	snprintf(name, sizeof(name), "police.retired-%s.key", hex);
	assert_int_equal(keys_load_secret(tu_path(kd, name), &s), 0);
	assert_string_equal(s->pub.fingerprint, before.fingerprint);
	keys_secret_free(s);
	assert_int_equal(access(tu_path(kd, "police.next.key"), F_OK), -1);
	assert_int_equal(access(tu_path(kd, "police.next.pub"), F_OK), -1);
	assert_int_equal(run(NULL, "rotate", "begin", "--agency", "Police",
	                     "--keys", kd, NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "rotate", "again", "--agency", "police",
	                     "--keys", kd, NULL),
	    EX_USAGE);
	assert_int_equal(run(NULL, "rotate", "begin", NULL), EX_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_generate_agency, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_generate_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_broker_and_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pepper, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_subject_ref, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
