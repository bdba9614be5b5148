/*
 * Break-glass reviews (DESIGN.md §7): a guardian's signed verdict on one
 * break-glass decision leaf, its signed bytes, its file (JSON) and its
 * frame. Signed by `concordat audit review`, sent by the agent
 * (agents/outreview.c), checked by the broker (broker/review.c) and by
 * `audit verify` (audit/review.c).
 */
#ifndef PROTO_REVIEW_H
#define PROTO_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ident.h"

#define REVIEW_ID_LEN          16
#define REVIEW_HASH_LEN        32 /* leaf hash, note digest */
#define REVIEW_SIG_LEN         64
#define REVIEW_REVIEWER_MAX    128 /* bytes of the reviewer's name or role */
#define REVIEW_FINGERPRINT_LEN 40  /* 39 and a NUL */
#define REVIEW_FILE_MAX        4096
/* The signature's domain: Ed25519 over REVIEW_CONTEXT || body. */
#define REVIEW_CONTEXT "concordat/review/v1"

/* The fixed list of outcomes (ReviewOutcome). */
enum review_outcome {
	REVIEW_JUSTIFIED = 1,
	REVIEW_NOT_JUSTIFIED = 2,
	REVIEW_NEEDS_FOLLOW_UP = 3,
};

/*
 * One review. outcome holds whatever value was decoded: review_check
 * refuses one not in the list, so that the broker can name it.
 */
struct review {
	uint8_t review_id[REVIEW_ID_LEN];
	char agency[IDENT_AGENCY_MAX + 1];  /* the decision's sender */
	uint64_t leaf_seq;                  /* the decision's leaf index */
	uint8_t leaf_hash[REVIEW_HASH_LEN]; /* RFC 6962 leaf hash */
	uint32_t outcome;                   /* enum review_outcome */
	char reviewer[REVIEW_REVIEWER_MAX + 1];
	uint64_t reviewed_at_ms;
	bool has_note_digest; /* BLAKE2b-256 of the note, which stays local */
	uint8_t note_digest[REVIEW_HASH_LEN];
	char guardian[REVIEW_FINGERPRINT_LEN]; /* the signing key's */
	uint8_t signature[REVIEW_SIG_LEN];
};

/* "justified", "not_justified", "needs_follow_up"; "?" otherwise. */
const char *review_outcome_name(uint32_t outcome);
/* The outcome named s, or 0. */
uint32_t review_outcome_parse(const char *s);

/*
 * Checks r's members: a valid agency id, an outcome of the list, a
 * reviewer of 1 to REVIEW_REVIEWER_MAX bytes of UTF-8 without control
 * characters, a guardian fingerprint. ERROR_INVAL with why.
 */
WUR int review_check(const struct review *r, char *why, size_t whylen);

/*
 * The signed bytes: ReviewBody with every member in number order (the
 * note digest only when present). *out is malloc'd; the caller frees it.
 */
WUR int review_body_encode(const struct review *r, uint8_t **out, size_t *len);

/* Signs r with the guardian's Ed25519 secret key sk into r->signature. */
WUR int review_sign(struct review *r, const uint8_t sk[64]);

/* 0 when r->signature is pk's over r's body; ERROR_SIGNATURE otherwise. */
WUR int review_verify(const struct review *r, const uint8_t pk[32]);

/* A Frame of r (Frame.review): body and signature, malloc'd. */
WUR int review_frame_encode(const struct review *r, uint8_t **out, size_t *len);

/*
 * The review file (docs/audit.md "Break-glass reviews"): one JSON object,
 * {"concordat": "review/v1", "review_id", "agency", "leaf_seq",
 * "leaf_hash", "outcome", "reviewer", "reviewed_at_ms", ["note_digest"],
 * "guardian", "signature"}, hashes and ids in lower-case hex, the
 * signature in base64, written with two-space indents and a final
 * newline into a malloc'd NUL-terminated *out.
 */
WUR int review_file_encode(const struct review *r, char **out);

/* The file's object, as a new jansson object (NULL: out of memory); the
 * "review" of a breakglass_reviewed event in `audit query --json`. */
struct json_t;
struct json_t *review_json(const struct review *r);

/*
 * Reads a review file of len bytes (at most REVIEW_FILE_MAX) into *r:
 * every member checked (review_check), unknown and missing members
 * refused. Checks no signature. ERROR_DECODE with why naming the member.
 */
WUR int review_file_decode(
    const uint8_t *buf, size_t len, struct review *r, char *why, size_t whylen);

#endif
