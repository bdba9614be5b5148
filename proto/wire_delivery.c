/*
 * The Delivery frame the broker sends (DESIGN.md §5): the stored redacted
 * bytes with the recipient's decision proof appended as a field.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_int.h"

/* The varint of v at p (room for 10 bytes); returns its length. */
static size_t
varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		p[n++] |= v != 0 ? 0x80 : 0;
	} while (v != 0);
	return n;
}

#define LEN_DELIMITED 2 /* the wire type of bytes and messages */

/*
 * Whether buf is a sequence of Delivery's fields (wire.proto's, as the
 * generated descriptor lists them) without the decision: each a known
 * field number, length-delimited (all of Delivery's are), inside buf.
 * What the fields hold is the recipient's to check, as for any frame.
 */
static bool
delivery_fields(const uint8_t *buf, size_t len, unsigned decision)
{
	size_t pos = 0;
	uint64_t tag, n;

	while (pos < len) {
		if (!wire_varint_get(buf, len, &pos, &tag) ||
		    (tag & 7) != LEN_DELIMITED || tag >> 3 > UINT32_MAX ||
		    tag >> 3 == decision ||
		    protobuf_c_message_descriptor_get_field(
		        &concordat__delivery__descriptor,
		        (unsigned)(tag >> 3)) == NULL ||
		    !wire_varint_get(buf, len, &pos, &n) || n > len - pos)
			return false;
		pos += (size_t)n;
	}
	return true;
}

/*
 * The stored bytes are a Delivery without its decision (envelope_redact's),
 * so the frame is those bytes with the decision appended as its field:
 * protobuf reads a message's fields in any order, and the ciphertexts are
 * neither decoded nor encoded again (unpacking and packing them was a
 * third of the cost of sending a delivery). The bytes' fields are read,
 * not their contents.
 */
int
wire_delivery_frame(const uint8_t *delivery, size_t len,
    const struct wire_audit_proof *decision, uint8_t **out, size_t *outlen)
{
	Concordat__AuditProof pp;
	ProtobufCBinaryData path[WIRE_MAX_PATH];
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(
	        &concordat__delivery__descriptor, "decision");
	uint8_t head[20], field[20], *b; /* two varints each */
	size_t pn, hn, fn, inner;

	*out = NULL;
	*outlen = 0;
	if (decision->n_path > WIRE_MAX_PATH)
		return ERROR_INVAL;
	if (fd == NULL) /* the schema and this file disagree */
		return ERROR_INTERNAL;
	if (!delivery_fields(delivery, len, fd->id))
		return ERROR_DECODE;
	wire_encode_proof(decision, &pp, path);
	pn = protobuf_c_message_get_packed_size(&pp.base);
	fn = varint_put(field, (uint64_t)fd->id << 3 | LEN_DELIMITED);
	fn += varint_put(field + fn, pn);
	inner = len + fn + pn;
	hn = varint_put(head,
	    (uint64_t)CONCORDAT__FRAME__BODY_DELIVERY << 3 | LEN_DELIMITED);
	hn += varint_put(head + hn, inner);
	if ((b = malloc(hn + inner)) == NULL)
		return ERROR_NOMEM;
	memcpy(b, head, hn);
	memcpy(b + hn, delivery, len);
	memcpy(b + hn + len, field, fn);
	if (protobuf_c_message_pack(&pp.base, b + hn + len + fn) != pn) {
		free(b);
		return ERROR_INTERNAL;
	}
	*out = b;
	*outlen = hn + inner;
	return ERROR_OK;
}
