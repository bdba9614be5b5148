/*
 * Bad input at the edges: malformed outbox records go to failed/ with a
 * .error.json naming every problem and nothing deleted; a broker
 * configuration with errors is refused with FILE:LINE messages and exit
 * 78; secret keys that others can read, or that are symlinks, stop the
 * daemons with a clear message.
 */
#include <dirent.h>
#include <limits.h>
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

#include "tests/integration/harness.h"

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

#define GOOD_HEAD                                                              \
	"{\"recipients\": [\"mental_health_trust\"],\n"                        \
	" \"purpose\": \"triage_advice\", \"kind\": \"record\",\n"             \
	" \"local_id\": \"INC-7\",\n"

struct bad {
	const char *name;
	const char *text;
	const char *paths[4]; /* every error's path, in order */
	const char *says[4];  /* something each message says */
};

static const struct bad bads[] = {
    {"broken.json", GOOD_HEAD " \"urgency\": \"urgent\",\n \"subject\": {",
        {"line 5"}, {"not valid JSON"}},
    {"typo.json",
        GOOD_HEAD " \"urgency\": \"urgent\",\n"
                  " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
                  " \"fields\": {\"clincal\": {\"notes\": \"x\"}}}\n",
        {"fields.clincal"}, {"did you mean 'clinical'?"}},
    {"nhs.json",
        GOOD_HEAD " \"urgency\": \"urgent\",\n"
                  " \"subject\": {\"nhs_number\": \"9434765918\"},\n"
                  " \"fields\": {\"risks\": {\"self_harm\": \"high\"}}}\n",
        {"subject.nhs_number"}, {"not a valid NHS number"}},
    {"glass.json",
        GOOD_HEAD " \"urgency\": \"emergency\",\n"
                  " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
                  " \"fields\": {\"risks\": {\"self_harm\": \"high\"}}}\n",
        {"reason", "justification"}, {"risk_to_life", "must say why"}},
    {"reason.json",
        GOOD_HEAD " \"urgency\": \"emergency\", \"reason\": \"danger\",\n"
                  " \"justification\": \"on a bridge\",\n"
                  " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
                  " \"fields\": {\"risks\": {\"self_harm\": \"high\"}}}\n",
        {"reason"},
        {"expected one of risk_to_life, serious_harm, "
         "safeguarding_child, safeguarding_adult"}},
    {"notglass.json",
        GOOD_HEAD " \"urgency\": \"urgent\", \"reason\": \"risk_to_life\",\n"
                  " \"justification\": \"on a bridge\",\n"
                  " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
                  " \"fields\": {\"risks\": {\"self_harm\": \"high\"}}}\n",
        {"reason", "justification"},
        {"only an emergency record gives a reason",
            "only an emergency record carries a justification"}},
    {"all.json",
        GOOD_HEAD " \"urgency\": \"emergency\", \"reason\": \"serious_harm\",\n"
                  " \"subject\": {\"nhs_number\": \"1234567890\"},\n"
                  " \"fields\": {\"risks\": {\"self_harm\": \"hihg\"},\n"
                  "            \"dependants\": {\"pets\": \"cat\"}}}\n",
        {"justification", "subject.nhs_number", "fields.risks.self_harm",
            "fields.dependants"},
        {"must say why", "NHS number", "high", "did you mean 'dependents'?"}},
};
#define N_BAD (sizeof(bads) / sizeof(bads[0]))

static const char good[] =
    GOOD_HEAD " \"urgency\": \"urgent\",\n"
              " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
              " \"fields\": {\"risks\": {\"self_harm\": \"high\"}}}\n";

/* Malformed records: failed/, every problem named, nothing lost. */
static void
malformed_outbox_files(void **state)
{
	struct h_sys *s = *state;
	char failed[PATH_MAX], sent[PATH_MAX];

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	snprintf(failed, sizeof(failed), "%s", h_spool(s, H_POLICE, "failed"));
	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	for (size_t i = 0; i < N_BAD; i++)
		h_drop(s, H_POLICE, bads[i].name, bads[i].text);
	h_drop(s, H_POLICE, "good.json", good);

	for (size_t i = 0; i < N_BAD; i++) {
		const struct bad *b = &bads[i];
		char stem[64];
		snprintf(stem, sizeof(stem), "%.*s", (int)strlen(b->name) - 5,
		    b->name);
		const char *errp = h_p("%s/%s.error.json", failed, stem);
		if (!h_wait_file(errp, H_WAIT_MS))
			fail_msg("%s: no %s", b->name, errp);
		/* The record itself is kept, byte for byte. */
		const char *kept = h_p("%s/%s", failed, b->name);
		assert_true(h_wait_file(kept, H_WAIT_MS));
		char *text = scratch_slurp(kept, NULL);
		assert_string_equal(text, b->text);
		free(text);

		json_t *e = h_json(errp);
		assert_string_equal(
		    json_string_value(json_object_get(e, "file")), b->name);
		assert_true(json_is_string(json_object_get(e, "failed_at")));
		json_t *errs = json_object_get(e, "errors");
		size_t want = 0;
		while (want < 4 && b->paths[want] != NULL)
			want++;
		if (json_array_size(errs) != want) {
			char *d = json_dumps(errs, 0);
			fail_msg("%s: %zu errors expected, got %s", b->name,
			    want, d);
		}
		for (size_t k = 0; k < want; k++) {
			/* Each named problem, in any order. */
			bool hit = false;
			for (size_t j = 0; j < json_array_size(errs); j++) {
				json_t *x = json_array_get(errs, j);
				const char *p = json_string_value(
				    json_object_get(x, "path"));
				const char *m = json_string_value(
				    json_object_get(x, "message"));
				hit |= p != NULL && m != NULL &&
				    strcmp(p, b->paths[k]) == 0 &&
				    strstr(m, b->says[k]) != NULL;
			}
			if (!hit) {
				char *d = json_dumps(errs, 0);
				fail_msg("%s: no error at %s saying '%s': %s",
				    b->name, b->paths[k], b->says[k], d);
			}
		}
		json_decref(e);
		assert_false(access(h_p("%s/%s", sent, b->name), F_OK) == 0);
	}

	/* The good one beside them went through. */
	const char *receipt = h_p("%s/good.receipt.json", sent);
	assert_true(h_wait_file(receipt, H_WAIT_MS));
	json_t *r = h_json(receipt);
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	const char *id = json_string_value(json_object_get(r, "msg_id"));
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"), id), H_WAIT_MS));
	assert_true(h_wait_file(h_p("%s/good.json", sent), H_WAIT_MS));
	json_decref(r);
	/* Nothing left behind, nothing lost, and only the good one sent. */
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ""), 0);
	assert_int_equal(h_count(failed, ".error.json"), N_BAD);
	assert_int_equal(h_count(failed, ""), 2 * N_BAD);
	assert_int_equal(h_count(sent, ""), 2);
	assert_int_equal(h_audit_count(s, "accepted", NULL), 1);
	assert_int_equal(h_audit_count(s, "rejected", NULL), 0);
	h_pass(s);
}

/*
 * A local system that reuses a name: the second record is sent too, and
 * filed under its msg_id beside the first, which stays as it was.
 */
static void
reused_outbox_name(void **state)
{
	struct h_sys *s = *state;
	char sent[PATH_MAX], other[1024], *text;
	const char *ids[2];
	json_t *r[2];

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	h_drop(s, H_POLICE, "same.json", good);
	assert_true(h_wait_file(h_p("%s/same.json", sent), H_WAIT_MS));
	r[0] = h_json(h_p("%s/same.receipt.json", sent));
	ids[0] = json_string_value(json_object_get(r[0], "msg_id"));
	/* A different record under the same name. */
	snprintf(other, sizeof(other), "%s", good);
	memcpy(strstr(other, "\"high\""), "\"low\" ", 6);
	h_drop(s, H_POLICE, "same.json", other);
	assert_true(h_wait_count(sent, "", 4, H_WAIT_MS));
	assert_int_equal(h_count(sent, ".receipt.json"), 2);
	text = scratch_slurp(h_p("%s/same.json", sent), NULL);
	assert_string_equal(text, good);
	free(text);
	/* The second is under its own msg_id. */
	DIR *d = opendir(sent);
	struct dirent *de;
	char second[64] = "";
	while ((de = readdir(d)) != NULL)
		if (strlen(de->d_name) > 33 && de->d_name[32] == '-' &&
		    strstr(de->d_name, ".receipt.json") != NULL)
			snprintf(second, sizeof(second), "%.32s", de->d_name);
	closedir(d);
	assert_int_equal(strlen(second), 32);
	assert_string_not_equal(second, ids[0]);
	r[1] = h_json(h_p("%s/%s-same.receipt.json", sent, second));
	ids[1] = json_string_value(json_object_get(r[1], "msg_id"));
	assert_string_equal(ids[1], second);
	text = scratch_slurp(h_p("%s/%s-same.json", sent, second), NULL);
	assert_non_null(text);
	assert_string_equal(text, other);
	free(text);
	json_decref(r[0]);
	json_decref(r[1]);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* `concordat-broker -n` names every error with FILE:LINE; exit 78. */
static void
broker_config_errors(void **state)
{
	struct h_sys *s = *state;
	const char *conf = h_p("%s/bad.yaml", s->dir);
	const char *pol = h_p("%s/badpolicy.yaml", s->dir);
	const char *err = h_p("%s/check.err", s->dir);
	char *text;

	scratch_write(conf,
	    "lisen: ipc:///nowhere.sock\n"
	    "key: keys/broker.key\n"
	    "keyring: ring\n"
	    "policy: badpolicy.yaml\n"
	    "data: bdata2\n"
	    "map_size_mb: 2\n"
	    "clock_skew: soon\n",
	    0644);
	scratch_write(pol,
	    "agreement: broken\n"
	    "version: 1\n"
	    "approved_by: nobody\n"
	    "agencies: [police, mental_health_trust]\n"
	    "purposes:\n"
	    "  triage_advice:\n"
	    "    description: d\n"
	    "    expires_after: 30m\n"
	    "rules:\n"
	    "  - id: r1\n"
	    "    from: police\n"
	    "    to: [mental_health_trust]\n"
	    "    purposes: [triage_advise]\n"
	    "    share: [identity, clincal]\n"
	    "    basis: b\n",
	    0644);
	const char *check[] = {s->broker_bin, "-c", conf, "-n", NULL};
	assert_int_equal(h_run(s, NULL, err, check), 78);
	text = scratch_slurp(err, NULL);
	assert_non_null(text);
	static const char *const want[] = {
	    ":1: unknown key 'lisen' (did you mean 'listen'?)",
	    ":1: missing required key 'listen'",
	    ":6: map_size_mb: 2 is out of range",
	    ":7: clock_skew: 'soon' is not a duration",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, h_p("%s%s", conf, want[i])) == NULL)
			fail_msg("missing '%s%s' in:\n%s", conf, want[i], text);
	free(text);
	/* Started for real, the same file is refused the same way. */
	const char *run[] = {s->broker_bin, "-c", conf, "-f", NULL};
	assert_int_equal(h_run(s, NULL, NULL, run), 78);
	assert_false(access(h_p("%s/bdata2", s->dir), F_OK) == 0);

	/* A good file naming a policy with errors: the policy's lines. */
	scratch_write(conf,
	    "listen: ipc:///nowhere.sock\n"
	    "key: keys/broker.key\n"
	    "keyring: ring\n"
	    "policy: badpolicy.yaml\n"
	    "data: bdata2\n",
	    0644);
	assert_int_equal(h_run(s, NULL, err, check), 78);
	text = scratch_slurp(err, NULL);
	static const char *const pwant[] = {
	    ":13: undeclared purpose 'triage_advise' (did you mean "
	    "'triage_advice'?)",
	    ":14: unknown field 'clincal' (did you mean 'clinical'?)",
	};
	for (size_t i = 0; i < sizeof(pwant) / sizeof(pwant[0]); i++)
		if (strstr(text, h_p("%s%s", pol, pwant[i])) == NULL)
			fail_msg("missing '%s%s' in:\n%s", pol, pwant[i], text);
	free(text);
	assert_false(access(h_p("%s/bdata2", s->dir), F_OK) == 0);
	h_pass(s);
}

/* Runs the broker in the foreground; it must refuse and say why. */
static void
broker_refuses(struct h_sys *s, const char *key, const char *say)
{
	const char *err = h_p("%s/refuse.err", s->dir);
	const char *run[] = {s->broker_bin, "-c", s->broker_yaml, "-f", NULL};
	const char *check[] = {s->broker_bin, "-c", s->broker_yaml, "-n", NULL};
	char *text;

	assert_int_equal(h_run(s, NULL, err, run), 77);
	text = scratch_slurp(err, NULL);
	if (strstr(text, key) == NULL || strstr(text, say) == NULL)
		fail_msg("no clear refusal naming %s: %s", key, text);
	free(text);
	assert_int_equal(h_run(s, NULL, err, check), 77);
	text = scratch_slurp(err, NULL);
	assert_non_null(strstr(text, say));
	free(text);
	/* It never got as far as listening or opening its data. */
	assert_false(access(h_p("%s/broker.sock", s->dir), F_OK) == 0);
	assert_false(access(s->data, F_OK) == 0);
}

/* A secret key others can read, or a symlink, stops the daemons. */
static void
readable_key_refused(void **state)
{
	struct h_sys *s = *state;
	char key[PATH_MAX], moved[PATH_MAX];

	snprintf(key, sizeof(key), "%s", h_p("%s/keys/broker.key", s->dir));
	snprintf(
	    moved, sizeof(moved), "%s", h_p("%s/keys/real-broker.key", s->dir));
	assert_int_equal(chmod(key, 0644), 0);
	broker_refuses(s, key, "must be mode 0600");
	assert_int_equal(chmod(key, 0640), 0);
	broker_refuses(s, key, "must be mode 0600");

	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(rename(key, moved), 0);
	assert_int_equal(symlink(moved, key), 0);
	broker_refuses(s, key, "not a symlink");
	assert_int_equal(unlink(key), 0);
	assert_int_equal(rename(moved, key), 0);

	/* An agency's agent, the same. */
	const char *akey = h_p("%s/keys/police.key", s->dir);
	const char *err = h_p("%s/agent.err", s->dir);
	const char *acheck[] = {
	    s->agent_bin, "-c", h_p("%s/police.yaml", s->dir), "-f", NULL};
	assert_int_equal(chmod(akey, 0604), 0);
	assert_int_equal(h_run(s, NULL, err, acheck), 77);
	char *text = scratch_slurp(err, NULL);
	assert_non_null(strstr(text, "must be mode 0600"));
	free(text);
	assert_int_equal(chmod(akey, 0600), 0);

	/* Put right, the broker starts. */
	h_broker_start(s);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        malformed_outbox_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        reused_outbox_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        broker_config_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        readable_key_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
