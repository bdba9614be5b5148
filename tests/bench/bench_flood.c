/*
 * bench_flood: a legitimate agency's submit-to-receipt latency at a steady
 * rate through a running concordat-broker, alone or under a flood of
 * connections the broker must refuse (tests/integration/flood.c: CURVE
 * clients with random keys reconnecting, half-open TCP connections and
 * connections sending random bytes), with the broker's CPU and VmRSS over
 * the run from /proc. Prints one RESULT line. Run by scripts/bench; not a
 * test.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "common/urgency.h"
#include "proto/wire.h"
#include "tests/bench/benchutil.h"
#include "tests/integration/flood.h"

static const char usage_text[] =
    "usage: bench_flood --key AGENCY.key --keyring DIR --broker-key "
    "broker.pub\n"
    "           --endpoint EP --to A --purpose P --pid BROKER_PID\n"
    "           [--rate PER_S] [--seconds S] [--clients N] [--half-open N]\n"
    "           [--garbage N] [--renew-ms MS] [--sources N]\n"
    "           [--agreement FILE.yaml]\n";

struct opts {
	const char *key, *keyring, *broker_key, *endpoint, *purpose;
	const char *agreement;
	char *to;
	long pid;
	double rate, seconds;
	struct flood_opts flood;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"keyring", required_argument, NULL, 'r'},
	    {"broker-key", required_argument, NULL, 'b'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"to", required_argument, NULL, 't'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"pid", required_argument, NULL, 'P'},
	    {"rate", required_argument, NULL, 'R'},
	    {"seconds", required_argument, NULL, 's'},
	    {"clients", required_argument, NULL, 'c'},
	    {"half-open", required_argument, NULL, 'h'},
	    {"garbage", required_argument, NULL, 'g'},
	    {"renew-ms", required_argument, NULL, 'n'},
	    {"sources", required_argument, NULL, 'S'},
	    {"agreement", required_argument, NULL, 'A'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->rate = 50;
	o->seconds = 10;
	o->flood.renew_ms = 300;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->key = optarg;
			break;
		case 'r':
			o->keyring = optarg;
			break;
		case 'b':
			o->broker_key = optarg;
			break;
		case 'e':
			o->endpoint = optarg;
			break;
		case 't':
			o->to = optarg;
			break;
		case 'p':
			o->purpose = optarg;
			break;
		case 'A':
			o->agreement = optarg;
			break;
		case 'P':
			o->pid = strtol(optarg, NULL, 10);
			break;
		case 'R':
			o->rate = strtod(optarg, NULL);
			break;
		case 's':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'c':
			o->flood.clients = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			o->flood.half_open =
			    (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			o->flood.garbage = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->flood.renew_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			o->flood.sources = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return -1;
		}
	}
	if (o->key == NULL || o->keyring == NULL || o->broker_key == NULL ||
	    o->endpoint == NULL || o->to == NULL || o->purpose == NULL ||
	    o->pid <= 0 || o->rate <= 0 || o->seconds <= 0)
		return -1;
	return 0;
}

/* The broker's CPU seconds so far (utime + stime, all threads). */
static double
cpu_s(long pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *q = strrchr(buf, ')');
	if (q == NULL ||
	    sscanf(q + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	        "%llu %llu",
	        &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* key ("VmRSS:", "RssAnon:") of /proc/PID/status, in kB. */
static long
status_kb(long pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0)
			kb = strtol(line + kl, NULL, 10);
	fclose(f);
	return kb;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n == 0 ? 0 : v[i < n ? i : n - 1];
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct bench_sender s;
	struct keys_public broker;
	struct flood *fl = NULL;
	struct flood_stats fst;
	void *ctx = NULL, *sock = NULL;
	int rc = 1;

	if (parse(argc, argv, &o) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (sodium_init() < 0)
		return 1;
	if (bench_sender_open(&s, o.key, o.keyring, o.to, o.agreement) != 0)
		return 1;
	if (bench_broker_key("bench_flood", o.broker_key, &broker) != 0)
		return 1;
	size_t max = (size_t)(o.rate * o.seconds) + 16;
	uint8_t(*ids)[WIRE_MSG_ID_LEN] = calloc(max, WIRE_MSG_ID_LEN);
	double *sent_at = calloc(max, sizeof(double));
	double *lat = calloc(max, sizeof(double));
	if (ids == NULL || sent_at == NULL || lat == NULL)
		return 1;

	ctx = zmq_ctx_new();
	sock = bench_connect("bench_flood", ctx, &broker, s.key, o.endpoint);
	if (sock == NULL)
		goto out;
	/* One message first: handshake and ZAP done before the clock. */
	{
		uint8_t id[WIRE_MSG_ID_LEN], *frame;
		size_t len;
		if (bench_seal(
		        &s, o.purpose, URGENCY_URGENT, id, &frame, &len) != 0 ||
		    zmq_send(sock, frame, len, 0) < 0)
			goto out;
		free(frame);
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 10000) <= 0) {
			fprintf(stderr, "bench_flood: no answer from %s\n",
			    o.endpoint);
			goto out;
		}
		zmq_msg_t m;
		zmq_msg_init(&m);
		zmq_msg_recv(&m, sock, 0);
		zmq_msg_close(&m);
	}

	o.flood.endpoint = o.endpoint;
	memcpy(o.flood.server_key, broker.transport_pk, 32);
	bool flooding =
	    o.flood.clients + o.flood.half_open + o.flood.garbage > 0;
	if (flooding && flood_start(&o.flood, &fl) != 0) {
		fprintf(stderr, "bench_flood: cannot start the flood: %s\n",
		    strerror(errno));
		goto out;
	}
	double c0 = cpu_s(o.pid), t0 = bench_now(), next = t0;
	double end = t0 + o.seconds, rss_sum = 0;
	long rss_max = 0, rss_n = 0, anon_max = 0, accepted = 0, other = 0;
	size_t sent = 0, got = 0;
	double last_rss = 0;

	while (bench_now() < end + 5.0 && (got < sent || bench_now() < end)) {
		double now = bench_now();
		if (now >= next && now < end && sent < max) {
			uint8_t *frame;
			size_t len;
			if (bench_seal(&s, o.purpose, URGENCY_URGENT, ids[sent],
			        &frame, &len) != 0)
				goto out;
			sent_at[sent] = bench_now();
			if (zmq_send(sock, frame, len, 0) < 0) {
				free(frame);
				goto out;
			}
			free(frame);
			sent++;
			next += 1.0 / o.rate;
		}
		if (now - last_rss >= 0.2) {
			long r = status_kb(o.pid, "VmRSS:");
			long a = status_kb(o.pid, "RssAnon:");
			if (r > rss_max)
				rss_max = r;
			if (a > anon_max)
				anon_max = a;
			rss_sum += (double)r;
			rss_n++;
			last_rss = now;
		}
		double wait = next - bench_now();
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		zmq_poll(&it, 1, wait > 0 ? (long)(wait * 1000) + 1 : 0);
		for (;;) {
			zmq_msg_t m;
			struct wire_frame *f = NULL;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			double at = bench_now();
			if (wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &f,
			        NULL, 0) == 0 &&
			    f->type == WIRE_RECEIPT) {
				for (size_t i = sent; i-- > 0;)
					if (memcmp(ids[i], f->u.receipt.msg_id,
					        WIRE_MSG_ID_LEN) == 0) {
						lat[got++] =
						    (at - sent_at[i]) * 1000.0;
						break;
					}
				if (f->u.receipt.outcome == WIRE_ACCEPTED)
					accepted++;
				else
					other++;
			}
			wire_frame_free(f);
			zmq_msg_close(&m);
		}
	}
	double c1 = cpu_s(o.pid), t1 = bench_now();
	if (fl != NULL)
		flood_stop(fl, &fst);
	else
		memset(&fst, 0, sizeof(fst));
	fl = NULL;
	qsort(lat, got, sizeof(*lat), cmp);
	printf("RESULT mode=%s rate=%.0f seconds=%.1f sent=%zu receipts=%zu "
	       "accepted=%ld other=%ld p50=%.2f p99=%.2f max=%.2f "
	       "cpu_pct=%.1f rss_kb_mean=%.0f rss_kb_max=%ld anon_kb_max=%ld "
	       "flood_connects=%llu flood_refused=%llu flood_admitted=%llu "
	       "raw_opened=%llu raw_closed=%llu\n",
	    flooding ? "flood" : "baseline", o.rate, t1 - t0, sent, got,
	    accepted, other, pct(lat, got, 50), pct(lat, got, 99),
	    got ? lat[got - 1] : 0.0, 100.0 * (c1 - c0) / (t1 - t0),
	    rss_n ? rss_sum / (double)rss_n : 0.0, rss_max, anon_max,
	    (unsigned long long)fst.connects, (unsigned long long)fst.refused,
	    (unsigned long long)fst.admitted,
	    (unsigned long long)fst.raw_opened,
	    (unsigned long long)fst.raw_closed);
	rc = got == sent && fst.admitted == 0 ? 0 : 1;
	if (got != sent)
		fprintf(
		    stderr, "bench_flood: %zu of %zu receipts\n", got, sent);
out:
	flood_stop(fl, NULL);
	if (sock != NULL)
		zmq_close(sock);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	free(ids);
	free(sent_at);
	free(lat);
	bench_sender_release(&s);
	return rc;
}
