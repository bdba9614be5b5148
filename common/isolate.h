/*
 * Work on a file that may be damaged, in a child process: LMDB trusts its
 * file, and on some corrupt pages it asserts (abort) or reads past the
 * page it was given (a segfault). The broker's start check and the
 * `concordat audit` verbs run their reading here, so that a damaged file
 * is reported as damaged instead of killing them.
 */
#ifndef COMMON_ISOLATE_H
#define COMMON_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* How the child ended, when it did not finish (isolate_run's *death). */
#define ISOLATE_EXITED 256 /* plus its exit status: exited early */

/*
 * Forks; the child, with the default action restored for the signals of a
 * crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT), runs fn(arg, out, len),
 * sends back what it returned and
 * the len bytes of out through a pipe, and ends with _exit (no exit
 * handlers, nothing of the parent's flushed twice). stdio is flushed
 * before the fork and in the child after fn, so a verb run this way prints
 * as it would have. out must hold plain bytes: no pointer into the child's
 * memory survives it.
 *
 * Returns fn's result, with out filled and *death 0. When the child died
 * before it could answer, returns ERROR_INTERNAL with *death the signal
 * that killed it, or ISOLATE_EXITED plus its exit status (a sanitizer
 * exits so); out is then zeroed. ERROR_NOMEM when no child could be
 * started (*death 0).
 */
WUR int isolate_run(int (*fn)(void *arg, void *out, size_t len), void *arg,
    void *out, size_t len, int *death);

/*
 * True when a *death of isolate_run is the child's own fault (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, or an exit without an answer, as
 * a sanitizer's), not a signal sent from outside (SIGKILL, SIGTERM,
 * SIGINT, SIGPIPE, ...).
 */
bool isolate_fault(int death);

/*
 * Words for a *death of isolate_run into buf of size n: "killed by signal
 * SIGSEGV (Segmentation fault)", "exited with status 1".
 */
const char *isolate_death(int death, char *buf, size_t n);

#endif
