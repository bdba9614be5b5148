/*
 * Helpers for the decoders of proto/: unpacking under a memory budget with
 * an allocator that wipes what it frees, the recursive unknown-field check
 * (DESIGN.md §5 step 1: unknown fields are rejected, not carried) and
 * bounded copies out of unpacked messages.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wipe.h"
#include "proto/pbutil.h"

/* The allocator of one pbutil_unpack call. */
struct budget {
	ProtobufCAllocator a; /* allocator_data points back here */
	size_t held, limit;
	bool over;
};

static size_t
cost(void *p)
{
	return malloc_usable_size(p) + PBUTIL_CHUNK;
}

static void *
budget_alloc(void *data, size_t n)
{
	struct budget *b = data;
	void *p;

	/* Refused before malloc, so that a huge count costs nothing. */
	if (n > b->limit - b->held || PBUTIL_CHUNK > b->limit - b->held - n) {
		b->over = true;
		return NULL;
	}
	if ((p = malloc(n ? n : 1)) == NULL)
		return NULL;
	if (cost(p) > b->limit - b->held) {
		free(p); /* fresh: nothing in it yet */
		b->over = true;
		return NULL;
	}
	b->held += cost(p);
	return p;
}

static void
budget_free(void *data, void *p)
{
	struct budget *b = data;

	if (p == NULL)
		return;
	b->held -= cost(p);
	wipe_free(p);
}

/* For pbutil_free, long after the budget of the unpack is gone. */
static void *
plain_alloc(void *data, size_t n)
{
	(void)data;
	return malloc(n ? n : 1);
}

static void
plain_free(void *data, void *p)
{
	(void)data;
	wipe_free(p);
}

static ProtobufCAllocator wiping = {plain_alloc, plain_free, NULL};

int
pbutil_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, const char *what, ProtobufCMessage **out, char *why,
    size_t whylen)
{
	struct budget b = {{budget_alloc, budget_free, NULL}, 0, 0, false};

	b.a.allocator_data = &b;
	b.limit = PBUTIL_BUDGET(len);
	*out = protobuf_c_message_unpack(d, &b.a, len, buf);
	if (*out != NULL)
		return ERROR_OK;
	if (b.over)
		return pbutil_why(why, whylen, ERROR_DECODE,
		    "%s needs more than %zu bytes to decode: too many entries",
		    what, b.limit);
	return pbutil_why(why, whylen, ERROR_DECODE,
	    "%s is not a valid protobuf message", what);
}

void
pbutil_free(void *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, &wiping);
}

bool
pbutil_has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;

	if (m == NULL)
		return false;
	if (m->n_unknown_fields > 0)
		return true;
	d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m;

		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* Only the member named by the case is valid. */
			uint32_t which;
			memcpy(&which, base + fd->quantifier_offset,
			    sizeof(which));
			if (which != fd->id)
				continue;
		}
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			ProtobufCMessage *const *v;
			memcpy(&n, base + fd->quantifier_offset, sizeof(n));
			memcpy(&v, base + fd->offset, sizeof(v));
			for (size_t j = 0; j < n; j++)
				if (pbutil_has_unknown(v[j]))
					return true;
		} else {
			const ProtobufCMessage *sub;
			memcpy(&sub, base + fd->offset, sizeof(sub));
			if (pbutil_has_unknown(sub))
				return true;
		}
	}
	return false;
}

int
pbutil_str(char *dst, size_t n, const char *src)
{
	size_t len;

	if (src == NULL) {
		dst[0] = '\0';
		return ERROR_OK;
	}
	len = strlen(src);
	if (len >= n)
		return ERROR_DECODE;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			return ERROR_DECODE;
	}
	memcpy(dst, src, len + 1);
	return ERROR_OK;
}

int
pbutil_bytes(uint8_t *dst, size_t n, ProtobufCBinaryData b)
{
	if (b.len != n || b.data == NULL)
		return ERROR_DECODE;
	memcpy(dst, b.data, n);
	return ERROR_OK;
}

int
pbutil_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);

	*out = NULL;
	*len = 0;
	if (b == NULL)
		return ERROR_NOMEM;
	if (protobuf_c_message_pack(m, b) != n) {
		wipe_free(b);
		return ERROR_INTERNAL;
	}
	*out = b;
	*len = n;
	return ERROR_OK;
}

int
pbutil_why(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}
