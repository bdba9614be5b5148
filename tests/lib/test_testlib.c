/*
 * The test library's own tests: scratch folders under TMPDIR and their
 * removal, whole files, a verb run with its output captured, the
 * agencies' key files, and the demo's records, each of which the outbox
 * record parser must accept as the demo sends it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "agents/outrecord.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "tests/lib/capture.h"
#include "tests/lib/demo.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

static void
scratch_folders_and_files(void **state)
{
	char base[256], buf[256], path[512], *dir, *text;
	const char *old = getenv("TMPDIR");
	struct stat st;
	size_t len;

	(void)state;
	scratch_dir_in(base, sizeof(base), "lib");
	assert_int_equal(setenv("TMPDIR", base, 1), 0);
	dir = scratch_dir("x");
	/* Under TMPDIR, unless its name is too long for an ipc:// path. */
	if (strlen(base) <= 48)
		assert_int_equal(strncmp(dir, base, strlen(base)), 0);
	else
		assert_int_equal(strncmp(dir, "/tmp/", 5), 0);
	assert_non_null(strstr(dir, "/concordat-x-"));
	/* Too small a buffer for TMPDIR's name: /tmp instead. */
	scratch_dir_in(buf, strlen("/tmp/concordat-y-XXXXXX") + 1, "y");
	assert_int_equal(strncmp(buf, "/tmp/concordat-y-", 17), 0);
	scratch_rmrf(buf);
	assert_int_not_equal(access(buf, F_OK), 0);

	snprintf(path, sizeof(path), "%s/f", dir);
	scratch_spit(path, "a\0b", 3, 0600);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = scratch_read(path, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(text, "a\0b", 4); /* and a NUL after */
	free(text);
	scratch_write(path, "one two one", 0644);
	text = scratch_slurp(path, NULL);
	assert_string_equal(text, "one two one");
	assert_int_equal(scratch_count(text, "one"), 2);
	assert_int_equal(scratch_count(text, "three"), 0);
	free(text);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_null(scratch_slurp(path, &len));
	/* /proc files have no size: read to the end. */
	text = scratch_read("/proc/self/status", &len);
	assert_true(len > 0 && strstr(text, "VmRSS") != NULL);
	free(text);

	snprintf(path, sizeof(path), "%s/a", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	scratch_write(path, "x", 0400);
	scratch_rmrf(dir);
	assert_int_not_equal(access(dir, F_OK), 0);
	free(dir);
	scratch_rmrf(base);
	if (old != NULL)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
}

static int
verb(int argc, char **argv)
{
	printf("%s has %d arguments:", argv[0], argc - 1);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fprintf(stderr, "concordat: %s: nothing failed\n", argv[0]);
	return 3;
}

static void
capture_a_verb(void **state)
{
	char *out, *err;

	(void)state;
	printf("before the run\n"); /* must not land in the capture */
	assert_int_equal(
	    capture_runl(verb, &out, &err, "show", "a", "b", NULL), 3);
	assert_string_equal(out, "show has 2 arguments: a b\n");
	assert_string_equal(err, "concordat: show: nothing failed\n");
	free(out);
	free(err);
	char *argv[] = {"query", NULL};
	assert_int_equal(capture_run(verb, 1, argv, &out, NULL), 3);
	assert_string_equal(out, "query has 0 arguments:\n");
	free(out);
}

/* dir/name in one of two static buffers. */
static const char *
lib_path(const char *dir, const char *name)
{
	static char buf[2][PATH_MAX + 64];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void
agencies_key_files(void **state)
{
	struct fixture_keys k;
	struct keys_secret *sk;
	struct keyring *kr;
	uint8_t *pepper, pk1[32], sk1[64], pk2[32], sk2[64];
	char path[PATH_MAX + 64], why[256] = "", *dir = scratch_dir("lib");

	(void)state;
	fixture_keys_make(&k, dir);
	for (int i = 0; i < FIXTURE_NAG; i++) {
		snprintf(
		    path, sizeof(path), "%s/%s.key", k.keys, fixture_agency[i]);
		assert_int_equal(keys_load_secret(path, &sk), 0);
		assert_string_equal(sk->pub.id, fixture_agency[i]);
		keys_secret_free(sk);
	}
	snprintf(path, sizeof(path), "%s/broker.key", k.keys);
	assert_int_equal(keys_load_secret(path, &sk), 0);
	assert_true(sk->pub.is_broker);
	keys_secret_free(sk);
	assert_int_equal(keyring_load(k.ring, &kr, why, sizeof(why)), 0);
	assert_int_equal(keyring_count(kr), FIXTURE_NAG);
	assert_int_equal(keyring_guardian_count(kr), FIXTURE_NAG);
	for (int i = 0; i < FIXTURE_NAG; i++) {
		assert_non_null(keyring_find(kr, fixture_agency[i]));
		assert_non_null(keyring_find_guardian(kr, fixture_agency[i]));
	}
	/* The example agreement signed by all, by three, and tampered. */
	const char *yaml = lib_path(dir, "agreement.yaml");
	size_t ylen;
	char *ex = scratch_read(fixture_agreement(), &ylen);
	for (int round = 0; round < 3; round++) {
		struct agreement_check *c = malloc(sizeof(*c));
		scratch_spit(yaml, ex, ylen, 0644);
		fixture_agreement_sign(yaml, k.keys,
		    round == 1 ? FIXTURE_ALL_GUARDIANS & ~(1u << FIXTURE_MHT)
		               : FIXTURE_ALL_GUARDIANS,
		    round == 2 ? "Caldicott" : NULL);
		size_t yl, nl;
		char *y = scratch_read(yaml, &yl);
		char *note =
		    scratch_read(lib_path(dir, "agreement.yaml.sig"), &nl);
		const char *ids[FIXTURE_NAG];
		for (int i = 0; i < FIXTURE_NAG; i++)
			ids[i] = fixture_agency[i];
		assert_int_equal(agreement_verify(y, yl, note, nl, NULL, 0, ids,
		                     FIXTURE_NAG, kr, c),
		    0);
		assert_int_equal(c->complete, round == 0);
		assert_int_equal(c->nmissing,
		    round == 0       ? 0
		        : round == 1 ? 1
		                     : 4);
		free(y);
		free(note);
		free(c);
	}
	free(ex);
	keyring_free(kr);
	assert_int_equal(keys_pepper_load(k.pepper, &pepper), 0);
	keys_pepper_free(pepper);
	scratch_rmrf(dir);
	free(dir);

	fixture_sign_seed(7, pk1, sk1);
	fixture_sign_seed(7, pk2, sk2);
	assert_memory_equal(pk1, pk2, 32);
	fixture_sign_seed(8, pk2, sk2);
	assert_memory_not_equal(pk1, pk2, 32);
	assert_int_equal(access(fixture_agreement(), R_OK), 0);
	for (int f = 1; f <= FIELDS_COUNT; f++)
		assert_non_null(fixture_record_field(f));
	assert_null(fixture_record_field(0));
	assert_null(fixture_record_field(FIELDS_COUNT + 1));
}

/* Every record of the demo is a valid outbox record once S1's msg_id is
 * in place, as the demo sends it. */
static void
demo_records(void **state)
{
	size_t n, len;
	char **names = demo_names(&n), s1[33];
	uint8_t id[16];
	bool have_s1 = false;

	(void)state;
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(s1, sizeof(s1), id, sizeof(id));
	assert_true(n >= 9);
	for (size_t i = 0; i < n; i++) {
		struct outrecord r;
		json_t *errors = json_array(), *j = demo_load(names[i]);
		char *buf = demo_text(names[i], s1, &len);
		int rc = outrecord_parse(
		    (const uint8_t *)buf, len, NULL, &r, errors);

		if (rc != 0) {
			char *e = json_dumps(errors, 0);
			fail_msg("%s: %s", names[i], e);
		}
		assert_true(json_is_object(j));
		assert_true(r.n_recipients >= 1);
		if (r.has_in_reply_to)
			assert_memory_equal(r.in_reply_to, id, sizeof(id));
		assert_null(strstr(buf, DEMO_S1_MSG_ID));
		have_s1 |= strcmp(names[i], "s1-triage-request") == 0;
		outrecord_release(&r);
		json_decref(errors);
		json_decref(j);
		free(buf);
	}
	assert_true(have_s1);
	demo_names_free(names);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(scratch_folders_and_files),
	    cmocka_unit_test(capture_a_verb),
	    cmocka_unit_test(agencies_key_files),
	    cmocka_unit_test(demo_records),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
