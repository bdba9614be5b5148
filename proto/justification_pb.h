/*
 * Private to proto/: the sealed justification's members of the protobuf
 * messages (Manifest 15 and 16, Envelope 5, Delivery 6, Wrap 14), decoded
 * for wire.c and encoded for envelope.c. Never include this outside
 * proto/.
 */
#ifndef PROTO_JUSTIFICATION_PB_H
#define PROTO_JUSTIFICATION_PB_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/justification.h"
#include "proto/pbutil.h"
#include "proto/wire.h"

/*
 * Manifest.reason and Manifest.justification_digest into m, whose urgency
 * is already decoded: an EMERGENCY manifest must carry a known reason and
 * a 32-byte digest, any other neither (ERROR_EMERGENCY, which the broker
 * reports as malformed).
 */
WUR int justification_decode_manifest(const Concordat__Manifest *pm,
    struct wire_manifest *m, char *why, size_t whylen);

/* True when pw is the justification's wrap (field 14). */
bool justification_is_wrap(const Concordat__Wrap *pw);

/* The justification's wrap into *w; a second one is ERROR_DECODE. */
WUR int justification_decode_wrap(
    const Concordat__Wrap *pw, struct wire_wrap *w, char *why, size_t whylen);

/*
 * Envelope.justification into e->justification: present exactly when the
 * manifest (decoded into e->m) is EMERGENCY, else ERROR_EMERGENCY.
 */
WUR int justification_decode_envelope(const Concordat__Envelope *pe,
    struct wire_envelope *e, char *why, size_t whylen);

/*
 * Delivery.justification into d->justification: never on a message that
 * is not an emergency (ERROR_EMERGENCY), and the sealed text and its wrap
 * (already decoded into d->justification_wrap) both or neither
 * (ERROR_DECODE). Neither, on an emergency, is the recipient's to alert on.
 */
WUR int justification_decode_delivery(const Concordat__Delivery *pd,
    struct wire_delivery *d, char *why, size_t whylen);

/*
 * What envelope_redact adds to a Delivery for recipient g: the sealed
 * justification (into *ps, set as pd->justification) and g's wrap of its
 * key (into *pw, appended to pd's wraps, which have room for one more).
 * Nothing when e is not an emergency.
 */
void justification_redact(const struct wire_envelope *e,
    const struct wire_grant *g, Concordat__Delivery *pd, Concordat__Sealed *ps,
    Concordat__Wrap *pw);

/*
 * What envelope_seal refuses: an EMERGENCY message without a known reason,
 * or a reason or a non-empty justification on any other (ERROR_EMERGENCY);
 * a justification over WIRE_JUSTIFICATION_MAX bytes (ERROR_TOOBIG). An
 * emergency's justification may be NULL or empty: it is sealed empty, and
 * the recipient alerts (the record format is where a local system is
 * made to write one).
 */
WUR int justification_check_args(
    int urgency, int reason, const char *justification);

/* Manifest.reason and Manifest.justification_digest from reason and j. */
void justification_manifest(
    Concordat__Manifest *pm, int reason, const struct justification_sealed *j);

/* j as Envelope.justification, described by *ps. */
void justification_envelope(Concordat__Envelope *pe, Concordat__Sealed *ps,
    const struct justification_sealed *j);

/*
 * j's key wrapped for recipient (justification_wrap) into *store, and
 * *pw describing it.
 */
WUR int justification_grant(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, const struct justification_sealed *j,
    const uint8_t shared[32], struct wire_wrap *store, Concordat__Wrap *pw);

#endif
