/*
 * Careful file I/O shared by every part: bounded reads of untrusted files,
 * reads of entries that a less trusted user put in a spool folder, durable
 * writes (temporary name, fsync, rename, fsync of the folder), writes under
 * new names that never replace a file, and folder creation.
 */
#ifndef COMMON_FILEIO_H
#define COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
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
 * Reads the entry name of the folder dir, which a less trusted user may
 * have put there (a spool folder), into a new malloc'd buffer as
 * fileio_read does. The entry is opened O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
 * so that a symbolic link is never followed and a FIFO never blocks, and
 * read only when the open file is a regular file with one link (a hard
 * link to some other file is refused too), owned by one of the n_owners
 * uids at owners, of at most max bytes. *st receives the status of what
 * was opened: taken after the read on success, so that the caller can
 * tell by comparing it with an earlier look that the file changed while
 * it was read; of the refused entry otherwise (all zero when there was
 * none). Returns ERROR_NOENT (no such entry), ERROR_PERM (a symbolic link,
 * more than one link, another owner), ERROR_INVAL (not a regular file, or
 * a name that is empty or holds '/'), ERROR_TOOBIG, or the read's error.
 */
WUR int fileio_read_entry(const char *dir, const char *name,
    const uid_t *owners, size_t n_owners, size_t max, uint8_t **buf,
    size_t *len, struct stat *st);

/* Room for a tag of fileio_tag, with its NUL. */
#define FILEIO_TAG_LEN 24

/*
 * A tag to make a name unique: a counter no other call in this process
 * returns, then 32 random bits, as "000002-9f3ac1d2".
 */
void fileio_tag(char out[FILEIO_TAG_LEN]);

/*
 * Writes data durably into dir under a name no entry there has: stem then
 * suffix ("1700000000000-audit" ".json") when that is free, else stem, '-',
 * a fileio_tag and suffix ("1700000000000-audit-000002-9f3ac1d2.json").
 * The file is written under a temporary name (created O_EXCL | O_NOFOLLOW
 * with mode), fsynced, then given its name without replacing anything
 * (renameat2 RENAME_NOREPLACE, or link() where that is missing), and dir
 * is fsynced: it appears whole, once, and never replaces a file or writes
 * through a link. The name chosen is copied into name (n bytes); too small
 * a buffer is ERROR_TOOBIG before anything is written.
 */
WUR int fileio_write_unique(const char *dir, const char *stem,
    const char *suffix, const void *data, size_t len, mode_t mode, char *name,
    size_t n);

/*
 * Renames the entry at path from to path to, whatever it is (a link is
 * moved, not followed), never replacing an entry already at to
 * (ERROR_EXISTS). Nothing is fsynced: the caller syncs both folders.
 */
WUR int fileio_rename_noreplace(const char *from, const char *to);

/*
 * Removes the temporary files (".tmp.PID.TAG") that a crash inside
 * fileio_write_atomic or fileio_write_unique left in dir, where only this
 * process writes: regular files of the caller's own, nothing followed.
 * Returns how many went.
 */
size_t fileio_remove_temporaries(const char *dir);

/*
 * Writes data durably as dir/name: to a temporary file in dir (".tmp.PID.
 * TAG", created O_EXCL | O_NOFOLLOW), fsync, rename over name, fsync dir.
 * flags: with FILEIO_EXCL, an existing dir/name is refused (ERROR_EXISTS)
 * instead of replaced (renameat2 RENAME_NOREPLACE, or link() where that is
 * missing); with FILEIO_NO_DIR_SYNC the folder is not fsynced, so that a
 * caller writing several files syncs it once (fileio_fsync_dir) before it
 * relies on any of the names. mode is the new file's mode.
 */
#define FILEIO_EXCL        1
#define FILEIO_NO_DIR_SYNC 2
WUR int fileio_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, int flags);

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
