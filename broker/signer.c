/*
 * The checkpoint signer (signer.h): the broker's half that forks it, sends
 * requests and reads answers, and the child's half that sandboxes itself,
 * checks every request against the head it signed last, signs, and writes
 * its head before it answers.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "broker/signer.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIGNER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIGNER_ASAN 1
#endif
#endif

struct signer {
	int fd;
	pid_t pid;
	uint64_t size; /* its head, as last reported */
	uint8_t root[MERKLE_HASH_LEN];
};

/* The child's state, all of it allocated before the filter. */
struct child {
	int sock, head_fd;
	struct head *head;
	const struct keys_secret *key;
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size; /* the last checkpoint signed */
	uint8_t root[MERKLE_HASH_LEN];
	char last[SIGNER_NOTE_MAX + 1]; /* its note */
	size_t last_len;
	/* A request is read with one byte of room more than it needs, so
	 * that a longer one shows as such (SOCK_SEQPACKET truncates). */
	uint8_t in[sizeof(struct signer_request) + 1];
	struct signer_request req;
	struct signer_reply rep;
};

/* One line on standard error, with nothing that needs a system call but
 * write: the filter may be in place. */
static void
child_say(const char *what)
{
	static const char pre[] = "concordat-broker: signer: ";
	/* Nothing to do if standard error is gone: the broker logs why. */
	if (write(2, pre, sizeof(pre) - 1) < 0 ||
	    write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0)
		return;
}

/* Every descriptor but keep[0..1] and standard error. */
static void
close_others(const int keep[2])
{
	int lo = keep[0] < keep[1] ? keep[0] : keep[1];
	int hi = keep[0] < keep[1] ? keep[1] : keep[0];
	long max = sysconf(_SC_OPEN_MAX);

	for (int fd = 0; fd < 2; fd++)
		if (fd != lo && fd != hi)
			close(fd);
	if (close_range(3, lo > 3 ? (unsigned)lo - 1 : 2, 0) == 0 &&
	    close_range((unsigned)lo + 1, (unsigned)hi - 1, 0) == 0 &&
	    close_range((unsigned)hi + 1, ~0u, 0) == 0)
		return;
	/* A kernel without close_range (before 5.9). */
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < (int)max; fd++)
		if (fd != lo && fd != hi)
			close(fd);
}

/* Becomes user, when root. */
static int
drop_privileges(uid_t uid, gid_t gid)
{
	if (geteuid() != 0)
		return ERROR_OK;
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return ERROR_PERM;
	/* No way back, checked. */
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid)
		return ERROR_PERM;
	return ERROR_OK;
}

static int
allow(scmp_filter_ctx f, int nr, int fd)
{
	if (fd < 0)
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
	return seccomp_rule_add(
	    f, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
}

/*
 * The filter: read the socket; write the socket and standard error; pwrite
 * and fdatasync the head file; exit. Anything else kills the process. The
 * filter is loaded and never released: freeing it could trim the heap,
 * which is a system call the filter forbids.
 */
static int
sandbox(const struct child *c)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = 0;

	if (f == NULL)
		return ERROR_NOMEM;
	rc |= allow(f, SCMP_SYS(read), c->sock);
	rc |= allow(f, SCMP_SYS(write), c->sock);
	rc |= allow(f, SCMP_SYS(write), 2);
	rc |= allow(f, SCMP_SYS(pwrite64), c->head_fd);
	rc |= allow(f, SCMP_SYS(fdatasync), c->head_fd);
	rc |= allow(f, SCMP_SYS(exit_group), -1);
	rc |= allow(f, SCMP_SYS(exit), -1);
	rc |= allow(f, SCMP_SYS(rt_sigreturn), -1);
#ifdef SIGNER_ASAN
	/*
	 * The AddressSanitizer runtime (the CONCORDAT_SANITIZE build only)
	 * maps its allocator's and shadow memory lazily (mmap, munmap,
	 * mprotect, madvise), takes its internal locks (futex, sched_yield),
	 * and when it reports an error reads /proc/self/maps, symbolizes and
	 * kills itself (openat, read, close, readlink, fstat, getpid, gettid,
	 * tgkill, rt_sigprocmask, rt_sigaction, sigaltstack, prctl,
	 * prlimit64). Without them a sanitizer report would be a silent
	 * SIGSYS instead. The release build allows none of these.
	 */
	static const int asan[] = {SCMP_SYS(mmap), SCMP_SYS(munmap),
	    SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(futex),
	    SCMP_SYS(sched_yield), SCMP_SYS(openat), SCMP_SYS(read),
	    SCMP_SYS(write), SCMP_SYS(close), SCMP_SYS(readlink),
	    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(getpid),
	    SCMP_SYS(gettid), SCMP_SYS(tgkill), SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(prctl),
	    SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(clock_gettime),
	    SCMP_SYS(sched_getaffinity)};
	for (size_t i = 0; i < sizeof(asan) / sizeof(asan[0]); i++)
		rc |= allow(f, asan[i], -1);
#endif
	if (rc != 0 || seccomp_load(f) != 0)
		return ERROR_PERM;
	return ERROR_OK;
}

/* Checks one request against the head; signs and writes the new head. */
static int
handle(struct child *c, size_t got)
{
	const struct signer_request *q = &c->req;
	struct signer_reply *r = &c->rep;
	struct checkpoint cp;
	size_t len = 0;
	int rc;

	if (got != sizeof(*q))
		return ERROR_INVAL;
	memcpy(&c->req, c->in, sizeof(c->req));
	if (q->magic != SIGNER_MAGIC)
		return ERROR_INVAL;
	if (q->n > SIGNER_PROOF_MAX || q->size > MERKLE_MAX_SIZE)
		return ERROR_PROOF;
	if (q->size < c->size)
		return ERROR_CHECKPOINT; /* smaller than what it signed */
	if (q->size == c->size) {
		if (sodium_memcmp(q->root, c->root, MERKLE_HASH_LEN) != 0)
			return ERROR_CHECKPOINT; /* a fork at the same size */
		if (q->n != 0)
			return ERROR_PROOF;
	} else if (merkle_verify_consistency(c->size, q->size, c->root, q->root,
	               (const uint8_t(*)[MERKLE_HASH_LEN])q->path, q->n) != 0)
		return ERROR_PROOF;
	memset(&cp, 0, sizeof(cp));
	memcpy(cp.origin, c->origin, sizeof(cp.origin));
	cp.size = q->size;
	memcpy(cp.root, q->root, MERKLE_HASH_LEN);
	if ((rc = checkpoint_sign(
	         &cp, c->key->sign_sk, r->note, sizeof(r->note), &len)) != 0)
		return rc;
	/*
	 * Durable before it is answered: the head becomes the checkpoint
	 * signed before (the broker asks for the next only once that one is
	 * committed) and the slot records this one, which no restart can
	 * then sign differently (head.h, datadir.c).
	 */
	if ((rc = head_write_signed(
	         c->head, c->last, c->last_len, q->size, q->root)) != 0)
		return rc;
	c->size = q->size;
	memcpy(c->root, q->root, MERKLE_HASH_LEN);
	memcpy(c->last, r->note, len);
	c->last[len] = '\0';
	c->last_len = len;
	r->note_len = (uint32_t)len;
	return ERROR_OK;
}

static bool
send_all(int fd, const void *buf, size_t len)
{
	ssize_t w;

	do
		w = send(fd, buf, len, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)len;
}

static bool
child_write(int fd, const void *buf, size_t len)
{
	ssize_t w;

	do
		w = write(fd, buf, len);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)len;
}

/* The child, after fork: never returns. */
static void __attribute__((noreturn))
child_main(struct child *c, uid_t uid, gid_t gid)
{
	struct signer_hello hello;
	struct checkpoint cp;
	char note[HEAD_NOTE_MAX + 1];
	size_t len = 0;
	int keep[2] = {c->sock, c->head_fd};
	int rc;

	close_others(keep);
	signal(SIGINT, SIG_IGN); /* the broker stops, then closes the socket */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	memset(&hello, 0, sizeof(hello));
	hello.magic = SIGNER_MAGIC;
	rc = drop_privileges(uid, gid);
	if (rc == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		rc = ERROR_PERM;
	/* Its head, read again from the file it now owns, must be its own
	 * signature over this log. */
	if (rc == 0 && (rc = head_read(c->head, note, &len)) == 0)
		rc = checkpoint_verify(
		    note, len, c->origin, c->key->pub.sign_pk, &cp);
	if (rc == 0) {
		/* Its last signature: the one the slot records, else the
		 * head. Signed again (Ed25519 is deterministic) for its note,
		 * which also touches, before the filter, whatever signing
		 * first needs. */
		(void)head_signed(c->head, &cp.size, cp.root);
		c->size = cp.size;
		memcpy(c->root, cp.root, MERKLE_HASH_LEN);
		rc = checkpoint_sign(&cp, c->key->sign_sk, c->last,
		    sizeof(c->last), &c->last_len);
	}
	if (rc == 0)
		rc = sandbox(c);
	hello.status = rc;
	hello.size = c->size;
	memcpy(hello.root, c->root, MERKLE_HASH_LEN);
	if (!child_write(c->sock, &hello, sizeof(hello)) || rc != 0)
		_exit(1);
	for (;;) {
		ssize_t got = read(c->sock, c->in, sizeof(c->in));
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			_exit(0); /* the broker closed it, or died */
		if (got < 0) {
			child_say("cannot read the broker's socket");
			_exit(1);
		}
		memset(&c->rep, 0, sizeof(c->rep));
		c->rep.magic = SIGNER_MAGIC;
		c->rep.status = handle(c, (size_t)got);
		c->rep.size = c->size;
		memcpy(c->rep.root, c->root, MERKLE_HASH_LEN);
		if (c->rep.status != 0)
			c->rep.note_len = 0;
		if (!child_write(c->sock, &c->rep, sizeof(c->rep))) {
			child_say("cannot answer the broker");
			_exit(1);
		}
	}
}

static const char *
refusal(int rc)
{
	switch (rc) {
	case ERROR_PERM:
		return "cannot sandbox itself (user, seccomp)";
	case ERROR_SIGNATURE:
	case ERROR_CHECKPOINT:
		return "the head file does not hold this key's checkpoint of "
		       "this log";
	default:
		return error_strerror(rc);
	}
}

int
signer_start(struct keys_secret *key, struct head *h, const char *origin,
    const char *user, struct signer **out, char *why, size_t n)
{
	struct signer *s = NULL;
	struct signer_hello hello;
	struct child c;
	struct passwd *pw = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	int sv[2] = {-1, -1}, rc;
	ssize_t got;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	if (geteuid() == 0) {
		if (user == NULL)
			user = SIGNER_USER;
		errno = 0;
		if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0) {
			snprintf(why, n,
			    "signer: no unprivileged user %s to run as", user);
			rc = ERROR_NOENT;
			goto out;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = ERROR_NOMEM;
		snprintf(why, n, "signer: out of memory");
		goto out;
	}
	s->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = ERROR_IO;
		snprintf(why, n, "signer: socketpair: %s", strerror(errno));
		goto out;
	}
	c.sock = sv[1];
	c.head = h;
	c.head_fd = head_fd(h);
	c.key = key;
	snprintf(c.origin, sizeof(c.origin), "%s", origin);
	fflush(NULL);
	if ((s->pid = fork()) < 0) {
		rc = ERROR_IO;
		snprintf(why, n, "signer: fork: %s", strerror(errno));
		goto out;
	}
	if (s->pid == 0) {
		/* Only the signing key: the rest is the broker's. */
		sodium_memzero(key->transport_sk, sizeof(key->transport_sk));
		sodium_memzero(key->box_sk, sizeof(key->box_sk));
		child_main(&c, uid, gid);
	}
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	do
		got = recv(s->fd, &hello, sizeof(hello), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(hello) || hello.magic != SIGNER_MAGIC) {
		rc = ERROR_IO;
		snprintf(why, n, "signer: ended before it was ready");
		goto out;
	}
	if ((rc = hello.status) != 0) {
		snprintf(why, n, "signer: %s", refusal(rc));
		goto out;
	}
	s->size = hello.size;
	memcpy(s->root, hello.root, MERKLE_HASH_LEN);
	*out = s;
	s = NULL;
	rc = ERROR_OK;
out:
	sodium_memzero(key->sign_sk, sizeof(key->sign_sk));
	head_close(h);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (s != NULL)
		(void)signer_stop(s);
	return rc;
}

int
signer_sign(struct signer *s, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], const uint8_t path[][MERKLE_HASH_LEN],
    size_t n, char *note, size_t cap, size_t *len)
{
	struct signer_request *q = NULL;
	struct signer_reply *r = NULL;
	ssize_t got;
	int rc;

	*len = 0;
	if (n > SIGNER_PROOF_MAX)
		return ERROR_PROOF;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (r = calloc(1, sizeof(*r) + 1)) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	q->magic = SIGNER_MAGIC;
	q->n = (uint32_t)n;
	q->size = size;
	memcpy(q->root, root, MERKLE_HASH_LEN);
	if (n > 0)
		memcpy(q->path, path, n * MERKLE_HASH_LEN);
	if (!send_all(s->fd, q, sizeof(*q))) {
		rc = ERROR_IO;
		goto out;
	}
	do
		got = recv(s->fd, r, sizeof(*r) + 1, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(*r) || r->magic != SIGNER_MAGIC ||
	    r->note_len > SIGNER_NOTE_MAX) {
		rc = ERROR_IO;
		goto out;
	}
	s->size = r->size;
	memcpy(s->root, r->root, MERKLE_HASH_LEN);
	if ((rc = r->status) != 0)
		goto out;
	if (r->note_len == 0 || r->note_len >= cap) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	memcpy(note, r->note, r->note_len);
	note[r->note_len] = '\0';
	*len = r->note_len;
out:
	free(q);
	free(r);
	return rc;
}

uint64_t
signer_head(const struct signer *s, uint8_t root[MERKLE_HASH_LEN])
{
	if (root != NULL)
		memcpy(root, s->root, MERKLE_HASH_LEN);
	return s->size;
}

int
signer_fd(const struct signer *s)
{
	return s->fd;
}

pid_t
signer_pid(const struct signer *s)
{
	return s->pid;
}

int
signer_stop(struct signer *s)
{
	int status = -1;
	pid_t w = 0;

	if (s == NULL)
		return 0;
	if (s->fd >= 0)
		close(s->fd);
	if (s->pid > 0)
		do
			w = waitpid(s->pid, &status, 0);
		while (w < 0 && errno == EINTR);
	free(s);
	return w > 0 ? status : -1;
}

int
signer_settle(struct signer *s)
{
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t size = signer_head(s, root);
	char note[CHECKPOINT_MAX];
	size_t len;

	return signer_sign(s, size, root, NULL, 0, note, sizeof(note), &len);
}
