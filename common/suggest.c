/*
 * Edit distance for "did you mean" suggestions in configuration and policy
 * errors. Bounded inputs, no allocation.
 */
#include <stdint.h>
#include <string.h>

#include "common/suggest.h"

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t
suggest_distance(const char *a, const char *b)
{
	/* Three rows of the dynamic programme: two back for transpositions. */
	size_t rows[3][SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SUGGEST_MAX_LEN + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			cur[j] = min3(
			    prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *
suggest_closest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t len, limit, best_d = SIZE_MAX;

	if (word == NULL)
		return NULL;
	len = strlen(word);
	if (len == 0 || len > SUGGEST_MAX_LEN)
		return NULL;
	if (len <= 4)
		limit = 1;
	else if (len <= 8)
		limit = 2;
	else
		limit = len / 3;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (candidates[i] == NULL)
			continue;
		d = suggest_distance(word, candidates[i]);
		if (d <= limit && d < best_d) {
			best = candidates[i];
			best_d = d;
		}
	}
	return best;
}
