/*
 * A growable text buffer (git's strbuf). Formats and documents (a summary,
 * a report, a proof file) are built into one by library code, which never
 * writes to a stream itself; the verb that asked writes the result.
 *
 * A buffer that ran out of memory remembers it: later appends do nothing
 * and strbuf_error() returns ERROR_NOMEM, so a writer checks once at the
 * end. With strbuf_wipe() set, every buffer it gives up is wiped first
 * (for text that holds record plaintext).
 */
#ifndef COMMON_STRBUF_H
#define COMMON_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct strbuf {
	char *buf; /* always NUL-terminated once anything is appended */
	size_t len;
	size_t alloc;
	bool failed; /* an allocation failed: the text is incomplete */
	bool wipe;   /* wipe memory before giving it back */
};

#define STRBUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0, false, false                                       \
	}

void strbuf_init(struct strbuf *sb);
/* Frees the text (wiping it first if sb->wipe) and empties sb. */
void strbuf_release(struct strbuf *sb);

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* ERROR_NOMEM if any append failed, else ERROR_OK. */
int strbuf_error(const struct strbuf *sb) WUR;

/* The text so far ("" for an empty buffer); valid until the next append. */
const char *strbuf_str(const struct strbuf *sb);

#endif
