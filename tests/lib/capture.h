/*
 * Running a command-line verb in-process with what it prints captured:
 * for the CLI tests. The verb is any function of the shape of a main (a
 * cli_verb's run, audit_cli, keys_cli ...), so the tests do not depend on
 * how the verbs are arranged.
 */
#ifndef TESTS_LIB_CAPTURE_H
#define TESTS_LIB_CAPTURE_H

#include <stdarg.h>

typedef int (*capture_fn)(int argc, char **argv);

/*
 * Runs fn(argc, argv) with file descriptors 1 and 2 redirected into
 * unnamed temporary files; *out and *err (either may be NULL, to discard)
 * receive what it wrote, malloc'd and NUL-terminated. stdout and stderr
 * are flushed before and after, so nothing printed before leaks in and
 * nothing the verb buffered leaks out. Returns fn's exit code.
 */
int capture_run(capture_fn fn, int argc, char **argv, char **out, char **err);

/*
 * The same with argv given as strings after err, ending with NULL (at most
 * 62): capture_runl(audit_cli, &out, &err, "audit", "verify", dir, NULL).
 */
int capture_runl(capture_fn fn, char **out, char **err, ...);
/* With argv0 (when not NULL) first, then the strings of ap up to NULL. */
int capture_vrunl(
    capture_fn fn, char **out, char **err, const char *argv0, va_list ap);

#endif
