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
 * Makes jansson wipe every block it frees (json_set_alloc_funcs with
 * malloc and wipe_free, common/wipe.h), since record JSON holds field
 * plaintext. The setting is process-wide: concordat-agent and concordat
 * call this first thing in main, before any JSON value exists. Protobuf
 * memory in proto/ is wiped on free whether or not this is called.
 */
void record_wipe_on_free(void);

/*
 * Encodes the JSON object value of field f (1..13) into a new malloc'd
 * plaintext, which the caller wipes and frees. Unknown keys, wrong types,
 * levels other than none, low, medium, high and unknown, and numbers out
 * of range are refused with ERROR_INVAL and a message naming the key in
 * why ("risks.self_harm: expected one of none, low, medium, high,
 * unknown"). JSON null or an empty object encodes as an empty plaintext.
 */
WUR int record_field_encode(int f, const json_t *value, uint8_t **out,
    size_t *len, char *why, size_t whylen);

/*
 * Decodes field f's plaintext into a new JSON object (*out, the caller
 * decrefs; jansson wipes it on free after record_wipe_on_free). The
 * unpacked message is wiped before it is freed. Refuses bytes that are
 * not that field's message, that would take more memory to unpack than
 * the decode budget allows (proto/wire.h), carry unknown fields, hold text
 * that is not UTF-8 or holds a NUL, or a level that is none of the
 * choices, or are not the canonical encoding record_field_encode writes
 * (ERROR_DECODE), so that nothing sent is silently dropped or cut short.
 */
WUR int record_field_decode(
    int f, const uint8_t *plain, size_t len, json_t **out);

#endif
