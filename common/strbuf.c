/*
 * strbuf: growable text for library code that builds documents.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/strbuf.h"

void
strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void
strbuf_release(struct strbuf *sb)
{
	bool wipe = sb->wipe;

	if (sb->buf != NULL && wipe)
		sodium_memzero(sb->buf, sb->alloc);
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
	sb->wipe = wipe;
}

/* Makes room for extra more bytes and the NUL; false once failed. */
static bool
grow(struct strbuf *sb, size_t extra)
{
	size_t want, alloc;
	char *p;

	if (sb->failed)
		return false;
	if (extra > SIZE_MAX / 2 - sb->len - 1)
		goto fail;
	want = sb->len + extra + 1;
	if (want <= sb->alloc)
		return true;
	alloc = sb->alloc < 64 ? 64 : sb->alloc;
	while (alloc < want)
		alloc *= 2;
	if ((p = malloc(alloc)) == NULL)
		goto fail;
	if (sb->buf != NULL) {
		memcpy(p, sb->buf, sb->len + 1);
		if (sb->wipe)
			sodium_memzero(sb->buf, sb->alloc);
		free(sb->buf);
	} else {
		p[0] = '\0';
	}
	sb->buf = p;
	sb->alloc = alloc;
	return true;
fail:
	sb->failed = true;
	return false;
}

void
strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!grow(sb, len))
		return;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void
strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void
strbuf_addch(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void
strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (!grow(sb, 64))
		return;
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		sb->failed = true;
		return;
	}
	if ((size_t)n >= sb->alloc - sb->len) {
		if (!grow(sb, (size_t)n))
			return;
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
		if (n < 0) {
			sb->buf[sb->len] = '\0';
			sb->failed = true;
			return;
		}
	}
	sb->len += (size_t)n;
}

void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

int
strbuf_error(const struct strbuf *sb)
{
	return sb->failed ? ERROR_NOMEM : ERROR_OK;
}

const char *
strbuf_str(const struct strbuf *sb)
{
	return sb->buf != NULL ? sb->buf : "";
}
