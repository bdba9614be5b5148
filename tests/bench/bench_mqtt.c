/*
 * bench_mqtt: the peer figure for Concordat's broker, Mosquitto 2 with
 * QoS 1 over TLS, measured the same way as bench_broker: one publisher
 * with a window in flight, 2 KB payloads, 1 to 3 subscribers with
 * persistent sessions (clean_session false, QoS 1 subscriptions), all on
 * 127.0.0.1. Run by scripts/bench against a mosquitto it started; not a
 * test.
 *
 *	--mode ingest	the subscribers subscribe, then disconnect (their
 *			sessions stay and queue every message); the time runs
 *			from the first PUBLISH to the last PUBACK: the broker
 *			took every message for offline subscribers, as
 *			bench_broker measures Concordat's ingest
 *	--mode deliver	the subscribers stay connected; the time runs from the
 *			first PUBLISH to the last message at every subscriber
 *
 * Prints "RESULT mode=M subscribers=N count=C seconds=S rate=R".
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "tests/bench/benchutil.h"

#define MAX_SUBS 3
#define TOPIC    "concordat/bench"
#define STALL_S  30.0

static const char usage_text[] =
    "usage: bench_mqtt --mode ingest|deliver --port P --cafile CA.pem\n"
    "           [--subscribers N] [--count C] [--window W] [--bytes B]\n"
    "           [--id PREFIX]\n";

struct opts {
	const char *mode, *cafile, *id;
	int port, subs;
	unsigned long count, window, bytes;
};

/* One client: the publisher or a subscriber. */
struct client {
	struct mosquitto *m;
	atomic_bool connected, subscribed;
	atomic_ulong acked, received;
	atomic_int rc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct client *c = obj;

	(void)m;
	atomic_store(&c->rc, rc);
	atomic_store(&c->connected, rc == 0);
}

static void
on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *qos)
{
	struct client *c = obj;

	(void)m, (void)mid;
	atomic_store(&c->subscribed, n == 1 && qos[0] == 1);
}

static void
on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct client *c = obj;

	(void)m, (void)mid;
	pthread_mutex_lock(&c->mu);
	atomic_fetch_add(&c->acked, 1);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct client *c = obj;

	(void)m, (void)msg;
	atomic_fetch_add(&c->received, 1);
}

/* Waits until flag is set or 10 s pass. */
static bool
wait_flag(atomic_bool *flag)
{
	for (int i = 0; i < 1000 && !atomic_load(flag); i++)
		usleep(10000);
	return atomic_load(flag);
}

static int
client_open(struct client *c, const struct opts *o, const char *id, bool sub)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* clean_session false: a persistent session, as a recipient's
	 * durable queue in Concordat */
	if ((c->m = mosquitto_new(id, false, c)) == NULL)
		return -1;
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_publish_callback_set(c->m, on_publish);
	if (sub) {
		mosquitto_subscribe_callback_set(c->m, on_subscribe);
		mosquitto_message_callback_set(c->m, on_message);
	}
	mosquitto_max_inflight_messages_set(c->m, (unsigned)o->window);
	if (mosquitto_tls_set(c->m, o->cafile, NULL, NULL, NULL, NULL) !=
	        MOSQ_ERR_SUCCESS ||
	    mosquitto_connect(c->m, "127.0.0.1", o->port, 60) !=
	        MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(c->m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench_mqtt: %s cannot connect to port %d\n",
		    id, o->port);
		return -1;
	}
	if (!wait_flag(&c->connected)) {
		fprintf(stderr, "bench_mqtt: %s: no CONNACK (rc %d)\n", id,
		    atomic_load(&c->rc));
		return -1;
	}
	if (sub &&
	    (mosquitto_subscribe(c->m, NULL, TOPIC, 1) != MOSQ_ERR_SUCCESS ||
	        !wait_flag(&c->subscribed))) {
		fprintf(stderr, "bench_mqtt: %s: no SUBACK\n", id);
		return -1;
	}
	return 0;
}

static void
client_close(struct client *c)
{
	if (c->m == NULL)
		return;
	mosquitto_disconnect(c->m);
	mosquitto_loop_stop(c->m, false);
	mosquitto_destroy(c->m);
	c->m = NULL;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"port", required_argument, NULL, 'p'},
	    {"cafile", required_argument, NULL, 'c'},
	    {"subscribers", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"window", required_argument, NULL, 'w'},
	    {"bytes", required_argument, NULL, 'b'},
	    {"id", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->subs = 1;
	o->count = 20000;
	o->window = 100;
	o->bytes = 2048;
	o->id = "bench";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->mode = optarg;
			break;
		case 'p':
			o->port = atoi(optarg);
			break;
		case 'c':
			o->cafile = optarg;
			break;
		case 's':
			o->subs = atoi(optarg);
			break;
		case 'n':
			o->count = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->window = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o->bytes = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			o->id = optarg;
			break;
		default:
			return -1;
		}
	}
	if (o->mode == NULL || o->cafile == NULL || o->port <= 0 ||
	    o->subs < 1 || o->subs > MAX_SUBS || o->count == 0 ||
	    o->window == 0 || o->bytes == 0 || optind != argc ||
	    (strcmp(o->mode, "ingest") != 0 && strcmp(o->mode, "deliver") != 0))
		return -1;
	return 0;
}

static unsigned long
fewest(struct client *s, int n)
{
	unsigned long low = (unsigned long)-1;

	for (int i = 0; i < n; i++) {
		unsigned long r = atomic_load(&s[i].received);
		low = r < low ? r : low;
	}
	return low;
}

/* Publishes count messages, at most window unacknowledged; the time of
 * the last PUBACK, or a negative number on a stall. */
static double
publish_all(struct client *p, const struct opts *o, const uint8_t *payload)
{
	double last = bench_now();

	for (unsigned long sent = 0; sent < o->count; sent++) {
		pthread_mutex_lock(&p->mu);
		while (sent - atomic_load(&p->acked) >= o->window) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			if (bench_now() - last > STALL_S) {
				pthread_mutex_unlock(&p->mu);
				return -1;
			}
		}
		pthread_mutex_unlock(&p->mu);
		if (mosquitto_publish(p->m, NULL, TOPIC, (int)o->bytes, payload,
		        1, false) != MOSQ_ERR_SUCCESS)
			return -1;
		last = bench_now();
	}
	while (atomic_load(&p->acked) < o->count) {
		if (bench_now() - last > STALL_S)
			return -1;
		usleep(100);
	}
	return bench_now();
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct client pub, subs[MAX_SUBS];
	uint8_t *payload;
	char id[128];
	double t0, t_end;
	bool deliver;
	int rc = 1;

	if (parse(argc, argv, &o) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	deliver = strcmp(o.mode, "deliver") == 0;
	if ((payload = malloc(o.bytes)) == NULL)
		return 1;
	for (unsigned long i = 0; i < o.bytes; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	mosquitto_lib_init();
	memset(subs, 0, sizeof(subs));
	memset(&pub, 0, sizeof(pub));
	for (int i = 0; i < o.subs; i++) {
		snprintf(id, sizeof(id), "%s-sub-%d", o.id, i);
		if (client_open(&subs[i], &o, id, true) != 0)
			goto out;
		if (!deliver)
			client_close(&subs[i]); /* the session stays */
	}
	snprintf(id, sizeof(id), "%s-pub", o.id);
	if (client_open(&pub, &o, id, false) != 0)
		goto out;
	t0 = bench_now();
	if ((t_end = publish_all(&pub, &o, payload)) < 0) {
		fprintf(stderr, "bench_mqtt: publish stalled: %lu acked\n",
		    atomic_load(&pub.acked));
		goto out;
	}
	if (deliver) {
		double last = bench_now();
		unsigned long seen = 0;
		while (fewest(subs, o.subs) < o.count) {
			unsigned long now_seen = fewest(subs, o.subs);
			if (now_seen != seen) {
				seen = now_seen;
				last = bench_now();
			} else if (bench_now() - last > STALL_S) {
				fprintf(stderr,
				    "bench_mqtt: subscribers stalled at %lu\n",
				    seen);
				goto out;
			}
			usleep(100);
		}
		t_end = bench_now();
	}
	printf("RESULT mode=%s subscribers=%d count=%lu bytes=%lu window=%lu "
	       "seconds=%.3f rate=%.0f\n",
	    o.mode, o.subs, o.count, o.bytes, o.window, t_end - t0,
	    (double)o.count / (t_end - t0));
	rc = 0;
out:
	client_close(&pub);
	for (int i = 0; i < o.subs; i++)
		client_close(&subs[i]);
	mosquitto_lib_cleanup();
	free(payload);
	return rc;
}
