/*
 * bench_signer: what the checkpoint signer's process (broker/signer.h)
 * costs per commit, on a real key and head file in a scratch folder under
 * $TMPDIR or /tmp (removed at the end). Not a test.
 *
 *	signer	ROUNDS requests, each a tree grown by LEAVES leaves: the
 *		consistency proof sent, checked in the sandboxed child, the
 *		note built and signed, the head slot written (pwrite,
 *		fdatasync), the answer read back
 *	inline	the same signature and head write in this process, without
 *		the proof check and the socket: what signing cost before the
 *		signer had a process of its own
 *
 * usage: bench_signer [ROUNDS [LEAVES]]	(default 500 and 256)
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "broker/head.h"
#include "broker/signer.h"
#include "keys/keys.h"

/* Every complete subtree of a growing tree, level by level. */
struct tree {
	uint8_t (*level[64])[MERKLE_HASH_LEN];
	uint64_t size;
};

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(
		    stderr, "bench_signer: %s: %s\n", what, error_strerror(rc));
		exit(1);
	}
}

static int
tree_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const struct tree *t = arg;

	memcpy(out, t->level[level][index], MERKLE_HASH_LEN);
	return 0;
}

static void
tree_add(struct tree *t, uint64_t i)
{
	uint8_t leaf[16];
	uint64_t idx = t->size;

	memcpy(leaf, &i, sizeof(i));
	memset(leaf + 8, 0x5a, 8);
	merkle_hash_leaf(leaf, sizeof(leaf), t->level[0][idx]);
	for (unsigned l = 0; (idx & 1) == 1; l++, idx >>= 1)
		merkle_hash_children(t->level[l][idx - 1], t->level[l][idx],
		    t->level[l + 1][idx >> 1]);
	t->size++;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
stats(double *t, int n, double *median, double *mean)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp);
	*median = t[n / 2];
	*mean = sum / n;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 500;
	int leaves = argc > 2 ? atoi(argv[2]) : 256;
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], keyfile[PATH_MAX + 16], headfile[PATH_MAX + 16];
	char origin[128], note[HEAD_NOTE_MAX + 1], why[512];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	struct keys_secret *key, *copy;
	struct merkle_store ms;
	struct checkpoint cp;
	struct tree t;
	struct head *h;
	struct signer *s;
	double *times = NULL, median, mean, imedian, imean;
	uint64_t total;
	size_t len, n;

	if (rounds < 1 || leaves < 1 || sodium_init() < 0)
		return 2;
	total = (uint64_t)rounds * (uint64_t)leaves + 1;
	memset(&t, 0, sizeof(t));
	for (unsigned l = 0; l < 64 && (total >> l) > 0; l++)
		if ((t.level[l] = calloc((total >> l) + 1, MERKLE_HASH_LEN)) ==
		    NULL)
			goto nomem;
	ms.get = tree_get;
	ms.arg = &t;
	times = calloc((size_t)rounds, sizeof(*times));
	snprintf(dir, sizeof(dir), "%s/bench_signer.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (times == NULL || mkdtemp(dir) == NULL)
		goto nomem;
	check(keys_generate(NULL, dir), "keys_generate");
	snprintf(keyfile, sizeof(keyfile), "%s/broker.key", dir);
	check(head_path(keyfile, headfile, sizeof(headfile)), "head_path");
	check(keys_load_secret(keyfile, &key), "load key");
	check(keys_load_secret(keyfile, &copy), "load key");
	snprintf(origin, sizeof(origin), "concordat/%s", key->pub.fingerprint);
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	merkle_hash_empty(cp.root);
	check(checkpoint_sign(&cp, key->sign_sk, note, sizeof(note), &len),
	    "sign");
	check(head_create(headfile, note, len, &h), "head_create");
	check(signer_start(copy, h, origin, NULL, &s, why, sizeof(why)), why);
	keys_secret_free(copy);

	/* Through the signer: proof, check, signature, head, answer. */
	for (int r = 0; r < rounds; r++) {
		uint64_t from = t.size;
		for (int i = 0; i < leaves; i++)
			tree_add(&t, t.size);
		check(merkle_root(&ms, t.size, root), "root");
		n = 0;
		if (from > 0)
			check(merkle_consistency(&ms, from, t.size, path, &n),
			    "proof");
		double t0 = now();
		check(signer_sign(s, t.size, root,
		          (const uint8_t(*)[MERKLE_HASH_LEN])path, n, note,
		          sizeof(note), &len),
		    "signer_sign");
		times[r] = now() - t0;
	}
	stats(times, rounds, &median, &mean);
	(void)signer_stop(s);

	/* In this process: the signature and the head write only. */
	check(head_open(headfile, &h, note, &len), "head_open");
	for (int r = 0; r < rounds; r++) {
		cp.size = (uint64_t)r + 1;
		double t0 = now();
		check(checkpoint_sign(
		          &cp, key->sign_sk, note, sizeof(note), &len),
		    "sign");
		check(head_write(h, note, len), "head_write");
		times[r] = now() - t0;
	}
	stats(times, rounds, &imedian, &imean);
	head_close(h);

	printf("signer: %d commits of %d leaves: one request %.3f ms median, "
	       "%.3f ms mean (proof of %zu hashes checked in the sandboxed "
	       "process, note signed, head written with fdatasync, answer "
	       "read)\n",
	    rounds, leaves, median, mean, n);
	printf("inline: the signature and head write in the broker's "
	       "process: %.3f ms median, %.3f ms mean; the process adds "
	       "%.3f ms per commit\n",
	    imedian, imean, median - imedian);

	keys_secret_free(key);
	unlink(headfile);
	unlink(keyfile);
	snprintf(keyfile, sizeof(keyfile), "%s/broker.pub", dir);
	unlink(keyfile);
	rmdir(dir);
	for (unsigned l = 0; l < 64; l++)
		free(t.level[l]);
	free(times);
	return 0;
nomem:
	for (unsigned l = 0; l < 64; l++)
		free(t.level[l]);
	free(times);
	return 1;
}
