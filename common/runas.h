/*
 * Becoming the configured user (user: in broker.yaml and agent.yaml, -u)
 * when started as root outside systemd: supplementary groups, group, then
 * user, and a check that there is no way back. Called by daemon_main once
 * the configuration is read, before any key or data file is opened.
 */
#ifndef COMMON_RUNAS_H
#define COMMON_RUNAS_H

#include <stddef.h>

#include "common/error.h"

/*
 * user "" or "root", or not running as root: nothing to do, except that
 * a user other than the current one is ERROR_PERM when not root. Else
 * becomes user; ERROR_NOENT when there is no such user, ERROR_PERM when a
 * step fails. why (size n) says what happened.
 */
WUR int runas_switch(const char *user, char *why, size_t n);

#endif
