/*
 * The harness's agreements (harness.h): the SHA-256 a manifest names, the
 * fields the agreement allows (what an honest broker sends), signing an
 * agreement with the agencies' guardian keys, and Agreement frames for the
 * rogue broker to send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/urgency.h"
#include "keys/agreement.h"
#include "policy/policy.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

void
h_file_sha(const char *path, uint8_t sha[32])
{
	size_t len = 0;
	char *buf = scratch_slurp(path, &len);

	assert_non_null(buf);
	crypto_hash_sha256(sha, (const uint8_t *)buf, len);
	free(buf);
}

fieldset
h_allowed(struct h_sys *s, int from, int to, const char *purpose, int urgency,
    const char *justification)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	struct policy_decision *d = malloc(sizeof(*d));
	struct policy_question q = {fixture_agency[from], fixture_agency[to],
	    purpose, urgency ? urgency : URGENCY_URGENT,
	    justification != NULL && justification[0] != '\0', KIND_RECORD};
	fieldset got;

	assert_non_null(d);
	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_file(s->policy, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	assert_int_equal(policy_eval(p, &q, d), 0);
	got = d->disclosed;
	policy_free(p);
	free(d);
	return got;
}

void
h_sign_as(struct h_sys *s, const char *path, unsigned mask, const char *keydir)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	uint8_t sha[32];
	char *note = NULL;
	size_t note_len = 0;

	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_file(path, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	h_file_sha(path, sha);
	for (int i = 0; i < H_NAG; i++) {
		struct keys_secret *g = NULL;
		const char *key =
		    h_p("%s/%s.guardian.key", keydir, fixture_agency[i]);
		char *next = NULL;
		size_t next_len = 0;
		if (!(mask & (1u << i)))
			continue;
		if (access(key, F_OK) != 0)
			assert_int_equal(
			    keys_generate_guardian(fixture_agency[i], keydir),
			    0);
		assert_int_equal(keys_load_guardian(key, &g), 0);
		assert_int_equal(agreement_note_sign(note, note_len,
		                     policy_agreement(p),
		                     (uint64_t)policy_version(p), sha, g, &next,
		                     &next_len, NULL),
		    0);
		keys_secret_free(g);
		free(note);
		note = next;
		note_len = next_len;
	}
	if (note != NULL)
		scratch_write(h_p("%s.sig", path), note, 0644);
	free(note);
	policy_free(p);
	(void)s;
}

void
h_sign(struct h_sys *s, const char *path)
{
	const char *keys = h_p("%s/keys", s->dir);

	h_sign_as(s, path, (1u << H_NAG) - 1, keys);
	/* The guardians' public keys in the keyring, beside the agencies'. */
	for (int i = 0; i < H_NAG; i++) {
		size_t len = 0;
		char *pub = scratch_slurp(
		    h_p("%s/%s.guardian.pub", keys, fixture_agency[i]), &len);
		assert_non_null(pub);
		scratch_write(
		    h_p("%s/ring/%s.guardian.pub", s->dir, fixture_agency[i]),
		    pub, 0644);
		free(pub);
	}
}

void
h_rogue_agreement(struct h_rogue *r, const char *path)
{
	size_t ylen = 0, nlen = 0, len;
	char *yaml = scratch_slurp(path, &ylen);
	char *note = scratch_slurp(h_p("%s.sig", path), &nlen);
	uint8_t *frame;

	assert_non_null(yaml);
	assert_non_null(note);
	assert_int_equal(wire_agreement_encode((const uint8_t *)yaml, ylen,
	                     (const uint8_t *)note, nlen, &frame, &len),
	    0);
	h_rogue_send(r, frame, len);
	free(frame);
	free(yaml);
	free(note);
}
