/*
 * Private to the harness's files (harness*.c): what they share beyond
 * harness.h.
 */
#ifndef TESTS_INTEGRATION_HARNESS_INT_H
#define TESTS_INTEGRATION_HARNESS_INT_H

#include <stddef.h>

#include "keys/keys.h"
#include "proto/event.h"
#include "tests/integration/harness.h"

/* snprintf that fails the test instead of cutting a path short. */
void harness_fmt(char *buf, size_t n, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
/* mkdir -p, failing the test when the last folder cannot be made. */
void harness_mkdirs(const char *path);

/* harness_proc.c */
/* Prints the last lines of a log to stderr. */
void harness_print_tail(const char *path, unsigned lines);
/* Sends sig to p and waits (H_WAIT_MS, then SIGKILL); the exit status, or
 * -1 when p was not running or did not stop. */
int harness_proc_signal(struct h_proc *p, int sig);

/* harness_msg.c: an agency's keys, loaded on first use. */
struct keys_secret *harness_secret(struct h_sys *s, int i);
const struct keys_public *harness_public(struct h_sys *s, int i);

/*
 * m sealed, and redacted for recipient as the agreement allows (everything
 * with m->unredacted), as an honest broker would: the Delivery's bytes in
 * *del (the caller frees them) and, in *ev, the decision leaf that says what
 * was sent, naming the agreement the manifest names.
 */
void harness_redacted(struct h_sys *s, const struct h_msg *m, int recipient,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **del, size_t *del_len,
    struct event *ev);

#endif
