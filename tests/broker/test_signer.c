/*
 * The checkpoint signer (broker/signer.h), a real forked process with a
 * real key and head file, driven through its API and its socket: it signs a
 * head that extends its own and refuses one that does not (smaller, same
 * size with another root, a forged or wrong-size proof), also after a
 * restart from the head file; a request of the wrong length is refused;
 * the key is wiped in the starting process; the child runs under seccomp,
 * as another user when started as root, with only its descriptors open.
 * Then the real broker: its memory holds no copy of the signing key;
 * killing its signer stops it with a non-zero exit and a log line; a
 * signature a crash cut off from its commit is withdrawn at start, and any
 * other the log does not hold is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "broker/head.h"
#include "broker/signer.h"
#include "keys/keys.h"
#include "tests/integration/harness.h"

#define LEAVES 40

struct fixture {
	char dir[64];
	char keyfile[PATH_MAX];
	char headfile[PATH_MAX];
	char origin[128];
	struct keys_secret *key;
	uint8_t seed[32]; /* the signing key's seed, kept by the test */
	uint8_t pk[32];
	/* Two logs: a and, from leaf FORK on, b. */
	uint8_t a[LEAVES][MERKLE_HASH_LEN], b[LEAVES][MERKLE_HASH_LEN];
};

#define FORK 10

/* ------------------------------------------------------- in-memory trees */

struct tree {
	const uint8_t (*leaves)[MERKLE_HASH_LEN];
};

static int
tree_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const struct tree *t = arg;
	uint8_t l[32], r[32];

	if (level == 0) {
		memcpy(out, t->leaves[index], 32);
		return 0;
	}
	if (tree_get(arg, level - 1, 2 * index, l) != 0 ||
	    tree_get(arg, level - 1, 2 * index + 1, r) != 0)
		return -1;
	merkle_hash_children(l, r, out);
	return 0;
}

static void
root_of(const uint8_t (*leaves)[32], uint64_t size, uint8_t out[32])
{
	struct tree t = {leaves};
	struct merkle_store s = {tree_get, &t, NULL};

	assert_int_equal(merkle_root(&s, size, out), 0);
}

static size_t
proof_of(const uint8_t (*leaves)[32], uint64_t from, uint64_t to,
    uint8_t path[MERKLE_MAX_PATH][32])
{
	struct tree t = {leaves};
	struct merkle_store s = {tree_get, &t, NULL};
	size_t n = 0;

	assert_int_equal(merkle_consistency(&s, from, to, path, &n), 0);
	return n;
}

/* ------------------------------------------------------------- fixture */

static void
write_empty_head(struct fixture *f)
{
	struct checkpoint cp;
	char note[HEAD_NOTE_MAX + 1];
	size_t len;
	struct head *h;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", f->origin);
	merkle_hash_empty(cp.root);
	assert_int_equal(
	    checkpoint_sign(&cp, f->key->sign_sk, note, sizeof(note), &len), 0);
	assert_int_equal(head_create(f->headfile, note, len, &h), 0);
	head_close(h);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_signer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(keys_generate(NULL, f->dir), 0);
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/broker.key", f->dir);
	assert_int_equal(head_path(f->keyfile, f->headfile, PATH_MAX), 0);
	assert_int_equal(keys_load_secret(f->keyfile, &f->key), 0);
	memcpy(f->seed, f->key->sign_sk, 32);
	memcpy(f->pk, f->key->pub.sign_pk, 32);
	snprintf(f->origin, sizeof(f->origin), "concordat/%s",
	    f->key->pub.fingerprint);
	for (int i = 0; i < LEAVES; i++) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "leaf %d", i);
		snprintf(b, sizeof(b), "%s %d", i < FORK ? "leaf" : "fork", i);
		merkle_hash_leaf((const uint8_t *)a, strlen(a), f->a[i]);
		merkle_hash_leaf((const uint8_t *)b, strlen(b), f->b[i]);
	}
	write_empty_head(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16];

	keys_secret_free(f->key);
	unlink(f->headfile);
	unlink(f->keyfile);
	snprintf(p, sizeof(p), "%s/broker.pub", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Starts a signer on the head file, with a fresh copy of the key. */
static struct signer *
start(struct fixture *f)
{
	struct keys_secret *k;
	struct head *h;
	struct signer *s;
	char note[HEAD_NOTE_MAX + 1], why[512];
	size_t len;
	int rc;

	assert_int_equal(keys_load_secret(f->keyfile, &k), 0);
	assert_int_equal(head_open(f->headfile, &h, note, &len), 0);
	rc = signer_start(k, h, f->origin, NULL, &s, why, sizeof(why));
	if (rc != 0)
		fail_msg("signer_start: %s", why);
	keys_secret_free(k);
	return s;
}

/* Signs tree t at size with the proof from the signer's head. */
static int
sign(struct signer *s, const uint8_t (*t)[32], uint64_t size, char *note,
    size_t *len)
{
	uint8_t root[32], path[MERKLE_MAX_PATH][32];
	uint64_t from = signer_head(s, NULL);
	size_t n = 0;

	root_of(t, size, root);
	if (from > 0 && from < size)
		n = proof_of(t, from, size, path);
	return signer_sign(s, size, root, (const uint8_t(*)[32])path, n, note,
	    HEAD_NOTE_MAX + 1, len);
}

/* The head file's checkpoint, read after the signer stopped. */
static uint64_t
head_size(struct fixture *f, uint8_t root[32])
{
	char note[HEAD_NOTE_MAX + 1];
	size_t len;
	struct head *h;
	struct checkpoint cp;

	assert_int_equal(head_open(f->headfile, &h, note, &len), 0);
	assert_int_equal(
	    checkpoint_verify(note, len, f->origin, f->pk, &cp), 0);
	head_close(h);
	memcpy(root, cp.root, 32);
	return cp.size;
}

/* ------------------------------------------------------------- tests */

static void
signs_extending(void **state)
{
	struct fixture *f = *state;
	struct signer *s = start(f);
	char note[HEAD_NOTE_MAX + 1], again[HEAD_NOTE_MAX + 1];
	uint8_t root[32], want[32];
	struct checkpoint cp;
	size_t len, len2;

	assert_int_equal(signer_head(s, NULL), 0);
	assert_int_equal(sign(s, f->a, 3, note, &len), 0);
	assert_int_equal(
	    checkpoint_verify(note, len, f->origin, f->pk, &cp), 0);
	assert_int_equal(cp.size, 3);
	root_of(f->a, 3, want);
	assert_memory_equal(cp.root, want, 32);
	/* 3 to 7, then 7 to 16 (a power of two), then 16 to 33. */
	assert_int_equal(sign(s, f->a, 7, note, &len), 0);
	assert_int_equal(sign(s, f->a, 16, note, &len), 0);
	assert_int_equal(sign(s, f->a, 33, note, &len), 0);
	assert_int_equal(
	    checkpoint_verify(note, len, f->origin, f->pk, &cp), 0);
	assert_int_equal(cp.size, 33);
	/* The same head again: the same note. */
	assert_int_equal(sign(s, f->a, 33, again, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(note, again, len);
	assert_int_equal(signer_head(s, root), 33);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
	/* Durable: the head file holds it. */
	assert_int_equal(head_size(f, root), 33);
	root_of(f->a, 33, want);
	assert_memory_equal(root, want, 32);
}

static void
refuses_non_extending(void **state)
{
	struct fixture *f = *state;
	struct signer *s = start(f);
	char note[HEAD_NOTE_MAX + 1];
	uint8_t root[32], path[MERKLE_MAX_PATH][32], head_root[32];
	size_t len, n;

	assert_int_equal(sign(s, f->a, 20, note, &len), 0);
	/* Smaller. */
	root_of(f->a, 12, root);
	assert_int_equal(
	    signer_sign(s, 12, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_CHECKPOINT);
	/* The same size, another root (the fork). */
	root_of(f->b, 20, root);
	assert_int_equal(
	    signer_sign(s, 20, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_CHECKPOINT);
	/* The fork's 31 with the fork's own proof from 20. */
	root_of(f->b, 31, root);
	n = proof_of(f->b, 20, 31, path);
	assert_int_equal(signer_sign(s, 31, root, (const uint8_t(*)[32])path, n,
	                     note, sizeof(note), &len),
	    ERROR_PROOF);
	/* The log's 31 with a forged proof: one bit of one hash. */
	root_of(f->a, 31, root);
	n = proof_of(f->a, 20, 31, path);
	assert_true(n > 1);
	path[n / 2][7] ^= 0x10;
	assert_int_equal(signer_sign(s, 31, root, (const uint8_t(*)[32])path, n,
	                     note, sizeof(note), &len),
	    ERROR_PROOF);
	path[n / 2][7] ^= 0x10;
	/* Wrong-size proofs: a hash short, a hash more, none. */
	assert_int_equal(signer_sign(s, 31, root, (const uint8_t(*)[32])path,
	                     n - 1, note, sizeof(note), &len),
	    ERROR_PROOF);
	memcpy(path[n], path[0], 32);
	assert_int_equal(signer_sign(s, 31, root, (const uint8_t(*)[32])path,
	                     n + 1, note, sizeof(note), &len),
	    ERROR_PROOF);
	assert_int_equal(
	    signer_sign(s, 31, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_PROOF);
	/* The same size and root with a proof attached. */
	root_of(f->a, 20, root);
	assert_int_equal(signer_sign(s, 20, root, (const uint8_t(*)[32])path, 1,
	                     note, sizeof(note), &len),
	    ERROR_PROOF);
	/* Through all that its head stayed 20, and the log still extends. */
	assert_int_equal(signer_head(s, head_root), 20);
	assert_memory_equal(head_root, root, 32);
	assert_int_equal(sign(s, f->a, 31, note, &len), 0);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
}

static void
refuses_fork_after_restart(void **state)
{
	struct fixture *f = *state;
	struct signer *s = start(f);
	char note[HEAD_NOTE_MAX + 1];
	uint8_t root[32], want[32], path[MERKLE_MAX_PATH][32];
	size_t len, n;

	assert_int_equal(sign(s, f->a, 5, note, &len), 0);
	assert_int_equal(sign(s, f->a, 17, note, &len), 0);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);

	/* A new signer reads its head from the file. */
	s = start(f);
	assert_int_equal(signer_head(s, root), 17);
	root_of(f->a, 17, want);
	assert_memory_equal(root, want, 32);
	root_of(f->b, 17, root);
	assert_int_equal(
	    signer_sign(s, 17, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_CHECKPOINT);
	root_of(f->b, 25, root);
	n = proof_of(f->b, 17, 25, path);
	assert_int_equal(signer_sign(s, 25, root, (const uint8_t(*)[32])path, n,
	                     note, sizeof(note), &len),
	    ERROR_PROOF);
	root_of(f->a, 9, root);
	assert_int_equal(
	    signer_sign(s, 9, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_CHECKPOINT);
	assert_int_equal(sign(s, f->a, 25, note, &len), 0);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
	/* The head file's note lags by one signature, never leads; the
	 * signature after it is recorded and is what a restart extends. */
	assert_int_equal(head_size(f, root), 17);
	s = start(f);
	assert_int_equal(signer_head(s, root), 25);
	root_of(f->a, 25, want);
	assert_memory_equal(root, want, 32);
	root_of(f->b, 25, root);
	assert_int_equal(
	    signer_sign(s, 25, root, NULL, 0, note, sizeof(note), &len),
	    ERROR_CHECKPOINT);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
}

/* Sends len raw bytes; returns the reply's status. */
static int
raw(struct signer *s, const void *buf, size_t len)
{
	struct signer_reply r;
	ssize_t got;

	assert_int_equal(send(signer_fd(s), buf, len, MSG_NOSIGNAL), len);
	got = recv(signer_fd(s), &r, sizeof(r), 0);
	assert_int_equal(got, sizeof(r));
	assert_int_equal(r.magic, SIGNER_MAGIC);
	if (r.status != 0)
		assert_int_equal(r.note_len, 0); /* nothing signed */
	else
		assert_true(r.note_len > 0);
	return r.status;
}

static void
refuses_wrong_length(void **state)
{
	struct fixture *f = *state;
	struct signer *s = start(f);
	struct signer_request *q = calloc(1, sizeof(*q) + 64);
	char note[HEAD_NOTE_MAX + 1];
	size_t len;

	assert_non_null(q);
	q->magic = SIGNER_MAGIC;
	q->size = 4;
	root_of(f->a, 4, q->root);
	/* Short, long by one byte, long by many, empty of meaning. */
	assert_int_equal(raw(s, q, 10), ERROR_INVAL);
	assert_int_equal(raw(s, q, sizeof(*q) - 1), ERROR_INVAL);
	assert_int_equal(raw(s, q, sizeof(*q) + 1), ERROR_INVAL);
	assert_int_equal(raw(s, q, sizeof(*q) + 64), ERROR_INVAL);
	/* The right length, a wrong magic; too many proof hashes. */
	q->magic = 0x12345678;
	assert_int_equal(raw(s, q, sizeof(*q)), ERROR_INVAL);
	q->magic = SIGNER_MAGIC;
	q->n = SIGNER_PROOF_MAX + 1;
	assert_int_equal(raw(s, q, sizeof(*q)), ERROR_PROOF);
	q->n = 0;
	/* Nothing of that was signed; the well-formed request is. */
	assert_int_equal(signer_head(s, NULL), 0);
	assert_int_equal(raw(s, q, sizeof(*q)), 0);
	free(q);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
	s = start(f);
	assert_int_equal(signer_head(s, NULL), 4);
	assert_int_equal(sign(s, f->a, 8, note, &len), ERROR_OK);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void
wipes_key(void **state)
{
	struct fixture *f = *state;
	struct keys_secret *k;
	struct head *h;
	struct signer *s;
	char note[HEAD_NOTE_MAX + 1], why[512];
	uint8_t transport[KEYS_CURVE_KEY];
	size_t len;

	assert_int_equal(keys_load_secret(f->keyfile, &k), 0);
	memcpy(transport, k->transport_sk, sizeof(transport));
	assert_false(all_zero(k->sign_sk, sizeof(k->sign_sk)));
	assert_int_equal(head_open(f->headfile, &h, note, &len), 0);
	assert_int_equal(
	    signer_start(k, h, f->origin, NULL, &s, why, sizeof(why)), 0);
	/* The signing secret is gone from this process; the transport key,
	 * which libzmq needs, and the public half stay. */
	assert_true(all_zero(k->sign_sk, sizeof(k->sign_sk)));
	assert_memory_equal(k->transport_sk, transport, sizeof(transport));
	assert_memory_equal(k->pub.sign_pk, f->pk, 32);
	/* And the signer still signs with it. */
	assert_int_equal(sign(s, f->a, 2, note, &len), 0);
	struct checkpoint cp;
	assert_int_equal(
	    checkpoint_verify(note, len, f->origin, f->pk, &cp), 0);
	keys_secret_free(k);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
}

/* The value of field "key:" in /proc/pid/status, or -1. */
static long
status_field(pid_t pid, const char *key, int column)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		char *p = line + klen + 1, *end;
		for (int c = 0; c <= column; c++) {
			v = strtol(p, &end, 10);
			p = end;
		}
		break;
	}
	fclose(fp);
	return v;
}

/* The descriptors pid holds open. */
static void
fds_of(pid_t pid, int *fds, size_t *n, size_t max)
{
	char path[64];
	DIR *d;
	struct dirent *e;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && *n < max)
			fds[(*n)++] = atoi(e->d_name);
	closedir(d);
}

static void
sandboxed(void **state)
{
	struct fixture *f = *state;
	struct signer *s = start(f);
	pid_t pid = signer_pid(s);
	int fds[16];
	size_t n;

	/* Seccomp: 2 is filter mode; NoNewPrivs follows from it. */
	assert_int_equal(status_field(pid, "Seccomp", 0), 2);
	assert_int_equal(status_field(pid, "NoNewPrivs", 0), 1);
	if (geteuid() == 0) {
		/* Real, effective, saved and file-system uids: none root. */
		for (int c = 0; c < 4; c++) {
			assert_true(status_field(pid, "Uid", c) > 0);
			assert_true(status_field(pid, "Gid", c) > 0);
		}
	} else {
		print_message("not root: the uid drop is not exercised\n");
	}
	/* Its socket, the head file and standard error: nothing else. */
	fds_of(pid, fds, &n, 16);
	assert_int_equal(n, 3);
	/* Still works in its box. */
	char note[HEAD_NOTE_MAX + 1];
	size_t len;
	assert_int_equal(sign(s, f->a, 6, note, &len), 0);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
	if (geteuid() != 0)
		return;

	/* A configured user (signer_user): that one; an unknown one, or
	 * root, is refused and the key wiped all the same. */
	struct passwd *pw = getpwnam("daemon");
	struct keys_secret *k;
	struct head *h;
	char why[512];
	assert_non_null(pw);
	assert_int_equal(keys_load_secret(f->keyfile, &k), 0);
	assert_int_equal(head_open(f->headfile, &h, note, &len), 0);
	assert_int_equal(
	    signer_start(k, h, f->origin, "daemon", &s, why, sizeof(why)), 0);
	assert_int_equal(status_field(signer_pid(s), "Uid", 1), pw->pw_uid);
	assert_int_equal(WEXITSTATUS(signer_stop(s)), 0);
	keys_secret_free(k);
	const char *bad[] = {"no-such-user-here", "root"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(keys_load_secret(f->keyfile, &k), 0);
		assert_int_equal(head_open(f->headfile, &h, note, &len), 0);
		assert_int_equal(
		    signer_start(k, h, f->origin, bad[i], &s, why, sizeof(why)),
		    ERROR_NOENT);
		assert_null(s);
		assert_true(all_zero(k->sign_sk, sizeof(k->sign_sk)));
		keys_secret_free(k);
	}
}

/* ------------------------------------------------- the broker end to end */

/* The broker's child that is its signer, or 0. */
static pid_t
signer_of(pid_t broker)
{
	char path[64];
	long child = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)broker, (long)broker);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &child) != 1)
		child = 0;
	fclose(fp);
	return (pid_t)child;
}

/*
 * Whether needle (len bytes) is anywhere in pid's private readable memory:
 * the heap, the stacks and anonymous mappings (the LMDB map and the mapped
 * files are left out: they are files).
 */
static bool
in_memory(pid_t pid, const uint8_t *needle, size_t len)
{
	char path[64], line[512];
	bool found = false;
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	assert_non_null(maps = fopen(path, "r"));
	snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
	assert_true((mem = open(path, O_RDONLY)) >= 0);
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		unsigned long lo, hi, off;
		char perms[8], dev[16], name[256] = "";
		unsigned long ino;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &lo, &hi,
		        perms, &off, dev, &ino, name) < 6)
			continue;
		if (perms[0] != 'r' || (ino != 0 && name[0] != '[') ||
		    strcmp(name, "[vvar]") == 0 ||
		    strcmp(name, "[vsyscall]") == 0)
			continue;
		/* The sanitizer's reserved shadow and allocator spaces
		 * (terabytes, ASan build only) are not read; the release
		 * build has no mapping of that size. */
		if (hi - lo > ((unsigned long)4 << 30)) {
			print_message("not scanned: %lu GiB at %lx (%s)\n",
			    (hi - lo) >> 30, lo, name[0] ? name : "anonymous");
			continue;
		}
		enum { CHUNK = 1 << 20 };
		static uint8_t buf[CHUNK + 64];
		for (unsigned long at = lo; !found && at < hi; at += CHUNK) {
			size_t want =
			    hi - at < CHUNK + len ? hi - at : CHUNK + len;
			ssize_t got = pread(mem, buf, want, (off_t)at);
			for (ssize_t i = 0; got > 0 && i + (ssize_t)len <= got;
			     i++)
				if (buf[i] == needle[0] &&
				    memcmp(buf + i, needle, len) == 0) {
					found = true;
					break;
				}
		}
	}
	close(mem);
	fclose(maps);
	return found;
}

static void
broker_without_key(void **state)
{
	(void)state;
	struct h_sys *sys = h_sys_new(NULL, NULL, NULL, 1);
	struct keys_secret *k;
	pid_t pid, child;
	int st = 0;

	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", sys->dir), &k), 0);
	h_broker_start(sys);
	pid = sys->broker.pid;
	assert_true(h_wait_log(&sys->broker, "signer: pid", 1, H_WAIT_MS));
	child = signer_of(pid);
	assert_true(child > 0);
	assert_int_equal(status_field(child, "Seccomp", 0), 2);
	/* A message through, so that every path has signed. */
	struct h_client *c = h_client_of(sys, H_POLICE);
	h_client_hello(c);
	h_client_free(c);
	/* The seed (the first half of libsodium's secret key) is in the
	 * signer's memory, and nowhere in the broker's. */
	assert_true(in_memory(child, k->sign_sk, 32));
	assert_false(in_memory(pid, k->sign_sk, 32));
	keys_secret_free(k);

	/* The signer killed: the broker stops by itself, non-zero, and says
	 * why. */
	assert_int_equal(kill(child, SIGKILL), 0);
	uint64_t t0 = h_now_ms();
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 &&
	    h_now_ms() - t0 < H_WAIT_MS)
		usleep(20 * 1000);
	assert_int_equal(w, pid);
	sys->broker.pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	assert_true(h_log_count(&sys->broker, "the signer (pid") >= 1);
	assert_true(h_log_count(&sys->broker, "checkpoint signer failed") >= 1);

	/* Nothing acknowledged was lost: it starts again on the same log. */
	h_broker_start(sys);
	assert_int_equal(h_broker_stop(sys), 0);
	h_pass(sys);
	h_sys_free(sys);
}

/* Adds a signature record to the head file of sys's broker: size past the
 * head's by ahead, with root. */
static void
record_signature(struct h_sys *sys, uint64_t ahead, uint8_t fill)
{
	char note[HEAD_NOTE_MAX + 1];
	struct checkpoint cp;
	uint8_t root[32];
	struct head *h;
	size_t len;

	assert_int_equal(
	    head_open(h_p("%s/keys/broker.head", sys->dir), &h, note, &len), 0);
	assert_int_equal(checkpoint_parse(note, len, &cp), 0);
	memset(root, fill, sizeof(root));
	assert_int_equal(
	    head_write_signed(h, note, len, cp.size + ahead, root), 0);
	head_close(h);
}

/*
 * A signature whose commit a crash cut off (the log ends at the head) is
 * withdrawn at start, said so, and the broker serves; a recorded signature
 * the log neither holds nor ends just before is refused.
 */
static void
withdrawn_at_start(void **state)
{
	(void)state;
	struct h_sys *sys = h_sys_new(NULL, NULL, NULL, 1);

	h_broker_start(sys);
	assert_int_equal(h_broker_stop(sys), 0);
	record_signature(sys, 3, 0xab);
	h_broker_start(sys);
	assert_int_equal(
	    h_log_count(&sys->broker, "was signed but never committed"), 1);
	struct h_client *c = h_client_of(sys, H_POLICE);
	h_client_hello(c);
	h_client_free(c);
	assert_int_equal(h_broker_stop(sys), 0);

	/* Recorded at the head's own size with another root: not the log's,
	 * and not past it. */
	record_signature(sys, 0, 0xcd);
	const char *argv[] = {
	    sys->broker_bin, "-c", sys->broker_yaml, "-f", NULL};
	assert_int_equal(h_run_for(sys, NULL, h_p("%s/refused.log", sys->dir),
	                     argv, H_WAIT_MS),
	    65);
	h_pass(sys);
	h_sys_free(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(signs_extending, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        refuses_non_extending, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        refuses_fork_after_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        refuses_wrong_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(wipes_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(sandboxed, setup, teardown),
	    cmocka_unit_test(broker_without_key),
	    cmocka_unit_test(withdrawn_at_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
