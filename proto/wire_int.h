/*
 * Private to proto/: what wire.c's frame decoder and encoders share with
 * wire_witness.c, which holds the witnessed log's members (the ProofRequest,
 * the Proof, the Cosignature and the AuditProof's tie), and with
 * wire_delivery.c.
 */
#ifndef PROTO_WIRE_INT_H
#define PROTO_WIRE_INT_H

#include "proto/pbutil.h"
#include "proto/wire.h"

/* The ProofRequest's sizes into f. */
void wire_decode_proof_request(
    const Concordat__ProofRequest *pr, struct wire_frame *f);
WUR int wire_decode_proof(
    const Concordat__Proof *pp, struct wire_proof *p, char *why, size_t whylen);
WUR int wire_decode_cosignature(const Concordat__Cosignature *pc,
    struct wire_cosignature *c, char *why, size_t whylen);
/* AuditProof 5 and 6 into p (borrowed from pp). */
WUR int wire_decode_tie(const Concordat__AuditProof *pp,
    struct wire_audit_proof *p, char *why, size_t whylen);
/*
 * wire.c's, for wire_delivery.c: p into pp (path: room for p->n_path, where
 * the path's descriptors go), and the varint at *pos of buf (len bytes),
 * false past the end or too long.
 */
void wire_encode_proof(const struct wire_audit_proof *p,
    Concordat__AuditProof *pp, ProtobufCBinaryData *path);
bool wire_varint_get(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v);
/* p's tie, when it has one, into pp (borrowing p's bytes). */
void wire_encode_tie(
    const struct wire_audit_proof *p, Concordat__AuditProof *pp);

/* review.c: Frame.review's body into r (checked encoding, no signature),
 * and the review's members of an AuditEvent (30 to 38) both ways. */
WUR int wire_decode_review_(
    const Concordat__Review *pr, struct review *r, char *why, size_t whylen);
struct event;
void review_event_pack_(const struct event *ev, Concordat__AuditEvent *m);
WUR int review_event_unpack_(const Concordat__AuditEvent *m, struct event *ev);

#endif
