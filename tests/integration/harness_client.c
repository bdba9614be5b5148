/*
 * The harness's custom client (harness.h): a CURVE DEALER built on proto/
 * and keys/ the way an agent is, to act as a rogue or a fast sender.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* ------------------------------------------------- the custom client */

struct h_client {
	void *ctx, *sock, *mon;
};

const uint8_t *
h_broker_transport_key(struct h_sys *s)
{
	if (s->broker_pk.id[0] == '\0')
		assert_int_equal(
		    keys_load_public(
		        h_p("%s/keys/broker.pub", s->dir), &s->broker_pk),
		    0);
	return s->broker_pk.transport_pk;
}

struct h_client *
h_client_new(struct h_sys *s, const char *keyfile)
{
	struct h_client_opts o = {.keyfile = keyfile};

	return h_client_open(s, &o);
}

struct h_client *
h_client_random(struct h_sys *s)
{
	struct h_client_opts o = {0};

	return h_client_open(s, &o);
}

struct h_client *
h_client_open(struct h_sys *s, const struct h_client_opts *o)
{
	static unsigned serial;
	struct h_client *c = calloc(1, sizeof(*c));
	struct keys_secret *k = NULL;
	uint8_t pk[32], sk[32];
	int zero = 0, ivl = o->once ? -1 : 100;
	const char *mon = h_p("inproc://h-monitor-%u", serial++);

	assert_non_null(c);
	if (o->keyfile != NULL) {
		assert_int_equal(keys_load_secret(o->keyfile, &k), 0);
		memcpy(pk, k->pub.transport_pk, 32);
		memcpy(sk, k->transport_sk, 32);
		keys_secret_free(k);
	} else if (o->public_key != NULL) {
		memcpy(pk, o->public_key, 32);
		memcpy(sk, o->secret_key, 32);
	} else {
		crypto_box_keypair(pk, sk); /* CurveZMQ keys are X25519 */
	}
	c->ctx = zmq_ctx_new();
	c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
	assert_non_null(c->sock);
	assert_int_equal(zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY,
	                     h_broker_transport_key(s), 32),
	    0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pk, 32), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sk, 32), 0);
	sodium_memzero(sk, sizeof(sk));
	/* Unbounded queues by default: a burst must never block on the test
	 * side. A slow reader asks for a small receive queue instead. */
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &zero, sizeof(zero)), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &o->rcvhwm, sizeof(o->rcvhwm)),
	    0);
	if (o->rcvbuf > 0)
		assert_int_equal(zmq_setsockopt(c->sock, ZMQ_RCVBUF, &o->rcvbuf,
		                     sizeof(o->rcvbuf)),
		    0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)), 0);
	assert_int_equal(zmq_socket_monitor(c->sock, mon, ZMQ_EVENT_ALL), 0);
	c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
	assert_int_equal(zmq_connect(c->mon, mon), 0);
	assert_int_equal(zmq_connect(c->sock, s->endpoint), 0);
	return c;
}

void
h_client_free(struct h_client *c)
{
	if (c == NULL)
		return;
	zmq_socket_monitor(c->sock, NULL, 0);
	zmq_close(c->mon);
	zmq_close(c->sock);
	zmq_ctx_term(c->ctx);
	free(c);
}

int
h_client_event(struct h_client *c, int mask, unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		uint64_t now = h_now_ms();
		zmq_pollitem_t it = {c->mon, 0, ZMQ_POLLIN, 0};
		if (now >= end)
			return 0;
		if (zmq_poll(&it, 1, (long)(end - now)) <= 0)
			continue;
		zmq_msg_t ev, addr;
		uint16_t event = 0;
		zmq_msg_init(&ev);
		zmq_msg_init(&addr);
		if (zmq_msg_recv(&ev, c->mon, 0) >= 0) {
			if (zmq_msg_size(&ev) >= 6)
				memcpy(
				    &event, zmq_msg_data(&ev), sizeof(event));
			if (zmq_msg_more(&ev))
				zmq_msg_recv(&addr, c->mon, 0);
		}
		zmq_msg_close(&ev);
		zmq_msg_close(&addr);
		if (event & mask)
			return event;
	}
}

void
h_client_send(struct h_client *c, const void *buf, size_t len)
{
	int rc = zmq_send(c->sock, buf, len, 0);

	if (rc != (int)len)
		fail_msg("client send: %s", zmq_strerror(zmq_errno()));
}

void
h_client_ack(struct h_client *c, const uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	uint8_t *frame;
	size_t len;

	assert_int_equal(wire_ack_encode(msg_id, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
}

void
h_client_send_parts(
    struct h_client *c, size_t n, const void *const buf[], const size_t len[])
{
	for (size_t i = 0; i < n; i++) {
		int rc = zmq_send(
		    c->sock, buf[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0);
		if (rc != (int)len[i])
			fail_msg("client send (part %zu of %zu): %s", i + 1, n,
			    zmq_strerror(zmq_errno()));
	}
}

struct wire_frame *
h_client_recv(struct h_client *c, unsigned ms)
{
	return h_client_recv_raw(c, ms, NULL, NULL);
}

struct wire_frame *
h_client_recv_raw(
    struct h_client *c, unsigned ms, uint8_t **raw, size_t *raw_len)
{
	zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
	struct wire_frame *f = NULL;
	char why[256];
	zmq_msg_t msg;
	int rc;

	if (zmq_poll(&it, 1, (long)ms) <= 0)
		return NULL;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return NULL;
	}
	rc = wire_decode(
	    zmq_msg_data(&msg), zmq_msg_size(&msg), &f, why, sizeof(why));
	if (raw != NULL) {
		*raw_len = zmq_msg_size(&msg);
		*raw = malloc(*raw_len ? *raw_len : 1);
		assert_non_null(*raw);
		memcpy(*raw, zmq_msg_data(&msg), *raw_len);
	}
	zmq_msg_close(&msg);
	if (rc != 0)
		fail_msg(
		    "the broker sent a frame that does not decode: %s", why);
	if (f->type == WIRE_STATUS) {
		uint8_t *ack;
		size_t len;
		assert_int_equal(
		    wire_status_ack_encode(f->u.status.msg_id,
		        f->u.status.recipient, f->u.status.state, &ack, &len),
		    0);
		zmq_send(c->sock, ack, len, ZMQ_DONTWAIT);
		free(ack);
	}
	return f;
}

struct wire_frame *
h_client_receipt(
    struct h_client *c, const uint8_t msg_id[WIRE_MSG_ID_LEN], unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		uint64_t now = h_now_ms();
		if (now >= end)
			return NULL;
		struct wire_frame *f = h_client_recv(c, (unsigned)(end - now));
		if (f == NULL)
			continue;
		if (f->type == WIRE_RECEIPT &&
		    memcmp(f->u.receipt.msg_id, msg_id, WIRE_MSG_ID_LEN) == 0)
			return f;
		wire_frame_free(f);
	}
}

void
h_client_send_accepted(struct h_sys *s, struct h_client *c,
    const struct h_msg *m, size_t n, uint8_t (*ids)[WIRE_MSG_ID_LEN])
{
	uint8_t(*id)[WIRE_MSG_ID_LEN] = calloc(n ? n : 1, WIRE_MSG_ID_LEN);

	assert_non_null(id);
	for (size_t i = 0; i < n; i++) {
		uint8_t *frame;
		size_t len;
		h_seal(s, m, id[i], &frame, &len);
		h_client_send(c, frame, len);
		free(frame);
	}
	for (size_t i = 0; i < n; i++) {
		struct wire_frame *f = h_client_receipt(c, id[i], H_WAIT_MS);
		if (f == NULL || f->u.receipt.outcome != WIRE_ACCEPTED)
			fail_msg("message %zu of %zu: %s", i + 1, n,
			    f == NULL ? "no receipt" : "not accepted");
		wire_frame_free(f);
	}
	if (ids != NULL)
		memcpy(ids, id, n * WIRE_MSG_ID_LEN);
	free(id);
}

struct h_client *
h_client_of(struct h_sys *s, int agency)
{
	struct h_client *c = h_client_new(
	    s, h_p("%s/keys/%s.key", s->dir, fixture_agency[agency]));

	if (h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS) !=
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		fail_msg(
		    "%s: no handshake with the broker", fixture_agency[agency]);
	return c;
}

void
h_client_hello(struct h_client *c)
{
	uint8_t *frame;
	size_t len;

	assert_int_equal(wire_proof_request_encode(0, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
}

struct wire_frame *
h_submit(struct h_sys *s, struct h_client *c, const struct h_msg *m,
    uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	uint8_t id[WIRE_MSG_ID_LEN], *frame;
	size_t len;
	struct wire_frame *r;

	h_seal(s, m, id, &frame, &len);
	h_client_send(c, frame, len);
	free(frame);
	r = h_client_receipt(c, id, H_WAIT_MS);
	if (r == NULL)
		fail_msg("no receipt from the broker within %d ms", H_WAIT_MS);
	if (msg_id != NULL)
		memcpy(msg_id, id, WIRE_MSG_ID_LEN);
	return r;
}
