/*
 * The subject access report of a person sent once by NHS number and once
 * by name, through real agents and a real broker: asked with both
 * identifiers it lists both disclosures and says it covers both; `keys
 * subject-ref` prints the subject_ref the agents put in the manifests;
 * a pepper the log never saw is refused with a message naming it, by
 * report and by query, where the old code printed "No disclosure" and
 * exited 0.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/lib/scratch.h"

static const char by_nhs[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"local_id\": \"by-nhs\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"John Smith\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

static const char by_name[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"local_id\": \"by-name\","
    " \"subject\": {\"surname\": \"Smith\", \"forename\": \"John\","
    " \"date_of_birth\": \"1970-01-01\"},"
    " \"fields\": {\"identity\": {\"name\": \"John Smith\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

/* Runs `concordat ARGS...`; its exit status, stdout and stderr (freed by
 * the caller). */
static int
run(struct h_sys *s, char **out, char **err, const char *const args[])
{
	const char *argv[32] = {s->cli};
	const char *o = h_p("%s/run.out", s->dir),
	           *e = h_p("%s/run.err", s->dir);
	size_t n = 1, len;
	int rc;

	for (size_t i = 0; args[i] != NULL; i++) {
		assert_true(n < 31);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	rc = h_run(s, o, e, argv);
	*out = scratch_slurp(o, &len);
	*err = scratch_slurp(e, &len);
	assert_non_null(*out);
	assert_non_null(*err);
	return rc;
}

/* The subject_ref `keys subject-ref` prints for args (64 hex digits). */
static void
subject_ref(struct h_sys *s, const char *const args[], char hex[65])
{
	char *out, *err;

	int rc = run(s, &out, &err, args);
	if (rc != 0)
		fail_msg("keys subject-ref exited %d: %s", rc, err);
	assert_int_equal(strlen(out), 65);
	memcpy(hex, out, 64);
	hex[64] = '\0';
	free(out);
	free(err);
}

static void
test_two_identifiers(void **state)
{
	struct h_sys *s = *state;
	char pepper[PATH_MAX + 16], wrong[PATH_MAX + 16];
	char nhs_ref[65], name_ref[65], found[PATH_MAX], *out, *err;

	/* h_p's buffers are a ring: paths kept for the test are copied. */
	snprintf(pepper, sizeof(pepper), "%s/keys/pepper", s->dir);
	snprintf(wrong, sizeof(wrong), "%s/wrong-pepper", s->dir);
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	h_drop(s, H_POLICE, "by-nhs.json", by_nhs);
	h_drop(s, H_POLICE, "by-name.json", by_name);
	assert_true(
	    h_wait_count(h_spool(s, H_MHT, "inbox"), ".json", 2, H_WAIT_MS));

	/* keys subject-ref computes what the agent put in each manifest:
	 * the recipient's inbox shows the manifest's subject_ref, and so
	 * does the log. */
	subject_ref(s,
	    (const char *const[]){"keys", "subject-ref", "--pepper", pepper,
	        "--subject", "943 476 5919", NULL},
	    nhs_ref);
	subject_ref(s,
	    (const char *const[]){"keys", "subject-ref", "--pepper", pepper,
	        "--name", " SMITH ,john", "--dob", "1970-01-01", NULL},
	    name_ref);
	assert_string_not_equal(nhs_ref, name_ref);
	assert_int_equal(h_tree_grep(h_spool(s, H_MHT, "inbox"), nhs_ref, found,
	                     sizeof(found)),
	    1);
	assert_int_equal(h_tree_grep(h_spool(s, H_MHT, "inbox"), name_ref,
	                     found, sizeof(found)),
	    1);
	json_t *evs = h_audit(s,
	    (const char *const[]){
	        "--event", "decision", "--subject-ref", nhs_ref, NULL});
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);
	evs = h_audit(s,
	    (const char *const[]){
	        "--event", "decision", "--subject-ref", name_ref, NULL});
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);

	/* Both identifiers: both disclosures, and the report says so. */
	assert_int_equal(
	    run(s, &out, &err,
	        (const char *const[]){"audit", "report", "--data", s->data,
	            "--pepper", pepper, "--subject", "9434765919", "--name",
	            "Smith,John", "--dob", "1970-01-01", NULL}),
	    0);
	assert_non_null(strstr(out,
	    "This report covers 2 identifiers: NHS number 943 476 5919; "
	    "name Smith, John born 1970-01-01\n"));
	assert_non_null(strstr(out, "\n1. "));
	assert_non_null(strstr(out, "\n2. "));
	assert_non_null(strstr(out, "\n2 disclosures in all."));
	assert_null(strstr(out, "Warning:")); /* the pepper was checked */
	free(out);
	free(err);
	/* One identifier: half of it. */
	assert_int_equal(
	    run(s, &out, &err,
	        (const char *const[]){"audit", "report", "--data", s->data,
	            "--pepper", pepper, "--subject", "9434765919", NULL}),
	    0);
	assert_non_null(strstr(out, "\n1 disclosure in all."));
	free(out);
	free(err);
	/* The letter: both rows. */
	assert_int_equal(
	    run(s, &out, &err,
	        (const char *const[]){"audit", "report", "--data", s->data,
	            "--pepper", pepper, "--subject-ref", nhs_ref,
	            "--subject-ref", name_ref, "--html", NULL}),
	    0);
	assert_non_null(strstr(out, "<!DOCTYPE html>"));
	assert_non_null(strstr(out, "This report covers 2 identifiers:"));
	assert_non_null(strstr(out, "2 disclosures in all."));
	free(out);
	free(err);

	/* A wrong pepper: refused, naming the problem, by report and query. */
	assert_int_equal(h_run(s, NULL, NULL,
	                     (const char *const[]){s->cli, "keys", "pepper",
	                         "--out", wrong, NULL}),
	    0);
	assert_int_equal(
	    run(s, &out, &err,
	        (const char *const[]){"audit", "report", "--data", s->data,
	            "--pepper", wrong, "--subject", "9434765919", NULL}),
	    EX_DATAERR);
	assert_non_null(strstr(err, "audit report: the pepper "));
	assert_non_null(strstr(err,
	    "was never used by any agency in this log: wrong pepper file?"));
	assert_null(strstr(out, "No disclosure"));
	free(out);
	free(err);
	assert_int_equal(run(s, &out, &err,
	                     (const char *const[]){"audit", "query", "--data",
	                         s->data, "--pepper", wrong, "--name",
	                         "Smith,John", "--dob", "1970-01-01", NULL}),
	    EX_DATAERR);
	assert_non_null(strstr(err, "wrong pepper file?"));
	free(out);
	free(err);
	h_pass(s);
}

static int
setup(void **state)
{
	*state = h_sys_new(NULL, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_two_identifiers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
