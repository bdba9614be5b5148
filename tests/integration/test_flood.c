/*
 * P5 against clients without a key: floods of CURVE handshakes with keys
 * no keyring holds (fresh keys, many connections, many source addresses),
 * half-open TCP connections that never speak and connections that send
 * random bytes. The broker must keep serving a legitimate agency
 * throughout (every receipt within a deadline), log refusals as a few
 * aggregates rather than an event each (their counts covering every
 * refusal the flood saw), and keep its memory and descriptors bounded,
 * giving descriptors back after the handshake interval. The flood runs on
 * a thread of its own (flood.c); each test has a broker of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/integration/flood.h"
#include "tests/integration/harness.h"

static struct h_sys *sys;
static struct flood *fl;

static int
teardown(void **state)
{
	(void)state;
	flood_stop(fl, NULL);
	fl = NULL;
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

/* A fresh system (tcp or ipc) and a broker whose memory is measured. */
static void
start(bool tcp)
{
	const char *env[] = {h_env_asan(H_ASAN_LEAN), NULL};

	sys = h_sys_new(NULL, "agency_burst: 5000\n", NULL, 1);
	if (tcp)
		h_sys_use_tcp(sys);
	h_broker_start_env(sys, env);
}

static void
flood(const struct flood_opts *base)
{
	struct flood_opts o = *base;

	o.endpoint = sys->endpoint;
	memcpy(o.server_key, h_broker_transport_key(sys), 32);
	if (flood_start(&o, &fl) != 0)
		fail_msg("cannot start the flood");
}

/* What the legitimate agency saw while the flood ran. */
struct served {
	unsigned sent, accepted;
	uint64_t max_ms;
};

/*
 * Police sends a message every 100 ms for ms; each receipt must come
 * within a deadline (a starved agency waits longer than that).
 */
#define SERVE_DEADLINE_MS 5000

static void
serve(struct h_client *pol, unsigned ms, struct served *sv)
{
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint64_t end = h_now_ms() + ms;

	while (h_now_ms() < end) {
		uint8_t id[16], *frame;
		size_t len;
		h_seal(sys, &m, id, &frame, &len);
		uint64_t t0 = h_now_ms();
		h_client_send(pol, frame, len);
		free(frame);
		struct wire_frame *f =
		    h_client_receipt(pol, id, SERVE_DEADLINE_MS);
		uint64_t took = h_now_ms() - t0;
		if (f == NULL)
			fail_msg("police: no receipt within %d ms during the "
			         "flood (message %u)",
			    SERVE_DEADLINE_MS, sv->sent + 1);
		sv->sent++;
		sv->accepted += f->u.receipt.outcome == WIRE_ACCEPTED;
		if (took > sv->max_ms)
			sv->max_ms = took;
		wire_frame_free(f);
		pause_ms(100);
	}
	assert_int_equal(sv->accepted, sv->sent);
}

/* connection_refused events and the sum of their counts. */
static size_t
refusals(uint64_t *sum)
{
	const char *args[] = {"--event", "connection_refused", NULL};
	json_t *evs = h_audit(sys, args);
	size_t n = json_array_size(evs);

	*sum = 0;
	for (size_t i = 0; i < n; i++)
		*sum += (uint64_t)json_integer_value(
		    json_object_get(json_array_get(evs, i), "count"));
	json_decref(evs);
	return n;
}

/*
 * 32 clients with fresh random keys, each reconnecting and taking a new
 * key every 300 ms, for four seconds over ipc: police is served within
 * the deadline throughout; the log gains one event during the window
 * (its first refusal) and one more at the stop, whose counts add up to
 * at least every refusal the flood saw; memory and descriptors stay
 * flat.
 */
static void
unknown_keys(void **state)
{
	(void)state;
	struct flood_opts o = {.clients = 32, .renew_ms = 300};
	struct flood_stats st;
	struct served sv = {0};
	uint64_t sum;

	start(false);
	pid_t pid = sys->broker.pid;
	struct h_client *pol = h_client_of(sys, H_POLICE);
	serve(pol, 300, &sv);
	/* One stranger first: refused, and told nothing. */
	struct h_client *stranger = h_client_random(sys);
	assert_int_equal(
	    h_client_event(stranger,
	        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
	        H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	assert_null(h_client_recv(stranger, 0));
	h_client_free(stranger);
	long rss0 = h_proc_kb(pid, "RssAnon:"), fd0 = h_proc_fds(pid);
	flood(&o);
	serve(pol, 2000, &sv);
	long rss1 = h_proc_kb(pid, "RssAnon:"), fd1 = h_proc_fds(pid);
	serve(pol, 2000, &sv);
	long rss2 = h_proc_kb(pid, "RssAnon:"), fd2 = h_proc_fds(pid);
	/* Mid-window: the first refusal only, at once. */
	size_t during = refusals(&sum);
	flood_stop(fl, &st);
	fl = NULL;
	print_message("unknown keys: %llu connections, %llu refused, %llu "
	              "keys, %llu admitted; police %u messages, slowest "
	              "receipt %llu ms; RssAnon %ld/%ld/%ld kB, fds "
	              "%ld/%ld/%ld; %zu events during\n",
	    (unsigned long long)st.connects, (unsigned long long)st.refused,
	    (unsigned long long)st.keys, (unsigned long long)st.admitted,
	    sv.sent, (unsigned long long)sv.max_ms, rss0, rss1, rss2, fd0, fd1,
	    fd2, during);
	assert_int_equal(st.admitted, 0);
	assert_int_equal(during, 1);
	assert_true(rss2 - rss0 < 16 * 1024);
	assert_true(rss2 - rss1 < 4 * 1024);
	assert_true(fd2 < fd0 + 2 * (long)o.clients + 16);

	h_client_free(pol);
	assert_int_equal(h_broker_stop(sys), 0);
	size_t n = refusals(&sum);
	print_message("after the stop: %zu events, count %llu\n", n,
	    (unsigned long long)sum);
	assert_int_equal(n, 2);
	assert_true(sum >= 100); /* a flood, not a trickle */
	assert_true(sum >= st.refused);

	h_pass(sys);
}

/*
 * Forty strangers, each with a key of its own and one connection attempt
 * (no reconnection): the log holds one or two events for the window,
 * whose counts are exactly forty. (The floods' clients reconnect and renew
 * their keys faster than their own count of connections can follow, so
 * for them only the lower bound is exact.)
 */
static void
refusals_counted_exactly(void **state)
{
	(void)state;
	enum { K = 40 };
	struct h_client_opts o = {.once = true};
	struct h_client *c[K];
	uint64_t sum;

	start(false);
	for (int i = 0; i < K; i++)
		c[i] = h_client_open(sys, &o);
	for (int i = 0; i < K; i++)
		assert_int_equal(h_client_event(c[i],
		                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
		                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
		                     H_WAIT_MS),
		    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	/* No second attempt follows: give one a chance to show. */
	pause_ms(500);
	for (int i = 0; i < K; i++)
		h_client_free(c[i]);
	assert_int_equal(h_broker_stop(sys), 0);
	size_t n = refusals(&sum);
	print_message("%d strangers: %zu events, count %llu\n", K, n,
	    (unsigned long long)sum);
	/* One when all came before the first flush, else two. */
	assert_true(n >= 1 && n <= 2);
	assert_int_equal(sum, K);
	h_pass(sys);
}

/*
 * The same from 100 source addresses (127.0.0.2 to 127.0.0.101) over
 * TCP: the table holds 64 addresses and one slot for the rest, so the log
 * gains at most 65 events for the windows' first refusals and as many at
 * the stop, whatever the number of addresses; the counts still add up.
 */
static void
many_addresses(void **state)
{
	(void)state;
	struct flood_opts o = {
	    .clients = 100, .renew_ms = 1000, .sources = 100};
	struct flood_stats st;
	struct served sv = {0};
	uint64_t sum;

	start(true);
	pid_t pid = sys->broker.pid;
	struct h_client *pol = h_client_of(sys, H_POLICE);
	long rss0 = h_proc_kb(pid, "RssAnon:");
	flood(&o);
	serve(pol, 3000, &sv);
	long rss1 = h_proc_kb(pid, "RssAnon:");
	size_t during = refusals(&sum);
	flood_stop(fl, &st);
	fl = NULL;
	print_message("100 addresses: %llu connections, %llu refused; police "
	              "slowest receipt %llu ms; RssAnon %ld -> %ld kB; %zu "
	              "events during\n",
	    (unsigned long long)st.connects, (unsigned long long)st.refused,
	    (unsigned long long)sv.max_ms, rss0, rss1, during);
	assert_int_equal(st.admitted, 0);
	/* The table's 64 and the slot for the rest, each one first event. */
	assert_true(during <= 65);
	assert_true(during >= 64);
	assert_true(rss1 - rss0 < 16 * 1024);
	h_client_free(pol);
	assert_int_equal(h_broker_stop(sys), 0);
	size_t n = refusals(&sum);
	print_message("after the stop: %zu events, count %llu\n", n,
	    (unsigned long long)sum);
	assert_true(n <= 2 * 65);
	assert_true(sum >= 100);
	assert_true(sum >= st.refused);
	h_pass(sys);
}

/*
 * 200 TCP connections that never speak and 20 that send random bytes
 * where the greeting belongs, reopened as the broker closes them: police
 * is served throughout, the broker closes every silent one after the
 * handshake interval (5 s) and the garbage ones at once, and once the
 * flood stops its descriptors return to what they were.
 */
static void
half_open_and_garbage(void **state)
{
	(void)state;
	struct flood_opts o = {.half_open = 200, .garbage = 20};
	struct flood_stats st;
	struct served sv = {0};

	start(true);
	pid_t pid = sys->broker.pid;
	struct h_client *pol = h_client_of(sys, H_POLICE);
	serve(pol, 300, &sv);
	long fd0 = h_proc_fds(pid), rss0 = h_proc_kb(pid, "RssAnon:");
	/* Five silent connections of our own, watched from this side. */
	int quiet[5];
	for (int i = 0; i < 5; i++) {
		struct timeval tv = {H_WAIT_MS / 1000, 0};
		quiet[i] = h_tcp_connect(sys);
		assert_int_equal(setsockopt(quiet[i], SOL_SOCKET, SO_RCVTIMEO,
		                     &tv, sizeof(tv)),
		    0);
	}
	uint64_t opened = h_now_ms();
	flood(&o);
	serve(pol, 1500, &sv);
	long fd1 = h_proc_fds(pid);
	/* Past the handshake interval: the first silent ones are closed. */
	serve(pol, 5500, &sv);
	flood_stats(fl, &st);
	long fd2 = h_proc_fds(pid), rss2 = h_proc_kb(pid, "RssAnon:");
	flood_stop(fl, &st);
	fl = NULL;
	print_message("half-open and garbage: %llu opened, %llu closed by the "
	              "broker, %llu garbage bytes; police slowest receipt "
	              "%llu ms; fds %ld -> %ld -> %ld; RssAnon %ld -> %ld kB\n",
	    (unsigned long long)st.raw_opened,
	    (unsigned long long)st.raw_closed,
	    (unsigned long long)st.garbage_bytes, (unsigned long long)sv.max_ms,
	    fd0, fd1, fd2, rss0, rss2);
	/* The silent ones were held, then released: ours each read the
	 * broker's greeting, then the end of the connection, about 5 s after
	 * they opened (not before, and not never). */
	for (int i = 0; i < 5; i++) {
		char buf[256];
		ssize_t n;
		uint64_t end = opened + H_WAIT_MS;
		while ((n = read(quiet[i], buf, sizeof(buf))) > 0 &&
		    h_now_ms() < end)
			;
		uint64_t closed_after = h_now_ms() - opened;
		assert_int_equal(n, 0);
		assert_true(closed_after >= 4000);
		close(quiet[i]);
	}
	assert_true(fd1 >= fd0 + 150);
	assert_true(st.raw_closed >= 200 + 20);
	assert_true(st.garbage_bytes > 0);
	assert_true(rss2 - rss0 < 16 * 1024);
	/* Ours are closed now: the broker's count comes back. */
	uint64_t end = h_now_ms() + H_WAIT_MS;
	long fd3;
	while ((fd3 = h_proc_fds(pid)) > fd0 + 4 && h_now_ms() < end)
		pause_ms(100);
	print_message("fds after the flood: %ld\n", fd3);
	assert_true(fd3 <= fd0 + 4);
	serve(pol, 300, &sv);
	h_client_free(pol);
	assert_int_equal(h_broker_stop(sys), 0);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(unknown_keys, teardown),
	    cmocka_unit_test_teardown(refusals_counted_exactly, teardown),
	    cmocka_unit_test_teardown(many_addresses, teardown),
	    cmocka_unit_test_teardown(half_open_and_garbage, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
