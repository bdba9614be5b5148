/*
 * The data folder at start (datadir.h): the lock, the head, the check in a
 * child process, and the one decision that matters: serve this log, start a
 * new one, or refuse. A refusal names the damage and the remedy; the broker
 * exits 65 and never listens.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "broker/datadir.h"
#include "broker/head.h"
#include "common/clock.h"
#include "common/fileio.h"

struct datadir {
	int lock;
	struct head *head;
	uint64_t head_size; /* the head's tree size */
	uint64_t withdrawn; /* the size of a head signed, never committed */
	char head_path[PATH_MAX];
	char pub_path[PATH_MAX]; /* the public key's, for messages */
};

/* What to do about a damaged or lost log, after saying what is wrong. */
#define REMEDY                                                                 \
	"; run 'concordat audit verify --data %s --broker-key %s' and "        \
	"restore the data folder from a backup"

static int say(char *why, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
say(char *why, size_t n, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return rc;
}

/* Where the broker's .pub is, as `concordat keys generate` writes it. */
static void
pub_path(const char *keyfile, char *out, size_t n)
{
	size_t len = strlen(keyfile);

	if (len > 4 && strcmp(keyfile + len - 4, ".key") == 0 && len < n)
		say(out, n, ERROR_OK, "%.*s.pub", (int)(len - 4), keyfile);
	else
		say(out, n, ERROR_OK, "BROKER.pub");
}

/* The head of an empty log: a signed checkpoint of size 0. */
static int
empty_note(const struct keys_secret *key, const char *origin, char *note,
    size_t n, size_t *len)
{
	struct checkpoint cp;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	cp.size = 0;
	merkle_hash_empty(cp.root);
	return checkpoint_sign(&cp, key->sign_sk, note, n, len);
}

/* Reads and checks the head; *has false when there is none. */
static int
read_head(struct datadir *d, const char *dir, const char *origin,
    const struct keys_secret *key, bool *has, struct checkpoint *cp,
    char note[HEAD_NOTE_MAX + 1], size_t *lenp, char *why, size_t n)
{
	size_t len;
	int rc;

	*has = false;
	rc = head_open(d->head_path, &d->head, note, &len);
	switch (rc) {
	case ERROR_OK:
		break;
	case ERROR_NOENT:
		return ERROR_OK;
	case ERROR_TAMPERED:
		return say(why, n, rc,
		    "%s: the head file is damaged: neither of its slots is "
		    "whole. If 'concordat audit verify --data %s' finds the "
		    "log intact, remove the head file and start the broker "
		    "again: it writes the head anew from the log",
		    d->head_path, dir);
	case ERROR_PERM:
		return say(why, n, rc,
		    "%s: the head file must be a regular file of mode 0600 "
		    "owned by the broker's user, not a symlink",
		    d->head_path);
	case ERROR_BUSY:
		return say(why, n, rc,
		    "%s: the head file is held by another broker running "
		    "with this key: one key signs one log, served by one "
		    "broker",
		    d->head_path);
	default:
		return say(why, n, rc, "%s: cannot read the head file: %s",
		    d->head_path, error_strerror(rc));
	}
	if (checkpoint_verify(note, len, origin, key->pub.sign_pk, cp) != 0)
		return say(why, n, ERROR_CONFIG,
		    "%s: the head file does not hold a checkpoint of this "
		    "broker's log (%s) signed by its key: it is another "
		    "key's; move it away only if this key is to start a new "
		    "log",
		    d->head_path, origin);
	d->head_size = cp->size;
	*lenp = len;
	*has = true;
	return ERROR_OK;
}

/* Writes the first head: note, or the empty log's. */
static int
first_head(struct datadir *d, const struct keys_secret *key, const char *origin,
    const char *note, size_t len, char *why, size_t n)
{
	char empty[HEAD_NOTE_MAX + 1];
	struct checkpoint cp;
	int rc;

	if (note == NULL) {
		if ((rc = empty_note(
		         key, origin, empty, sizeof(empty), &len)) != 0)
			return say(why, n, rc,
			    "cannot sign the new log's first head: %s",
			    error_strerror(rc));
		note = empty;
	}
	if ((rc = checkpoint_parse(note, len, &cp)) != 0 ||
	    (rc = head_create(d->head_path, note, len, &d->head)) != 0)
		return say(why, n, rc, "%s: cannot write the head file: %s",
		    d->head_path, error_strerror(rc));
	d->head_size = cp.size;
	return ERROR_OK;
}

/* The folder holds no log (state in words): a new one, or a refusal. */
static int
no_log(struct datadir *d, const char *dir, const char *what, bool has_head,
    bool emptied, const struct keys_secret *key, const char *origin, char *why,
    size_t n)
{
	char path[PATH_MAX];
	int rc;

	if (has_head && d->head_size > 0)
		return say(why, n, ERROR_TAMPERED,
		    "%s: %s, but this broker signed a log of %" PRIu64
		    " entries there (head file %s): the log is gone, and the "
		    "broker never starts a new one where one was" REMEDY,
		    dir, what, d->head_size, d->head_path, dir, d->pub_path);
	if (!has_head && emptied)
		return say(why, n, ERROR_TAMPERED,
		    "%s: %s, and without a head file nothing tells whether "
		    "a log was lost" REMEDY
		    " (a new installation whose first start was interrupted: "
		    "remove the data folder)",
		    dir, what, dir, d->pub_path);
	/* An empty data.mdb that never held a commit (the head says 0):
	 * LMDB's remains of a first start cut short. */
	if (emptied &&
	    (rc = fileio_join(path, sizeof(path), dir, "data.mdb")) == 0 &&
	    unlink(path) != 0 && errno != ENOENT)
		return say(why, n, ERROR_IO, "%s: cannot remove it: %s", path,
		    strerror(errno));
	if (!has_head &&
	    (rc = first_head(d, key, origin, NULL, 0, why, n)) != 0)
		return rc;
	say(why, n, ERROR_OK, "%s: a new audit log; head file %s", dir,
	    d->head_path);
	return ERROR_OK;
}

/*
 * The signer records each signature in the head file before it answers,
 * and the head becomes that signature only with the next one (head.h). A
 * recorded signature past the head is either in the log (the broker
 * committed it, then stopped: the head catches up below) or, when the log
 * ends at the head, was never committed (the broker stopped between the
 * signature and its commit, or the commit failed): it is withdrawn, the
 * head rewritten without it, and said at start and in the log's
 * broker_started event. Anything else is refused. leaves is the log's
 * size, latest its latest checkpoint (NULL: none).
 */
static int
settle_signed(struct datadir *d, const char *dir, uint64_t leaves,
    const struct checkpoint *latest, const struct checkpoint *hcp,
    const char *note, size_t len, char *why, size_t n)
{
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t size;
	int rc;

	if (!head_signed(d->head, &size, root) ||
	    (size == hcp->size &&
	        sodium_memcmp(root, hcp->root, MERKLE_HASH_LEN) == 0))
		return ERROR_OK;
	if (latest != NULL && latest->size == size &&
	    sodium_memcmp(root, latest->root, MERKLE_HASH_LEN) == 0)
		return ERROR_OK;
	if (size > hcp->size && leaves == hcp->size) {
		if ((rc = head_write(d->head, note, len)) != 0)
			return say(why, n, rc, "%s: cannot write the head: %s",
			    d->head_path, error_strerror(rc));
		d->withdrawn = size;
		return ERROR_OK;
	}
	return say(why, n, ERROR_CHECKPOINT,
	    "%s: the signer signed checkpoint %" PRIu64
	    " (head file %s), which the log (%" PRIu64
	    " entries) neither holds nor ends just before" REMEDY,
	    dir, size, d->head_path, leaves, dir, d->pub_path);
}

/* Compares the log found with the head, or writes the first head. */
static int
compare(struct datadir *d, const char *dir, const struct store_check *res,
    bool has_head, const struct checkpoint *hcp, const struct keys_secret *key,
    const char *origin, char *why, size_t n)
{
	char b64[MERKLE_HASH_B64];
	int rc;

	if (!has_head) {
		if ((rc = first_head(d, key, origin,
		         res->has_latest ? res->latest : NULL, res->latest_len,
		         why, n)) != 0)
			return rc;
		say(why, n, ERROR_OK,
		    "%s: no head file: the log verified (%" PRIu64
		    " entries, %" PRIu64
		    " checkpoints), and its latest checkpoint (size %" PRIu64
		    ") is now the head, in %s",
		    dir, res->leaves, res->checkpoints, d->head_size,
		    d->head_path);
		return ERROR_OK;
	}
	if (res->leaves < hcp->size)
		return say(why, n, ERROR_CHECKPOINT,
		    "%s: the audit log holds %" PRIu64
		    " entries, but this broker signed a checkpoint of %" PRIu64
		    " (head file %s): commits were lost (the data folder was "
		    "rolled back, truncated or replaced)" REMEDY
		    ". A backup restored on purpose lacks the commits since "
		    "it: to accept that, restore the head file from the same "
		    "backup, or remove it",
		    dir, res->leaves, hcp->size, d->head_path, dir,
		    d->pub_path);
	if (!res->has_root ||
	    sodium_memcmp(res->root, hcp->root, MERKLE_HASH_LEN) != 0)
		return say(why, n, ERROR_CHECKPOINT,
		    "%s: the audit log's first %" PRIu64
		    " entries are not those this broker signed (head file "
		    "%s, root %s): the data folder holds another log, or a "
		    "rewritten one" REMEDY,
		    dir, hcp->size, d->head_path,
		    merkle_hash_to_base64(hcp->root, b64), dir, d->pub_path);
	return ERROR_OK;
}

/* The data folder's lock: one broker per folder. A project error. */
static int
take_lock(struct datadir *d, const char *dir, char *why, size_t n)
{
	char holder[128];
	int rc;

	rc = audit_env_lock(
	    dir, "concordat-broker", &d->lock, holder, sizeof(holder));
	if (rc == ERROR_BUSY)
		return say(why, n, rc,
		    "%s: the data folder is in use by another process (pid "
		    "and program from its lock file: %s): one broker per "
		    "data folder; this one writes nothing and stops",
		    dir, holder);
	if (rc != 0)
		return say(why, n, rc,
		    "%s: cannot take the data folder's lock: %s", dir,
		    error_strerror(rc));
	return ERROR_OK;
}

/* Adds to the start line that a signature cut off by a crash is gone. */
static void
say_withdrawn(const struct datadir *d, char *why, size_t n)
{
	size_t used = strlen(why);

	snprintf(why + used, n - used,
	    "; checkpoint %" PRIu64 " was signed but never committed "
	    "(the broker stopped in between): withdrawn, the head is "
	    "the log's latest",
	    d->withdrawn);
}

int
datadir_open(const char *dir, uint64_t mapsize, const char *keyfile,
    const struct keys_secret *key, const char *origin, struct datadir **out,
    struct store **store, char *why, size_t n)
{
	struct store_check *res = NULL;
	enum audit_file_state state;
	struct checkpoint hcp, latest;
	const struct checkpoint *lp = NULL; /* the log's latest, parsed */
	struct datadir *d;
	char fwhy[256], line[2048], hnote[HEAD_NOTE_MAX + 1];
	size_t hlen = 0;
	uint64_t t0 = clock_mono_ms();
	bool has_head, checked = false;
	int rc;

	*out = NULL;
	*store = NULL;
	why[0] = '\0';
	line[0] = '\0';
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (res = calloc(1, sizeof(*res))) == NULL) {
		free(d);
		return say(why, n, ERROR_NOMEM, "out of memory");
	}
	d->lock = -1;
	if ((rc = take_lock(d, dir, why, n)) != 0)
		goto out;
	pub_path(keyfile, d->pub_path, sizeof(d->pub_path));
	if ((rc = head_path(keyfile, d->head_path, sizeof(d->head_path))) !=
	    0) {
		say(why, n, rc, "%s: path too long", keyfile);
		goto out;
	}
	if ((rc = read_head(d, dir, origin, key, &has_head, &hcp, hnote, &hlen,
	         why, n)) != 0)
		goto out;
	if ((rc = audit_env_check(dir, &state, fwhy, sizeof(fwhy))) != 0) {
		say(why, n, rc, "%s: cannot read data.mdb: %s", dir,
		    error_strerror(rc));
		goto out;
	}
	switch (state) {
	case AUDIT_FILE_DAMAGED:
		rc = say(why, n, ERROR_TAMPERED,
		    "%s: the audit log is damaged: %s" REMEDY, dir, fwhy, dir,
		    d->pub_path);
		goto out;
	case AUDIT_FILE_NONE:
		rc = no_log(d, dir, "there is no data.mdb", has_head, false,
		    key, origin, line, sizeof(line));
		break;
	case AUDIT_FILE_MISSING:
	case AUDIT_FILE_EMPTY:
		rc = no_log(d, dir, fwhy, has_head, true, key, origin, line,
		    sizeof(line));
		break;
	case AUDIT_FILE_OK:
		rc = store_check(dir, origin, key->pub.sign_pk,
		    has_head ? hcp.size : 0, res);
		checked = true;
		if (rc == ERROR_CONFIG && res->has_log &&
		    strcmp(res->origin, origin) != 0) {
			rc = say(why, n, ERROR_TAMPERED,
			    "%s: the audit log there is another broker's "
			    "(origin %s; this broker's key signs %s): check "
			    "'data' and 'key' in the configuration",
			    dir, res->origin, origin);
			goto out;
		}
		if (rc == ERROR_CONFIG || rc == ERROR_INTERNAL ||
		    rc == ERROR_NOMEM) {
			say(why, n, rc, "%s: %s", dir,
			    res->why[0] != '\0' ? res->why
			                        : error_strerror(rc));
			goto out;
		}
		if (rc != 0 && res->record_fault) {
			say(why, n, rc,
			    "%s: the broker's records are damaged: %s (the "
			    "audit log and every page read well, and "
			    "'concordat "
			    "audit verify' may pass: it does not decode the "
			    "broker's queue); restore the data folder from a "
			    "backup",
			    dir, res->why);
			goto out;
		}
		if (rc != 0) {
			say(why, n, rc,
			    "%s: the audit log is damaged: %s" REMEDY, dir,
			    res->why, dir, d->pub_path);
			goto out;
		}
		if (!res->has_log)
			rc = no_log(d, dir, "data.mdb holds no audit log",
			    has_head, false, key, origin, line, sizeof(line));
		else
			rc = compare(d, dir, res, has_head, &hcp, key, origin,
			    line, sizeof(line));
		break;
	}
	if (rc != 0) {
		say(why, n, ERROR_OK, "%s", line);
		goto out;
	}
	/* The signer's last signature, against the log (has_head: the
	 * first head just written records none). */
	if (checked && res->has_latest &&
	    checkpoint_parse(res->latest, res->latest_len, &latest) == 0)
		lp = &latest;
	if (has_head &&
	    (rc = settle_signed(d, dir, checked ? res->leaves : 0, lp, &hcp,
	         hnote, hlen, why, n)) != 0)
		goto out;
	if ((rc = store_open(dir, mapsize, origin, store)) != 0) {
		say(why, n, rc, "%s: cannot open the data folder: %s", dir,
		    error_strerror(rc));
		goto out;
	}
	/* A head one commit behind (a crash after a commit): catch up. */
	if (lp != NULL && lp->size > d->head_size &&
	    head_write(d->head, res->latest, res->latest_len) == 0)
		d->head_size = latest.size;
	if (checked && res->has_log && has_head)
		say(why, n, ERROR_OK,
		    "%s: checked in %.2f s: %" PRIu64 " entries and %" PRIu64
		    " checkpoints verified, %" PRIu64
		    " database entries read; the log holds the head's %" PRIu64
		    " entries (%s)",
		    dir, (double)(clock_mono_ms() - t0) / 1000, res->leaves,
		    res->checkpoints, res->entries, hcp.size, d->head_path);
	else
		say(why, n, ERROR_OK, "%s", line);
	if (d->withdrawn != 0)
		say_withdrawn(d, why, n);
	*out = d;
	d = NULL;
out:
	if (rc != 0) {
		store_close(*store);
		*store = NULL;
	}
	datadir_close(d);
	free(res);
	return rc;
}

struct head *
datadir_take_head(struct datadir *d)
{
	struct head *h = d->head;

	d->head = NULL;
	return h;
}

uint64_t
datadir_withdrawn(const struct datadir *d)
{
	return d->withdrawn;
}

const char *
datadir_head_path(const struct datadir *d)
{
	return d->head_path;
}

void
datadir_close(struct datadir *d)
{
	if (d == NULL)
		return;
	head_close(d->head);
	audit_env_unlock(d->lock);
	free(d);
}
