/*
 * Time in milliseconds: wall clock for timestamps, monotonic for timers.
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_now_ms(void);

/* Milliseconds on CLOCK_MONOTONIC, for timeouts and backoff. */
uint64_t clock_mono_ms(void);

/*
 * Formats ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2026-11-23T13:26:02.123Z") into buf (at least 32 bytes). Returns buf.
 */
char *clock_format(uint64_t ms, char *buf, unsigned n);

/*
 * Parses an RFC 3339 time ("2026-11-23T13:26:02Z", optional fraction and
 * offset) or a date ("2026-11-23", midnight UTC) into ms since the epoch.
 * Returns 0 or ERROR_INVAL.
 */
int clock_parse(const char *s, uint64_t *ms);

#endif
