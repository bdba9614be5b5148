/*
 * Shared by the benchmark programs of tests/bench: a monotonic clock and an
 * agency's keys loaded from the files a deployment has, ready to seal the
 * street-triage record of tests/lib/fixture.h. Not part of the product.
 */
#ifndef TESTS_BENCH_BENCHUTIL_H
#define TESTS_BENCH_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	bool has_agreement;
	uint8_t agreement[32]; /* SHA-256 of the agreement file's bytes */
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
 * Seals under the agreement in file path from now on (a broker takes only
 * messages that name the agreement they were decided under: the SHA-256
 * of the file's exact bytes). 0, or -1 after saying why.
 */
int bench_sender_agreement(struct bench_sender *s, const char *path);

/* bench_sender_init, then bench_sender_agreement when agreement is not
 * NULL. */
int bench_sender_open(struct bench_sender *s, const char *keyfile,
    const char *keyring, char *recipients, const char *agreement);

/*
 * Seals the record as a Submit frame (malloc'd, the caller frees) for
 * purpose and urgency (enum urgency), created now. 0 or -1.
 */
int bench_seal(const struct bench_sender *s, const char *purpose, int urgency,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len);

/*
 * CPU time on record for a process and each of its threads: the first
 * field of /proc/PID/task/TID/schedstat (nanoseconds on a CPU, counted by
 * the scheduler, finer and steadier on a busy machine than utime+stime in
 * clock ticks). A sample before and after an interval; bench_cpu_tid_ns
 * finds a thread of a sample (its ns, or 0 when it had not yet started).
 */
#define BENCH_CPU_THREADS 64
struct bench_cpu {
	pid_t pid;
	uint64_t total_ns; /* every thread that was alive at the sample */
	size_t n;
	struct {
		pid_t tid;
		char comm[17];
		uint64_t ns;
	} t[BENCH_CPU_THREADS];
};

/* Samples pid; 0, or -1 when it is gone (errno set). */
int bench_cpu_sample(pid_t pid, struct bench_cpu *c);
uint64_t bench_cpu_tid_ns(const struct bench_cpu *c, pid_t tid);

/*
 * Drops record i (the street-triage benchmark record, its presentation
 * field marked BENCH_MARK followed by i in six digits) into spool/outbox/
 * as a local system does: written as spool/tmp/bench-NNNNNN.json, then
 * renamed. to is a comma-separated list of recipients. 0 or -1 (errno).
 */
#define BENCH_MARK "bench-latency-"
int bench_drop_record(
    const char *spool, const char *to, const char *purpose, unsigned i);

/*
 * The broker's public key from path, checked to be a broker's; 0, or -1
 * after saying so (prog: the program's name, for the message).
 */
int bench_broker_key(
    const char *prog, const char *path, struct keys_public *broker);

/*
 * A DEALER on ctx connected over CURVE to the broker at endpoint as key,
 * with no high-water marks and no linger, as the benchmark clients use;
 * NULL after saying why (prog: the program's name).
 */
void *bench_connect(const char *prog, void *ctx,
    const struct keys_public *broker, const struct keys_secret *key,
    const char *endpoint);

#endif
