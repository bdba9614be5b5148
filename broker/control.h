/*
 * The broker's local control socket (DESIGN.md §9 monitoring): a unix
 * stream socket, DATA/control.sock unless control_socket names another,
 * mode 0660 (owner and group). A client writes one line, "status\n", and
 * reads the status document (status.h) until the broker closes. Served by
 * the broker's loop (control_handle, never blocking it for long); asked
 * by `concordat status` (control_ask).
 */
#ifndef BROKER_CONTROL_H
#define BROKER_CONTROL_H

#include <stddef.h>

#include "common/error.h"
#include "common/strbuf.h"

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_REQUEST_MAX 64
#define CONTROL_TIMEOUT_MS  2000 /* a client's whole exchange, at most */

/*
 * Asks the broker at path for its status: *sb gets the document.
 * ERROR_NOENT when nothing listens there (no socket, or refused),
 * ERROR_IO on a failed or cut exchange, ERROR_TOOBIG past 16 MiB.
 */
WUR int control_ask(const char *path, struct strbuf *sb);

#endif
