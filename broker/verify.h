/*
 * The CPU-bound part of ingest (DESIGN.md §5 steps 1, 3 and 6: decode,
 * the sender's signature, the digests and grants), done for a whole batch
 * on a small pool of threads while the broker's main thread writes the
 * previous batch, so that one Ed25519 verification per message is not the
 * broker's ceiling on one core. No LMDB and no ZeroMQ here: only proto/ on
 * bytes.
 */
#ifndef BROKER_VERIFY_H
#define BROKER_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ident.h"
#include "proto/wire.h"

/* One frame's pre-checks; the ingest pipeline reads them in order. */
struct verify_job {
	/* in */
	const uint8_t *buf;
	size_t len;
	char agency[IDENT_AGENCY_MAX + 1]; /* the ZAP User-Id, copied */
	const uint8_t *pk;                 /* that agency's sign key, or NULL */
	bool decode_only; /* over its agency's rate: no signature checked */
	bool refused;     /* decode_rc and why already say why: do nothing */
	/* out */
	struct wire_frame *f; /* decoded frame (owned), NULL when rc != 0 */
	int decode_rc;
	char why[256]; /* decode's or contents' reason */
	bool verified; /* sig_rc and contents_rc are set */
	int sig_rc;
	int contents_rc;
};

struct verifier;

/* A pool of threads (0: as many as online CPUs less one, at most 7). */
WUR int verifier_new(unsigned threads, struct verifier **out);
void verifier_free(struct verifier *v);

/*
 * Starts jobs[0 .. n-1] on the pool and returns at once, so that the
 * caller can work on the previous batch meanwhile; without a pool they are
 * done before it returns. Only Submit frames whose manifest names the
 * authenticated agency as sender are verified (others fail an earlier
 * step anyway). The pool also frees spent[0 .. n_spent-1], frames the
 * caller is done with (the array stays the caller's, untouched until
 * verifier_wait returns), so that the thread writing batches spends no
 * time freeing what the pool decoded. One batch at a time:
 * verifier_wait before the next start, except after a start with no jobs
 * (n == 0), which frees spent itself and returns with nothing started.
 */
void verifier_start(struct verifier *v, struct verify_job *jobs, size_t n,
    struct wire_frame **spent, size_t n_spent);

/* Helps with and waits for the started batch; the jobs are then done. */
void verifier_wait(struct verifier *v);

#endif
