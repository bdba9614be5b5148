/*
 * Scratch folders and whole files for the tests and benchmarks: a fresh
 * folder under $TMPDIR, its removal, and reading or writing a file in one
 * call. A failure here is the test's set-up failing, not the code under
 * test: it says what failed on stderr and aborts.
 */
#ifndef TESTS_LIB_SCRATCH_H
#define TESTS_LIB_SCRATCH_H

#include <stddef.h>

/*
 * Creates a fresh folder $TMPDIR/concordat-TAG-XXXXXX (mkdtemp), or under
 * /tmp when TMPDIR is unset, relative, or too long for the result to fit
 * in n bytes (and under 48 characters, so that an ipc:// socket path in
 * the folder fits in sun_path). The path goes into buf.
 */
void scratch_dir_in(char *buf, size_t n, const char *tag);
/* The same, into a new malloc'd string (the caller frees it). */
char *scratch_dir(const char *tag);

/* Removes path and everything under it (a missing path is not an error). */
void scratch_rmrf(const char *path);

/*
 * Reads the whole file (to its end: /proc files have no size) into a
 * malloc'd buffer with a NUL after the last byte; *len (may be NULL) gets
 * its length. NULL, with errno set, when the file cannot be opened.
 */
void *scratch_slurp(const char *path, size_t *len);
/* scratch_slurp, aborting when the file cannot be read. */
void *scratch_read(const char *path, size_t *len);

/* Writes len bytes as the whole of path (O_TRUNC, not atomic), with mode. */
void scratch_spit(
    const char *path, const void *data, size_t len, unsigned mode);
/* scratch_spit of a string. */
void scratch_write(const char *path, const char *text, unsigned mode);

/* The number of times needle occurs in haystack, without overlap. */
size_t scratch_count(const char *haystack, const char *needle);

/* Says why on stderr and aborts: a set-up failure. */
void scratch_die(const char *fmt, ...) __attribute__((noreturn))
__attribute__((format(printf, 1, 2)));

#endif
