/*
 * Careful file I/O shared by every part: bounded reads of untrusted files,
 * durable writes (temporary name, fsync, rename, fsync of the folder) and
 * folder creation.
 */
#ifndef COMMON_FILEIO_H
#define COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/*
 * Reads the whole regular file at path into a new malloc'd buffer, refusing
 * files larger than max bytes (ERROR_TOOBIG) and anything that is not a
 * regular file (ERROR_INVAL). The buffer is NUL-terminated one past *len
 * for the convenience of text parsers; the caller frees it with free().
 */
WUR int fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len);

/*
 * Writes data durably as dir/name: to a temporary file in dir, fsync, rename
 * over name, fsync dir. With excl, an existing dir/name is refused
 * (ERROR_EXISTS) instead of replaced. mode is the new file's mode.
 */
WUR int fileio_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, int excl);

/* Creates path and its parents with mode where missing. */
WUR int fileio_mkdirs(const char *path, mode_t mode);

/* fsyncs the folder at path, so that a rename in it is durable. */
WUR int fileio_fsync_dir(const char *path);

/* Joins a and b with one '/' into buf of size n; ERROR_TOOBIG if too long. */
WUR int fileio_join(char *buf, size_t n, const char *a, const char *b);

/*
 * Resolves path, as written in the file at base (a configuration file),
 * into out of size n: absolute paths as they are, relative ones against
 * the absolute path of base's folder. ERROR_TOOBIG when out is too small.
 */
WUR int fileio_resolve(const char *base, const char *path, char *out, size_t n);

#endif
