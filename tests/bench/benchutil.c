/*
 * Helpers for the benchmark programs: clocks, the benchmark record, an
 * agency's keys from its files, sealing through proto/envelope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/record.h"
#include "tests/bench/benchutil.h"
#include "tests/lib/fixture.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
bench_sender_init(struct bench_sender *s, const char *keyfile,
    const char *keyring, char *recipients)
{
	char why[512] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = keys_load_secret(keyfile, &s->key)) != 0) {
		fprintf(stderr, "%s: %s\n", keyfile, error_strerror(rc));
		return -1;
	}
	if ((rc = keyring_load(keyring, &s->keyring, why, sizeof(why))) != 0) {
		fprintf(stderr, "%s: %s\n", keyring, why);
		return -1;
	}
	for (char *tok = strtok(recipients, ","); tok != NULL;
	     tok = strtok(NULL, ",")) {
		const struct keys_public *k = keyring_find(s->keyring, tok);
		if (k == NULL || s->n_to == WIRE_MAX_RECIPIENTS) {
			fprintf(
			    stderr, "recipient '%s' not in %s\n", tok, keyring);
			return -1;
		}
		if (envelope_shared_key(
		        k->box_pk, s->key->box_sk, s->shared[s->n_to]) != 0)
			return -1;
		s->to[s->n_to++] = k->id;
	}
	if (s->n_to == 0) {
		fprintf(stderr, "no recipient\n");
		return -1;
	}
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *j = json_loads(fixture_record_field(f), 0, NULL);
		rc = j == NULL ? -1
		               : record_field_encode(f, j, &s->plain[f],
		                     &s->plain_len[f], why, sizeof(why));
		json_decref(j);
		if (rc != 0) {
			fprintf(stderr, "benchmark record, %s: %s\n",
			    fields_name(f), why);
			return -1;
		}
	}
	randombytes_buf(s->subject_ref, sizeof(s->subject_ref));
	return 0;
}

void
bench_sender_release(struct bench_sender *s)
{
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(s->plain[f]);
	keys_secret_free(s->key);
	keyring_free(s->keyring);
	sodium_memzero(s->shared, sizeof(s->shared));
}

int
bench_seal(const struct bench_sender *s, const char *purpose, int urgency,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len)
{
	struct envelope_seal_args a;

	memset(&a, 0, sizeof(a));
	a.sender = s->key->pub.id;
	a.sign_sk = s->key->sign_sk;
	a.created_at_ms = clock_now_ms();
	a.kind = KIND_RECORD;
	a.urgency = urgency;
	a.purpose = purpose;
	a.reason =
	    urgency == URGENCY_EMERGENCY ? EMERGENCY_REASON_RISK_TO_LIFE : 0;
	a.justification = NULL;
	a.subject_ref = s->subject_ref;
	a.n_recipients = s->n_to;
	a.recipients = s->to;
	a.shared = (const uint8_t(*)[32])s->shared;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		a.plain[f] = s->plain[f];
		a.plain_len[f] = s->plain_len[f];
	}
	return envelope_seal(&a, msg_id, frame, len) == 0 ? 0 : -1;
}
