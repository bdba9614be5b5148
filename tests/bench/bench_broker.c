/*
 * bench_broker: messages per second through a running concordat-broker,
 * with its whole ingest (decode, signature, freshness, replay, digests,
 * policy, group commit with audit leaves and a signed checkpoint, queue
 * entries) and a receipt per message. The client pre-seals every envelope
 * first (sealing is the agents' cost, not the broker's), connects over
 * CURVE as the sending agency, greets with a ProofRequest, then pipelines
 * the envelopes with a window in flight and counts ACCEPTED receipts. The
 * time runs from the first send to the last receipt. Run by scripts/bench;
 * not a test.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "common/urgency.h"
#include "proto/wire.h"
#include "tests/bench/benchutil.h"

#define STALL_S 30.0 /* no receipt for this long: give up */

static const char usage_text[] =
    "usage: bench_broker --key AGENCY.key --keyring DIR --broker-key "
    "broker.pub\n"
    "           --endpoint EP --to A[,B...] --purpose P [--count N]\n"
    "           [--window W] [--urgency routine|urgent|emergency]\n";

struct opts {
	const char *key, *keyring, *broker_key, *endpoint, *purpose;
	char *to;
	unsigned long count, window;
	int urgency;
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
	    {"count", required_argument, NULL, 'n'},
	    {"window", required_argument, NULL, 'w'},
	    {"urgency", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->count = 20000;
	o->window = 1000;
	o->urgency = URGENCY_URGENT;
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
		case 'n':
			o->count = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->window = strtoul(optarg, NULL, 10);
			break;
		case 'u':
			o->urgency = urgency_parse(optarg);
			break;
		default:
			return -1;
		}
	}
	if (!o->key || !o->keyring || !o->broker_key || !o->endpoint ||
	    !o->to || !o->purpose || o->count == 0 || o->window == 0 ||
	    o->urgency <= 0 || optind != argc)
		return -1;
	return 0;
}

/* Receives one frame without waiting; 1 when one was read. */
static int
recv_frame(void *sock, struct wire_frame **f)
{
	zmq_msg_t msg;
	int rc;

	*f = NULL;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return 0;
	}
	rc = wire_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), f, NULL, 0);
	zmq_msg_close(&msg);
	if (rc != 0) {
		fprintf(stderr,
		    "bench_broker: unreadable frame from the "
		    "broker: %s\n",
		    error_strerror(rc));
		*f = NULL;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct bench_sender s;
	struct keys_public broker;
	struct opts o;
	uint8_t **frames = NULL;
	size_t *lens = NULL, bytes = 0;
	unsigned long sent = 0, got = 0, accepted = 0, rejected = 0;
	unsigned long reasons[32] = {0};
	void *ctx = NULL, *sock = NULL;
	int zero = 0, rc = 1;
	double t0, t_first = 0, t_last = 0, last_progress;

	if (parse(argc, argv, &o) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (sodium_init() < 0)
		return 1;
	if (bench_sender_init(&s, o.key, o.keyring, o.to) != 0)
		return 1;
	if (keys_load_public(o.broker_key, &broker) != 0 || !broker.is_broker) {
		fprintf(stderr, "bench_broker: %s: not a broker key\n",
		    o.broker_key);
		return 1;
	}

	/* Seal everything first: the agents' cost, kept out of the timing. */
	frames = calloc(o.count, sizeof(*frames));
	lens = calloc(o.count, sizeof(*lens));
	if (frames == NULL || lens == NULL)
		return 1;
	t0 = bench_now();
	for (unsigned long i = 0; i < o.count; i++) {
		uint8_t id[WIRE_MSG_ID_LEN];
		if (bench_seal(&s, o.purpose, o.urgency, id, &frames[i],
		        &lens[i]) != 0) {
			fprintf(stderr, "bench_broker: cannot seal\n");
			return 1;
		}
		bytes += lens[i];
	}
	printf("sealed %lu envelopes for %zu recipient(s) in %.2f s "
	       "(%.0f/s, %zu bytes each)\n",
	    o.count, s.n_to, bench_now() - t0,
	    (double)o.count / (bench_now() - t0), bytes / o.count);

	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_DEALER);
	if (sock == NULL ||
	    zmq_setsockopt(
	        sock, ZMQ_CURVE_SERVERKEY, broker.transport_pk, 32) ||
	    zmq_setsockopt(
	        sock, ZMQ_CURVE_PUBLICKEY, s.key->pub.transport_pk, 32) ||
	    zmq_setsockopt(
	        sock, ZMQ_CURVE_SECRETKEY, s.key->transport_sk, 32) ||
	    zmq_setsockopt(sock, ZMQ_SNDHWM, &zero, sizeof(zero)) ||
	    zmq_setsockopt(sock, ZMQ_RCVHWM, &zero, sizeof(zero)) ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_connect(sock, o.endpoint) != 0) {
		fprintf(stderr, "bench_broker: cannot connect to %s: %s\n",
		    o.endpoint, zmq_strerror(zmq_errno()));
		goto out;
	}

	/* Greet as an agent does, and wait for the Proof: then the CURVE
	 * handshake and ZAP are done and the clock can start. */
	{
		uint8_t *hello;
		size_t hlen;
		struct wire_frame *f = NULL;
		bool ready = false;
		double until = bench_now() + 10.0;

		if (wire_proof_request_encode(0, &hello, &hlen) != 0 ||
		    zmq_send(sock, hello, hlen, 0) < 0)
			goto out;
		free(hello);
		while (!ready && bench_now() < until) {
			zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
			if (zmq_poll(&it, 1, 100) <= 0)
				continue;
			while (recv_frame(sock, &f)) {
				if (f != NULL && f->type == WIRE_PROOF)
					ready = true;
				wire_frame_free(f);
			}
		}
		if (!ready) {
			fprintf(stderr,
			    "bench_broker: no answer from the "
			    "broker at %s\n",
			    o.endpoint);
			goto out;
		}
	}

	t_first = last_progress = bench_now();
	while (got < o.count) {
		bool can_send = sent < o.count && sent - got < o.window;
		zmq_pollitem_t it = {sock, 0,
		    (short)(ZMQ_POLLIN | (can_send ? ZMQ_POLLOUT : 0)), 0};
		struct wire_frame *f;

		if (zmq_poll(&it, 1, 100) < 0 && zmq_errno() != EINTR)
			break;
		while (sent < o.count && sent - got < o.window &&
		    zmq_send(sock, frames[sent], lens[sent], ZMQ_DONTWAIT) >=
		        0) {
			free(frames[sent]);
			frames[sent] = NULL;
			sent++;
		}
		while (recv_frame(sock, &f)) {
			if (f == NULL || f->type != WIRE_RECEIPT) {
				wire_frame_free(f);
				continue;
			}
			got++;
			if (f->u.receipt.outcome == WIRE_ACCEPTED) {
				accepted++;
			} else {
				rejected++;
				reasons[f->u.receipt.reason & 31]++;
			}
			wire_frame_free(f);
			t_last = last_progress = bench_now();
		}
		if (bench_now() - last_progress > STALL_S) {
			fprintf(stderr,
			    "bench_broker: no receipt for %.0f s: %lu sent, "
			    "%lu receipts\n",
			    STALL_S, sent, got);
			break;
		}
	}
	double el = t_last - t_first;
	printf("%lu messages to %zu recipient(s), window %lu: %lu accepted, "
	       "%lu rejected in %.3f s\n",
	    o.count, s.n_to, o.window, accepted, rejected, el);
	for (int r = 0; r < 32; r++)
		if (reasons[r] != 0)
			printf("  rejected %lu as %s\n", reasons[r],
			    wire_reason_name(r));
	printf("RESULT recipients=%zu count=%lu accepted=%lu rejected=%lu "
	       "seconds=%.3f rate=%.0f\n",
	    s.n_to, o.count, accepted, rejected, el,
	    el > 0 ? (double)accepted / el : 0.0);
	rc = accepted == o.count ? 0 : 1;
out:
	if (sock != NULL)
		zmq_close(sock);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	for (unsigned long i = 0; frames != NULL && i < o.count; i++)
		free(frames[i]);
	free(frames);
	free(lens);
	bench_sender_release(&s);
	return rc;
}
