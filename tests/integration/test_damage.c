/*
 * A damaged data folder is refused, never served; one broker per data
 * folder (DESIGN.md §7, §9). Real processes on a real log: a broker and
 * the trust's agent relay a few hundred messages from a custom client (some
 * left queued), the broker stops, and the folder and the head beside the
 * broker's key are kept as the pristine copy. Each case restores it and
 * damages it:
 *
 *  - the damage matrix: truncations, meta pages zeroed, seeded bit flips,
 *    zeroed and random pages, a bit of a live entry flipped (where LMDB
 *    says the entry lies), another broker's folder, data.mdb missing.
 *    The damage falls on the pages the log uses, not on the room the
 *    broker keeps allocated past them.
 *    `concordat audit verify` exits 0 or 65 and never dies of a signal;
 *    the broker never dies of a signal, refuses (exit 65, naming the
 *    damage, never listening) whenever verify finds damage, and never
 *    serves a fresh empty log;
 *  - the head: a log rolled back, a fork of it, a damaged head, another
 *    key's head, no head (an older deployment), a head that lags;
 *  - the folder lock: a second broker exits 75 naming the first and
 *    writes nothing; readers go on; `audit reindex` waits its turn;
 *  - kill -9 at random moments of a burst: the head never leads the log
 *    nor lags it by more than one commit, and every restart serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "tests/audit/audittest.h"
#include "tests/lib/scratch.h"
#include "tests/integration/harness.h"

#define DELIVERED 120 /* messages the trust's agent collects */
#define QUEUED    300 /* messages left waiting for it */
#define LATER     10  /* messages of the pristine log after the older */
#define FORKED    20  /* messages of the fork of the older log */
#define TRIALS    6   /* seeded trials of each kind of random damage */
#define KILLS     5   /* kill -9 rounds */
#define BURST     100 /* messages a kill -9 interrupts */
#define PAGE      4096

struct fixture {
	struct h_sys *s;
	char head[PATH_MAX];     /* keys/broker.head, the live one */
	char pristine[PATH_MAX]; /* the log's copy, and its head */
	char pristine_head[PATH_MAX];
	char older[PATH_MAX]; /* the log before the last messages */
	char older_head[PATH_MAX];
	char fork[PATH_MAX];       /* the older log, grown another way */
	char other[PATH_MAX];      /* another broker's folder */
	char other_head[PATH_MAX]; /* and its head */
	char other_yaml[PATH_MAX];
	uint64_t leaves; /* the pristine log's, all signed */
	char root[MERKLE_HASH_B64];
};

/* ------------------------------------------------------------ helpers */

static void path(char out[PATH_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
path(char out[PATH_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	assert_true(vsnprintf(out, PATH_MAX, fmt, ap) < PATH_MAX);
	va_end(ap);
}

static void
pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = scratch_slurp(from, &len);
	int fd;

	if (data == NULL)
		fail_msg("cannot read %s", from);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(data);
}

/* Copies the files of folder from (flat, as LMDB's are) into to. */
static void
copy_dir(const char *from, const char *to)
{
	static const char *const names[] = {
	    "data.mdb", "lock.mdb", "concordat.lock"};

	scratch_rmrf(to);
	assert_int_equal(mkdir(to, 0700), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (access(h_p("%s/%s", from, names[i]), F_OK) == 0)
			copy_file(h_p("%s/%s", from, names[i]),
			    h_p("%s/%s", to, names[i]));
}

/* The folder and the head as they were in the copy named by base. */
static void
restore(struct fixture *f, const char *dir, const char *head)
{
	copy_dir(dir, f->s->data);
	unlink(f->head);
	if (head != NULL && access(head, F_OK) == 0)
		copy_file(head, f->head);
}

/* Keeps a copy of the folder and the head (head_checks asserts there is
 * one; the other tests run, and fail as they should, without). */
static void
keep(struct fixture *f, const char *dir, const char *head)
{
	copy_dir(f->s->data, dir);
	unlink(head);
	if (access(f->head, F_OK) == 0)
		copy_file(f->head, head);
}

/* Runs `concordat audit verify` on the data folder; its exit status. */
static int
verify(struct fixture *f, char **out, char **err)
{
	struct h_sys *s = f->s;
	char o[PATH_MAX], e[PATH_MAX];
	char key[PATH_MAX];
	int st;

	path(o, "%s/verify.out", s->dir);
	path(e, "%s/verify.err", s->dir);
	path(key, "%s/keys/broker.pub", s->dir);
	const char *argv[] = {s->cli, "audit", "verify", "--data", s->data,
	    "--broker-key", key, NULL};
	st = h_run(s, o, e, argv);

	if (out != NULL)
		*out = scratch_slurp(o, NULL);
	if (err != NULL)
		*err = scratch_slurp(e, NULL);
	return st;
}

/* From verify's "ok: ORIGIN: N leaves, ...; latest size S root R". */
static uint64_t
verified_leaves(const char *out, char root[MERKLE_HASH_B64])
{
	const char *p = strstr(out, ": ");
	const char *r = strstr(out, " root ");
	uint64_t n;

	assert_non_null(p);
	assert_non_null(r);
	p = strstr(p + 2, ": ");
	assert_non_null(p);
	n = strtoull(p + 2, NULL, 10);
	if (root != NULL)
		snprintf(root, MERKLE_HASH_B64, "%.44s", r + 6);
	return n;
}

/*
 * Starts concordat-broker -c conf -f with its log in log; waits until it
 * listens or exits. Returns -1 when it listens (it runs on, *pid set),
 * otherwise its exit status (128 + signal when killed).
 */
static int
broker_try(struct h_sys *s, const char *conf, const char *log, pid_t *pid)
{
	const char *argv[] = {s->broker_bin, "-c", conf, "-f", NULL};
	uint64_t end = h_now_ms() + H_WAIT_MS;
	pid_t parent = getpid();
	int st, fd;

	/* Emptied here, not in the child: the last run's words must not be
	 * read for this one's. */
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || chdir(s->dir) != 0)
			_exit(127);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fd);
	for (;;) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st)
			                     : 128 + WTERMSIG(st);
		}
		char *text = scratch_slurp(log, NULL);
		bool up = text != NULL && strstr(text, "listening on") != NULL;
		free(text);
		if (up)
			return -1;
		if (h_now_ms() > end) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &st, 0);
			fail_msg("the broker neither listened nor exited");
		}
		pause_ms(5);
	}
}

/* SIGTERM; its exit status. */
static int
broker_end(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Sends n messages from the police through c; waits for every receipt. */
static void
send_burst(struct h_sys *s, struct h_client *c, size_t n)
{
	const struct h_msg m = {.sender = H_POLICE,
	    .signer = -1,
	    .fields = "{\"risks\": {\"self_harm\": \"high\"}, "
	              "\"identity\": {\"name\": \"Damage\"}}"};

	h_client_send_accepted(s, c, &m, n, NULL);
}

static struct h_client *
police(struct h_sys *s)
{
	struct h_client *c = h_client_new(s, h_p("%s/keys/police.key", s->dir));

	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	return c;
}

/* ----------------------------------------------------------- the head */

/* The head file's head, read by its format (broker/head.h), not its code. */
static bool
read_head(const char *path, struct checkpoint *cp)
{
	size_t len;
	uint8_t *b = (uint8_t *)scratch_slurp(path, &len), sum[32];
	uint64_t best = 0;
	bool found = false;

	if (b == NULL)
		return false;
	for (int i = 0; i < 2 && (size_t)(i + 1) * 1024 <= len; i++) {
		const uint8_t *slot = b + i * 1024;
		uint64_t gen = 0;
		size_t n;
		if (memcmp(slot, "CCHEAD01", 8) != 0)
			continue;
		crypto_generichash(sum, 32, slot, 992, NULL, 0);
		if (memcmp(sum, slot + 992, 32) != 0)
			continue;
		for (int j = 0; j < 8; j++)
			gen = gen << 8 | slot[8 + j];
		n = (size_t)slot[16] << 8 | slot[17];
		if (gen % 2 != (uint64_t)i || gen <= best || n > 974)
			continue;
		assert_int_equal(
		    checkpoint_parse((const char *)slot + 18, n, cp), 0);
		best = gen;
		found = true;
	}
	free(b);
	return found;
}

/*
 * After a crash: the head is the latest stored checkpoint or the one
 * before it (it may lag the log by one commit, never lead it), and it is
 * the log's root at its size.
 */
static void
head_within_one(struct fixture *f, uint64_t *size)
{
	struct checkpoint cp;
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t last = 0, before = 0;
	MDB_env *env;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	struct audit *a;

	assert_true(read_head(f->head, &cp));
	assert_int_equal(audit_env_open(f->s->data, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, AUDIT_RDONLY, &a), 0);
	assert_int_equal(mdb_dbi_open(txn, "audit.checkpoints", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
	for (int i = 0; i < 8; i++)
		last = last << 8 | ((const uint8_t *)k.mv_data)[i];
	if (mdb_cursor_get(cur, &k, &v, MDB_PREV) == 0)
		for (int i = 0; i < 8; i++)
			before = before << 8 | ((const uint8_t *)k.mv_data)[i];
	mdb_cursor_close(cur);
	if (cp.size != last && cp.size != before)
		fail_msg("the head is at size %" PRIu64
		         "; the log's last checkpoints are %" PRIu64
		         " and %" PRIu64,
		    cp.size, before, last);
	assert_int_equal(audit_root(a, txn, cp.size, root), 0);
	assert_memory_equal(root, cp.root, MERKLE_HASH_LEN);
	audit_free(a);
	mdb_txn_abort(txn);
	audit_env_close(env);
	*size = cp.size;
}

/* ------------------------------------------------------------- set-up */

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct h_client *c;
	struct h_sys *s;
	pid_t pid;
	char *out;

	assert_non_null(f);
	f->s = s = h_sys_new(NULL, NULL, NULL, 4);
	path(f->head, "%s/keys/broker.head", s->dir);
	path(f->pristine, "%s/pristine", s->dir);
	path(f->pristine_head, "%s/pristine.head", s->dir);
	path(f->older, "%s/older", s->dir);
	path(f->older_head, "%s/older.head", s->dir);
	path(f->fork, "%s/fork", s->dir);
	path(f->other, "%s/other", s->dir);
	path(f->other_head, "%s/keys2/broker.head", s->dir);
	path(f->other_yaml, "%s/other.yaml", s->dir);

	/* The log: deliveries collected and acknowledged, then queued; the
	 * older copy a few commits short of the pristine one. */
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	c = police(s);
	send_burst(s, c, DELIVERED);
	uint64_t end = h_now_ms() + 4 * H_WAIT_MS;
	while (h_audit_stat(s, "acknowledged") < DELIVERED) {
		if (h_now_ms() > end)
			fail_msg("the trust acknowledged too few");
		pause_ms(50);
	}
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	send_burst(s, c, QUEUED);
	assert_int_equal(h_broker_stop(s), 0);
	keep(f, f->older, f->older_head);
	h_broker_start(s);
	send_burst(s, c, LATER);
	assert_int_equal(h_broker_stop(s), 0);
	keep(f, f->pristine, f->pristine_head);
	assert_int_equal(verify(f, &out, NULL), 0);
	f->leaves = verified_leaves(out, f->root);
	free(out);
	/* Past a batch of the indexes, so that their pages are there. */
	assert_true(f->leaves > AUDIT_INDEX_LAG);

	/* A fork: the older log, grown by other messages. */
	restore(f, f->older, f->older_head);
	h_broker_start(s);
	send_burst(s, c, FORKED);
	assert_int_equal(h_broker_stop(s), 0);
	copy_dir(s->data, f->fork);
	h_client_free(c);

	/* Another broker's log, under another key. */
	const char *gen[] = {s->cli, "keys", "generate", "--broker", "--out",
	    h_p("%s/keys2", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	scratch_write(f->other_yaml,
	    h_p("listen: ipc://%s/other.sock\nkey: keys2/broker.key\n"
	        "keyring: ring\npolicy: %s\ndata: other\nmap_size_mb: 64\n",
	        s->dir, s->policy),
	    0644);
	assert_int_equal(broker_try(s, f->other_yaml,
	                     h_p("%s/logs/other.log", s->dir), &pid),
	    -1);
	assert_int_equal(broker_end(pid), 0);
	restore(f, f->pristine, f->pristine_head);
	*state = f;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	if (f != NULL) {
		h_sys_free(f->s);
		free(f);
	}
	return 0;
}

/* ------------------------------------------------------- the matrix */

/* Damage to apply to the restored data.mdb. */
enum kind {
	TRUNC_ZERO,
	TRUNC_HALF,
	TRUNC_META,
	META0_ZEROED,
	META1_ZEROED,
	METAS_ZEROED,
	BIT_FLIPS,
	ZEROED_PAGES,
	RANDOM_PAGES,
	LEAF_FLIPPED,
	OTHER_BROKER,
	DATA_MISSING,
	FOLDER_MISSING,
};

static const char *const kind_name[] = {
    [TRUNC_ZERO] = "truncated to 0",
    [TRUNC_HALF] = "truncated to half",
    [TRUNC_META] = "truncated to its meta pages",
    [META0_ZEROED] = "meta page 0 zeroed",
    [META1_ZEROED] = "meta page 1 zeroed",
    [METAS_ZEROED] = "both meta pages zeroed",
    [BIT_FLIPS] = "8 bits flipped",
    [ZEROED_PAGES] = "pages zeroed",
    [RANDOM_PAGES] = "a page of random bytes",
    [LEAF_FLIPPED] = "a bit of a live entry flipped",
    [OTHER_BROKER] = "another broker's folder",
    [DATA_MISSING] = "data.mdb missing, head present",
    [FOLDER_MISSING] = "the whole folder missing, head present",
};

/* What the refusal must say, beyond "refusing to start". */
static const char *const kind_words[] = {
    [TRUNC_ZERO] = "truncated",
    [TRUNC_HALF] = "truncated",
    [TRUNC_META] = "truncated",
    [META0_ZEROED] = "meta page 0",
    [META1_ZEROED] = "meta page 1",
    [METAS_ZEROED] = "meta page 0",
    [BIT_FLIPS] = "damaged",
    [ZEROED_PAGES] = "damaged",
    [RANDOM_PAGES] = "damaged",
    [LEAF_FLIPPED] = "damaged",
    [OTHER_BROKER] = "another broker's",
    [DATA_MISSING] = "missing",
    [FOLDER_MISSING] = "no data.mdb",
};

static void
zero_range(uint8_t *b, size_t from, size_t len)
{
	memset(b + from, 0, len);
}

/*
 * The bytes of data.mdb the log uses (LMDB's pages in use, from mdb_stat):
 * the file runs on past them, allocated ahead of need by the broker so that
 * a full disk cannot stop what frees space (DESIGN.md §11), and damage
 * there harms nothing; the matrix damages the log itself.
 */
static size_t
log_bytes(struct fixture *f)
{
	const char *out = h_p("%s/mdb_stat.out", f->s->dir);
	const char *argv[] = {"/usr/bin/mdb_stat", "-e", f->s->data, NULL};
	char *text, *p;
	long pages = 0;

	assert_int_equal(h_run(f->s, out, NULL, argv), 0);
	text = scratch_slurp(out, NULL);
	assert_non_null(text);
	if ((p = strstr(text, "Number of pages used: ")) != NULL)
		pages = strtol(p + 22, NULL, 10);
	free(text);
	assert_true(pages > 2);
	return (size_t)pages * PAGE;
}

/*
 * The bytes of the log's middle entry (a copy, malloc'd), read through
 * LMDB: every place data.mdb holds them is damaged by LEAF_FLIPPED, the
 * live one among them (older copies may lie in freed pages), so the log
 * itself is damaged, which verify must always find.
 */
static uint8_t *
live_leaf(struct fixture *f, size_t *len)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	struct audit *a = NULL;
	const uint8_t *leaf;
	uint64_t size;
	uint8_t *copy;

	assert_int_equal(audit_env_open(f->s->data, 0, AUDIT_RDONLY, &env), 0);
	assert_int_equal(audit_txn_begin(env, MDB_RDONLY, &txn), 0);
	assert_int_equal(audit_open(env, txn, NULL, AUDIT_RDONLY, &a), 0);
	assert_int_equal(audit_size(a, txn, &size), 0);
	assert_int_equal(audit_leaf(a, txn, size / 2, &leaf, len), 0);
	copy = malloc(*len);
	assert_non_null(copy);
	memcpy(copy, leaf, *len);
	mdb_txn_abort(txn);
	audit_free(a);
	audit_env_close(env);
	return copy;
}

static void
damage(struct fixture *f, enum kind k, uint64_t seed)
{
	char file[PATH_MAX];
	uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t len, pages;
	uint8_t *b;
	FILE *fp;

	path(file, "%s/data.mdb", f->s->data);
	size_t used = k != DATA_MISSING && k != FOLDER_MISSING &&
	        k != OTHER_BROKER && k != TRUNC_ZERO
	    ? log_bytes(f)
	    : 0;
	switch (k) {
	case TRUNC_ZERO:
		assert_int_equal(truncate(file, 0), 0);
		return;
	case TRUNC_HALF:
		assert_int_equal(truncate(file, used / 2 / PAGE * PAGE), 0);
		return;
	case TRUNC_META:
		assert_int_equal(truncate(file, 2 * PAGE), 0);
		return;
	case OTHER_BROKER:
		copy_dir(f->other, f->s->data);
		return;
	case DATA_MISSING:
		assert_int_equal(unlink(file), 0);
		return;
	case FOLDER_MISSING:
		scratch_rmrf(f->s->data);
		return;
	default:
		break;
	}
	uint8_t *leaf = NULL;
	size_t leaf_len = 0;
	if (k == LEAF_FLIPPED)
		leaf = live_leaf(f, &leaf_len);
	b = (uint8_t *)scratch_slurp(file, &len);
	assert_non_null(b);
	assert_true(used <= len);
	pages = used / PAGE; /* damage falls on the log's own pages */
	assert_true(pages > 8);
	switch (k) {
	case META0_ZEROED:
		zero_range(b, 0, PAGE);
		break;
	case META1_ZEROED:
		zero_range(b, PAGE, PAGE);
		break;
	case METAS_ZEROED:
		zero_range(b, 0, 2 * PAGE);
		break;
	case BIT_FLIPS:
		for (int i = 0; i < 8; i++) {
			/* On bytes that hold something: a page's unused
			 * middle is zeros, and a flip there harms nothing. */
			size_t at = 0;
			for (int tries = 0; tries < 64 && (at == 0 || !b[at]);
			     tries++)
				at = 2 * PAGE +
				    audittest_rand(&rng) %
				        (pages * PAGE - 2 * PAGE);
			b[at] ^= (uint8_t)(1u << audittest_rand(&rng) % 8);
		}
		break;
	case ZEROED_PAGES:
		for (uint64_t i = 0, n = 1 + seed % 3; i < n; i++)
			zero_range(b,
			    (2 + audittest_rand(&rng) % (pages - 2)) * PAGE,
			    PAGE);
		break;
	case LEAF_FLIPPED: {
		unsigned copies = 0;
		assert_true(leaf_len > 8);
		for (uint8_t *at = b; (at = memmem(at, len - (size_t)(at - b),
		                           leaf, leaf_len)) != NULL;
		     at += leaf_len, copies++)
			at[leaf_len / 2] ^= 0x10;
		assert_true(copies >= 1);
		free(leaf);
		break;
	}
	case RANDOM_PAGES: {
		size_t p = 2 + audittest_rand(&rng) % (pages - 2);
		for (size_t i = 0; i < PAGE; i++)
			b[p * PAGE + i] = (uint8_t)audittest_rand(&rng);
		break;
	}
	default:
		break;
	}
	fp = fopen(file, "r+");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	free(b);
}

struct tally {
	unsigned trials, found, refused, served;
};

/* The matrix's failures: each said as it is found, counted for the end. */
static unsigned n_failures;

static void bad(enum kind k, uint64_t seed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad(enum kind k, uint64_t seed, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	n_failures++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	print_message(
	    "FAILED: %s (seed %" PRIu64 "): %s\n", kind_name[k], seed, line);
}

/* The first line of text that holds needle, or text's first line. */
static const char *
line_of(const char *text, const char *needle, char *buf, size_t n)
{
	const char *p = text == NULL ? NULL : strstr(text, needle);

	if (p == NULL)
		p = text == NULL ? "" : text;
	snprintf(buf, n, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/*
 * One case: restore, damage, verify, start. What fails is noted (bad) and
 * the next case runs, so that one run shows every case that fails.
 */
static void
one_case(struct fixture *f, enum kind k, uint64_t seed, struct tally *t)
{
	struct h_sys *s = f->s;
	char log[PATH_MAX], sock[PATH_MAX], words[512];
	char *err = NULL, *out = NULL, *text;
	pid_t pid;
	int v, b;

	path(log, "%s/logs/damage.log", s->dir);
	path(sock, "%s/broker.sock", s->dir);
	unlink(sock); /* a socket file outlives its broker */
	restore(f, f->pristine, f->pristine_head);
	damage(f, k, seed);
	v = verify(f, NULL, &err);
	t->trials++;
	if (v != 0)
		t->found++;
	if (v >= 128)
		bad(k, seed, "audit verify died of signal %d", v - 128);
	/* The whole folder gone is no log at all to verify (66). */
	else if (k == FOLDER_MISSING ? v != 66 : v != 0 && v != 65)
		bad(k, seed, "audit verify exited %d: %s", v,
		    line_of(err, "concordat:", words, sizeof(words)));
	else if (v == 65 && strstr(err, "concordat: audit verify: ") == NULL)
		bad(k, seed, "audit verify says no why");
	free(err);

	b = broker_try(s, s->broker_yaml, log, &pid);
	text = scratch_slurp(log, NULL);
	if (b == -1) {
		/* It serves: only a log that verifies, and only the log. */
		t->served++;
		if (v != 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			bad(k, seed,
			    "audit verify exited %d, yet the broker "
			    "started and listened",
			    v);
		} else if (broker_end(pid) != 0) {
			bad(k, seed, "the broker did not stop cleanly");
		} else if (verify(f, &out, NULL) != 0 ||
		    verified_leaves(out, NULL) < f->leaves) {
			bad(k, seed,
			    "the broker served a log shorter than the "
			    "one it signed, or damaged it");
		}
		free(out);
	} else if (b >= 128) {
		bad(k, seed, "the broker died of signal %d", b - 128);
	} else {
		t->refused++;
		if (strstr(text, "listening on") != NULL ||
		    access(sock, F_OK) == 0)
			bad(k, seed, "the broker listened before it refused");
		if (b != 65 || strstr(text, "refusing to start") == NULL)
			bad(k, seed, "exit %d, not a clear refusal (65): %s", b,
			    line_of(text, "concordat-broker:", words,
			        sizeof(words)));
		else if (v != 0 && strstr(text, kind_words[k]) == NULL)
			bad(k, seed, "the refusal does not say '%s': %s",
			    kind_words[k],
			    line_of(text, "refusing", words, sizeof(words)));
		/* Stricter than verify: the broker decodes its records. */
		else if (v == 0)
			print_message("%s (seed %" PRIu64 "): verify passes, "
			              "the broker refuses: %s\n",
			    kind_name[k], seed,
			    line_of(text, "refusing", words, sizeof(words)));
	}
	free(text);
}

static void
damage_matrix(void **state)
{
	struct fixture *f = *state;
	struct tally t[FOLDER_MISSING + 1];

	memset(t, 0, sizeof(t));
	for (enum kind k = TRUNC_ZERO; k <= FOLDER_MISSING; k++) {
		bool random =
		    k == BIT_FLIPS || k == ZEROED_PAGES || k == RANDOM_PAGES;
		for (uint64_t seed = 1; seed <= (random ? TRIALS : 1); seed++)
			one_case(f, k, seed, &t[k]);
		/* Damage the file cannot hide: always found, always
		 * refused. */
		if (!random &&
		    (t[k].found != t[k].trials || t[k].refused != t[k].trials))
			bad(k, 1, "found in %u and refused in %u of %u",
			    t[k].found, t[k].refused, t[k].trials);
		print_message("%-40s %u trials: verify found damage in %u; "
		              "the broker refused %u, served %u\n",
		    kind_name[k], t[k].trials, t[k].found, t[k].refused,
		    t[k].served);
	}
	/* Random bit flips may all land where nothing lives (a freed page,
	 * a page's unused middle): the flipped bit of a live entry, above,
	 * is the case that must always be found. */
	restore(f, f->pristine, f->pristine_head);
	if (n_failures > 0)
		fail_msg("%u failures, each said above", n_failures);
	h_pass(f->s);
}

/* ----------------------------------------------------------- the head */

/* Starts the broker expecting a refusal that says what. */
static void
refused(struct fixture *f, int code, const char *what)
{
	char log[PATH_MAX], *text;
	pid_t pid;
	int b;

	path(log, "%s/logs/refused.log", f->s->dir);
	b = broker_try(f->s, f->s->broker_yaml, log, &pid);
	text = scratch_slurp(log, NULL);

	if (b == -1)
		broker_end(pid);
	if (b != code || strstr(text, "refusing to start") == NULL ||
	    strstr(text, what) == NULL)
		fail_msg("want exit %d saying '%s'; got %d:\n%s", code, what, b,
		    text);
	free(text);
}

static void
head_checks(void **state)
{
	struct fixture *f = *state;
	struct h_sys *s = f->s;
	struct checkpoint cp;
	char *out, *text;
	uint8_t *b;
	size_t len;

	/* The broker keeps a head beside its key. */
	assert_true(read_head(f->pristine_head, &cp));
	assert_int_equal(cp.size, f->leaves);

	/* The older log, intact, under the head of the newer: commits lost. */
	restore(f, f->older, f->pristine_head);
	assert_int_equal(verify(f, NULL, NULL), 0);
	refused(f, 65, "commits were lost");

	/* The fork, longer than the head and intact: not the log signed. */
	restore(f, f->fork, f->pristine_head);
	assert_int_equal(verify(f, &out, NULL), 0);
	assert_true(verified_leaves(out, NULL) >= f->leaves);
	free(out);
	refused(f, 65, "are not those this broker signed");

	/* A head whose slots are both damaged. */
	restore(f, f->pristine, f->pristine_head);
	b = (uint8_t *)scratch_slurp(f->head, &len);
	assert_int_equal(len, 2048);
	b[100] ^= 1;
	b[1024 + 100] ^= 1;
	FILE *fp = fopen(f->head, "w");
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
	free(b);
	refused(f, 65, "the head file is damaged");

	/* Another key's head: a configuration mistake (78). */
	restore(f, f->pristine, f->other_head);
	refused(f, 78, "another key's");

	/* A head open to others. */
	restore(f, f->pristine, f->pristine_head);
	assert_int_equal(chmod(f->head, 0644), 0);
	refused(f, 77, "mode 0600");

	/* No head (a deployment from before heads): the log is verified,
	 * and its latest checkpoint becomes the head. */
	restore(f, f->pristine, NULL);
	h_broker_start(s);
	assert_true(h_log_count(&s->broker, "no head file") == 1);
	assert_true(read_head(f->head, &cp));
	assert_int_equal(h_broker_stop(s), 0);
	assert_true(read_head(f->head, &cp));
	assert_int_equal(verify(f, &out, NULL), 0);
	assert_int_equal(cp.size, verified_leaves(out, NULL));
	free(out);

	/* A head that lags the log (the older log's, on the newer): served,
	 * and brought up to date before anything listens. */
	restore(f, f->pristine, f->older_head);
	assert_true(read_head(f->head, &cp));
	assert_true(cp.size < f->leaves);
	h_broker_start(s);
	assert_true(read_head(f->head, &cp));
	assert_true(cp.size > f->leaves);
	assert_int_equal(h_broker_stop(s), 0);

	/* Emptied after a clean first start: never a new log. */
	restore(f, f->pristine, f->pristine_head);
	assert_int_equal(truncate(h_p("%s/data.mdb", s->data), 0), 0);
	refused(f, 65, "the log is gone");
	text = scratch_slurp(h_p("%s/data.mdb", s->data), &len);
	assert_int_equal(len, 0);
	free(text);
	restore(f, f->pristine, f->pristine_head);
	h_pass(s);
}

/* ------------------------------------------------------- the lock */

static void
folder_lock(void **state)
{
	struct fixture *f = *state;
	struct h_sys *s = f->s;
	char err[PATH_MAX];
	const char *run[] = {s->broker_bin, "-c", s->broker_yaml, "-f", NULL};
	const char *check[] = {s->broker_bin, "-c", s->broker_yaml, "-n", NULL};
	const char *reindex[] = {
	    s->cli, "audit", "reindex", "--data", s->data, NULL};
	char *text, *out, pid[64];
	uint64_t before, after;

	path(err, "%s/second.err", s->dir);
	restore(f, f->pristine, f->pristine_head);
	h_broker_start(s);
	snprintf(pid, sizeof(pid), "%ld concordat-broker", (long)s->broker.pid);
	text = scratch_slurp(h_p("%s/concordat.lock", s->data), NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, pid));
	free(text);
	assert_int_equal(verify(f, &out, NULL), 0);
	before = verified_leaves(out, NULL);
	free(out);

	/* A second broker on the same folder: 75, naming the first. */
	assert_int_equal(h_run(s, NULL, err, run), 75);
	text = scratch_slurp(err, NULL);
	if (strstr(text, "in use by another process") == NULL ||
	    strstr(text, pid) == NULL || strstr(text, "listening") != NULL)
		fail_msg("no clear refusal naming '%s':\n%s", pid, text);
	free(text);
	/* It wrote nothing: the log is as the first broker left it. */
	assert_int_equal(verify(f, &out, NULL), 0);
	after = verified_leaves(out, NULL);
	free(out);
	assert_int_equal(after, before);
	assert_int_equal(h_audit_stat(s, "broker_started"),
	    h_audit_stat(s, "broker_stopped") + 1);

	/* -n takes no lock; readers read on; reindex waits its turn. */
	assert_int_equal(h_run(s, NULL, NULL, check), 0);
	assert_true(h_audit_count(s, "broker_started", NULL) > 0);
	assert_int_equal(h_run(s, NULL, err, reindex), 75);
	text = scratch_slurp(err, NULL);
	if (strstr(text, pid) == NULL ||
	    strstr(text, "stop the broker") == NULL)
		fail_msg("reindex does not say why it waits:\n%s", text);
	free(text);

	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(h_run(s, NULL, NULL, reindex), 0);
	h_broker_start(s);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(verify(f, NULL, NULL), 0);
	h_pass(s);
}

/* --------------------------------------------------------- kill -9 */

static void
kill9_never_refuses(void **state)
{
	struct fixture *f = *state;
	struct h_sys *s = f->s;
	const struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint64_t rng = 99, size, last = 0;
	struct h_client *c;
	uint8_t id[WIRE_MSG_ID_LEN], *frame;
	size_t len;

	restore(f, f->pristine, f->pristine_head);
	h_broker_start(s);
	c = police(s);
	for (int round = 0; round < KILLS; round++) {
		/* A burst the broker is busy with when it dies. */
		for (int i = 0; i < BURST; i++) {
			h_seal(s, &m, id, &frame, &len);
			h_client_send(c, frame, len);
			free(frame);
		}
		/* Read while the broker writes: no damage where none is. */
		if (round % 2 == 0)
			assert_int_equal(verify(f, NULL, NULL), 0);
		pause_ms((unsigned)(audittest_rand(&rng) % 120));
		h_broker_kill(s);
		head_within_one(f, &size);
		assert_true(size >= last);
		last = size;
		/* A healthy log after kill -9 is served again. */
		h_broker_start(s);
		/* The round's receipts: not the point here. */
		for (struct wire_frame *r; (r = h_client_recv(c, 0)) != NULL;)
			wire_frame_free(r);
	}
	h_client_free(c);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(verify(f, NULL, NULL), 0);
	restore(f, f->pristine, f->pristine_head);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(damage_matrix),
	    cmocka_unit_test(head_checks),
	    cmocka_unit_test(folder_lock),
	    cmocka_unit_test(kill9_never_refuses),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
