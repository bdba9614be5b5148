/*
 * The old names of cli_fail and cli_exit_code (common/cli.h), kept for
 * common/daemon.c: the daemons do not link the CLI kit. audit/ no longer
 * uses them.
 */
#ifndef COMMON_CLIUTIL_H
#define COMMON_CLIUTIL_H

#include <sysexits.h>

/* Prints "concordat: " and the formatted message to stderr; returns code. */
int cliutil_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sysexits code for a project error (ERROR_*). */
int cliutil_exit_code(int err);

#endif
