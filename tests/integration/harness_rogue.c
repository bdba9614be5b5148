/*
 * The harness's rogue broker (harness.h): a ROUTER with the broker's own
 * CURVE key that sends the agents whatever the test gives it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

struct h_rogue {
	void *ctx, *sock;
	uint8_t rid[256];
	size_t rid_len;
};

struct h_rogue *
h_rogue_new(struct h_sys *s)
{
	struct h_rogue *r = calloc(1, sizeof(*r));
	struct keys_secret *k = NULL;
	int one = 1, zero = 0;

	assert_non_null(r);
	assert_int_equal(s->broker.pid, 0);
	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", s->dir), &k), 0);
	r->ctx = zmq_ctx_new();
	r->sock = zmq_socket(r->ctx, ZMQ_ROUTER);
	assert_non_null(r->sock);
	/* The broker's own key, and no ZAP handler: it takes any agent. */
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_CURVE_SERVER, &one, sizeof(one)), 0);
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, k->transport_sk, 32),
	    0);
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	keys_secret_free(k);
	if (zmq_bind(r->sock, s->endpoint) != 0)
		fail_msg("rogue broker: cannot bind %s: %s", s->endpoint,
		    zmq_strerror(zmq_errno()));
	return r;
}

void
h_rogue_free(struct h_rogue *r)
{
	if (r == NULL)
		return;
	zmq_close(r->sock);
	zmq_ctx_term(r->ctx);
	free(r);
}

struct wire_frame *
h_rogue_recv(struct h_rogue *r, unsigned ms)
{
	zmq_pollitem_t it = {r->sock, 0, ZMQ_POLLIN, 0};
	struct wire_frame *f = NULL;
	zmq_msg_t rid, body;
	char why[256];

	if (zmq_poll(&it, 1, (long)ms) <= 0)
		return NULL;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	assert_true(zmq_msg_recv(&rid, r->sock, 0) >= 0);
	assert_true(zmq_msg_more(&rid));
	assert_true(zmq_msg_recv(&body, r->sock, 0) >= 0);
	assert_true(zmq_msg_size(&rid) <= sizeof(r->rid));
	memcpy(r->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
	r->rid_len = zmq_msg_size(&rid);
	if (wire_decode(zmq_msg_data(&body), zmq_msg_size(&body), &f, why,
	        sizeof(why)) != 0)
		fail_msg("rogue broker: an agent sent a frame that does not "
		         "decode: %s",
		    why);
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
	return f;
}

void
h_rogue_send(struct h_rogue *r, const void *buf, size_t len)
{
	assert_true(r->rid_len > 0);
	assert_int_equal(zmq_send(r->sock, r->rid, r->rid_len, ZMQ_SNDMORE),
	    (int)r->rid_len);
	assert_int_equal(zmq_send(r->sock, buf, len, 0), (int)len);
}

size_t
h_rogue_peer(const struct h_rogue *r, uint8_t rid[256])
{
	memcpy(rid, r->rid, r->rid_len);
	return r->rid_len;
}

void
h_rogue_use(struct h_rogue *r, const uint8_t *rid, size_t len)
{
	assert_true(len > 0 && len <= sizeof(r->rid));
	memcpy(r->rid, rid, len);
	r->rid_len = len;
}
