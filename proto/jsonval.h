/*
 * The record and event types as JSON values, and back: a field set as a
 * list of field names, a list of fixed-width strings, bytes as hex, and an
 * audit event as the row that `concordat audit query --json` prints. The
 * agent's inbox and outbox records and the audit verbs build their JSON
 * from these, so the two spell every value the same way.
 */
#ifndef PROTO_JSONVAL_H
#define PROTO_JSONVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "common/fields.h"
#include "proto/event.h"

/*
 * Each returns a new reference the caller owns (json_decref), or NULL when
 * out of memory or when a string is not UTF-8.
 */

/* ["identity", "risks", ...] in field order. */
json_t *jsonval_fields(fieldset set);

/* [base, base + stride, ...]: n NUL-terminated strings stride bytes apart. */
json_t *jsonval_strings(const char *base, size_t stride, size_t n);

/* The n bytes at b in lower-case hex; "" when has is false. */
json_t *jsonval_hex(const uint8_t *b, size_t n, bool has);

/*
 * The audit row of event ev at log position seq: every member of
 * JSONVAL_EVENT_KEYS, in that order (absent values as "", [], false, 0).
 */
json_t *jsonval_event(uint64_t seq, const struct event *ev);

/* The members of jsonval_event's object, in order. */
extern const char *const jsonval_event_keys[];
#define JSONVAL_EVENT_NKEYS 28

/*
 * Back from JSON. Each returns ERROR_OK, or ERROR_INVAL when v is not of
 * the shape its writer gives (a name that is not a field, a string that
 * does not fit, hex of the wrong length); the outputs are then undefined.
 */
WUR int jsonval_to_fields(const json_t *v, fieldset *set);
/* At most max strings, each shorter than stride bytes; *n gets the count. */
WUR int jsonval_to_strings(
    const json_t *v, char *base, size_t stride, size_t max, size_t *n);
/* "" gives *has false; otherwise exactly 2 * n hex digits. */
WUR int jsonval_to_hex(const json_t *v, uint8_t *out, size_t n, bool *has);

#endif
