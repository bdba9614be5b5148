/*
 * The tests' common fixtures (see fixture.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/error.h"
#include "common/fields.h"
#include "common/yamlconf.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

const char *const fixture_agency[FIXTURE_NAG] = {
    "police", "ambulance", "mental_health_trust", "social_care"};

/* A street triage referral, filled in as a local system would. */
static const char *const record[FIELDS_COUNT + 1] = {
    NULL,
    "{\"name\": \"Alex Example\", \"nhs_number\": \"9434765919\","
    " \"date_of_birth\": \"1990-04-01\", \"address\": \"1 High Street,"
    " Bradford BD1 1AA\", \"phone\": \"07700 900123\"}",
    "{\"contacts\": [{\"name\": \"Sam Example\", \"relationship\":"
    " \"sister\", \"phone\": \"07700 900456\"}]}",
    "{\"gender\": \"male\", \"age\": 34}",
    "{\"language\": \"English\", \"interpreter_needed\": false}",
    "{\"description\": \"Found on the bridge parapet, agitated, says he"
    " hears voices telling him to jump; calmer after 20 minutes.\"}",
    "{\"alcohol\": true, \"drugs\": false, \"details\": \"smelled of"
    " alcohol\"}",
    "{\"medicines\": \"sertraline 100mg\"}",
    "{\"gp\": \"Manor Surgery\", \"known_to_mental_health\": true,"
    " \"team\": \"CMHT North\"}",
    "{\"has_plan\": true, \"summary\": \"call sister; prefers the"
    " crisis house to hospital\"}",
    "{\"diagnosis\": \"recurrent depressive disorder\"}",
    "{\"self_harm\": \"high\", \"suicide\": \"high\", \"aggression\":"
    " \"low\", \"confusion\": \"none\", \"impaired_judgement\": \"medium\","
    " \"self_neglect\": \"low\", \"missing_from_home\": \"none\"}",
    "{\"conditions\": \"asthma\"}",
    "{\"pets\": \"dog at home alone\"}",
};

const char *
fixture_source(const char *rel)
{
	static char ring[8][PATH_MAX];
	static unsigned next;
	char *b = ring[next++ % 8];
	const char *src = getenv("CONCORDAT_SOURCE_DIR");
	int r;

	if (src == NULL || src[0] == '\0')
		src = TESTLIB_SOURCE_DIR;
	r = snprintf(b, PATH_MAX, "%s/%s", src, rel);
	if (r < 0 || r >= PATH_MAX)
		scratch_die("path too long: %s/%s", src, rel);
	return b;
}

const char *
fixture_agreement(void)
{
	return fixture_source("policy/examples/crisis-care.yaml");
}

void
fixture_sign_seed(uint8_t seed, uint8_t pk[32], uint8_t sk[64])
{
	uint8_t s[crypto_sign_SEEDBYTES];

	memset(s, seed, sizeof(s));
	crypto_sign_seed_keypair(pk, sk, s);
}

const char *
fixture_record_field(int f)
{
	return f >= 1 && f <= FIELDS_COUNT ? record[f] : NULL;
}

static void
fixture_path(char *buf, const char *dir, const char *name)
{
	int r = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (r < 0 || r >= PATH_MAX)
		scratch_die("path too long: %s/%s", dir, name);
}

static void
fixture_mkdir(const char *path)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		scratch_die("cannot create %s: %s", path, strerror(errno));
}

void
fixture_keys_make(struct fixture_keys *k, const char *dir)
{
	char from[PATH_MAX], to[PATH_MAX], name[64];
	void *pub;
	size_t len;
	int rc;

	if (sodium_init() < 0)
		scratch_die("sodium_init failed");
	fixture_path(k->keys, dir, "keys");
	fixture_path(k->ring, dir, "ring");
	fixture_path(k->pepper, k->keys, "pepper");
	fixture_mkdir(k->keys);
	fixture_mkdir(k->ring);
	if ((rc = keys_generate(NULL, k->keys)) != 0)
		scratch_die(
		    "broker keys in %s: %s", k->keys, error_strerror(rc));
	for (int i = 0; i < FIXTURE_NAG; i++) {
		if ((rc = keys_generate(fixture_agency[i], k->keys)) != 0)
			scratch_die("%s's keys in %s: %s", fixture_agency[i],
			    k->keys, error_strerror(rc));
		snprintf(name, sizeof(name), "%s.pub", fixture_agency[i]);
		fixture_path(from, k->keys, name);
		fixture_path(to, k->ring, name);
		pub = scratch_read(from, &len);
		scratch_spit(to, pub, len, 0644);
		free(pub);
		if ((rc = keys_generate_guardian(fixture_agency[i], k->keys)) !=
		    0)
			scratch_die("%s's guardian key in %s: %s",
			    fixture_agency[i], k->keys, error_strerror(rc));
		snprintf(
		    name, sizeof(name), "%s.guardian.pub", fixture_agency[i]);
		fixture_path(from, k->keys, name);
		fixture_path(to, k->ring, name);
		pub = scratch_read(from, &len);
		scratch_spit(to, pub, len, 0644);
		free(pub);
	}
	if ((rc = keys_pepper_generate(k->pepper)) != 0)
		scratch_die("pepper %s: %s", k->pepper, error_strerror(rc));
}

void
fixture_agreement_sign(
    const char *yaml, const char *keys, unsigned mask, const char *tamper)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	char path[PATH_MAX], name[64];
	char *note = NULL;
	size_t len, note_len = 0;
	uint8_t *buf = scratch_read(yaml, &len);
	int rc;

	yamlconf_errors_init(&errs);
	if (policy_load_buffer(buf, len, yaml, &errs, &p) != 0)
		scratch_die("%s: %s", yaml, errs.n ? errs.msg[0] : "no policy");
	yamlconf_errors_release(&errs);
	for (int i = 0; i < FIXTURE_NAG; i++) {
		struct keys_secret *g = NULL;
		char *out = NULL;
		size_t out_len;

		if (!(mask & (1u << i)) ||
		    policy_agency_index(p, fixture_agency[i]) < 0)
			continue;
		snprintf(
		    name, sizeof(name), "%s.guardian.key", fixture_agency[i]);
		fixture_path(path, keys, name);
		if ((rc = keys_load_guardian(path, &g)) != 0)
			scratch_die("%s: %s", path, error_strerror(rc));
		rc = agreement_note_sign(note, note_len, policy_agreement(p),
		    (uint64_t)policy_version(p), policy_sha256(p), g, &out,
		    &out_len, NULL);
		keys_secret_free(g);
		if (rc != 0)
			scratch_die("signing %s: %s", yaml, error_strerror(rc));
		free(note);
		note = out;
		note_len = out_len;
	}
	policy_free(p);
	snprintf(path, sizeof(path), "%s.sig", yaml);
	if (note != NULL)
		scratch_spit(path, note, note_len, 0644);
	else
		unlink(path);
	free(note);
	if (tamper != NULL) {
		char *hit = strstr((char *)buf, tamper);
		if (hit == NULL)
			scratch_die("'%s' is not in %s", tamper, yaml);
		*hit ^= 0x20;
		scratch_spit(yaml, buf, len, 0644);
	}
	free(buf);
}
