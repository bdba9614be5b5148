/*
 * The harness's agreements as agents hold them (harness.h): the SHA-256 a
 * manifest names, the fields the agreement allows (what an honest broker
 * sends), Agreement frames for the rogue broker to send, and an agent's
 * archive filled before it starts.
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
    int reason)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	struct policy_decision *d = malloc(sizeof(*d));
	struct policy_question q = {.from = fixture_agency[from],
	    .to = fixture_agency[to],
	    .purpose = purpose,
	    .urgency = urgency ? urgency : URGENCY_URGENT,
	    .reason = reason,
	    .kind = KIND_RECORD};
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

const char *
h_agreements_dir(struct h_sys *s, int agency)
{
	return h_p(
	    "%s/spool/%s.state/agreements", s->dir, fixture_agency[agency]);
}

void
h_agent_hold_agreement(struct h_sys *s, int agency)
{
	const char *dir = h_agreements_dir(s, agency);
	uint8_t sha[32];
	char hex[65], line[80];
	size_t len = 0;
	char *yaml, *note;

	harness_mkdirs(dir);
	h_file_sha(s->policy, sha);
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	yaml = scratch_slurp(s->policy, &len);
	note = scratch_slurp(h_p("%s.sig", s->policy), &len);
	assert_non_null(yaml);
	assert_non_null(note);
	scratch_write(h_p("%s/%s.yaml", dir, hex), yaml, 0640);
	scratch_write(h_p("%s/%s.yaml.sig", dir, hex), note, 0640);
	snprintf(line, sizeof(line), "%s\n", hex);
	scratch_write(h_p("%s/current", dir), line, 0640);
	free(yaml);
	free(note);
}

bool
h_broker_agreement(struct h_sys *s, uint8_t sha[32])
{
	static const char *const marks[] = {"; policy ", "reloaded: policy "};
	const char *last = NULL;
	size_t len = 0, got = 0;
	char *log;

	if (s->broker.log[0] == '\0' ||
	    (log = scratch_slurp(s->broker.log, &len)) == NULL)
		return false;
	const char *at = NULL;
	for (size_t k = 0; k < 2; k++)
		for (const char *p = strstr(log, marks[k]); p != NULL;
		     p = strstr(p + 1, marks[k]))
			if (at == NULL || p > at) {
				at = p;
				last = p + strlen(marks[k]);
			}
	bool ok = last != NULL && strlen(last) >= 64 &&
	    sodium_hex2bin(sha, 32, last, 64, NULL, &got, NULL) == 0 &&
	    got == 32;
	free(log);
	return ok;
}
