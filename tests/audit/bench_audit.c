/*
 * bench_audit: the audit log's figures of merit, on real LMDB files with
 * durable commits, in a scratch folder under $TMPDIR or /tmp that is
 * removed at the end. Not a test; `make bench` runs it.
 *
 *	append   events/s in write transactions of 100 events, each with
 *		 one signed checkpoint and a durable commit (target 50,000/s);
 *		 split into the library's own work and the commit (fsync)
 *	verify   leaves/s, recomputing the whole tree and checking every
 *		 checkpoint signature (target 500,000/s); then the indexes
 *		 against the leaves (verify --indexes, no target)
 *	report   ms for a subject access report's queries over a log of
 *		 1,000,000 events (target < 50 ms)
 *
 * usage: bench_audit [EVENTS [MEASURED [LAG]]]
 *	EVENTS    size of the log (default 1000000)
 *	MEASURED  how many of them, the last, are appended in commits of 100
 *		  and timed (default 300000: from 700,000 to 1,000,000, past
 *		  the merge of the subject and msg_id indexes' level-1 runs at
 *		  786,432); the first go in commits of 5,000
 *	LAG       index once this many leaves wait (default AUDIT_INDEX_LAG;
 *		  1: each leaf as it is appended)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audittest.h"
#include "tests/lib/scratch.h"

#define BATCH    100
#define BULK     5000
#define SUBJECTS 50000
#define REPORTS  200

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Bytes this process has handed to write(2) and friends so far. */
static unsigned long long
written(void)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/self/io", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return v;
}

static char *scratch; /* removed on the way out, whatever happens */

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(
		    stderr, "bench_audit: %s: %s\n", what, error_strerror(rc));
		scratch_rmrf(scratch);
		exit(1);
	}
}

/* The disk's durable-write floor: a 4 KiB write and fdatasync. */
static double
fsync_ms(const char *dir)
{
	char path[4096], buf[4096];
	double t, times[50];
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	memset(buf, 0x5a, sizeof(buf));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return -1;
	for (int i = 0; i < 50; i++) {
		t = now();
		if (pwrite(fd, buf, sizeof(buf), (off_t)i * 4096) < 0 ||
		    fdatasync(fd) != 0)
			break;
		times[i] = (now() - t) * 1000;
	}
	close(fd);
	unlink(path);
	qsort(times, 50, sizeof(times[0]), cmp_double);
	return times[25];
}

/*
 * Appends n events in transactions of batch, each with one checkpoint and
 * a durable commit. *work gets the time spent in audit_append and
 * audit_checkpoint, *sync the time in mdb_txn_commit; generating the
 * events is not counted.
 */
static void
append(struct audittest_log *l, const struct audittest_key *k,
    struct event *evs, uint64_t first, uint64_t n, unsigned batch,
    uint64_t *rng, double *work, double *sync, double *slowest)
{
	struct audit_head head;
	MDB_txn *txn;
	double t0, t1;

	*work = *sync = *slowest = 0;
	for (uint64_t i = first; i < first + n; i += batch) {
		unsigned m =
		    (unsigned)(first + n - i < batch ? first + n - i : batch);
		for (unsigned j = 0; j < m; j++)
			audittest_event(&evs[j], i + j, SUBJECTS, rng);
		t0 = now();
		check(audit_txn_begin(l->env, 0, &txn), "begin");
		for (unsigned j = 0; j < m; j++)
			check(audit_append(l->a, txn, &evs[j], NULL), "append");
		check(audit_checkpoint(l->a, txn, checkpoint_sign_key,
		          (void *)(uintptr_t)k->sk, &head),
		    "checkpoint");
		t1 = now();
		check(audit_mdb_error(mdb_txn_commit(txn)), "commit");
		*work += t1 - t0;
		*sync += now() - t1;
		if (now() - t0 > *slowest)
			*slowest = now() - t0;
	}
}

struct report {
	struct audit *a;
	MDB_txn *txn;
	uint64_t rows;
};

static int
status_row(void *arg, uint64_t seq, const struct event *ev)
{
	(void)arg;
	(void)seq;
	(void)ev;
	return 0;
}

/* As `concordat audit report` does per disclosure: find its status. */
static int
report_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct report *r = arg;
	struct audit_filter f;

	(void)seq;
	if (ev->disclosed == 0 || !ev->has_msg_id)
		return 0;
	r->rows++;
	memset(&f, 0, sizeof(f));
	f.has_msg_id = true;
	memcpy(f.msg_id, ev->msg_id, sizeof(f.msg_id));
	return audit_query(r->a, r->txn, &f, status_row, r, NULL);
}

int
main(int argc, char **argv)
{
	struct audittest_log l;
	struct audittest_key k;
	struct audit_verify_result res;
	struct audit_filter f;
	struct audit_plan plan;
	struct report rep;
	struct event *evs;
	double work, sync, bwork = 0, bsync = 0, t, verify_s, ms[REPORTS];
	double disk, slowest;
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint64_t measured = argc > 2 ? strtoull(argv[2], NULL, 10) : 300000;
	unsigned lag =
	    argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : AUDIT_INDEX_LAG;
	uint64_t rng = 1, used, mapsize, rows = 0;
	unsigned long long bytes;
	char *dir;

	if (sodium_init() < 0)
		return 1;
	if (measured > events)
		measured = events;
	if (measured < BATCH || lag == 0 ||
	    (evs = calloc(BULK, sizeof(*evs))) == NULL) {
		fprintf(
		    stderr, "usage: bench_audit [EVENTS [MEASURED [LAG]]]\n");
		return 64;
	}
	dir = scratch = scratch_dir("audit");
	disk = fsync_ms(dir);
	audittest_key(&k, 1);
	audittest_open(&l, dir, 0);
	audit_set_index_lag(l.a, lag);

	/* The log first, in large commits; then the measured commits. */
	append(&l, &k, evs, 0, events - measured, BULK, &rng, &bwork, &bsync,
	    &slowest);
	if (events > measured)
		printf("audit bulk:   %" PRIu64 " events in commits of %d: "
		       "%.0f events/s\n",
		    events - measured, BULK,
		    (double)(events - measured) / (bwork + bsync));
	bytes = written();
	append(&l, &k, evs, events - measured, measured, BATCH, &rng, &work,
	    &sync, &slowest);
	bytes = written() - bytes;
	printf("audit append: %" PRIu64 " events in durable commits of %d "
	       "(one signature each) onto a log of %" PRIu64 ": %.0f "
	       "events/s (target >= 50000)\n"
	       "              audit's own work %.1f us/event (%.0f events/s); "
	       "commit %.2f ms each, %.0f%% of the time (fsync of this disk: "
	       "%.2f ms)\n"
	       "              written %.0f bytes/event; indexes in batches of "
	       "%u leaves; slowest commit %.1f ms (a batch indexed, runs "
	       "merged)\n",
	    measured, BATCH, events - measured,
	    (double)measured / (work + sync), work / (double)measured * 1e6,
	    (double)measured / work, sync / (double)(measured / BATCH) * 1000,
	    100 * sync / (work + sync), disk, (double)bytes / (double)measured,
	    lag, slowest * 1000);
	check(audit_env_usage(l.env, &used, &mapsize), "usage");
	audittest_close(&l);
	free(evs);
	printf("audit size:   %.1f MiB for %" PRIu64 " events (%.0f bytes "
	       "each: leaf, tree nodes, indexes, checkpoints)\n",
	    (double)used / 1048576, events, (double)used / (double)events);

	/* The readers, as `concordat audit` runs them. */
	check(audit_env_open(dir, 0, AUDIT_RDONLY, &l.env), "open");
	check(audit_txn_begin(l.env, MDB_RDONLY, &rep.txn), "begin");
	check(audit_open(l.env, rep.txn, NULL, AUDIT_RDONLY, &l.a), "open");
	rep.a = l.a;
	t = now();
	if (audit_verify(l.a, rep.txn, k.pk, &res) != 0) {
		fprintf(stderr, "bench_audit: verify: %s\n", res.why);
		scratch_rmrf(dir);
		return 1;
	}
	verify_s = now() - t;
	printf("audit verify: %" PRIu64 " leaves, %" PRIu64 " checkpoint "
	       "signatures in %.2f s: %.0f leaves/s (target >= 500000)\n",
	    res.leaves, res.checkpoints, verify_s,
	    (double)res.leaves / verify_s);

	t = now();
	if (audit_verify_indexes(l.a, rep.txn, &res) != 0) {
		fprintf(stderr, "bench_audit: verify --indexes: %s\n", res.why);
		scratch_rmrf(dir);
		return 1;
	}
	verify_s = now() - t;
	printf("audit verify --indexes: %" PRIu64 " index entries of %" PRIu64
	       " leaves in %.2f s: %.0f leaves/s\n",
	    res.index_entries, events, verify_s, (double)events / verify_s);

	for (int i = 0; i < REPORTS; i++) {
		memset(&f, 0, sizeof(f));
		f.has_subject = true;
		audittest_subject(
		    audittest_rand(&rng) % SUBJECTS, f.subject_ref);
		f.type = EVENT_DECISION;
		rep.rows = 0;
		t = now();
		check(audit_query(l.a, rep.txn, &f, report_row, &rep, &plan),
		    "query");
		ms[i] = (now() - t) * 1000;
		rows += rep.rows;
	}
	qsort(ms, REPORTS, sizeof(ms[0]), cmp_double);
	printf("audit report: subject access report over %" PRIu64 " events "
	       "(%.1f disclosures each, index '%s'): median %.3f ms, max %.3f "
	       "ms (target < 50 ms)\n",
	    events, (double)rows / REPORTS, plan.index, ms[REPORTS / 2],
	    ms[REPORTS - 1]);
	mdb_txn_abort(rep.txn);
	audittest_close(&l);
	scratch_rmrf(dir);
	free(dir);
	return 0;
}
