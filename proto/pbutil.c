/*
 * Helpers for the decoders of proto/: unpacking under a memory budget with
 * an allocator that wipes what it frees, the recursive unknown-field check
 * (DESIGN.md §5 step 1: unknown fields are rejected, not carried) and
 * bounded copies out of unpacked messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/wipe.h"
#include "proto/pbutil.h"

/*
 * The arena of one pbutil_unpack call. protobuf-c's blocks are carved in
 * order out of a few chunks, each block behind a header of PBUTIL_CHUNK
 * bytes that names the arena, so that pbutil_free finds it from the
 * message alone. Freeing one block does nothing; pbutil_free wipes every
 * chunk and frees it, which is one free per chunk instead of one per
 * block. The arena itself lives at the start of its first chunk.
 *
 * The budget counts every block carved, freed or not, with its header:
 * what the arena takes, which is what it holds, since a freed block is
 * not reused. A chunk is never larger than the budget left, so the arena
 * holds at most its budget and its own bookkeeping.
 */
struct chunk {
	struct chunk *next; /* the chunk carved before this one */
	size_t size, used;  /* bytes of data */
	max_align_t data[];
};

struct arena {
	ProtobufCAllocator a; /* allocator_data points back here */
	struct chunk *chunks; /* the chunk being carved; the arena's last */
	size_t held, limit, next;
	bool over;
};

#define ALIGN           _Alignof(max_align_t)
#define ROUND(n)        (((n) + ALIGN - 1) / ALIGN * ALIGN)
#define ARENA_SPACE     ROUND(sizeof(struct arena))
#define ARENA_FIRST_MAX (32 * 1024) /* below PBUTIL_BUDGET_BASE */

_Static_assert(PBUTIL_CHUNK >= sizeof(struct arena *) &&
        PBUTIL_CHUNK % _Alignof(max_align_t) == 0,
    "a block's header holds the arena's address and keeps blocks aligned");

/*
 * With AddressSanitizer, the headers and what is not carved yet are
 * poisoned, so that reading past a block is caught as it would be between
 * malloc blocks.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static struct chunk *
chunk_new(struct chunk *next, size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);

	if (c == NULL)
		return NULL;
	c->next = next;
	c->size = size;
	c->used = 0;
	POISON(c->data, size);
	return c;
}

static void *
arena_alloc(void *data, size_t n)
{
	struct arena *ar = data;
	struct chunk *c = ar->chunks;
	size_t need, left = ar->limit - ar->held;
	unsigned char *p;

	/* Refused before anything is taken, so that a huge count costs
	 * nothing. */
	if (n > left || PBUTIL_CHUNK + ALIGN > left - n) {
		ar->over = true;
		return NULL;
	}
	need = PBUTIL_CHUNK + ROUND(n ? n : 1);
	if (c->size - c->used < need) {
		size_t size = ar->next < left ? ar->next : left;
		if ((c = chunk_new(c, size > need ? size : need)) == NULL)
			return NULL;
		ar->chunks = c;
		ar->next = c->size <= SIZE_MAX / 2 ? 2 * c->size : c->size;
	}
	p = (unsigned char *)c->data + c->used;
	c->used += need;
	ar->held += need;
	UNPOISON(p, PBUTIL_CHUNK);
	memcpy(p, &ar, sizeof(ar));
	POISON(p, PBUTIL_CHUNK);
	UNPOISON(p + PBUTIL_CHUNK, n); /* not the rounding after it */
	return p + PBUTIL_CHUNK;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p; /* pbutil_free takes back the whole arena */
}

/* Wipes what every chunk gave out, the arena included, and frees them. */
static void
arena_release(struct arena *ar)
{
	struct chunk *c = ar->chunks, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		UNPOISON(c->data, c->size);
		sodium_memzero(c->data, c->used);
		free(c);
	}
}

int
pbutil_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, const char *what, ProtobufCMessage **out, char *why,
    size_t whylen)
{
	size_t limit = PBUTIL_BUDGET(len);
	/* Room for a small message of len bytes, which takes a little more
	 * once unpacked, and its structs; a large one gets chunks twice as
	 * large each time. */
	size_t first = len < (ARENA_FIRST_MAX - 4096) / 2 ? 2 * len + 4096
	                                                  : ARENA_FIRST_MAX;
	struct chunk *c = chunk_new(NULL, ARENA_SPACE + first);
	struct arena *ar;
	bool over;

	*out = NULL;
	if (c == NULL)
		return pbutil_why(why, whylen, ERROR_NOMEM,
		    "%s: no memory to decode it", what);
	UNPOISON(c->data, ARENA_SPACE);
	c->used = ARENA_SPACE;
	ar = (struct arena *)c->data;
	memset(ar, 0, sizeof(*ar));
	ar->a.alloc = arena_alloc;
	ar->a.free = arena_free;
	ar->a.allocator_data = ar;
	ar->chunks = c;
	ar->limit = limit;
	ar->next = 2 * first;
	*out = protobuf_c_message_unpack(d, &ar->a, len, buf);
	if (*out != NULL)
		return ERROR_OK;
	over = ar->over;
	arena_release(ar);
	if (over)
		return pbutil_why(why, whylen, ERROR_DECODE,
		    "%s needs more than %zu bytes to decode: too many entries",
		    what, limit);
	return pbutil_why(why, whylen, ERROR_DECODE,
	    "%s is not a valid protobuf message", what);
}

void
pbutil_free(void *m)
{
	unsigned char *head;
	struct arena *ar;

	if (m == NULL)
		return;
	head = (unsigned char *)m - PBUTIL_CHUNK;
	UNPOISON(head, PBUTIL_CHUNK);
	memcpy(&ar, head, sizeof(ar));
	arena_release(ar);
}

size_t
pbutil_chunks(const void *m)
{
	const unsigned char *head = (const unsigned char *)m - PBUTIL_CHUNK;
	const struct arena *ar;
	size_t n = 0;

	UNPOISON(head, PBUTIL_CHUNK);
	memcpy(&ar, head, sizeof(ar));
	POISON(head, PBUTIL_CHUNK);
	for (const struct chunk *c = ar->chunks; c != NULL; c = c->next)
		n++;
	return n;
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
