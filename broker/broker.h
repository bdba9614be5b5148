/*
 * The entry points main.c calls: run the broker, or check its
 * configuration (-n).
 */
#ifndef BROKER_BROKER_H
#define BROKER_BROKER_H

#include <stddef.h>

#include "broker/config.h"

/* Runs until SIGTERM or SIGINT; returns 0 or an ERROR_* (logged). */
int broker_run(const struct broker_config *cfg);

/*
 * Loads keys, keyring and policy and checks libzmq, as a start would, and
 * returns 0 with a one-line summary in why, or the error with its reason.
 */
int broker_check(const struct broker_config *cfg, char *why, size_t n);

#endif
