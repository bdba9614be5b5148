/*
 * The broker's checkpoint signer (DESIGN.md §4, §8): a process of its own,
 * forked at start before the broker has threads or sockets, that alone
 * holds the broker's Ed25519 signing key and the head file (head.h). The
 * network-facing process wipes its copy of the key; a bug in the code that
 * reads the network can then make the broker commit nonsense, but cannot
 * get a history signed that forks from one signed before.
 *
 * The signer runs as an unprivileged user when started as root, with every
 * descriptor closed but its socket, the head file and standard error, and
 * under a seccomp filter that allows read, write, pwrite, fdatasync and
 * exit (signer.c lists the few more an ASan build needs, and why).
 *
 * Protocol: fixed-size messages on a SOCK_SEQPACKET socketpair, each read
 * into a buffer one byte longer than the message so that a message of any
 * other length is refused. At start the signer sends a signer_hello with
 * its last signed head, read from the head file. Then, per request:
 *
 *	broker -> signer	struct signer_request: size, root, and the
 *				RFC 6962 consistency proof from the signer's
 *				last signed head to (size, root)
 *	signer -> broker	struct signer_reply: the status, the signer's
 *				head after the request, and the signed note
 *
 * The signer signs (size, root) only when it extends its last signed head:
 * a larger size with a proof that verifies, or the same size and root
 * (signed again: Ed25519 is deterministic, the note is the same). A smaller
 * size, the same size with another root, a proof that does not verify or
 * of the wrong length, and a malformed request are refused, and it keeps
 * its head. It builds the note itself (origin from its start, size, root),
 * never signing text chosen by the broker, and writes it to the head file
 * durably (pwrite and fdatasync) before it answers. It ends when the broker
 * closes the socket (or dies).
 */
#ifndef BROKER_SIGNER_H
#define BROKER_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/merkle.h"
#include "broker/head.h"
#include "common/error.h"
#include "keys/keys.h"

#define SIGNER_MAGIC     0x43435347u /* "CCSG" */
#define SIGNER_PROOF_MAX MERKLE_MAX_PATH
#define SIGNER_NOTE_MAX  HEAD_NOTE_MAX
#define SIGNER_USER      "nobody" /* the signer's user when root starts it */

/* The signer's first message: its last signed head. */
struct signer_hello {
	uint32_t magic;
	int32_t status; /* 0, or why it cannot sign (it then exits) */
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
};

/* A request to sign (size, root). */
struct signer_request {
	uint32_t magic;
	uint32_t n; /* hashes in path, at most SIGNER_PROOF_MAX */
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	uint8_t path[SIGNER_PROOF_MAX][MERKLE_HASH_LEN];
};

/* The answer to one request. */
struct signer_reply {
	uint32_t magic;
	int32_t status; /* 0: signed; else an ERROR_*, and nothing signed */
	uint64_t size;  /* the signer's head after the request */
	uint8_t root[MERKLE_HASH_LEN];
	uint32_t note_len; /* the signed note, when status is 0 */
	char note[SIGNER_NOTE_MAX + 1];
};

struct signer;

/*
 * Forks the signer for the broker whose key is key, whose checkpoints name
 * origin, handing it the head file h (taken over: closed here whatever the
 * outcome, kept open and locked by the signer). user (NULL: SIGNER_USER)
 * is the user it becomes when this process is root. On return, success or
 * not, key's signing secret is wiped in this process (its public half and
 * the transport and box secrets stay). The signer's hello is read before
 * it returns: ERROR_NOENT for an unknown user, ERROR_SIGNATURE or
 * ERROR_CHECKPOINT when the head file does not hold this key's checkpoint
 * of origin, ERROR_IO when the signer could not be started or died; why
 * (n bytes) says what. On success the caller ends it with signer_stop.
 */
WUR int signer_start(struct keys_secret *key, struct head *h,
    const char *origin, const char *user, struct signer **out, char *why,
    size_t n);

/*
 * Asks the signer to sign (size, root) with the consistency proof path (n
 * hashes) from its head (signer_head). On success the note (NUL terminated)
 * is in note (room for cap bytes), its length in *len, and the signer's
 * head is (size, root). ERROR_CHECKPOINT when it refused a head that does
 * not extend its own, ERROR_PROOF when the proof did not verify, another
 * ERROR_* it reported (ERROR_IO or ERROR_NOSPC: the head file could not be
 * written), or ERROR_IO when it is gone. Any failure is final for the
 * broker: it must not commit, and stops.
 */
WUR int signer_sign(struct signer *s, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], const uint8_t path[][MERKLE_HASH_LEN],
    size_t n, char *note, size_t cap, size_t *len);

/* The signer's last signed head, as it last reported it. */
uint64_t signer_head(const struct signer *s, uint8_t root[MERKLE_HASH_LEN]);

/*
 * At a clean stop, once the last checkpoint is committed: asks the signer
 * for it again, so that its head file holds the log's latest (head.h)
 * rather than lagging one commit. A project error.
 */
WUR int signer_settle(struct signer *s);

/* Its socket (to poll: readable or hung up means it is gone) and pid. */
int signer_fd(const struct signer *s);
pid_t signer_pid(const struct signer *s);

/*
 * Closes the socket, so that the signer exits, and reaps it. Returns its
 * wait status (-1 when it could not be reaped). NULL is a no-op.
 */
int signer_stop(struct signer *s);

#endif
