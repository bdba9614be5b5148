/*
 * "Did you mean ...?" for configuration and policy errors: the closest name
 * to a misspelt one, by edit distance. Used by yamlconf and the policy.
 */
#ifndef COMMON_SUGGEST_H
#define COMMON_SUGGEST_H

#include <stddef.h>

/*
 * The number of single-character insertions, deletions, substitutions and
 * transpositions of adjacent characters that turn a into b (the optimal
 * string alignment distance). Strings longer than SUGGEST_MAX_LEN bytes are
 * not compared: the result is then SUGGEST_MAX_LEN + 1.
 */
#define SUGGEST_MAX_LEN 64
size_t suggest_distance(const char *a, const char *b);

/*
 * The candidate closest to word, or NULL when none is close enough: within
 * one edit for words of up to four bytes, two for words of five to eight,
 * and a third of the word's length beyond that. Ties go to the earlier
 * candidate; NULL candidates are skipped. The result is one of the
 * candidates (borrowed: valid as long as the caller's array is).
 */
const char *suggest_closest(
    const char *word, const char *const *candidates, size_t n);

#endif
