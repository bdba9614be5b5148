/*
 * The head file (head.h): two checksummed slots written in turn, so that
 * every write is one pwrite and one fdatasync of a file whose size never
 * changes, and a crash in the middle of one leaves the other whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "broker/head.h"
#include "common/fileio.h"

#define MAGIC     "CCHEAD01"
#define MAGIC_LEN 8
#define SUM_AT    (HEAD_SLOT - 32)

#define SIGNED_MAGIC "CCSIGNED"
#define SIGNED_LEN   (8 + 8 + MERKLE_HASH_LEN)

struct head {
	int fd;
	uint64_t generation; /* of the head */
	bool has_signed;     /* the head's slot names the last signature */
	uint64_t signed_size;
	uint8_t signed_root[MERKLE_HASH_LEN];
};

static int
errno_error(int e)
{
	switch (e) {
	case ENOENT:
		return ERROR_NOENT;
	case EACCES:
	case EPERM:
	case ELOOP:
		return ERROR_PERM;
	case ENOSPC:
	case EDQUOT:
		return ERROR_NOSPC;
	case EEXIST:
		return ERROR_EXISTS;
	case EWOULDBLOCK:
		return ERROR_BUSY;
	default:
		return ERROR_IO;
	}
}

int
head_path(const char *keyfile, char *out, size_t n)
{
	size_t len = strlen(keyfile);

	if (len > 4 && strcmp(keyfile + len - 4, ".key") == 0)
		len -= 4;
	if (len + sizeof(".head") > n)
		return ERROR_TOOBIG;
	memcpy(out, keyfile, len);
	memcpy(out + len, ".head", sizeof(".head"));
	return ERROR_OK;
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static int
fill_slot(uint8_t slot[HEAD_SLOT], uint64_t generation, const char *note,
    size_t len, const struct head *sg)
{
	if (len == 0 || len > HEAD_NOTE_MAX ||
	    (sg != NULL && 18 + len + SIGNED_LEN > SUM_AT))
		return ERROR_TOOBIG;
	memset(slot, 0, HEAD_SLOT);
	memcpy(slot, MAGIC, MAGIC_LEN);
	put_be(slot + 8, generation, 8);
	put_be(slot + 16, len, 2);
	memcpy(slot + 18, note, len);
	if (sg != NULL) {
		uint8_t *p = slot + 18 + len;
		memcpy(p, SIGNED_MAGIC, 8);
		put_be(p + 8, sg->signed_size, 8);
		memcpy(p + 16, sg->signed_root, MERKLE_HASH_LEN);
	}
	crypto_generichash(slot + SUM_AT, 32, slot, SUM_AT, NULL, 0);
	return ERROR_OK;
}

/*
 * True when slot is whole; *generation, the note and the signature record
 * (into sg, has_signed false when there is none) are then its.
 */
static bool
read_slot(const uint8_t slot[HEAD_SLOT], uint64_t *generation,
    const uint8_t **note, size_t *len, struct head *sg)
{
	uint8_t sum[32];

	if (memcmp(slot, MAGIC, MAGIC_LEN) != 0)
		return false;
	crypto_generichash(sum, sizeof(sum), slot, SUM_AT, NULL, 0);
	if (sodium_memcmp(sum, slot + SUM_AT, sizeof(sum)) != 0)
		return false;
	*generation = get_be(slot + 8, 8);
	*len = (size_t)get_be(slot + 16, 2);
	*note = slot + 18;
	if (*generation == 0 || *len == 0 || *len > HEAD_NOTE_MAX)
		return false;
	sg->has_signed = false;
	if (18 + *len + SIGNED_LEN <= SUM_AT &&
	    memcmp(slot + 18 + *len, SIGNED_MAGIC, 8) == 0) {
		sg->has_signed = true;
		sg->signed_size = get_be(slot + 18 + *len + 8, 8);
		memcpy(sg->signed_root, slot + 18 + *len + 16, MERKLE_HASH_LEN);
	}
	return true;
}

static int
write_slot(int fd, uint64_t generation, const char *note, size_t len,
    const struct head *sg)
{
	uint8_t slot[HEAD_SLOT];
	off_t at = (off_t)(generation % 2) * HEAD_SLOT;
	ssize_t w;
	int rc;

	if ((rc = fill_slot(slot, generation, note, len, sg)) != 0)
		return rc;
	do
		w = pwrite(fd, slot, sizeof(slot), at);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(slot))
		return w < 0 ? errno_error(errno) : ERROR_IO;
	if (fdatasync(fd) != 0)
		return errno_error(errno);
	return ERROR_OK;
}

/*
 * A broker killed at once leaves its signer (signer.h), which holds the
 * lock too, to notice the end of its socket and exit: a moment, waited
 * for here, so that a restart right after a kill -9 is not refused.
 */
#define LOCK_WAIT_MS 2000
#define LOCK_STEP_MS 20

static int
lock(int fd)
{
	struct timespec step = {0, LOCK_STEP_MS * 1000000L};
	int rc;

	for (int waited = 0;; waited += LOCK_STEP_MS) {
		while (
		    (rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
			;
		if (rc == 0 || errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
			break;
		nanosleep(&step, NULL);
	}
	return rc == 0 ? ERROR_OK : errno_error(errno);
}

/*
 * Reads both slots of fd and copies the head's note into note (room for
 * HEAD_NOTE_MAX + 1), its length into *len; its generation and signature
 * record into *h.
 */
static int
read_head(int fd, char *note, size_t *len, struct head *h)
{
	uint8_t buf[2 * HEAD_SLOT], *best = NULL;
	const uint8_t *n = NULL;
	uint64_t gen, best_gen = 0;
	size_t got = 0, nlen = 0, best_len = 0;
	struct head sg, best_sg;

	/* A short file is a slot missing, no more. */
	while (got < sizeof(buf)) {
		ssize_t r = pread(fd, buf + got, sizeof(buf) - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno_error(errno);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	memset(buf + got, 0, sizeof(buf) - got);
	memset(&best_sg, 0, sizeof(best_sg));
	for (int i = 0; i < 2; i++) {
		if (read_slot(buf + i * HEAD_SLOT, &gen, &n, &nlen, &sg) &&
		    gen % 2 == (uint64_t)i && gen > best_gen) {
			best = buf + i * HEAD_SLOT;
			best_gen = gen;
			best_len = nlen;
			best_sg = sg;
		}
	}
	if (best == NULL)
		return ERROR_TAMPERED;
	memcpy(note, best + 18, best_len);
	note[best_len] = '\0';
	*len = best_len;
	h->generation = best_gen;
	h->has_signed = best_sg.has_signed;
	h->signed_size = best_sg.signed_size;
	memcpy(h->signed_root, best_sg.signed_root, MERKLE_HASH_LEN);
	return ERROR_OK;
}

int
head_open(const char *path, struct head **out, char *note, size_t *len)
{
	struct head *h = NULL, got;
	struct stat st;
	int fd, rc;

	*out = NULL;
	*len = 0;
	note[0] = '\0';
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno_error(errno);
	if (fstat(fd, &st) != 0) {
		rc = errno_error(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		rc = ERROR_PERM;
		goto out;
	}
	memset(&got, 0, sizeof(got));
	if ((rc = lock(fd)) != 0 || (rc = read_head(fd, note, len, &got)) != 0)
		goto out;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	*h = got;
	h->fd = fd;
	*out = h;
	return ERROR_OK;
out:
	*len = 0;
	note[0] = '\0';
	close(fd);
	return rc;
}

int
head_read(struct head *h, char *note, size_t *len)
{
	*len = 0;
	note[0] = '\0';
	return read_head(h->fd, note, len, h);
}

bool
head_signed(const struct head *h, uint64_t *size, uint8_t root[MERKLE_HASH_LEN])
{
	if (!h->has_signed)
		return false;
	*size = h->signed_size;
	memcpy(root, h->signed_root, MERKLE_HASH_LEN);
	return true;
}

int
head_fd(const struct head *h)
{
	return h->fd;
}

int
head_create(const char *path, const char *note, size_t len, struct head **out)
{
	char dir[PATH_MAX];
	struct head *h;
	char *slash;
	int fd, rc;

	*out = NULL;
	if (len == 0 || len > HEAD_NOTE_MAX)
		return ERROR_TOOBIG;
	if (strlen(path) >= sizeof(dir))
		return ERROR_TOOBIG;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return ERROR_NOMEM;
	fd = open(path,
	    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (fd < 0) {
		free(h);
		return errno_error(errno);
	}
	h->fd = fd;
	h->generation = 1;
	/* Both slots, the second empty, so the file never changes size. */
	if ((rc = lock(fd)) != 0 || ftruncate(fd, 2 * HEAD_SLOT) != 0 ||
	    (rc = write_slot(fd, 1, note, len, NULL)) != 0 || fsync(fd) != 0) {
		if (rc == 0)
			rc = errno_error(errno);
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if ((rc = fileio_fsync_dir(dir)) != 0)
		goto fail;
	*out = h;
	return ERROR_OK;
fail:
	unlink(path);
	head_close(h);
	return rc;
}

int
head_write(struct head *h, const char *note, size_t len)
{
	int rc;

	if ((rc = write_slot(h->fd, h->generation + 1, note, len, NULL)) != 0)
		return rc;
	h->generation++;
	h->has_signed = false;
	return ERROR_OK;
}

int
head_write_signed(struct head *h, const char *note, size_t len, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN])
{
	struct head sg = *h;
	int rc;

	sg.signed_size = size;
	memcpy(sg.signed_root, root, MERKLE_HASH_LEN);
	if ((rc = write_slot(h->fd, h->generation + 1, note, len, &sg)) != 0)
		return rc;
	h->generation++;
	h->has_signed = true;
	h->signed_size = size;
	memcpy(h->signed_root, root, MERKLE_HASH_LEN);
	return ERROR_OK;
}

void
head_close(struct head *h)
{
	if (h == NULL)
		return;
	close(h->fd);
	free(h);
}
