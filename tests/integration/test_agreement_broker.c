/*
 * Signed agreements at the broker, with real processes: an
 * agreement missing one guardian's signature, one signed by a key the
 * keyring does not hold, and one with a byte of its YAML changed after
 * signing are each refused at start (exit 78) and on SIGHUP (the running
 * one kept), and every refusal is in the audit log as policy_refused; an
 * activated agreement is archived and `concordat audit agreement` prints
 * it back; `concordat policy install` puts a complete one in place and
 * the broker takes it, or puts the old one back when the broker refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "tests/integration/harness.h"

/* The three ways an agreement is not complete. */
enum bad { BAD_MISSING, BAD_UNKNOWN_KEY, BAD_BYTE, N_BAD };

static const char *const bad_names[N_BAD] = {
    "missing guardian", "key not in keyring", "byte changed"};

/* What the broker must say about each. */
static const char *const bad_say[N_BAD] = {
    "not signed by the guardian of: mental_health_trust",
    "police.guardian: signed by a key not in the keyring",
    "signed for other bytes than the file's",
};

static char *example; /* the example agreement's text */

/* A path held across calls (h_p's buffers are for one statement). */
static void __attribute__((format(printf, 2, 3)))
pathf(char buf[PATH_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
}

static int
setup(void **state)
{
	struct h_sys *s = h_sys_new(NULL, NULL, NULL, 1);

	example = scratch_read(s->policy, NULL);
	/* A police guardian key that no keyring holds. */
	h_guardian_new(s, "police", false);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	free(example);
	example = NULL;
	return 0;
}

static void
file_sha(const char *path, char hex[65])
{
	size_t len;
	uint8_t *buf = scratch_read(path, &len), h[32];

	crypto_hash_sha256(h, buf, len);
	sodium_bin2hex(hex, 65, h, 32);
	free(buf);
}

/* The example with "version: 1" made version v, as text (static). */
static const char *
versioned(int v)
{
	static char buf[65536];
	const char *at = strstr(example, "version: 1\n");

	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*sversion: %d\n%s", (int)(at - example),
	    example, v, at + strlen("version: 1\n"));
	return buf;
}

/* Writes the agreement at the live path, made bad the way b says. */
static void
write_bad(struct h_sys *s, enum bad b, const char *text)
{
	switch (b) {
	case BAD_MISSING:
		h_agreement_write(
		    s, s->policy, text, H_ALL_GUARDIANS & ~(1u << H_MHT), NULL);
		break;
	case BAD_UNKNOWN_KEY:
		h_agreement_write(s, s->policy, text,
		    H_ALL_GUARDIANS & ~(1u << H_POLICE), NULL);
		h_agreement_sign_key(
		    s, s->policy, h_p("%s/rogue/police.guardian.key", s->dir));
		break;
	case BAD_BYTE:
		/* A comment's byte: the YAML still loads, its hash differs. */
		h_agreement_write(
		    s, s->policy, text, H_ALL_GUARDIANS, "Caldicott");
		break;
	default:
		fail();
	}
}

/* The last policy_refused event: for sha, naming nsigners signers. */
static void
check_refused(struct h_sys *s, size_t n, const char *sha, size_t nsigners,
    const char *say)
{
	const char *args[] = {"--event", "policy_refused", NULL};
	json_t *evs = h_audit(s, args);

	assert_int_equal(json_array_size(evs), n);
	json_t *e = json_array_get(evs, n - 1);
	assert_string_equal(
	    json_string_value(json_object_get(e, "policy_sha256")), sha);
	assert_int_equal(
	    json_array_size(json_object_get(e, "signers")), nsigners);
	assert_string_equal(
	    json_string_value(json_object_get(e, "agreement_id")),
	    "example-crisis-care-concordat");
	const char *detail = json_string_value(json_object_get(e, "detail"));
	if (strstr(detail, say) == NULL)
		fail_msg("policy_refused detail lacks '%s': %s", say, detail);
	json_decref(evs);
}

static void
refused_at_start(void **state)
{
	struct h_sys *s = *state;
	char sha[65];

	s->no_auto_sign = true;
	for (int b = 0; b < N_BAD; b++) {
		char log[PATH_MAX];
		pathf(log, "%s/logs/refused-%d.log", s->dir, b);
		write_bad(s, (enum bad)b, example);
		file_sha(s->policy, sha);
		assert_int_equal(h_broker_refused(s, log), 78);
		char *text = scratch_read(log, NULL);
		if (strstr(text, bad_say[b]) == NULL)
			fail_msg("%s: the broker's refusal lacks '%s':\n%s",
			    bad_names[b], bad_say[b], text);
		assert_null(strstr(text, "listening on"));
		free(text);
		/* Audited; nothing activated, nothing archived. */
		check_refused(s, (size_t)b + 1, sha,
		    b == BAD_BYTE ? 0 : H_NAG - 1, bad_say[b]);
		assert_int_equal(h_audit_count(s, "policy_activated", NULL), 0);
		assert_int_equal(h_audit_count(s, "broker_started", NULL), 0);
		assert_false(access(h_p("%s/agreements/%s.yaml", s->data, sha),
		                 F_OK) == 0);
	}
	/* -n says the same, and starts nothing. */
	const char *check[] = {s->broker_bin, "-c", s->broker_yaml, "-n", NULL};
	const char *err = h_p("%s/check.err", s->dir);
	assert_int_equal(h_run(s, NULL, err, check), 78);
	char *text = scratch_read(err, NULL);
	assert_non_null(strstr(text, bad_say[BAD_BYTE]));
	free(text);

	/* Signed by every party: it starts. */
	h_agreement_write(s, s->policy, example, H_ALL_GUARDIANS, NULL);
	h_broker_start(s);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(h_audit_count(s, "policy_activated", NULL), 1);
	h_pass(s);
}

static void
refused_on_reload(void **state)
{
	struct h_sys *s = *state;
	char sha1[65], sha[65], sha2[65];

	h_broker_start(s);
	file_sha(s->policy, sha1);
	struct h_client *c = h_client_of(s, H_POLICE);
	uint8_t running[32];
	/* Sealed under the agreement in force, not the file now at the live
	 * path, which the broker refuses. */
	h_file_sha(s->policy, running);
	struct h_msg m = {.sender = H_POLICE, .agreement = running};
	uint8_t id[WIRE_MSG_ID_LEN];
	char hex[2 * WIRE_MSG_ID_LEN + 1];

	s->no_auto_sign = true;
	for (int b = 0; b < N_BAD; b++) {
		write_bad(s, (enum bad)b, versioned(2));
		file_sha(s->policy, sha);
		h_broker_reload(s);
		assert_true(h_wait_log(
		    &s->broker, "reload refused", (unsigned)b + 1, H_WAIT_MS));
		/* The line is logged before the event is committed. */
		assert_true(h_wait_audit(
		    s, "policy_refused", NULL, (size_t)b + 1, H_WAIT_MS));
		check_refused(s, (size_t)b + 1, sha,
		    b == BAD_BYTE ? 0 : H_NAG - 1, bad_say[b]);
		/* The running agreement decides on. */
		wire_frame_free(h_submit(s, c, &m, id));
		h_hex(id, sizeof(id), hex);
		const char *args[] = {
		    "--event", "decision", "--msg-id", hex, NULL};
		json_t *evs = h_audit(s, args);
		assert_int_equal(json_array_size(evs), 1);
		assert_string_equal(
		    json_string_value(json_object_get(
		        json_array_get(evs, 0), "policy_sha256")),
		    sha1);
		json_decref(evs);
		assert_int_equal(h_audit_count(s, "policy_activated", NULL), 1);
	}

	/* Version 2 signed by all: activated, archived, and named. */
	h_agreement_write(s, s->policy, versioned(2), H_ALL_GUARDIANS, NULL);
	file_sha(s->policy, sha2);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "reloaded: policy", 1, H_WAIT_MS));
	const char *args[] = {"--event", "policy_activated", NULL};
	json_t *evs = h_audit(s, args);
	assert_int_equal(json_array_size(evs), 2);
	json_t *e = json_array_get(evs, 1);
	assert_string_equal(
	    json_string_value(json_object_get(e, "policy_sha256")), sha2);
	assert_int_equal(
	    json_integer_value(json_object_get(e, "agreement_version")), 2);
	assert_int_equal(json_array_size(json_object_get(e, "signers")), H_NAG);
	json_decref(evs);
	m.agreement = NULL; /* sealed under the new one, now at the path */
	wire_frame_free(h_submit(s, c, &m, id));
	h_hex(id, sizeof(id), hex);
	const char *dargs[] = {"--event", "decision", "--msg-id", hex, NULL};
	evs = h_audit(s, dargs);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(evs, 0), "policy_sha256")),
	    sha2);
	json_decref(evs);
	h_client_free(c);

	/* Both archived, and printed back byte for byte. */
	for (int k = 0; k < 2; k++) {
		const char *h = k == 0 ? sha1 : sha2;
		const char *out = h_p("%s/archived-%d.yaml", s->dir, k);
		const char *argv[] = {s->cli, "audit", "agreement", "--data",
		    s->data, "--sha", h, NULL};
		assert_int_equal(h_run(s, out, NULL, argv), 0);
		char got[65];
		file_sha(out, got);
		assert_string_equal(got, h);
		const char *nout = h_p("%s/archived-%d.yaml.sig", s->dir, k);
		const char *nargv[] = {s->cli, "audit", "agreement", "--data",
		    s->data, "--sha", h, "--note", NULL};
		assert_int_equal(h_run(s, nout, NULL, nargv), 0);
		/* The archived pair verifies on its own. */
		const char *vargv[] = {s->cli, "policy", "verify", out,
		    "--keyring", h_p("%s/ring", s->dir), NULL};
		assert_int_equal(h_run(s, NULL, NULL, vargv), 0);
	}
	/* None archived under a refused one's sha; a damaged archive. */
	const char *argv[] = {s->cli, "audit", "agreement", "--data", s->data,
	    "--sha", sha, NULL};
	assert_int_equal(h_run(s, NULL, NULL, argv), 66);
	const char *path = h_p("%s/agreements/%s.yaml", s->data, sha1);
	scratch_write(path, "agreement: edited\n", 0600);
	const char *argv1[] = {s->cli, "audit", "agreement", "--data", s->data,
	    "--sha", sha1, NULL};
	assert_int_equal(h_run(s, NULL, NULL, argv1), 65);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

static void
install(void **state)
{
	struct h_sys *s = *state;
	char ring[PATH_MAX], next[PATH_MAX], err[PATH_MAX], out[PATH_MAX];
	char ring2[PATH_MAX], sha1[65], sha2[65], now[65];

	/* Paths held across calls: not h_p's ring of buffers. */
	pathf(ring, "%s/ring", s->dir);
	pathf(ring2, "%s/ring2", s->dir);
	pathf(next, "%s/next.yaml", s->dir);
	pathf(err, "%s/install.err", s->dir);
	pathf(out, "%s/install.out", s->dir);

	h_broker_start(s);
	file_sha(s->policy, sha1);
	s->no_auto_sign = true;

	/* Incomplete: refused, the live files untouched, no signal. */
	h_agreement_write(
	    s, next, versioned(2), H_ALL_GUARDIANS & ~(1u << H_SOCIAL), NULL);
	const char *inst[] = {s->cli, "policy", "install", next, s->policy,
	    "--keyring", ring, "--data", s->data, NULL};
	assert_int_equal(h_run(s, NULL, err, inst), 65);
	char *text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "not signed: social_care"));
	free(text);
	file_sha(s->policy, now);
	assert_string_equal(now, sha1);
	assert_int_equal(h_log_count(&s->broker, "reloaded"), 0);

	/* Complete: installed, the broker reloads and archives it. */
	h_agreement_write(s, next, versioned(2), H_ALL_GUARDIANS, NULL);
	file_sha(next, sha2);
	assert_int_equal(h_run(s, out, err, inst), 0);
	text = scratch_read(out, NULL);
	assert_non_null(strstr(text, "activated by the broker"));
	free(text);
	file_sha(s->policy, now);
	assert_string_equal(now, sha2);
	assert_true(
	    access(h_p("%s/agreements/%s.yaml", s->data, sha2), F_OK) == 0);
	/* No staged file is left beside the live one. */
	DIR *d = opendir(s->dir);
	struct dirent *de;
	if (d == NULL)
		fail_msg("cannot list %s", s->dir);
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".install") != NULL)
			fail_msg("%s left in %s", de->d_name, s->dir);
	if (d != NULL)
		closedir(d);

	/* Checked against another keyring than the broker's (its police
	 * guardian a rogue key): the broker refuses, the last pair returns. */
	const char *mk[] = {"/bin/cp", "-r", ring, ring2, NULL};
	assert_int_equal(h_run(s, NULL, NULL, mk), 0);
	const char *cpk[] = {"/bin/cp",
	    h_p("%s/rogue/police.guardian.pub", s->dir),
	    h_p("%s/police.guardian.pub", ring2), NULL};
	assert_int_equal(h_run(s, NULL, NULL, cpk), 0);
	h_agreement_write(
	    s, next, versioned(3), H_ALL_GUARDIANS & ~(1u << H_POLICE), NULL);
	h_agreement_sign_key(
	    s, next, h_p("%s/rogue/police.guardian.key", s->dir));
	const char *inst2[] = {s->cli, "policy", "install", next, s->policy,
	    "--keyring", ring2, "--data", s->data, "--wait", "5", NULL};
	assert_int_equal(h_run(s, NULL, err, inst2), 75);
	text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "back as they were"));
	free(text);
	file_sha(s->policy, now);
	assert_string_equal(now, sha2);
	assert_true(h_wait_log(&s->broker, "reload refused", 1, H_WAIT_MS));
	assert_int_equal(h_audit_count(s, "policy_refused", NULL), 1);
	/* And the pair put back is whole: the broker restarts with it. */
	assert_int_equal(h_broker_stop(s), 0);
	h_broker_start(s);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

static void
check_keyrings(void **state)
{
	struct h_sys *s = *state;
	char err[PATH_MAX], out[PATH_MAX];
	pathf(err, "%s/check.err", s->dir);
	pathf(out, "%s/check.out", s->dir);
	const char *check[] = {s->broker_bin, "-c", s->broker_yaml, "-n", NULL};
	char *text;

	/* A keyring agency the agreement does not name: a warning. */
	const char *gen[] = {s->cli, "keys", "generate", "--agency", "fire",
	    "--out", h_p("%s/ring", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	assert_int_equal(h_run(s, out, err, check), 0);
	text = scratch_read(out, NULL);
	assert_non_null(strstr(text, "warning: keyring agency 'fire'"));
	assert_non_null(strstr(text, "signed by the guardians of all 4"));
	free(text);

	/* A party without its .pub: refused, named. */
	assert_int_equal(unlink(h_p("%s/ring/social_care.pub", s->dir)), 0);
	assert_int_equal(h_run(s, NULL, err, check), 78);
	text = scratch_read(err, NULL);
	assert_non_null(strstr(text,
	    "agency 'social_care' of the agreement "
	    "has no social_care.pub"));
	free(text);

	/* The agent's -n: its key against its .pub in the keyring. */
	const char *acheck[] = {
	    s->agent_bin, "-c", h_agent_yaml(s, H_POLICE), "-n", NULL};
	assert_int_equal(h_run(s, out, NULL, acheck), 0);
	const char *regen[] = {s->cli, "keys", "generate", "--agency", "police",
	    "--out", h_p("%s/other", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, regen), 0);
	char *pub = scratch_read(h_p("%s/other/police.pub", s->dir), NULL);
	scratch_write(h_p("%s/ring/police.pub", s->dir), pub, 0644);
	free(pub);
	assert_int_equal(h_run(s, NULL, err, acheck), 78);
	text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "in the keyring says"));
	free(text);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(refused_at_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(refused_on_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(install, setup, teardown),
	    cmocka_unit_test_setup_teardown(check_keyrings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
