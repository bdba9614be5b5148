/*
 * The broker's head (DESIGN.md §7, §9): the last checkpoint it signed,
 * kept beside its key and outside its data folder, so that at start it
 * can tell the log it signed from a folder that lost commits, was replaced,
 * truncated or emptied. datadir.c reads it at start and rewrites it after
 * every commit that signs a checkpoint.
 *
 * The file (mode 0600) is two slots of HEAD_SLOT bytes, written in turn in
 * place (pwrite, then fdatasync), so that a write torn by a crash leaves
 * the other slot whole; LMDB keeps its two meta pages the same way. A
 * slot, big-endian:
 *
 *	offset	bytes
 *	0	8	"CCHEAD01"
 *	8	8	generation: 1 for the first slot written, then +1 each
 *			time; it is written into slot (generation % 2)
 *	16	2	n, the length of the note
 *	18	n	the checkpoint note, exactly as signed and stored in
 *			audit.checkpoints (docs/audit.md §7)
 *	18+n	8	"CCSIGNED", when the slot names the signer's last
 *			signature (signer.h); then
 *	26+n	8	its tree size
 *	34+n	32	its root
 *	...	...	zero
 *	992	32	BLAKE2b-256 of bytes 0 to 991
 *
 * The head is the whole slot with the highest generation whose magic and
 * checksum hold. The note is the broker's own signed checkpoint: the head
 * is checked with the broker's key like any checkpoint, and names the log
 * (origin), its size and its root.
 *
 * The head is a checkpoint the log holds: it may lag the log by one
 * commit, never lead it. The signer writes a slot before it answers each
 * request: the head then becomes the checkpoint it signed before (which the
 * broker committed, or it would not ask for the next), and the record
 * after the note, the one it signs now. A signature whose commit a crash
 * cut off is thus known at start (datadir.c) without the head leading the
 * log.
 */
#ifndef BROKER_HEAD_H
#define BROKER_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/error.h"

#define HEAD_SLOT     1024
#define HEAD_NOTE_MAX (HEAD_SLOT - 18 - 32)

struct head;

/*
 * The head file of the broker whose key file is keyfile: the same folder
 * and name, with ".head" for a final ".key" ("keys/broker.key" gives
 * "keys/broker.head"), or ".head" appended. ERROR_TOOBIG when out (n
 * bytes) is too small.
 */
WUR int head_path(const char *keyfile, char *out, size_t n);

/*
 * Opens the head file at path for reading and rewriting, and takes an
 * exclusive lock on it (flock): one broker per key, since one key signs one
 * log. Copies the head's note into note (room for HEAD_NOTE_MAX + 1 bytes,
 * NUL-terminated) with its length in *len. ERROR_NOENT when there is no
 * such file; ERROR_PERM when it is a symlink, not a regular file, or open
 * to group or others; ERROR_TAMPERED when no slot is whole; ERROR_BUSY when
 * another process still holds it after a short wait (a killed broker's
 * signer lets go a moment later). On success the caller closes *out with
 * head_close.
 */
WUR int head_open(const char *path, struct head **out, char *note, size_t *len);

/*
 * Creates the head file at path (O_EXCL, 0600, locked) with note in its
 * first slot, durably: the file, then its folder, fsynced. ERROR_EXISTS
 * when there is one already; ERROR_TOOBIG for a note over HEAD_NOTE_MAX.
 */
WUR int head_create(
    const char *path, const char *note, size_t len, struct head **out);

/*
 * Writes note into the slot not holding the head, under the next
 * generation, and fdatasyncs the file: once it returns 0 the note is the
 * head, and a crash during the write leaves the previous one. ERROR_IO
 * (or ERROR_NOSPC) when the write failed: the head stays the previous
 * note, which may then lag the log, never lead it.
 */
WUR int head_write(struct head *h, const char *note, size_t len);

/*
 * Reads the head again through h, as head_open does (the signer, which
 * owns the file once the broker runs: signer.h).
 */
WUR int head_read(struct head *h, char *note, size_t *len);

/*
 * head_write, with the signer's record of its last signature (size,
 * root) after the note. ERROR_TOOBIG when note and record do not fit.
 */
WUR int head_write_signed(struct head *h, const char *note, size_t len,
    uint64_t size, const uint8_t root[MERKLE_HASH_LEN]);

/*
 * The last signature the head's slot records, read or written through h:
 * true with *size and root, or false when the slot records none (a head
 * written by head_create or head_write: the head itself is then the last
 * signature).
 */
bool head_signed(
    const struct head *h, uint64_t *size, uint8_t root[MERKLE_HASH_LEN]);

/* The open file's descriptor (kept open by the signer's sandbox). */
int head_fd(const struct head *h);

/* Closes the file, releasing the lock; NULL is a no-op. */
void head_close(struct head *h);

#endif
