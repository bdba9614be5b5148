/*
 * bench_start: what the broker's start check and its head cost, on real
 * files in a scratch folder under $TMPDIR or /tmp (removed at the end).
 * Not a test.
 *
 *	start   datadir_open on a log of LEAVES events and QUEUED queued
 *		deliveries of 3 KB: the check in a child process (the file,
 *		audit_verify, every database walked, the broker's records),
 *		first without a head (it is written from the log), then
 *		with one; and the parts, timed in this process
 *	head    one head write (pwrite of a slot, fdatasync) against one
 *		durable commit of a signed event, the broker's smallest
 *
 * usage: bench_start [LEAVES [QUEUED]]	(default 1000000 and 10000)
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/audit.h"
#include "broker/datadir.h"
#include "broker/head.h"
#include "broker/store.h"
#include "common/fileio.h"
#include "keys/keys.h"
#include "tests/audit/audittest.h"
#include "tests/lib/scratch.h"

#define ROUNDS  500
#define PAYLOAD 3000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(
		    stderr, "bench_start: %s: %s\n", what, error_strerror(rc));
		exit(1);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median and mean of n times, in ms. */
static void
stats(double *t, size_t n, double *median, double *mean)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += t[i];
	qsort(t, n, sizeof(*t), cmp_double);
	*median = t[n / 2] * 1000;
	*mean = sum / (double)n * 1000;
}

int
main(int argc, char **argv)
{
	uint64_t leaves = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint64_t queued = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000;
	char data[PATH_MAX], keys[PATH_MAX], keyfile[PATH_MAX], origin[128];
	char why[4096], headpath[PATH_MAX];
	struct keys_secret *key = NULL;
	struct audittest_log l;
	struct audittest_key k;
	struct audit_verify_result res;
	struct audit_walk walk;
	struct datadir *d;
	struct store *s;
	struct head *h;
	MDB_txn *txn;
	uint8_t *payload;
	double t, times[ROUNDS], median, mean, hmedian, hmean;
	uint64_t rng = 1, used, mapsize;
	char *dir;

	if (sodium_init() < 0 || (payload = calloc(1, PAYLOAD)) == NULL)
		return 1;
	dir = scratch_dir("audit");
	check(fileio_join(data, sizeof(data), dir, "data"), "path");
	check(fileio_join(keys, sizeof(keys), dir, "keys"), "path");
	check(
	    fileio_join(keyfile, sizeof(keyfile), keys, "broker.key"), "path");
	check(keys_generate(NULL, keys), "keys");
	check(keys_load_secret(keyfile, &key), "key");
	snprintf(origin, sizeof(origin), "concordat/%s", key->pub.fingerprint);
	memcpy(k.pk, key->pub.sign_pk, sizeof(k.pk));
	memcpy(k.sk, key->sign_sk, sizeof(k.sk));

	/* The log, under the broker's origin, and a queue. */
	t = now();
	check(audit_env_open(data, 0, 0, &l.env), "open");
	check(audit_txn_begin(l.env, 0, &txn), "begin");
	check(audit_open(l.env, txn, origin, 0, &l.a), "audit_open");
	check(audit_mdb_error(mdb_txn_commit(txn)), "commit");
	audittest_fill(&l, &k, 0, leaves, 5000, 50000, &rng);
	audittest_close(&l);
	check(store_open(data, 0, origin, &s), "store_open");
	for (uint64_t i = 0; i < queued; i++) {
		struct store_item it;
		uint64_t seq;
		if (i % 1000 == 0)
			check(store_begin(s, true, &txn), "begin");
		memset(&it, 0, sizeof(it));
		it.type = STORE_DELIVERY;
		randombytes_buf(it.msg_id, sizeof(it.msg_id));
		snprintf(it.agency, sizeof(it.agency), "social_care");
		snprintf(it.peer, sizeof(it.peer), "police");
		it.expires_ms = 4102444800000ull + i;
		it.payload = payload;
		it.payload_len = PAYLOAD;
		check(store_queue_put(s, txn, &it, &seq), "queue");
		if (i % 1000 == 999 || i + 1 == queued)
			check(store_commit(txn), "commit");
	}
	check(store_usage(s, &used, &mapsize), "usage");
	store_close(s);
	printf("start: a log of %" PRIu64 " events and %" PRIu64
	       " queued deliveries of %d bytes, %.0f MiB, built in %.1f s\n",
	    leaves, queued, PAYLOAD, (double)used / 1048576, now() - t);

	/* The start check, as the broker runs it. */
	t = now();
	check(datadir_open(
	          data, 0, keyfile, key, origin, &d, &s, why, sizeof(why)),
	    why);
	printf("start: without a head: %.2f s (%s)\n", now() - t, why);
	store_close(s);
	datadir_close(d);
	for (int i = 0; i < 3; i++) {
		t = now();
		check(datadir_open(data, 0, keyfile, key, origin, &d, &s, why,
		          sizeof(why)),
		    why);
		times[i] = now() - t;
		store_close(s);
		datadir_close(d);
	}
	stats(times, 3, &median, &mean);
	printf("start: with the head: median of 3: %.2f s (%.2f us per "
	       "event)\n       %s\n",
	    median / 1000, median * 1000 / (double)leaves, why);

	/* Its parts, in this process. */
	check(audit_env_open(data, 0, AUDIT_RDONLY, &l.env), "open");
	check(audit_txn_begin(l.env, MDB_RDONLY, &txn), "begin");
	check(audit_open(l.env, txn, NULL, AUDIT_RDONLY, &l.a), "audit_open");
	t = now();
	check(audit_verify(l.a, txn, k.pk, &res), res.why);
	printf("start: of which audit_verify %.2f s", now() - t);
	t = now();
	check(audit_env_walk(l.env, txn, NULL, NULL, &walk), walk.why);
	printf(", the walk %.2f s (%" PRIu64 " databases, %" PRIu64
	       " entries)\n",
	    now() - t, walk.databases, walk.entries);
	mdb_txn_abort(txn);
	audittest_close(&l);

	/* The head's cost per commit, against the commit itself. */
	check(store_open(data, 0, origin, &s), "store_open");
	for (int i = 0; i < ROUNDS; i++) {
		struct audit_head ah;
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_BROKER_STARTED;
		ev.time_ms = 1;
		t = now();
		check(store_begin(s, true, &txn), "begin");
		check(audit_append(store_audit(s), txn, &ev, NULL), "append");
		check(audit_checkpoint(
		          store_audit(s), txn, checkpoint_sign_key, k.sk, &ah),
		    "sign");
		check(store_commit(txn), "commit");
		times[i] = now() - t;
	}
	stats(times, ROUNDS, &median, &mean);
	store_close(s);
	check(head_path(keyfile, headpath, sizeof(headpath)), "path");
	{
		char note[HEAD_NOTE_MAX + 1];
		size_t len;
		check(head_open(headpath, &h, note, &len), "head");
		for (int i = 0; i < ROUNDS; i++) {
			t = now();
			check(head_write(h, note, len), "head write");
			times[i] = now() - t;
		}
		head_close(h);
	}
	stats(times, ROUNDS, &hmedian, &hmean);
	printf("head:  one write %.3f ms median, %.3f ms mean; one durable "
	       "commit of a signed event %.3f ms median, %.3f ms mean: the "
	       "head adds %.0f%% to the smallest commit\n",
	    hmedian, hmean, median, mean, 100 * hmedian / median);

	keys_secret_free(key);
	sodium_memzero(&k, sizeof(k));
	free(payload);
	scratch_rmrf(dir);
	free(dir);
	return 0;
}
