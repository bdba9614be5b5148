/*
 * What the tests build again and again: the four agencies of the example
 * agreement, keys from a seed byte, a folder of real key files with its
 * keyring and pepper, the example agreement, the benchmark's record, and
 * paths in the source tree.
 */
#ifndef TESTS_LIB_FIXTURE_H
#define TESTS_LIB_FIXTURE_H

#include <limits.h>
#include <stdint.h>

/* The four agencies of the example agreement, by index. */
enum {
	FIXTURE_POLICE,
	FIXTURE_AMBULANCE,
	FIXTURE_MHT,
	FIXTURE_SOCIAL,
	FIXTURE_NAG
};
extern const char *const fixture_agency[FIXTURE_NAG];

/*
 * The path of rel in the source tree ($CONCORDAT_SOURCE_DIR, which ctest
 * sets, else the tree this was built from), in one of a ring of static
 * buffers: valid for a few calls.
 */
const char *fixture_source(const char *rel);

/* The example agreement, policy/examples/crisis-care.yaml. */
const char *fixture_agreement(void);

/* An Ed25519 key pair derived from one seed byte (the same every run). */
void fixture_sign_seed(uint8_t seed, uint8_t pk[32], uint8_t sk[64]);

/* The JSON of field f (1..13) of a street triage referral, as a local
 * system writes it; NULL for any other f. */
const char *fixture_record_field(int f);

/*
 * Real key files, made through keys/ as `concordat keys generate` does:
 * DIR/keys/broker.{key,pub}, DIR/keys/AGENCY.{key,pub} and the guardians'
 * DIR/keys/AGENCY.guardian.{key,pub} for the four agencies, the keyring
 * DIR/ring (their .pub and .guardian.pub files) and DIR/keys/pepper.
 */
struct fixture_keys {
	char keys[PATH_MAX];   /* DIR/keys */
	char ring[PATH_MAX];   /* DIR/ring */
	char pepper[PATH_MAX]; /* DIR/keys/pepper */
};
void fixture_keys_make(struct fixture_keys *k, const char *dir);

/* Every one of the four agencies' guardians, as a mask (bit i: agency i). */
#define FIXTURE_ALL_GUARDIANS 0xfu

/*
 * Signs the agreement at yaml (its id and version parsed from its bytes)
 * as `concordat policy sign` does, with KEYS/AGENCY.guardian.key of each
 * agency i whose bit is set in mask (guardians of no party skipped),
 * writing yaml.sig; with tamper not NULL, then flips the case of the first
 * byte of tamper's first occurrence in yaml: one byte changed after
 * signing. A failure is the set-up's (it aborts).
 */
void fixture_agreement_sign(
    const char *yaml, const char *keys, unsigned mask, const char *tamper);

#endif
