/*
 * The flood (flood.h): one thread, one ZeroMQ context, a fixed set of
 * slots (CURVE clients and raw TCP connections) that it keeps busy until
 * told to stop, reopening whatever the broker closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "tests/integration/flood.h"

struct curve_slot {
	void *sock, *mon;
	uint64_t born_ms;
};

struct raw_slot {
	int fd;
	bool garbage;
	bool sent;
	uint64_t next_ms; /* not reopened before: a flood, not a busy loop */
};

/* A raw slot waits this long before it opens again. */
#define RAW_REOPEN_MS 10

struct flood {
	struct flood_opts o;
	char endpoint[256];
	struct sockaddr_in addr; /* tcp: the broker's address */
	bool tcp;
	void *ctx;
	struct curve_slot *curve;
	struct raw_slot *raw;
	unsigned n_raw;
	unsigned serial;
	pthread_t thread;
	pthread_mutex_t lock;
	struct flood_stats st;
	atomic_int stop;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
count(struct flood *f, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&f->lock);
	*field += n;
	pthread_mutex_unlock(&f->lock);
}

static void
curve_close(struct curve_slot *c)
{
	if (c->sock == NULL)
		return;
	zmq_socket_monitor(c->sock, NULL, 0);
	zmq_close(c->mon);
	zmq_close(c->sock);
	c->sock = c->mon = NULL;
}

/* A fresh client with a fresh key; on failure the slot stays empty. */
static void
curve_open(struct flood *f, unsigned i)
{
	struct curve_slot *c = &f->curve[i];
	uint8_t pk[32], sk[32];
	int zero = 0, ivl = 50, ivl_max = 200;
	char mon[64], ep[320];

	c->sock = zmq_socket(f->ctx, ZMQ_DEALER);
	if (c->sock == NULL)
		return;
	crypto_box_keypair(pk, sk);
	zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, f->o.server_key, 32);
	zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pk, 32);
	zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sk, 32);
	sodium_memzero(sk, sizeof(sk));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(
	    c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
	snprintf(
	    mon, sizeof(mon), "inproc://flood-%p-%u", (void *)f, f->serial++);
	zmq_socket_monitor(c->sock, mon,
	    ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	        ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	c->mon = zmq_socket(f->ctx, ZMQ_PAIR);
	zmq_connect(c->mon, mon);
	if (f->tcp && f->o.sources > 0) {
		/* "tcp://SOURCE:0;DEST": connect from 127.0.0.(2 + i % n). */
		snprintf(ep, sizeof(ep), "tcp://127.0.0.%u:0;%s",
		    2 + i % f->o.sources, f->endpoint + 6);
	} else {
		snprintf(ep, sizeof(ep), "%s", f->endpoint);
	}
	zmq_connect(c->sock, ep);
	c->born_ms = mono_ms();
	count(f, &f->st.keys, 1);
}

static void
curve_events(struct flood *f, struct curve_slot *c)
{
	for (;;) {
		zmq_msg_t ev, addr;
		uint16_t event = 0;
		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			return;
		}
		if (zmq_msg_size(&ev) >= 2)
			memcpy(&event, zmq_msg_data(&ev), sizeof(event));
		if (zmq_msg_more(&ev)) {
			zmq_msg_init(&addr);
			zmq_msg_recv(&addr, c->mon, 0);
			zmq_msg_close(&addr);
		}
		zmq_msg_close(&ev);
		if (event == ZMQ_EVENT_CONNECTED)
			count(f, &f->st.connects, 1);
		else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
			count(f, &f->st.refused, 1);
		else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			count(f, &f->st.admitted, 1);
	}
}

static void
raw_open(struct flood *f, struct raw_slot *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	r->fd = -1;
	r->sent = false;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return;
	}
	r->fd = fd;
	count(f, &f->st.raw_opened, 1);
}

/* Something to read on a raw connection: the broker's greeting, or EOF. */
static void
raw_readable(struct flood *f, struct raw_slot *r)
{
	uint8_t buf[512];
	ssize_t n = read(r->fd, buf, sizeof(buf));

	if (n > 0 && r->garbage && !r->sent) {
		/* Random bytes where the greeting should be. */
		size_t len = 64 + randombytes_uniform(448);
		randombytes_buf(buf, len);
		if (write(r->fd, buf, len) > 0)
			count(f, &f->st.garbage_bytes, len);
		r->sent = true;
		return;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(r->fd);
		r->fd = -1;
		count(f, &f->st.raw_closed, 1);
		r->next_ms = mono_ms() + RAW_REOPEN_MS;
	}
}

static void *
run(void *arg)
{
	struct flood *f = arg;
	unsigned n = f->o.clients + f->n_raw;
	zmq_pollitem_t *items = calloc(n ? n : 1, sizeof(*items));

	if (items == NULL)
		return NULL;
	for (unsigned i = 0; i < f->o.clients; i++)
		curve_open(f, i);
	for (unsigned i = 0; i < f->n_raw; i++)
		raw_open(f, &f->raw[i]);
	while (!f->stop) {
		uint64_t now = mono_ms();
		for (unsigned i = 0; i < f->o.clients; i++) {
			struct curve_slot *c = &f->curve[i];
			if (c->sock != NULL && f->o.renew_ms > 0 &&
			    now - c->born_ms >= f->o.renew_ms) {
				curve_events(f, c);
				curve_close(c);
			}
			if (c->sock == NULL)
				curve_open(f, i);
			items[i].socket = c->mon;
			items[i].fd = 0;
			items[i].events = ZMQ_POLLIN;
		}
		for (unsigned i = 0; i < f->n_raw; i++) {
			struct raw_slot *r = &f->raw[i];
			if (r->fd < 0 && now >= r->next_ms)
				raw_open(f, r);
			items[f->o.clients + i].socket = NULL;
			items[f->o.clients + i].fd = r->fd;
			items[f->o.clients + i].events =
			    r->fd >= 0 ? ZMQ_POLLIN : 0;
		}
		if (zmq_poll(items, (int)n, RAW_REOPEN_MS) < 0 &&
		    zmq_errno() != EINTR)
			break;
		for (unsigned i = 0; i < f->o.clients; i++)
			if (items[i].revents & ZMQ_POLLIN)
				curve_events(f, &f->curve[i]);
		for (unsigned i = 0; i < f->n_raw; i++)
			if (f->raw[i].fd >= 0 &&
			    (items[f->o.clients + i].revents &
			        (ZMQ_POLLIN | ZMQ_POLLERR)))
				raw_readable(f, &f->raw[i]);
	}
	for (unsigned i = 0; i < f->o.clients; i++) {
		if (f->curve[i].sock != NULL)
			curve_events(f, &f->curve[i]);
		curve_close(&f->curve[i]);
	}
	for (unsigned i = 0; i < f->n_raw; i++)
		if (f->raw[i].fd >= 0)
			close(f->raw[i].fd);
	free(items);
	return NULL;
}

int
flood_start(const struct flood_opts *o, struct flood **out)
{
	struct flood *f = calloc(1, sizeof(*f));
	int port = 0;

	*out = NULL;
	if (f == NULL || sodium_init() < 0)
		goto fail;
	f->o = *o;
	snprintf(f->endpoint, sizeof(f->endpoint), "%s", o->endpoint);
	f->tcp = strncmp(o->endpoint, "tcp://", 6) == 0;
	if (f->tcp) {
		char host[64];
		const char *colon = strrchr(o->endpoint, ':');
		size_t hl =
		    colon != NULL ? (size_t)(colon - o->endpoint - 6) : 0;
		if (colon == NULL || hl == 0 || hl >= sizeof(host))
			goto inval;
		memcpy(host, o->endpoint + 6, hl);
		host[hl] = '\0';
		port = atoi(colon + 1);
		f->addr.sin_family = AF_INET;
		f->addr.sin_port = htons((uint16_t)port);
		if (port <= 0 ||
		    inet_pton(AF_INET, host, &f->addr.sin_addr) != 1)
			goto inval;
		f->n_raw = o->half_open + o->garbage;
	} else if (o->half_open + o->garbage + o->sources > 0) {
		goto inval; /* raw connections need tcp:// */
	}
	f->curve = calloc(o->clients ? o->clients : 1, sizeof(*f->curve));
	f->raw = calloc(f->n_raw ? f->n_raw : 1, sizeof(*f->raw));
	if (f->curve == NULL || f->raw == NULL)
		goto fail;
	for (unsigned i = 0; i < f->n_raw; i++) {
		f->raw[i].fd = -1;
		f->raw[i].garbage = i >= o->half_open;
	}
	f->ctx = zmq_ctx_new();
	if (f->ctx == NULL)
		goto fail;
	pthread_mutex_init(&f->lock, NULL);
	if (pthread_create(&f->thread, NULL, run, f) != 0) {
		pthread_mutex_destroy(&f->lock);
		goto fail;
	}
	*out = f;
	return 0;
inval:
	errno = EINVAL;
fail:
	if (f != NULL) {
		if (f->ctx != NULL)
			zmq_ctx_term(f->ctx);
		free(f->curve);
		free(f->raw);
		free(f);
	}
	return -1;
}

void
flood_stats(struct flood *f, struct flood_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	pthread_mutex_unlock(&f->lock);
}

void
flood_stop(struct flood *f, struct flood_stats *st)
{
	if (f == NULL)
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	if (st != NULL)
		*st = f->st;
	zmq_ctx_term(f->ctx);
	pthread_mutex_destroy(&f->lock);
	free(f->curve);
	free(f->raw);
	free(f);
}
