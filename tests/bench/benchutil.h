/*
 * Shared by the benchmark programs of tests/bench: a monotonic clock and an
 * agency's keys loaded from the files a deployment has, ready to seal the
 * street-triage record of tests/lib/fixture.h. Not part of the product.
 */
#ifndef TESTS_BENCH_BENCHUTIL_H
#define TESTS_BENCH_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/fields.h"
#include "keys/keys.h"
#include "proto/wire.h"

/* Seconds on the monotonic clock. */
double bench_now(void);

/* Milliseconds since the epoch, with a fraction (CLOCK_REALTIME). */
double bench_wall_ms(void);

/* The benchmark record's fields: fixture_record_field (tests/lib). */

/*
 * A sender ready to seal: its secret keys, the keyring, and per recipient
 * the wrapping key (crypto_box_beforenm).
 */
struct bench_sender {
	struct keys_secret *key;
	struct keyring *keyring;
	size_t n_to;
	const char *to[WIRE_MAX_RECIPIENTS];
	uint8_t shared[WIRE_MAX_RECIPIENTS][32];
	uint8_t *plain[FIELDS_COUNT + 1];
	size_t plain_len[FIELDS_COUNT + 1];
	uint8_t subject_ref[32];
};

/*
 * Loads keyfile and keyring, and prepares recipients (a comma-separated
 * list, split in place) and the record's plaintexts. Prints what failed
 * and returns -1 on error.
 */
int bench_sender_init(struct bench_sender *s, const char *keyfile,
    const char *keyring, char *recipients);
void bench_sender_release(struct bench_sender *s);

/*
 * Seals the record as a Submit frame (malloc'd, the caller frees) for
 * purpose and urgency (enum urgency), created now. 0 or -1.
 */
int bench_seal(const struct bench_sender *s, const char *purpose, int urgency,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len);

#endif
