/*
 * The fixed keys of the fuzz target and its seed corpus: the corpus frames
 * (gen_corpus.c) are signed and wrapped with them, so that the fuzzer
 * starts from deliveries that really open and explores from there.
 * Test keys only, derived from constant seeds.
 */
#ifndef TESTS_UNIT_FUZZ_KEYS_H
#define TESTS_UNIT_FUZZ_KEYS_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define FUZZ_SENDER         "police"
#define FUZZ_SENDER_SEED    1
#define FUZZ_RECIPIENT      "ambulance"
#define FUZZ_RECIPIENT_SEED 2

/* The same derivation as tu_agency_init with a seed (testutil.c). */
static inline void
fuzz_keys(uint8_t seed, uint8_t sign_pk[32], uint8_t sign_sk[64],
    uint8_t box_pk[32], uint8_t box_sk[32])
{
	uint8_t s[32];

	memset(s, seed, sizeof(s));
	crypto_sign_seed_keypair(sign_pk, sign_sk, s);
	s[0] ^= 0xff;
	crypto_box_seed_keypair(box_pk, box_sk, s);
}

#endif
