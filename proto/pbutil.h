/*
 * Private to proto/: helpers shared by the decoders in wire.c, envelope.c,
 * event.c and record.c. Never include this outside proto/.
 */
#ifndef PROTO_PBUTIL_H
#define PROTO_PBUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "concordat.pb-c.h"
#include "common/error.h"

/* True when m or any message inside it carries unknown fields. */
bool pbutil_has_unknown(const ProtobufCMessage *m);

/*
 * Copies src (NULL is empty) into dst of size n; ERROR_DECODE when it does
 * not fit or holds a control character other than tab and newline.
 */
WUR int pbutil_str(char *dst, size_t n, const char *src);

/* Copies b into dst when it is exactly n bytes; ERROR_DECODE otherwise. */
WUR int pbutil_bytes(uint8_t *dst, size_t n, ProtobufCBinaryData b);

/* Packs m into a new malloc'd buffer. */
WUR int pbutil_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len);

/* A formatted reason into why (when not NULL); returns err. */
int pbutil_why(char *why, size_t whylen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
