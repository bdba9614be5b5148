/*
 * The person `audit report` and `audit query` are about, in-process on
 * real LMDB logs: the pepper id (keys_pepper_id), a wrong pepper refused
 * where a log names its pepper (the old code printed "No disclosure" and
 * exited 0), a log older than pepper ids reported with a warning, several
 * identifiers merged without duplicates, and every bad identifier named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "audittest.h"
#include "common/urgency.h"
#include "keys/keys.h"
#include "tests/lib/scratch.h"

#define NHS_X    "9434765919"
#define NHS_NONE "9434765870" /* valid, never sent */

struct fixture {
	char *dir;
	char old[4096], new[4096], pepper[4096], wrong[4096];
	char ref_hex[65]; /* NHS_X's */
};

static void
path(char *out, const char *dir, const char *name)
{
	if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096)
		fail_msg("path too long");
}

/* A decision that disclosed identity, about ref, pepper_id when given. */
static void
decision(struct event *ev, uint8_t msg, const uint8_t *ref, const uint8_t *pid)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->time_ms = 1795440362000ULL + msg * 1000ULL;
	strcpy(ev->sender, "police");
	strcpy(ev->recipient, "mental_health_trust");
	strcpy(ev->purpose, "triage_advice");
	ev->urgency = URGENCY_URGENT;
	ev->kind = KIND_RECORD;
	ev->has_msg_id = true;
	memset(ev->msg_id, msg, sizeof(ev->msg_id));
	ev->has_subject_ref = true;
	memcpy(ev->subject_ref, ref, WIRE_REF_LEN);
	ev->disclosed = FIELDS_BIT(FIELD_IDENTITY);
	if (pid != NULL) {
		ev->has_pepper_id = true;
		memcpy(ev->pepper_id, pid, WIRE_REF_LEN);
	}
}

/* Two disclosures about one person, by NHS number and by name. */
static void
make_log(const char *dir, const uint8_t *pepper, bool with_id)
{
	struct audittest_log l;
	struct audittest_key k;
	struct event *ev = malloc(sizeof(*ev));
	uint8_t ref[KEYS_REF_LEN], pid[KEYS_PEPPER_ID_LEN];

	assert_non_null(ev);
	keys_pepper_id(pepper, pid);
	audittest_key(&k, 7);
	audittest_open(&l, dir, 16u << 20);
	assert_int_equal(keys_subject_ref_nhs(pepper, NHS_X, ref), 0);
	decision(ev, 1, ref, with_id ? pid : NULL);
	(void)audittest_append_one(&l, &k, ev);
	assert_int_equal(
	    keys_subject_ref_name(pepper, "Smith", "John", "1970-01-01", ref),
	    0);
	decision(ev, 2, ref, with_id ? pid : NULL);
	(void)audittest_append_one(&l, &k, ev);
	audittest_close(&l);
	free(ev);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t *pepper, ref[KEYS_REF_LEN];

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	f->dir = scratch_dir("subject");
	path(f->old, f->dir, "old");
	path(f->new, f->dir, "new");
	path(f->pepper, f->dir, "pepper");
	path(f->wrong, f->dir, "wrong-pepper");
	assert_int_equal(keys_pepper_generate(f->pepper), 0);
	assert_int_equal(keys_pepper_generate(f->wrong), 0);
	assert_int_equal(keys_pepper_load(f->pepper, &pepper), 0);
	make_log(f->old, pepper, false);
	make_log(f->new, pepper, true);
	assert_int_equal(keys_subject_ref_nhs(pepper, NHS_X, ref), 0);
	sodium_bin2hex(f->ref_hex, sizeof(f->ref_hex), ref, sizeof(ref));
	keys_pepper_free(pepper);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	scratch_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* BLAKE2b-256 keyed by the pepper over the documented 22 bytes. */
static void
test_pepper_id(void **state)
{
	uint8_t p1[KEYS_PEPPER_LEN], p2[KEYS_PEPPER_LEN];
	uint8_t a[32], b[32], want[32], ref[32];

	(void)state;
	memset(p1, 0x11, sizeof(p1));
	memset(p2, 0x22, sizeof(p2));
	keys_pepper_id(p1, a);
	crypto_generichash(want, 32, (const uint8_t *)"concordat pepper-id v1",
	    22, p1, sizeof(p1));
	assert_memory_equal(a, want, 32);
	keys_pepper_id(p1, b);
	assert_memory_equal(a, b, 32); /* the same for every agency */
	keys_pepper_id(p2, b);
	assert_memory_not_equal(a, b, 32);  /* names its pepper */
	assert_memory_not_equal(a, p1, 32); /* and is not it */
	assert_int_equal(keys_subject_ref_nhs(p1, NHS_X, ref), 0);
	assert_memory_not_equal(a, ref, 32);
	assert_int_equal(keys_subject_ref_name(p1, "concordat pepper-id v1",
	                     "x", "2000-01-01", ref),
	    0);
	assert_memory_not_equal(a, ref, 32);
}

/* The log names its pepper: the right one finds both, a wrong one fails. */
static void
test_pepper_check(void **state)
{
	struct fixture *f = *state;
	char *out, *err;

	assert_int_equal(
	    audittest_cli(&out, &err, "report", "--data", f->new, "--pepper",
	        f->pepper, "--subject", NHS_X, "--name", "SMITH, John ",
	        "--dob", "1970-01-01", NULL),
	    EX_OK);
	assert_non_null(strstr(out,
	    "This report covers 2 identifiers: NHS number 943 476 5919; "
	    "name SMITH, John born 1970-01-01\n"));
	assert_non_null(strstr(out, "Log entry: 0\n"));
	assert_non_null(strstr(out, "Log entry: 1\n"));
	assert_non_null(strstr(out, "\n2 disclosures in all."));
	assert_null(strstr(out, "Warning"));
	free(out);
	free(err);
	/* A person never sent, with the right pepper: nothing, and exit 0. */
	assert_int_equal(
	    audittest_cli(&out, NULL, "report", "--data", f->new, "--pepper",
	        f->pepper, "--subject", NHS_NONE, NULL),
	    EX_OK);
	assert_non_null(strstr(out, "No disclosure of information"));
	free(out);
	/* A wrong pepper: refused, by report and by query. */
	assert_int_equal(audittest_cli(&out, &err, "report", "--data", f->new,
	                     "--pepper", f->wrong, "--subject", NHS_X, NULL),
	    EX_DATAERR);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "audit report: the pepper "));
	assert_non_null(strstr(err, "wrong-pepper (id "));
	assert_non_null(strstr(err,
	    "was never used by any agency in this log: wrong pepper file?"));
	free(out);
	free(err);
	assert_int_equal(audittest_cli(&out, &err, "query", "--data", f->new,
	                     "--pepper", f->wrong, "--subject", NHS_X, NULL),
	    EX_DATAERR);
	assert_non_null(strstr(err, "audit query: the pepper "));
	free(out);
	free(err);
	assert_int_equal(
	    audittest_cli(&out, &err, "query", "--data", f->new, "--pepper",
	        f->pepper, "--subject", NHS_X, "--json", NULL),
	    EX_OK);
	assert_non_null(strstr(out, f->ref_hex));
	assert_string_equal(err, "");
	free(out);
	free(err);
}

/* A log older than pepper ids cannot check: it says so and still reports. */
static void
test_old_log(void **state)
{
	struct fixture *f = *state;
	char *out, *err;

	assert_int_equal(audittest_cli(&out, &err, "report", "--data", f->old,
	                     "--pepper", f->wrong, "--subject", NHS_X, NULL),
	    EX_OK);
	assert_non_null(strstr(out,
	    "Warning: no entry of this log names the pepper it was made "
	    "with"));
	assert_non_null(strstr(out, "cannot be checked"));
	assert_non_null(strstr(out, "No disclosure"));
	free(out);
	free(err);
	assert_int_equal(
	    audittest_cli(&out, &err, "report", "--data", f->old, "--pepper",
	        f->pepper, "--subject", NHS_X, "--json", NULL),
	    EX_OK);
	assert_non_null(strstr(err, "audit report: warning: no entry"));
	assert_null(strstr(out, "Warning")); /* the JSON stays JSON */
	free(out);
	free(err);
	assert_int_equal(audittest_cli(&out, &err, "query", "--data", f->old,
	                     "--pepper", f->pepper, "--subject", NHS_X, NULL),
	    EX_OK);
	assert_non_null(strstr(err, "audit query: warning: no entry"));
	free(out);
	free(err);
}

/* The same event under two identifiers of it is listed once. */
static void
test_merge(void **state)
{
	struct fixture *f = *state;
	char *out;

	assert_int_equal(
	    audittest_cli(&out, NULL, "report", "--data", f->new, "--pepper",
	        f->pepper, "--subject", NHS_X, "--subject-ref", f->ref_hex,
	        "--subject", "943 476 5919", NULL),
	    EX_OK);
	assert_non_null(strstr(out, "This report covers 3 identifiers"));
	assert_non_null(strstr(out, "\n1 disclosure in all."));
	free(out);
	/* --subject-ref alone needs no pepper: then nothing is checked. */
	assert_int_equal(audittest_cli(&out, NULL, "report", "--data", f->new,
	                     "--subject-ref", f->ref_hex, "--html", NULL),
	    EX_OK);
	assert_non_null(strstr(out, "<tr id=\"entry-0\">"));
	assert_null(strstr(out, "entry-1"));
	free(out);
}

/* Every bad identifier is named, and exits 64. */
static void
test_bad_identifiers(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *args[6], *says;
	} cases[] = {
	    {{"--subject", "9434765918"}, "'9434765918' is not a valid NHS"},
	    {{"--name", "SMITH,John"}, "--name 'SMITH,John' needs --dob"},
	    {{"--name", "SMITH", "--dob", "1970-01-01"},
	        "--name 'SMITH': want SURNAME,FORENAME"},
	    {{"--name", " ,John", "--dob", "1970-01-01"},
	        "must not be empty or hold '|'"},
	    {{"--name", "S,J", "--dob", "1970-13-01"},
	        "--dob '1970-13-01': not a date YYYY-MM-DD"},
	    {{"--name", "S,J", "--dob", "1970-02-30"}, "'1970-02-30': not a"},
	    {{"--name", "S,J", "--dob", "01/02/1970"}, "'01/02/1970': not a"},
	    {{"--dob", "1970-01-01"}, "--dob '1970-01-01' without a --name"},
	    {{"--subject-ref", "abc"}, "--subject-ref 'abc': want 64 hex"},
	    {{"--subject-ref", "zz"}, "want 64 hex digits"},
	    {{"--subject", NHS_X, "--json", "--html"}, "--json or --html"},
	};
	char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;
		int rc = audittest_cli(NULL, &err, "report", "--data", f->new,
		    "--pepper", f->pepper, a[0], a[1], a[2], a[3], a[4], NULL);
		if (rc != EX_USAGE || strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu: exit %d, %s", i, rc, err);
		free(err);
	}
	/* An NHS number or a name needs the pepper. */
	assert_int_equal(audittest_cli(NULL, &err, "report", "--data", f->new,
	                     "--name", "S,J", "--dob", "1970-01-01", NULL),
	    EX_USAGE);
	assert_non_null(strstr(err, "--name needs --pepper FILE"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pepper_id),
	    cmocka_unit_test(test_pepper_check),
	    cmocka_unit_test(test_old_log),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_bad_identifiers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
