/*
 * The wire (DESIGN.md §5): the one place that turns protobuf bytes into
 * checked internal structs and back. Frames are decoded with a size limit
 * first and every unknown protobuf field rejected; protobuf-generated types
 * never leave proto/.
 */
#ifndef PROTO_WIRE_H
#define PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/fields.h"
#include "common/ident.h"
#include "proto/review.h"

#define WIRE_VERSION        2
#define WIRE_MSG_ID_LEN     16
#define WIRE_REF_LEN        32
#define WIRE_NONCE_LEN      24
#define WIRE_DIGEST_LEN     32
#define WIRE_SIG_LEN        64
#define WIRE_KEY_LEN        32
#define WIRE_WRAPPED_LEN    48 /* key + Poly1305 tag */
#define WIRE_HASH_LEN       32 /* SHA-256, audit tree */
#define WIRE_MAX_FRAME      (1024 * 1024)
#define WIRE_MAX_RECIPIENTS 16
#define WIRE_MAX_PATH       64
#define WIRE_MAX_PROOFS     16
#define WIRE_PAD_BLOCK      256
#define WIRE_DETAIL_MAX     512
#define WIRE_CHECKPOINT_MAX 4096
#define WIRE_MAX_WITNESSES  32 /* cosignatures in one Proof */

/*
 * The largest plaintext of one field, and what it seals to: sodium_pad
 * always adds at least one byte, so a last block that is full gains a
 * whole block, then the Poly1305 tag. wire_decode refuses a ciphertext
 * longer than WIRE_SEALED_MAX.
 */
#define WIRE_FIELD_MAX  (64 * 1024)
#define WIRE_TAG_LEN    16
#define WIRE_SEALED_MAX (WIRE_FIELD_MAX + WIRE_PAD_BLOCK + WIRE_TAG_LEN)

/*
 * The emergency justification, sealed like a field (proto/justification.h):
 * Sealed and Wrap number 14, a plaintext of at most WIRE_JUSTIFICATION_MAX
 * bytes of UTF-8, and so a ciphertext of at most
 * WIRE_JUSTIFICATION_SEALED_MAX bytes.
 */
#define WIRE_JUSTIFICATION_FIELD 14
#define WIRE_JUSTIFICATION_MAX   2048
#define WIRE_JUSTIFICATION_SEALED_MAX                                          \
	(WIRE_JUSTIFICATION_MAX + WIRE_PAD_BLOCK + WIRE_TAG_LEN)

/* Why a message was rejected: one code per ingest step. */
enum wire_reason {
	WIRE_REASON_TOO_BIG = 1,
	WIRE_REASON_MALFORMED = 2,
	WIRE_REASON_SENDER_MISMATCH = 3,
	WIRE_REASON_BAD_SIGNATURE = 4,
	WIRE_REASON_STALE = 5,
	WIRE_REASON_FUTURE = 6,
	WIRE_REASON_REPLAY = 7,
	WIRE_REASON_DIGEST_MISMATCH = 8,
	WIRE_REASON_UNKNOWN_RECIPIENT = 9,
	WIRE_REASON_BAD_GRANT = 10,
	WIRE_REASON_UNDECLARED_PURPOSE = 11,
	WIRE_REASON_NOT_PERMITTED = 12,
	WIRE_REASON_STORAGE_FULL = 13,
	WIRE_REASON_INTERNAL = 14,
	WIRE_REASON_RATE_LIMITED = 15,
	WIRE_REASON_AGREEMENT_MISMATCH = 16, /* retryable: reseal under the
	                                      * receipt's agreement */
	WIRE_REASON_NOT_REVIEWABLE = 17,     /* a Review of a leaf that is not
	                                      * a break-glass decision */
};

enum wire_outcome {
	WIRE_ACCEPTED = 1,
	WIRE_REJECTED = 2,
};

enum wire_state {
	WIRE_STATE_QUEUED = 1,
	WIRE_STATE_DELIVERED = 2,
	WIRE_STATE_ACKNOWLEDGED = 3,
	WIRE_STATE_EXPIRED = 4,
};

/* "too_big", "malformed", ...: a stable code for logs and JSON. */
const char *wire_reason_name(int reason);
/* The reason code named s, or 0. */
int wire_reason_parse(const char *s);
/* True for reasons where the sender should send the same message again. */
bool wire_reason_retryable(int reason);
/* "queued", "delivered", "acknowledged", "expired". */
const char *wire_state_name(int state);

/* Maps an ERROR_* from envelope checks to the reason the broker reports. */
int wire_reason_from_error(int err);

/* The sender-signed manifest, decoded and structurally checked. */
struct wire_manifest {
	uint32_t version;
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char sender[IDENT_AGENCY_MAX + 1];
	uint64_t created_at_ms;
	int kind; /* enum kind */
	char purpose[IDENT_NAME_MAX + 1];
	int urgency; /* enum urgency */
	/*
	 * EMERGENCY only, and then both: the reason (enum emergency_reason)
	 * and the digest of the sealed justification.
	 */
	int reason;
	bool has_justification_digest;
	uint8_t justification_digest[WIRE_DIGEST_LEN];
	uint8_t subject_ref[WIRE_REF_LEN];
	/* The pepper subject_ref was made with, named (keys_pepper_id);
	 * absent from manifests older than it. */
	bool has_pepper_id;
	uint8_t pepper_id[WIRE_REF_LEN];
	bool has_in_reply_to;
	uint8_t in_reply_to[WIRE_MSG_ID_LEN];
	size_t n_recipients;
	char recipients[WIRE_MAX_RECIPIENTS][IDENT_AGENCY_MAX + 1];
	fieldset requested;                                 /* REQUEST only */
	uint8_t digests[FIELDS_COUNT + 1][WIRE_DIGEST_LEN]; /* [1..13] */
	/* The agreement the sender decided under: SHA-256 of its YAML. */
	bool has_agreement;
	uint8_t agreement[WIRE_HASH_LEN];
};

/* Index of id in m->recipients, or -1. */
int wire_manifest_recipient(const struct wire_manifest *m, const char *id);

/* One field's sealed ciphertext; ct points into the owning frame. */
struct wire_sealed {
	bool present;
	uint8_t nonce[WIRE_NONCE_LEN];
	const uint8_t *ct;
	size_t ct_len;
};

struct wire_wrap {
	bool present;
	uint8_t nonce[WIRE_NONCE_LEN];
	uint8_t key[WIRE_WRAPPED_LEN];
};

struct wire_grant {
	char recipient[IDENT_AGENCY_MAX + 1];
	fieldset fields;                          /* fields with a wrap */
	struct wire_wrap wraps[FIELDS_COUNT + 1]; /* [1..13] */
	struct wire_wrap justification;           /* field 14, EMERGENCY */
};

/*
 * A proof that the broker logged an event: the leaf bytes, its index, an
 * RFC 6962 inclusion path and the signed checkpoint the path leads to.
 * Pointers borrow from the owning frame (decode) or the caller (encode).
 */
struct wire_audit_proof {
	uint64_t leaf_index;
	const uint8_t *leaf;
	size_t leaf_len;
	size_t n_path;
	uint8_t path[WIRE_MAX_PATH][WIRE_HASH_LEN];
	const char *checkpoint; /* signed note text */
	size_t checkpoint_len;
	/* The tie (AuditProof 5, 6): a consistency proof between this
	 * checkpoint's tree and the tree of tie_size leaves, smaller to
	 * larger, n_tie hashes of WIRE_HASH_LEN bytes at tie_path (borrowed
	 * like the rest). Encoded only when has_tie. */
	bool has_tie;
	uint64_t tie_size;
	const uint8_t (*tie_path)[WIRE_HASH_LEN];
	size_t n_tie;
};

/* Submit: an envelope as sent (decoded, not yet verified). */
struct wire_envelope {
	struct wire_manifest m;
	const uint8_t *manifest; /* the exact signed bytes */
	size_t manifest_len;
	uint8_t signature[WIRE_SIG_LEN];
	struct wire_sealed sealed[FIELDS_COUNT + 1]; /* [1..13], all present */
	struct wire_sealed justification; /* present exactly when EMERGENCY */
	size_t n_grants;
	struct wire_grant grants[WIRE_MAX_RECIPIENTS];
};

/* Delivery: the redacted envelope one recipient receives. */
struct wire_delivery {
	struct wire_manifest m;
	const uint8_t *manifest;
	size_t manifest_len;
	uint8_t signature[WIRE_SIG_LEN];
	fieldset fields; /* fields whose ciphertext and wrap are present */
	struct wire_sealed sealed[FIELDS_COUNT + 1];
	struct wire_wrap wraps[FIELDS_COUNT + 1];
	/* EMERGENCY only: both or neither (a broker may drop them). */
	struct wire_sealed justification;
	struct wire_wrap justification_wrap;
	bool has_decision;
	struct wire_audit_proof decision;
};

struct wire_receipt {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	int outcome; /* enum wire_outcome */
	int reason;  /* enum wire_reason, 0 when accepted */
	char detail[WIRE_DETAIL_MAX];
	bool retryable;
	size_t n_decisions;
	struct wire_audit_proof decisions[WIRE_MAX_PROOFS];
	/* agreement_mismatch: the SHA-256 of the broker's current one. */
	bool has_agreement;
	uint8_t agreement[WIRE_HASH_LEN];
};

struct wire_status {
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char recipient[IDENT_AGENCY_MAX + 1];
	int state; /* enum wire_state */
	uint64_t at_ms;
	bool has_event;
	struct wire_audit_proof event;
};

/*
 * An agency's cosignature (C2SP tlog-cosignature/v1) on the checkpoint of
 * tree_size leaves with root: a Cosignature frame (the agency is the
 * connection's), or one of a Proof's witnesses.
 */
struct wire_cosignature {
	char agency[IDENT_AGENCY_MAX + 1]; /* "" in a Cosignature frame */
	uint64_t tree_size;
	uint8_t root[WIRE_HASH_LEN];
	uint64_t timestamp; /* seconds since the epoch */
	uint8_t signature[WIRE_SIG_LEN];
	/* A witness only: the consistency proof between its tree and the
	 * Proof's checkpoint, smaller to larger, n_path hashes at path
	 * (borrowed from the frame). */
	const uint8_t (*path)[WIRE_HASH_LEN];
	size_t n_path;
};

struct wire_proof {
	const char *checkpoint;
	size_t checkpoint_len;
	uint64_t from_size;
	size_t n_path;
	uint8_t path[WIRE_MAX_PATH][WIRE_HASH_LEN];
	uint64_t to_size; /* the checkpoint's size, as the broker says */
	size_t n_witnesses;
	struct wire_cosignature witnesses[WIRE_MAX_WITNESSES];
};

enum wire_frame_type {
	WIRE_SUBMIT = 1,
	WIRE_RECEIPT = 2,
	WIRE_DELIVERY = 3,
	WIRE_DELIVERY_ACK = 4,
	WIRE_STATUS = 5,
	WIRE_PROOF_REQUEST = 6,
	WIRE_PROOF = 7,
	WIRE_AGREEMENT_REQUEST = 8,
	WIRE_AGREEMENT = 9,
	WIRE_COSIGNATURE = 10,
	WIRE_NOTICE = 11,
	WIRE_REVIEW = 12, /* proto/review.h */
};

/* A fingerprint as keys_fingerprint writes it: 39 characters and a NUL. */
#define WIRE_FINGERPRINT_LEN    40
#define WIRE_NOTICE_KEY_REVOKED 1

/*
 * A Notice (broker -> agent): the key this session authenticated with
 * (fingerprint) is no longer accepted since revoked_at (ms since the
 * epoch); replaced_by is the fingerprint in force, "" when removed.
 */
struct wire_notice {
	int kind; /* WIRE_NOTICE_KEY_REVOKED */
	char agency[IDENT_AGENCY_MAX + 1];
	char fingerprint[WIRE_FINGERPRINT_LEN];
	uint64_t revoked_at;
	char replaced_by[WIRE_FINGERPRINT_LEN];
};

/* The largest agreement signature note a frame may carry. */
#define WIRE_NOTE_MAX (64 * 1024)

/*
 * An Agreement frame (yaml and note, both present and not empty, borrowed
 * from the owning frame), or an AgreementRequest (has_sha: the agreement
 * asked for; otherwise the current one).
 */
struct wire_agreement {
	const uint8_t *yaml;
	size_t yaml_len;
	const uint8_t *note;
	size_t note_len;
	bool has_sha;
	uint8_t sha256[WIRE_HASH_LEN];
};

/*
 * A decoded frame. Every pointer in it stays valid until wire_frame_free.
 * wire_decode allocates only what the frame's type needs of u (and of a
 * Submit's grants, only those it has): nothing but wire_decode makes one,
 * and nothing copies one whole.
 */
struct wire_frame {
	enum wire_frame_type type;
	void *priv; /* the unpacked protobuf, owned */
	union {
		struct wire_envelope submit;
		struct wire_receipt receipt;
		struct wire_delivery delivery;
		struct {
			uint8_t ack_msg_id[WIRE_MSG_ID_LEN];
			/* A status ack: the recipient and state it reports;
			 * "" and 0 for a delivery ack. */
			char ack_recipient[IDENT_AGENCY_MAX + 1];
			int ack_state;
		};
		struct wire_status status;
		struct {
			uint64_t proof_request_size; /* from: trusted */
			uint64_t proof_request_to;   /* 0: the latest */
		};
		struct wire_proof proof;
		struct wire_agreement agreement; /* both agreement frames */
		struct wire_cosignature cosignature;
		struct wire_notice notice;
		struct review review;
	} u;
};

/*
 * Decodes one frame. Refuses more than WIRE_MAX_FRAME bytes before decoding
 * (ERROR_TOOBIG); protobuf that does not parse, or that would take more
 * than 4 bytes of heap per byte of frame plus 64 KiB to unpack (a frame of
 * many tiny repeated entries: ERROR_DECODE, "frame needs more than N bytes
 * to decode: too many entries"); unknown fields anywhere
 * (ERROR_UNKNOWN_FIELD); a sealed field, in a Submit or a Delivery, whose
 * ciphertext is longer than WIRE_SEALED_MAX, what a WIRE_FIELD_MAX
 * plaintext seals to (ERROR_TOOBIG, "field 'identity': ciphertext of N
 * bytes is over the 64 KiB field limit"); and structural faults: missing
 * members, wrong lengths, out-of-range enums, bad identifiers, duplicate
 * fields or recipients (ERROR_DECODE). Checks no signature. On success the
 * caller frees *out with wire_frame_free, which wipes the frame's memory.
 * When why is not NULL it receives a short message naming the fault.
 */
WUR int wire_decode(const uint8_t *buf, size_t len, struct wire_frame **out,
    char *why, size_t whylen);
void wire_frame_free(struct wire_frame *f);
/*
 * How many chunks of heap the protobuf decoded for f takes: its blocks
 * come from one arena, a chunk or two for a frame of a few KB (for the
 * tests).
 */
size_t wire_frame_chunks(const struct wire_frame *f);

/*
 * The msg_id of a Submit frame that wire_decode may refuse, for the
 * receipt that refuses it: 0 when buf parses as protobuf (under the same
 * budget as wire_decode) into a Submit whose envelope has a manifest that
 * parses and holds a msg_id of exactly WIRE_MSG_ID_LEN bytes, whatever else
 * is wrong with the frame (unknown fields, a bad member, a field over the
 * limit). A frame that does not parse at all (cut short) is read
 * leniently, member by member, down to the manifest's msg_id, which must
 * itself be whole. ERROR_DECODE otherwise, msg_id then all zeros. Checks
 * nothing else: the msg_id is only as trustworthy as the frame.
 */
WUR int wire_frame_msg_id(
    const uint8_t *buf, size_t len, uint8_t msg_id[WIRE_MSG_ID_LEN]);

/*
 * The msg_id a Delivery frame that wire_decode refuses still names, read
 * leniently as above (Frame.delivery, Delivery.manifest, Manifest.msg_id),
 * so that an agent can acknowledge and report a delivery it cannot take
 * rather than have it sent again for ever. 0, or ERROR_DECODE with msg_id
 * all zeros. As untrusted as the frame.
 */
WUR int wire_delivery_msg_id(
    const uint8_t *buf, size_t len, uint8_t msg_id[WIRE_MSG_ID_LEN]);

/*
 * Decodes and checks manifest bytes (as signed) into *m, under the same
 * budget as wire_decode. Used by wire_decode and by agents re-reading
 * their own stored envelopes.
 */
WUR int wire_manifest_decode(const uint8_t *buf, size_t len,
    struct wire_manifest *m, char *why, size_t whylen);

/* Encoders: each writes a new malloc'd frame the caller frees. */
WUR int wire_receipt_encode(
    const struct wire_receipt *r, uint8_t **out, size_t *len);
WUR int wire_ack_encode(
    const uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **out, size_t *len);
/* Acknowledges the status report (msg_id, recipient, state). */
WUR int wire_status_ack_encode(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, int state, uint8_t **out, size_t *len);
WUR int wire_status_encode(
    const struct wire_status *s, uint8_t **out, size_t *len);
WUR int wire_proof_request_encode(
    uint64_t tree_size, uint8_t **out, size_t *len);
WUR int wire_proof_encode(
    const struct wire_proof *p, uint8_t **out, size_t *len);

/* proto/wire_witness.c: the witnessed log's frames (DESIGN.md §7). */
/* A ProofRequest from tree_size (trusted) to to_size (0: the latest). */
WUR int wire_proof_request_between(
    uint64_t tree_size, uint64_t to_size, uint8_t **out, size_t *len);
/* A Cosignature frame of c (its agency and path are not sent). */
WUR int wire_cosignature_encode(
    const struct wire_cosignature *c, uint8_t **out, size_t *len);

/*
 * proto/wire_agreement.c: an Agreement frame of the YAML's and the note's
 * exact bytes (neither empty; the note at most WIRE_NOTE_MAX bytes), and
 * an AgreementRequest for sha256 (32 bytes; NULL: the current one).
 */
/* A Notice frame of n (kind and agency required) into a malloc'd *out. */
WUR int wire_notice_encode(
    const struct wire_notice *n, uint8_t **out, size_t *len);

WUR int wire_agreement_encode(const uint8_t *yaml, size_t yaml_len,
    const uint8_t *note, size_t note_len, uint8_t **out, size_t *len);
WUR int wire_agreement_request_encode(
    const uint8_t *sha256, uint8_t **out, size_t *len);

/*
 * Builds a Delivery frame from stored redacted delivery bytes (from
 * envelope_redact) and the decision's audit proof, appended to them as a
 * field; ERROR_DECODE when the bytes are not Delivery fields without a
 * decision (their contents are not decoded: the recipient does that).
 */
WUR int wire_delivery_frame(const uint8_t *delivery, size_t len,
    const struct wire_audit_proof *decision, uint8_t **out, size_t *outlen);

#endif
