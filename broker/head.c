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

struct head {
	int fd;
	uint64_t generation; /* of the head */
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

static void
fill_slot(
    uint8_t slot[HEAD_SLOT], uint64_t generation, const char *note, size_t len)
{
	memset(slot, 0, HEAD_SLOT);
	memcpy(slot, MAGIC, MAGIC_LEN);
	put_be(slot + 8, generation, 8);
	put_be(slot + 16, len, 2);
	memcpy(slot + 18, note, len);
	crypto_generichash(slot + SUM_AT, 32, slot, SUM_AT, NULL, 0);
}

/* True when slot is whole; *generation and the note are then its. */
static bool
read_slot(const uint8_t slot[HEAD_SLOT], uint64_t *generation,
    const uint8_t **note, size_t *len)
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
	return *generation != 0 && *len > 0 && *len <= HEAD_NOTE_MAX;
}

static int
write_slot(int fd, uint64_t generation, const char *note, size_t len)
{
	uint8_t slot[HEAD_SLOT];
	off_t at = (off_t)(generation % 2) * HEAD_SLOT;
	ssize_t w;

	if (len == 0 || len > HEAD_NOTE_MAX)
		return ERROR_TOOBIG;
	fill_slot(slot, generation, note, len);
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
		while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 &&
		    errno == EINTR)
			;
		if (rc == 0 || errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
			break;
		nanosleep(&step, NULL);
	}
	return rc == 0 ? ERROR_OK : errno_error(errno);
}

/*
 * Reads both slots of fd and copies the note of the one of generation
 * want (0: the head, the highest) into note (room for HEAD_NOTE_MAX + 1),
 * its length into *len and its generation into *generation.
 */
static int
read_head(int fd, uint64_t want, char *note, size_t *len, uint64_t *generation)
{
	uint8_t buf[2 * HEAD_SLOT], *best = NULL;
	const uint8_t *n = NULL;
	uint64_t gen, best_gen = 0;
	size_t got = 0, nlen = 0, best_len = 0;

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
	for (int i = 0; i < 2; i++) {
		if (read_slot(buf + i * HEAD_SLOT, &gen, &n, &nlen) &&
		    gen % 2 == (uint64_t)i &&
		    (want != 0 ? gen == want : gen > best_gen)) {
			best = buf + i * HEAD_SLOT;
			best_gen = gen;
			best_len = nlen;
		}
	}
	if (best == NULL)
		return want != 0 ? ERROR_NOTFOUND : ERROR_TAMPERED;
	memcpy(note, best + 18, best_len);
	note[best_len] = '\0';
	*len = best_len;
	*generation = best_gen;
	return ERROR_OK;
}

int
head_open(const char *path, struct head **out, char *note, size_t *len)
{
	uint64_t gen = 0;
	struct head *h = NULL;
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
	if ((rc = lock(fd)) != 0 || (rc = read_head(fd, 0, note, len, &gen)) != 0)
		goto out;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	h->fd = fd;
	h->generation = gen;
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
	uint64_t gen;
	int rc;

	*len = 0;
	note[0] = '\0';
	if ((rc = read_head(h->fd, 0, note, len, &gen)) != 0)
		return rc;
	h->generation = gen;
	return ERROR_OK;
}

int
head_previous(struct head *h, char *note, size_t *len)
{
	uint64_t gen;

	*len = 0;
	note[0] = '\0';
	if (h->generation < 2)
		return ERROR_NOTFOUND;
	return read_head(h->fd, h->generation - 1, note, len, &gen);
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
	    (rc = write_slot(fd, 1, note, len)) != 0 || fsync(fd) != 0) {
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

	if ((rc = write_slot(h->fd, h->generation + 1, note, len)) != 0)
		return rc;
	h->generation++;
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
