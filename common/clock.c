/*
 * Clocks and RFC 3339 times for logs, records and audit queries.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"

uint64_t
clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *
clock_format(uint64_t ms, char *buf, unsigned n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
	return buf;
}

int
clock_parse(const char *s, uint64_t *ms)
{
	struct tm tm;
	const char *p;
	long off = 0;
	unsigned frac = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL)
		return ERROR_INVAL;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (p == NULL)
			return ERROR_INVAL;
		if (*p == '.') {
			unsigned scale = 100;
			for (p++; *p >= '0' && *p <= '9'; p++) {
				frac += (unsigned)(*p - '0') * scale;
				scale /= 10;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int hh, mm;
			if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
				return ERROR_INVAL;
			off = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p != '\0')
		return ERROR_INVAL;
	time_t t = timegm(&tm);
	if (t < 0)
		return ERROR_INVAL;
	*ms = (uint64_t)(t - off) * 1000 + frac;
	return ERROR_OK;
}
