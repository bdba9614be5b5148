/*
 * Durations for configuration and policy files: a strict reader and the
 * matching writer.
 */
#include <stdio.h>
#include <string.h>

#include "common/duration.h"

static const struct unit {
	const char *name;
	uint64_t ms;
} units[] = {
    {"d", 86400000},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
    {"ms", 1},
};

#define NUNITS       (sizeof(units) / sizeof(units[0]))
#define DURATION_MAX ((uint64_t)INT64_MAX)

int
duration_parse(const char *s, uint64_t *ms)
{
	uint64_t total = 0;
	size_t next = 0; /* the first unit still allowed */

	if (s == NULL || *s == '\0')
		return ERROR_INVAL;
	while (*s != '\0') {
		uint64_t n = 0, term;
		size_t u, len;

		if (!(*s >= '0' && *s <= '9'))
			return ERROR_INVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (__builtin_mul_overflow(n, 10, &n) ||
			    __builtin_add_overflow(n, (uint64_t)(*s - '0'), &n))
				return ERROR_TOOBIG;
		}
		/* "ms" before "m": take the longest unit name that matches. */
		for (u = NUNITS; u > 0; u--) {
			len = strlen(units[u - 1].name);
			if (strncmp(s, units[u - 1].name, len) == 0 &&
			    !(s[len] >= 'a' && s[len] <= 'z'))
				break;
		}
		if (u == 0 || u - 1 < next)
			return ERROR_INVAL;
		u--;
		s += strlen(units[u].name);
		next = u + 1;
		if (__builtin_mul_overflow(n, units[u].ms, &term) ||
		    __builtin_add_overflow(total, term, &total) ||
		    total > DURATION_MAX)
			return ERROR_TOOBIG;
	}
	if (total == 0)
		return ERROR_INVAL;
	*ms = total;
	return ERROR_OK;
}

char *
duration_format(uint64_t ms, char *buf, size_t n)
{
	size_t used = 0;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, n, "0s");
		return buf;
	}
	for (size_t u = 0; u < NUNITS; u++) {
		uint64_t q = ms / units[u].ms;
		int w;

		if (q == 0)
			continue;
		ms -= q * units[u].ms;
		w = snprintf(buf + used, n - used, "%llu%s",
		    (unsigned long long)q, units[u].name);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	return buf;
}
