/*
 * The record format's B8 fields (DESIGN.md §2, docs/record-format.md) to and
 * from their plaintexts: each field's JSON object is one protobuf message
 * (Identity, Relatives, ...) whose bytes are what the sender seals. Used by
 * the agents; the broker never sees a plaintext.
 */
#ifndef PROTO_RECORD_H
#define PROTO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

/*
 * Encodes the JSON object value of field f (1..13) into a new malloc'd
 * plaintext. Unknown keys, wrong types, levels other than none, low,
 * medium, high and unknown, and numbers out of range are refused with
 * ERROR_INVAL and a message naming the key in why ("risks.self_harm:
 * expected one of none, low, medium, high, unknown"). JSON null or an
 * empty object encodes as an empty plaintext.
 */
WUR int record_field_encode(int f, const json_t *value, uint8_t **out,
    size_t *len, char *why, size_t whylen);

/*
 * Decodes field f's plaintext into a new JSON object (*out, the caller
 * decrefs). Refuses bytes that are not that field's message, carry
 * unknown fields, hold text that is not UTF-8 or holds a NUL, or a level
 * that is none of the choices, or are not the canonical encoding
 * record_field_encode writes (ERROR_DECODE), so that nothing sent is
 * silently dropped or cut short.
 */
WUR int record_field_decode(
    int f, const uint8_t *plain, size_t len, json_t **out);

#endif
