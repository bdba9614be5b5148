/*
 * libFuzzer target over the checkpoint note parser (audit/checkpoint.c),
 * which every agent runs on text the broker sends: any bytes give a
 * checkpoint or ERROR_CHECKPOINT, never a crash; what parses, signed
 * again, verifies to the same checkpoint; and a key never verifies a note
 * it did not sign. Built with -fsanitize=fuzzer when CONCORDAT_FUZZ
 * is on (clang); the seed corpus in tests/audit/corpus/checkpoint is
 * replayed in every build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[CHECKPOINT_PK_LEN], sk[CHECKPOINT_SK_LEN];
	static const uint8_t seed[crypto_sign_SEEDBYTES] = {7, 7, 7};
	static int ready;
	struct checkpoint cp, v, trusted;
	const char *text = (const char *)data;
	uint8_t path[1][MERKLE_HASH_LEN] = {{0}};
	char note[CHECKPOINT_MAX];
	size_t len;
	int rc;

	if (!ready) {
		check(sodium_init() >= 0);
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}

	rc = checkpoint_parse(text, size, &cp);
	check(rc == ERROR_OK || rc == ERROR_CHECKPOINT);
	if (rc == ERROR_OK) {
		check(memchr(cp.origin, '\0', sizeof(cp.origin)) != NULL);
		check(checkpoint_origin_valid(cp.origin));
		check(cp.size <= MERKLE_MAX_SIZE);
		/* Signed again by our key, it verifies to the same. */
		check(checkpoint_sign(&cp, sk, note, sizeof(note), &len) == 0);
		check(checkpoint_verify(note, len, cp.origin, pk, &v) == 0);
		check(strcmp(v.origin, cp.origin) == 0 && v.size == cp.size &&
		    memcmp(v.root, cp.root, MERKLE_HASH_LEN) == 0);
	}
	/* The input itself was signed by no key of ours. */
	rc = checkpoint_verify(
	    text, size, rc == ERROR_OK ? cp.origin : "x", pk, &v);
	check(rc == ERROR_SIGNATURE || rc == ERROR_CHECKPOINT ||
	    rc == ERROR_INVAL);
	/* What an agent does with it: never advances on this key. */
	memset(&trusted, 0, sizeof(trusted));
	snprintf(trusted.origin, sizeof(trusted.origin), "x");
	rc = checkpoint_advance(&trusted, text, size, pk,
	    (const uint8_t(*)[MERKLE_HASH_LEN])path, size % 2, &v);
	check(rc != ERROR_OK);
	return 0;
}
