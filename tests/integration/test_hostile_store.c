/*
 * P5 where the adversary works on the broker's storage and clock: an
 * agency fills the store (16 MiB map) with messages for an offline agency
 * until the broker refuses with storage_full, a flood of unknown keys then
 * must write nothing, and the store must recover without a restart and
 * across a kill -9 while full; the wall clock jumps a day ahead
 * (libfaketime) and queued messages must not all expire; a queue page of
 * data.mdb is zeroed while the broker runs and the broker must neither
 * spin nor stop serving. Real LMDB files; each test has a broker of its
 * own.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/integration/flood.h"
#include "tests/integration/harness.h"

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

static struct h_sys *sys;

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	sys = NULL;
	return 0;
}

static void
pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
verify_log(void)
{
	const char *argv[] = {sys->cli, "audit", "verify", "--data", sys->data,
	    "--broker-key", h_p("%s/keys/broker.pub", sys->dir), NULL};

	assert_int_equal(h_run(sys, NULL, NULL, argv), 0);
}

/* ------------------------------------------------------------ full */

/*
 * Police sends messages of 32 KiB for the trust, offline, until one is
 * refused as storage_full; returns how many were accepted. Each refusal is
 * retryable and carries no leaf.
 */
static unsigned
fill(struct h_client *pol)
{
	struct h_msg m = {.sender = H_POLICE, .signer = -1, .pad = 32 * 1024};
	unsigned accepted = 0;

	for (int i = 0; i < 2000; i++) {
		struct wire_frame *f = h_submit(sys, pol, &m, NULL);
		const struct wire_receipt *r = &f->u.receipt;
		if (r->outcome == WIRE_ACCEPTED) {
			accepted++;
			wire_frame_free(f);
			continue;
		}
		if (r->reason != WIRE_REASON_STORAGE_FULL)
			fail_msg("message %d: %s (%s), expected storage_full",
			    i, wire_reason_name(r->reason), r->detail);
		assert_true(r->retryable);
		assert_int_equal(r->n_decisions, 0);
		wire_frame_free(f);
		return accepted;
	}
	fail_msg("2000 messages of 32 KiB fit a 16 MiB map");
	return 0;
}

static struct wire_frame *
submit_police(struct h_client *pol)
{
	struct h_msg m = {.sender = H_POLICE, .signer = -1};

	return h_submit(sys, pol, &m, NULL);
}

/* The trust's agent connects and takes its queue: n acknowledged. */
static void
drain(size_t n)
{
	uint64_t end = h_now_ms() + 4 * H_WAIT_MS;
	size_t acked;

	h_agent_start(sys, H_MHT, true);
	while ((acked = h_audit_stat(sys, "acknowledged")) < n) {
		if (h_now_ms() > end || !h_proc_running(&sys->broker))
			fail_msg("%zu of %zu acknowledged (broker %s)", acked,
			    n, sys->broker.pid ? "running" : "exited");
		pause_ms(200);
	}
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
}

/* Some police message is accepted again within the deadline. */
static void
accepted_again(struct h_client *pol)
{
	uint64_t end = h_now_ms() + H_WAIT_MS;

	for (;;) {
		struct wire_frame *f = submit_police(pol);
		bool ok = f->u.receipt.outcome == WIRE_ACCEPTED;
		if (!ok && f->u.receipt.reason != WIRE_REASON_STORAGE_FULL)
			fail_msg("after the drain: %s (%s)",
			    wire_reason_name(f->u.receipt.reason),
			    f->u.receipt.detail);
		wire_frame_free(f);
		if (ok)
			return;
		if (h_now_ms() > end)
			fail_msg("still storage_full after the queue drained");
		pause_ms(200);
	}
}

/*
 * The full map: filled until storage_full; while full, a flood of unknown
 * keys writes no connection_refused leaf; the trust's agent drains its
 * queue and messages are accepted again without a restart. Filled again,
 * the broker is killed and restarted while full: still full, still
 * serving; drained, accepted again. The log verifies.
 */
static void
full_map(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, "map_size_mb: 16\nagency_burst: 5000\n", NULL, 1);
	h_broker_start(sys);
	struct h_client *pol = h_client_of(sys, H_POLICE);
	h_client_hello(pol); /* its status reports come here */

	unsigned n1 = fill(pol);
	print_message("full after %u messages of 32 KiB\n", n1);
	assert_true(n1 >= 100);
	size_t refused0 = h_audit_stat(sys, "connection_refused");
	struct flood_opts o = {.clients = 16, .renew_ms = 200};
	struct flood *fl;
	o.endpoint = sys->endpoint;
	memcpy(o.server_key, h_broker_transport_key(sys), 32);
	assert_int_equal(flood_start(&o, &fl), 0);
	pause_ms(2500);
	struct flood_stats st;
	flood_stop(fl, &st);
	print_message(
	    "flood while full: %llu refused\n", (unsigned long long)st.refused);
	assert_true(st.connects > 0);
	assert_int_equal(st.admitted, 0);
	assert_int_equal(h_audit_stat(sys, "connection_refused"), refused0);
	/* Still full, still answering. */
	struct wire_frame *f = submit_police(pol);
	assert_int_equal(f->u.receipt.reason, WIRE_REASON_STORAGE_FULL);
	wire_frame_free(f);

	drain(n1);
	accepted_again(pol);

	/* Full again, then kill -9 and a restart while full. */
	unsigned n2 = fill(pol);
	print_message("full again after %u more\n", n2);
	h_client_free(pol);
	h_broker_kill(sys);
	h_broker_start(sys);
	pol = h_client_of(sys, H_POLICE);
	h_client_hello(pol);
	/* The fill may have ended on LMDB's own MDB_MAP_FULL (a large value
	 * needs contiguous pages) below the 90% mark: the restarted broker
	 * takes what still fits and refuses the rest, retryable. */
	unsigned n3 = fill(pol);
	print_message("after the restart: %u more before storage_full\n", n3);
	/* +1 for the message accepted between the fills. */
	drain(n1 + 1 + n2 + n3);
	accepted_again(pol);
	h_client_free(pol);
	assert_int_equal(h_broker_stop(sys), 0);
	/* The flood while full is in the log now, as one aggregate. */
	assert_true(h_audit_stat(sys, "connection_refused") > refused0);
	verify_log();
	h_pass(sys);
}

/* ------------------------------------------------------- clock jump */

/*
 * The wall clock jumps a day ahead under the running broker (libfaketime,
 * the monotonic clock left alone): the trust's queued messages, due to
 * expire in 30 minutes, must not expire at once; the broker says the clock
 * moved; the trust then connects and gets them.
 */
static void
clock_jump(void **state)
{
	(void)state;
	enum { N = 5 };
	if (access(FAKETIME_LIB, R_OK) != 0)
		fail_msg("%s is missing: scripts/install-deps installs the "
		         "faketime package",
		    FAKETIME_LIB);
	sys = h_sys_new(NULL, NULL, NULL, 1);
	const char *stamp = h_p("%s/faketime", sys->dir);
	char stampv[PATH_MAX];
	snprintf(stampv, sizeof(stampv), "FAKETIME_TIMESTAMP_FILE=%s", stamp);
	scratch_write(stamp, "+0\n", 0644);
	const char *env[] = {"LD_PRELOAD=" FAKETIME_LIB, stampv,
	    "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
	    h_env_asan("verify_asan_link_order=0"), NULL};
	h_broker_start_env(sys, env);
	struct h_client *pol = h_client_of(sys, H_POLICE);
	for (int i = 0; i < N; i++) {
		struct wire_frame *f = submit_police(pol);
		assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
		wire_frame_free(f);
	}
	h_client_free(pol);
	/* A tick or two on the old time, so the queue clock has a base. */
	pause_ms(1500);
	scratch_write(stamp, "+1d\n", 0644);
	/* Three ticks of the timer on the new time. */
	pause_ms(3000);
	print_message("after +1d: %zu expired\n", h_audit_stat(sys, "expired"));
	assert_int_equal(h_audit_stat(sys, "expired"), 0);
	assert_true(
	    h_wait_log(&sys->broker, "the wall clock moved", 1, H_WAIT_MS));
	h_agent_start(sys, H_MHT, true);
	assert_true(
	    h_wait_count(h_spool(sys, H_MHT, "inbox"), ".json", N, H_WAIT_MS));
	assert_int_equal(h_audit_stat(sys, "expired"), 0);
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	assert_int_equal(h_broker_stop(sys), 0);
	h_pass(sys);
}

/* --------------------------------------------------- damaged queue */

/*
 * Offset of the LMDB leaf page in path that holds the broker.queue entry
 * of agency with sequence number seq: a leaf node is its data size (4
 * bytes), flags (2) and key size (2, little-endian), then the key (agency,
 * NUL, 8-byte big-endian seq). The key size tells the queue's keys from
 * the expiry index's, which embed the same bytes after a time.
 */
static long
queue_page(const char *path, const char *agency, uint64_t seq, long psize)
{
	size_t len, an = strlen(agency), kn = an + 1 + 8;
	char *data = scratch_slurp(path, &len);
	uint8_t needle[2 + 64];
	long found = -1;

	assert_non_null(data);
	needle[0] = (uint8_t)kn;
	needle[1] = (uint8_t)(kn >> 8);
	memcpy(needle + 2, agency, an + 1);
	for (int i = 0; i < 8; i++)
		needle[2 + an + 1 + i] = (uint8_t)(seq >> (56 - 8 * i));
	const char *hit = memmem(data, len, needle, 2 + kn);
	if (hit != NULL)
		found = (long)(hit - data) / psize * psize;
	free(data);
	return found;
}

/*
 * A queue page zeroed under the running broker: with 300 messages queued
 * for the offline trust, the page holding the first of them is zeroed
 * with pwrite (the broker reads the map, so it sees the change at once);
 * then the trust connects. The broker must not spin (a few log lines a
 * second at most, little CPU), keeps answering others, and stops on
 * SIGTERM.
 */
static void
damaged_queue_page(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, "agency_burst: 5000\n", NULL, 1);
	h_broker_start(sys);
	struct h_client *pol = h_client_of(sys, H_POLICE);
	struct h_msg m = {.sender = H_POLICE, .signer = -1, .pad = 4096};
	for (int i = 0; i < 300; i++) {
		struct wire_frame *f = h_submit(sys, pol, &m, NULL);
		assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
		wire_frame_free(f);
	}
	/* The first item's page: sequence numbers start at 1. */
	const char *mdb = h_p("%s/data.mdb", sys->data);
	long psize = sysconf(_SC_PAGESIZE);
	long off = queue_page(mdb, fixture_agency[H_MHT], 1, psize);
	if (off < 0)
		fail_msg("no broker.queue page of the trust in %s", mdb);
	print_message(
	    "zeroing page %ld of data.mdb (offset %ld)\n", off / psize, off);
	char *zero = calloc(1, (size_t)psize);
	assert_non_null(zero);
	int fd = open(mdb, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zero, (size_t)psize, off), psize);
	close(fd);
	free(zero);

	pid_t pid = sys->broker.pid;
	size_t loglen0 = 0, loglen1 = 0;
	free(scratch_slurp(sys->broker.log, &loglen0));
	long cpu0 = h_proc_cpu_ms(pid);
	struct h_client *mht = h_client_of(sys, H_MHT);
	h_client_hello(mht);
	/* Others are served meanwhile (social care to police, whose queue
	 * lies on another page). */
	struct h_client *soc = h_client_of(sys, H_SOCIAL);
	struct h_msg to_police = {.sender = H_SOCIAL,
	    .signer = -1,
	    .purpose = "mha_assessment",
	    .n_recipients = 1,
	    .recipients = {H_POLICE}};
	uint64_t t0 = h_now_ms();
	unsigned answered = 0;
	while (h_now_ms() - t0 < 4000) {
		struct wire_frame *f = h_submit(sys, soc, &to_police, NULL);
		answered++;
		wire_frame_free(f);
		/* What reaches the trust, if anything, is read. */
		while ((f = h_client_recv(mht, 0)) != NULL)
			wire_frame_free(f);
		pause_ms(200);
		if (!h_proc_running(&sys->broker))
			fail_msg("the broker exited on the damaged page (see "
			         "its log)");
	}
	long cpu = h_proc_cpu_ms(pid) - cpu0;
	uint64_t took = h_now_ms() - t0;
	char *log = scratch_slurp(sys->broker.log, &loglen1);
	unsigned lines = 0;
	for (size_t i = loglen0; i < loglen1; i++)
		lines += log[i] == '\n';
	print_message("damaged page: %u receipts for social care in %llu ms; "
	              "broker CPU %ld ms; %u log lines; last lines:\n%s\n",
	    answered, (unsigned long long)took, cpu, lines,
	    loglen1 - loglen0 > 600 ? log + loglen1 - 600 : log + loglen0);
	free(log);
	/* Not a spin: a line or two a second, a fraction of one CPU. */
	assert_true(lines <= 4 * (took / 1000 + 1) + answered);
	assert_true(cpu < (long)took / 2);
	assert_true(answered >= 5);
	h_client_free(mht);
	h_client_free(soc);
	h_client_free(pol);
	uint64_t t1 = h_now_ms();
	int rc = h_broker_stop(sys);
	print_message("SIGTERM: exit %d after %llu ms\n", rc,
	    (unsigned long long)(h_now_ms() - t1));
	assert_int_equal(rc, 0);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(full_map, teardown),
	    cmocka_unit_test_teardown(clock_jump, teardown),
	    cmocka_unit_test_teardown(damaged_queue_page, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
