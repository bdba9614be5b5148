/*
 * Shared by the audit tests and bench_audit (beside tests/lib): a log open
 * for writing on real LMDB files, a fixed signing key, reproducible random
 * events, and running `concordat audit` in-process with its output
 * captured.
 */
#ifndef TESTS_AUDIT_AUDITTEST_H
#define TESTS_AUDIT_AUDITTEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "proto/event.h"

#define AUDITTEST_ORIGIN "concordat.test/west-yorkshire"

/* Scratch folders and whole files: tests/lib/scratch.h. */

/* The path of a file in the source tree's tests/audit folder (static). */
const char *audittest_source(const char *rel);

/* A log open for writing. */
struct audittest_log {
	MDB_env *env;
	struct audit *a;
};

/* Opens (creating) the log in dir with origin AUDITTEST_ORIGIN. */
void audittest_open(struct audittest_log *l, const char *dir, size_t mapsize);
void audittest_close(struct audittest_log *l);

/* A deterministic Ed25519 key pair from one seed byte. */
struct audittest_key {
	uint8_t pk[32];
	uint8_t sk[64];
};
void audittest_key(struct audittest_key *k, uint8_t seed);

/* The pools random events draw from. */
#define AUDITTEST_AGENCIES 6
#define AUDITTEST_PURPOSES 6
#define AUDITTEST_RULES    8
extern const char *const audittest_agencies[AUDITTEST_AGENCIES];
extern const char *const audittest_purposes[AUDITTEST_PURPOSES];
extern const char *const audittest_rules[AUDITTEST_RULES];

/* splitmix64: a small reproducible generator. */
uint64_t audittest_rand(uint64_t *state);

/* The subject_ref of subject number i (of a pool). */
void audittest_subject(uint64_t i, uint8_t out[WIRE_REF_LEN]);

/*
 * Fills ev with random event number i of a log with `subjects` subjects:
 * mostly decisions, with accepted, delivered, acknowledged, rejected and
 * expired events, about 1% break-glass; every three events share a
 * message (msg_id) and so a subject; times rise about a second per event
 * with a few seconds of jitter either way.
 */
void audittest_event(
    struct event *ev, uint64_t i, uint64_t subjects, uint64_t *rng);

/*
 * Appends n random events (audittest_event) in write transactions of
 * batch events, each committed with one checkpoint signed by k.
 */
void audittest_fill(struct audittest_log *l, const struct audittest_key *k,
    uint64_t first, uint64_t n, unsigned batch, uint64_t subjects,
    uint64_t *rng);

/* Appends ev and checkpoints in one committed transaction; returns seq. */
uint64_t audittest_append_one(struct audittest_log *l,
    const struct audittest_key *k, const struct event *ev);

/*
 * Runs audit_cli with the NULL-terminated arguments after "audit", with
 * stdout and stderr captured into *out and *err (malloc'd, NUL-terminated;
 * either may be NULL to discard), through capture_vrunl (tests/lib).
 * Returns the exit code.
 */
int audittest_cli(char **out, char **err, ...);
int audittest_vcli(char **out, char **err, va_list ap);

#endif
