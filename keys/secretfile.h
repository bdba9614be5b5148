/*
 * Private to keys/: reading a secret file (a key or the pepper) the way
 * smtpd does: no symlinks, no group or world access, owned by us.
 */
#ifndef KEYS_SECRETFILE_H
#define KEYS_SECRETFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/*
 * Reads exactly len bytes from path into buf (which should be sodium_malloc
 * memory). Refuses a symlink or a file group or world may access, or one
 * not owned by the effective user (ERROR_PERM); a file of another size is
 * ERROR_KEY.
 */
WUR int secretfile_read(const char *path, uint8_t *buf, size_t len);

#endif
