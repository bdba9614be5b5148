/*
 * bench_verify: the machine's Ed25519 verification rate, the ceiling the
 * design measures the broker against (DESIGN.md §5: one signature
 * verification per message). It seals the benchmark record once with the
 * agency's real keys, takes the exact bytes a broker verifies
 * ("concordat/manifest/v1" || manifest) and calls
 * crypto_sign_verify_detached on them in a loop on one core. Run by
 * scripts/bench; not a test.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/urgency.h"
#include "proto/wire.h"
#include "tests/bench/benchutil.h"

static const char usage_text[] =
    "usage: bench_verify --key AGENCY.key --keyring DIR --to A[,B...] "
    "[--seconds S]\n";

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"keyring", required_argument, NULL, 'r'},
	    {"to", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	static const char ctx[] = "concordat/manifest/v1";
	const char *key = NULL, *keyring = NULL;
	char *to = NULL;
	double seconds = 3.0, t0, el;
	struct bench_sender s;
	struct wire_frame *f = NULL;
	uint8_t id[WIRE_MSG_ID_LEN], *frame, *msg;
	size_t len, mlen;
	unsigned long n = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'r':
			keyring = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 's':
			seconds = atof(optarg);
			break;
		default:
			fputs(usage_text, stderr);
			return 64;
		}
	}
	if (key == NULL || keyring == NULL || to == NULL || seconds <= 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (sodium_init() < 0 || bench_sender_init(&s, key, keyring, to) != 0)
		return 1;
	if (bench_seal(&s, "bench", URGENCY_URGENT, id, &frame, &len) != 0 ||
	    wire_decode(frame, len, &f, NULL, 0) != 0 ||
	    f->type != WIRE_SUBMIT) {
		fprintf(stderr, "bench_verify: cannot seal and decode\n");
		return 1;
	}
	mlen = sizeof(ctx) - 1 + f->u.submit.manifest_len;
	if ((msg = malloc(mlen)) == NULL)
		return 1;
	memcpy(msg, ctx, sizeof(ctx) - 1);
	memcpy(msg + sizeof(ctx) - 1, f->u.submit.manifest,
	    f->u.submit.manifest_len);
	/* Warm up, and check that it verifies at all. */
	if (crypto_sign_verify_detached(
	        f->u.submit.signature, msg, mlen, s.key->pub.sign_pk) != 0) {
		fprintf(
		    stderr, "bench_verify: the signature does not verify\n");
		return 1;
	}
	t0 = bench_now();
	do {
		for (int i = 0; i < 256; i++)
			if (crypto_sign_verify_detached(f->u.submit.signature,
			        msg, mlen, s.key->pub.sign_pk) != 0)
				abort();
		n += 256;
		el = bench_now() - t0;
	} while (el < seconds);
	printf("ed25519 verify, %zu-byte signed manifest (%zu recipient(s)), "
	       "1 core: %lu in %.2f s\n",
	    mlen, s.n_to, n, el);
	printf("RESULT bytes=%zu rate=%.0f\n", mlen, (double)n / el);
	free(msg);
	free(frame);
	wire_frame_free(f);
	bench_sender_release(&s);
	return 0;
}
