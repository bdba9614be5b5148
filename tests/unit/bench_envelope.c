/*
 * bench_envelope [SECONDS]: the per-message cost of the broker (DESIGN.md
 * §5: one signature verification is the ceiling measured for this
 * design). Prints the machine's Ed25519 verification rate over a
 * manifest-sized message, and envelope_check's rate (decode, signature,
 * thirteen digests) on realistic sealed envelopes for one and three
 * recipients; then redact and open for scale. Run by `make bench`; not a
 * test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "proto/envelope.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "tests/lib/fixture.h"
#include "tests/unit/testutil.h"

static double seconds = 1.0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls fn until `seconds` have passed; returns calls per second. */
static double
rate(void (*fn)(void *), void *arg)
{
	double start = now(), end;
	unsigned long n = 0;

	fn(arg); /* warm */
	do {
		for (int i = 0; i < 64; i++)
			fn(arg);
		n += 64;
		end = now();
	} while (end - start < seconds);
	return (double)n / (end - start);
}

struct verify_arg {
	const uint8_t *msg;
	size_t len;
	const uint8_t *sig, *pk;
};

static void
do_verify(void *p)
{
	struct verify_arg *a = p;

	if (crypto_sign_verify_detached(a->sig, a->msg, a->len, a->pk) != 0)
		abort();
}

struct check_arg {
	const struct tu_msg *m;
};

static void
do_check(void *p)
{
	struct check_arg *a = p;
	struct wire_frame *f = NULL;

	if (envelope_check(a->m->frame, a->m->len, a->m->sender->sign_pk, &f,
	        NULL, 0) != 0)
		abort();
	wire_frame_free(f);
}

struct open_arg {
	const uint8_t *d;
	size_t dlen;
	const struct tu_agency *self, *sender;
};

static void
do_open(void *p)
{
	struct open_arg *a = p;
	struct envelope_opened *o;

	if (tu_open(a->d, a->dlen, a->self, a->sender, &o) != 0)
		abort();
	envelope_opened_free(o);
}

static void
seal(struct tu_msg *m, const struct tu_agency *sender,
    const struct tu_agency *const *to, size_t n)
{
	tu_msg_init(m, sender, to, n, NULL);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *j = json_loads(fixture_record_field(f), 0, NULL);
		free(m->plain[f]);
		if (j == NULL ||
		    record_field_encode(
		        f, j, &m->plain[f], &m->plain_len[f], NULL, 0) != 0)
			abort();
		json_decref(j);
	}
	if (tu_seal(m) != 0)
		abort();
}

int
main(int argc, char **argv)
{
	struct tu_agency pol, amb, mht, soc;
	const struct tu_agency *to[3] = {&amb, &mht, &soc};
	struct tu_msg m1, m3;
	struct wire_frame *f;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0)
		seconds = 1.0;
	if (sodium_init() < 0)
		return 1;
	tu_agency_init(&pol, "police", 0);
	tu_agency_init(&amb, "ambulance", 0);
	tu_agency_init(&mht, "mental_health_trust", 0);
	tu_agency_init(&soc, "social_care", 0);
	seal(&m1, &pol, to, 1);
	seal(&m3, &pol, to, 3);

	/* Ed25519 over exactly what a broker verifies for m3. */
	if (envelope_check(m3.frame, m3.len, pol.sign_pk, &f, NULL, 0) != 0)
		return 1;
	{
		static const char ctx[] = "concordat/manifest/v1";
		size_t len = sizeof(ctx) - 1 + f->u.submit.manifest_len;
		uint8_t *msg = malloc(len);
		memcpy(msg, ctx, sizeof(ctx) - 1);
		memcpy(msg + sizeof(ctx) - 1, f->u.submit.manifest,
		    f->u.submit.manifest_len);
		struct verify_arg va = {
		    msg, len, f->u.submit.signature, pol.sign_pk};
		printf("ed25519 verify (%zu-byte signed manifest): %.0f/s\n",
		    len, rate(do_verify, &va));
		free(msg);
	}
	struct check_arg c1 = {&m1}, c3 = {&m3};
	printf("envelope_check, 1 recipient (%zu-byte frame): %.0f/s\n", m1.len,
	    rate(do_check, &c1));
	printf("envelope_check, 3 recipients (%zu-byte frame): %.0f/s\n",
	    m3.len, rate(do_check, &c3));

	/* For scale: what a recipient does with a whole delivery. */
	{
		fieldset sent;
		uint8_t *d;
		size_t dlen;
		if (envelope_redact(&f->u.submit, "ambulance", FIELDS_ALL,
		        &sent, &d, &dlen) != 0)
			return 1;
		struct open_arg oa = {d, dlen, &amb, &pol};
		printf("envelope_open, 13 fields (%zu-byte delivery): %.0f/s\n",
		    dlen, rate(do_open, &oa));
		free(d);
	}
	wire_frame_free(f);
	tu_msg_release(&m1);
	tu_msg_release(&m3);
	return 0;
}
