/*
 * Private to proto/: helpers shared by the decoders in wire.c, envelope.c,
 * event.c and record.c: the one way bytes are unpacked (under a memory
 * budget, wiped when freed), bounded copies out of unpacked messages and
 * packing. Never include this outside proto/.
 */
#ifndef PROTO_PBUTIL_H
#define PROTO_PBUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "concordat.pb-c.h"
#include "common/error.h"
#include "proto/wire.h"

/*
 * The decode budget. protobuf-c unpacks a repeated entry of two bytes on
 * the wire (an empty Sealed, Grant or Wrap) into some 130 bytes of heap, so
 * 1 MiB of them would cost some 70 MiB. pbutil_unpack lets a message
 * unpacked from n bytes take at most PBUTIL_BUDGET(n) bytes of heap in
 * all, counting each block protobuf-c asks for, rounded up to 16 bytes,
 * plus the PBUTIL_CHUNK bytes of its header in the arena, whether or not
 * it was freed since (the arena does not reuse blocks). A legitimate
 * message costs little more than its
 * size (bytes and strings are copied once), plus a bounded amount for its
 * bounded lists (16 recipients, 13 fields, 16 proofs of 64 hashes); a
 * message made of many tiny entries runs out of budget instead.
 */
#define PBUTIL_BUDGET_FACTOR 4
#define PBUTIL_BUDGET_BASE   (64 * 1024)
#define PBUTIL_CHUNK         16
#define PBUTIL_BUDGET(n)                                                       \
	((n) > (SIZE_MAX - PBUTIL_BUDGET_BASE) / PBUTIL_BUDGET_FACTOR          \
	        ? SIZE_MAX                                                     \
	        : PBUTIL_BUDGET_FACTOR * (n) + PBUTIL_BUDGET_BASE)

/*
 * Unpacks len bytes as a message of type d into *out (the caller frees it
 * with pbutil_free), into an arena of its own that takes at most
 * PBUTIL_BUDGET(len) bytes and is wiped when freed. Refuses bytes
 * that do not parse ("WHAT is not a valid protobuf message") and bytes that
 * would need more than the budget ("WHAT needs more than N bytes to decode:
 * too many entries"), both ERROR_DECODE, with why (when not NULL) naming
 * the cause; what names the message ("frame", "manifest"). Unknown fields
 * are kept for pbutil_has_unknown.
 */
WUR int pbutil_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, const char *what, ProtobufCMessage **out, char *why,
    size_t whylen);

/*
 * Frees a message from pbutil_unpack (of any generated type) and all it
 * holds, its arena wiped; NULL is a no-op. It must not be given any other
 * message: the arena is found in the header before the message.
 */
void pbutil_free(void *m);

/* How many chunks of memory the arena of m took (for the tests). */
size_t pbutil_chunks(const void *m);

/* True when m or any message inside it carries unknown fields. */
bool pbutil_has_unknown(const ProtobufCMessage *m);

/*
 * Copies src (NULL is empty) into dst of size n; ERROR_DECODE when it does
 * not fit or holds a control character other than tab and newline.
 */
WUR int pbutil_str(char *dst, size_t n, const char *src);

/* Copies b into dst when it is exactly n bytes; ERROR_DECODE otherwise. */
WUR int pbutil_bytes(uint8_t *dst, size_t n, ProtobufCBinaryData b);

/*
 * Packs m into a new malloc'd buffer. The caller frees it, with wipe_free
 * (common/wipe.h) when it holds a field plaintext.
 */
WUR int pbutil_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len);

/*
 * wire_agreement.c's pieces of wire.c's decoders and encoders: the
 * agreement frames, Manifest.agreement and Receipt.agreement.
 */
WUR int wire_decode_notice_(const Concordat__Notice *pn, struct wire_notice *n,
    char *why, size_t whylen);
WUR int wire_decode_agreement_(const Concordat__Agreement *pa,
    struct wire_agreement *a, char *why, size_t whylen);
WUR int wire_decode_agreement_request_(const Concordat__AgreementRequest *pr,
    struct wire_agreement *a, char *why, size_t whylen);
WUR int wire_decode_manifest_agreement_(const Concordat__Manifest *pm,
    struct wire_manifest *m, char *why, size_t whylen);
WUR int wire_decode_receipt_agreement_(const Concordat__Receipt *pr,
    struct wire_receipt *r, char *why, size_t whylen);
void wire_encode_receipt_agreement_(
    const struct wire_receipt *r, Concordat__Receipt *pr);

/* A formatted reason into why (when not NULL); returns err. */
int pbutil_why(char *why, size_t whylen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
