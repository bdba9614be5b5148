/*
 * Shared by the unit tests of tests/unit (beside tests/lib): agencies
 * with keys held in memory, sealing, and crafting raw protobuf (tests may
 * see the generated types; production code outside proto/ may not).
 */
#ifndef TESTS_UNIT_TESTUTIL_H
#define TESTS_UNIT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "concordat.pb-c.h"
#include "common/fields.h"
#include "proto/envelope.h"
#include "proto/wire.h"

/* ---------------------------------------------------------- randomness */

/*
 * A seeded generator for test parameters (sizes, subsets, positions), so a
 * failure reproduces; keys, nonces and msg_ids come from libsodium.
 */
void tu_seed(uint64_t seed);
uint64_t tu_rand(void);
/* Uniform in [0, n). */
uint32_t tu_below(uint32_t n);
void tu_fill(uint8_t *buf, size_t n);

/* ----------------------------------------------------------- folders */

/*
 * Scratch folders and whole files are in tests/lib/scratch.h. dir/name
 * into a static buffer (valid until the next call).
 */
const char *tu_path(const char *dir, const char *name);

/* ----------------------------------------------------------- agencies */

struct tu_agency {
	char id[IDENT_AGENCY_MAX + 1];
	uint8_t sign_pk[32];
	uint8_t sign_sk[64];
	uint8_t box_pk[32];
	uint8_t box_sk[32];
};

/* Random keys; with a seed byte other than 0, keys derived from it. */
void tu_agency_init(struct tu_agency *a, const char *id, uint8_t seed);

/* What tu_seal seals: defaults are filled by tu_msg_init. */
struct tu_msg {
	const struct tu_agency *sender;
	const uint8_t *sign_sk; /* NULL: sender's own */
	size_t n_recipients;
	const struct tu_agency *recipients[WIRE_MAX_RECIPIENTS];
	const fieldset *grants; /* NULL: all */
	int kind;
	int urgency;
	const char *purpose;
	int reason; /* EMERGENCY: enum emergency_reason */
	const char *justification;
	uint8_t subject_ref[32];
	const uint8_t *pepper_id; /* NULL: none */
	uint64_t created_at_ms;
	uint8_t *plain[FIELDS_COUNT + 1]; /* owned, malloc'd */
	size_t plain_len[FIELDS_COUNT + 1];
	/* Results. */
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	uint8_t *frame;
	size_t len;
};

/* Fills m with a RECORD from sender to the recipients given, URGENT,
 * purpose triage_advice, and plaintexts of the lengths given (NULL: random
 * lengths). */
void tu_msg_init(struct tu_msg *m, const struct tu_agency *sender,
    const struct tu_agency *const *recipients, size_t n, const size_t *lens);
/* Seals m; returns what envelope_seal returned. */
int tu_seal(struct tu_msg *m);
void tu_msg_release(struct tu_msg *m);

/* The shared wrapping key of a and b. */
void tu_shared(
    const struct tu_agency *own, const struct tu_agency *peer, uint8_t out[32]);

/* ---------------------------------------------------------- frames */

/* Offset of the only occurrence of needle in hay; fails the test when it
 * occurs zero or several times. */
size_t tu_find(
    const uint8_t *hay, size_t hlen, const void *needle, size_t nlen);

/* Decodes buf and asserts it is a frame of the type given. */
struct wire_frame *tu_decode(const uint8_t *buf, size_t len, int type);

/* A dummy decision proof for wire_delivery_frame. */
void tu_dummy_proof(struct wire_audit_proof *p);

/* Delivery message bytes (envelope_redact) into a decoded Delivery
 * frame; returns the rc of wire_decode and sets *out on success. */
int tu_delivery_decode(const uint8_t *d, size_t dlen, struct wire_frame **out);

/*
 * Opens Delivery message bytes as recipient self from sender: frames,
 * decodes (asserting success) and opens. Returns envelope_open's rc; on
 * success *out is set (caller frees), else *out is NULL.
 */
int tu_open(const uint8_t *d, size_t dlen, const struct tu_agency *self,
    const struct tu_agency *sender, struct envelope_opened **out);

/* ---------------------------------------------------- raw protobuf */

/* Unpacks with the generated code; asserts success. */
Concordat__Frame *tu_frame_unpack(const uint8_t *buf, size_t len);
Concordat__Manifest *tu_manifest_unpack(const uint8_t *buf, size_t len);
Concordat__Delivery *tu_delivery_unpack(const uint8_t *buf, size_t len);
/* Packs any message into a new malloc'd buffer. */
uint8_t *tu_pack(const ProtobufCMessage *m, size_t *len);

/* Replaces b (of an unpacked message) with a malloc'd copy of p. */
void tu_set_bytes(ProtobufCBinaryData *b, const void *p, size_t n);
/* Replaces a string member of an unpacked message. */
void tu_set_str(char **s, const char *v);
/* Appends an unknown field (number tag, varint 1, or bytes "x" when
 * wire_type is length-delimited) to an unpacked message. */
void tu_add_unknown(
    ProtobufCMessage *m, uint32_t tag, ProtobufCWireType wire_type);

/* Ed25519 over "concordat/manifest/v1" || manifest (DESIGN.md §5). */
void tu_sign_manifest(
    const uint8_t *manifest, size_t len, const uint8_t sk[64], uint8_t sig[64]);
bool tu_verify_manifest(const uint8_t *manifest, size_t len,
    const uint8_t sig[64], const uint8_t pk[32]);

/* Re-signs the envelope of an unpacked Submit frame after its manifest
 * was replaced with manifest (copied). */
void tu_resign(Concordat__Frame *f, const uint8_t *manifest, size_t len,
    const uint8_t sk[64]);

/*
 * The associated data of DESIGN.md §5, built independently of
 * proto/envelope.c: "concordat/field/v1" || msg_id || field, or
 * "concordat/wrap/v1" || msg_id || field || recipient.
 */
size_t tu_ad(
    uint8_t *ad, const uint8_t msg_id[16], int field, const char *recipient);

/* ------------------------------------------------------- memory */

/*
 * Runs fn(arg) in a forked child and sets *grown to how many bytes the
 * child's peak resident memory (VmHWM) rose above its resident memory
 * before the call. The child first gives free heap memory back to the
 * system (malloc_trim, or the sanitizer's allocator purge) and resets the
 * peak (/proc/self/clear_refs), so memory freed by earlier tests cannot
 * hide a cost. Returns what fn returned; fails the test when the child
 * cannot measure or dies.
 */
int tu_peak_growth(int (*fn)(void *), void *arg, size_t *grown);

/*
 * The test of memory left behind: forks a child, sends it a canary of
 * TU_CANARY_LEN random hex digits made after the fork (so the canary is in
 * no memory the child inherits), and has it run fn(canary, arg), which
 * must free everything it made and wipe whatever copies of the canary it
 * made itself. The child wipes its own copy and stops (SIGSTOP); the
 * parent reads /proc/CHILD/mem and counts the places the canary is found
 * in every readable, writable, private mapping except the stack (and,
 * under AddressSanitizer, its shadow memory, which holds no program
 * bytes), printing each with its mapping. Then it kills the child and
 * returns the count. fn reports a failure with tu_child_fail.
 */
#define TU_CANARY_LEN 32
size_t tu_canary_survivors(
    void (*fn)(const char *canary, void *arg), void *arg);

/* In a child of tu_canary_survivors: says why on stderr and exits. */
void tu_child_fail(const char *fmt, ...) __attribute__((noreturn))
__attribute__((format(printf, 1, 2)));

#endif
