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
 *
 * With --ack KEY[,KEY...] (the recipients' secret key files) the same
 * process also connects as each recipient, acknowledges every delivery at
 * once (a recipient with no cost of its own), and the sender acknowledges
 * the status reports: the broker's relay to connected recipients, timed
 * from the first send to the last delivery at every recipient (relay=).
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
    "           [--window W] [--urgency routine|urgent|emergency]\n"
    "           [--ack RECIPIENT.key[,...]] [--agreement FILE.yaml]\n";

#define MAX_ACK 3

struct opts {
	const char *key, *keyring, *broker_key, *endpoint, *purpose;
	char *to, *ack;
	const char *agreement;
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
	    {"ack", required_argument, NULL, 'a'},
	    {"agreement", required_argument, NULL, 'A'},
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
		case 'a':
			o->ack = optarg;
			break;
		case 'A':
			o->agreement = optarg;
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

/* A DEALER connected over CURVE as key, greeted with a ProofRequest as an
 * agent does, once the broker's Proof came back (the handshake and ZAP
 * done); NULL after saying why. */
static void *
connect_as(void *ctx, const struct keys_public *broker,
    const struct keys_secret *key, const char *endpoint)
{
	void *sock = bench_connect("bench_broker", ctx, broker, key, endpoint);
	uint8_t *hello;
	size_t hlen;
	struct wire_frame *f = NULL;
	bool ready = false;
	double until = bench_now() + 10.0;

	if (sock == NULL)
		return NULL;
	if (wire_proof_request_encode(0, &hello, &hlen) != 0)
		goto fail;
	if (zmq_send(sock, hello, hlen, 0) < 0) {
		free(hello);
		goto fail;
	}
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
	if (ready)
		return sock;
	fprintf(stderr, "bench_broker: no answer from the broker at %s as %s\n",
	    endpoint, key->pub.id);
fail:
	if (sock != NULL)
		zmq_close(sock);
	return NULL;
}

/* The recipients of --ack: each acknowledges every delivery at once. */
struct acker {
	struct keys_secret *key;
	void *sock;
	unsigned long delivered;
};

static void
send_and_free(void *sock, uint8_t *frame, size_t len)
{
	if (zmq_send(sock, frame, len, 0) < 0)
		fprintf(stderr, "bench_broker: send: %s\n",
		    zmq_strerror(zmq_errno()));
	free(frame);
}

/* Serves what the recipients have; 1 when a delivery arrived. */
static int
serve_ackers(struct acker *k, size_t n, double *t_last)
{
	struct wire_frame *f;
	uint8_t *frame;
	size_t len;
	int any = 0;

	for (size_t i = 0; i < n; i++)
		while (recv_frame(k[i].sock, &f)) {
			if (f != NULL && f->type == WIRE_DELIVERY &&
			    wire_ack_encode(
			        f->u.delivery.m.msg_id, &frame, &len) == 0) {
				send_and_free(k[i].sock, frame, len);
				k[i].delivered++;
				*t_last = bench_now();
				any = 1;
			}
			wire_frame_free(f);
		}
	return any;
}

static bool
all_delivered(const struct acker *k, size_t n, unsigned long count)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].delivered < count)
			return false;
	return true;
}

/* Loads the --ack keys and connects them; the number, or -1. */
static int
ackers_open(void *ctx, const struct keys_public *broker, char *list,
    const char *endpoint, struct acker *k)
{
	int n = 0, rc;

	for (char *tok = strtok(list, ","); tok != NULL;
	     tok = strtok(NULL, ",")) {
		if (n == MAX_ACK) {
			fprintf(stderr, "bench_broker: at most %d --ack keys\n",
			    MAX_ACK);
			return -1;
		}
		if ((rc = keys_load_secret(tok, &k[n].key)) != 0) {
			fprintf(stderr, "%s: %s\n", tok, error_strerror(rc));
			return -1;
		}
		if ((k[n].sock = connect_as(ctx, broker, k[n].key, endpoint)) ==
		    NULL)
			return -1;
		n++;
	}
	return n;
}

struct tally {
	unsigned long sent, got, accepted, rejected, reasons[32];
	double t_first, t_last, t_deliv;
};

/* A frame from the broker to the sender: a receipt counted, a status
 * report acknowledged. */
static void
sender_frame(void *sock, struct wire_frame *f, struct tally *t)
{
	uint8_t *frame;
	size_t len;

	if (f->type == WIRE_STATUS) {
		if (wire_status_ack_encode(f->u.status.msg_id,
		        f->u.status.recipient, f->u.status.state, &frame,
		        &len) == 0)
			send_and_free(sock, frame, len);
		return;
	}
	if (f->type != WIRE_RECEIPT)
		return;
	t->got++;
	if (f->u.receipt.outcome == WIRE_ACCEPTED) {
		t->accepted++;
	} else {
		t->rejected++;
		t->reasons[f->u.receipt.reason & 31]++;
	}
	t->t_last = bench_now();
}

/* Pipelines the frames with window unanswered; false on a stall. */
static bool
pump(void *sock, uint8_t **frames, size_t *lens, const struct opts *o,
    struct acker *k, size_t n_ack, struct tally *t)
{
	double last_progress = t->t_first = bench_now();

	while (t->got < o->count || !all_delivered(k, n_ack, t->accepted)) {
		bool can_send =
		    t->sent < o->count && t->sent - t->got < o->window;
		zmq_pollitem_t it[1 + MAX_ACK] = {{sock, 0,
		    (short)(ZMQ_POLLIN | (can_send ? ZMQ_POLLOUT : 0)), 0}};
		struct wire_frame *f;

		for (size_t i = 0; i < n_ack; i++)
			it[1 + i] =
			    (zmq_pollitem_t){k[i].sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(it, 1 + (int)n_ack, 100) < 0 &&
		    zmq_errno() != EINTR)
			return false;
		while (t->sent < o->count && t->sent - t->got < o->window &&
		    zmq_send(sock, frames[t->sent], lens[t->sent],
		        ZMQ_DONTWAIT) >= 0) {
			free(frames[t->sent]);
			frames[t->sent] = NULL;
			t->sent++;
		}
		while (recv_frame(sock, &f)) {
			if (f != NULL) {
				sender_frame(sock, f, t);
				last_progress = bench_now();
			}
			wire_frame_free(f);
		}
		if (serve_ackers(k, n_ack, &t->t_deliv))
			last_progress = bench_now();
		if (bench_now() - last_progress > STALL_S) {
			fprintf(stderr,
			    "bench_broker: nothing for %.0f s: %lu sent, "
			    "%lu receipts\n",
			    STALL_S, t->sent, t->got);
			return false;
		}
	}
	return true;
}

/* Seals everything first: the agents' cost, kept out of the timing. */
static int
seal_all(const struct bench_sender *s, const struct opts *o, uint8_t **frames,
    size_t *lens)
{
	size_t bytes = 0;
	double t0 = bench_now();

	for (unsigned long i = 0; i < o->count; i++) {
		uint8_t id[WIRE_MSG_ID_LEN];
		if (bench_seal(s, o->purpose, o->urgency, id, &frames[i],
		        &lens[i]) != 0) {
			fprintf(stderr, "bench_broker: cannot seal\n");
			return -1;
		}
		bytes += lens[i];
	}
	printf("sealed %lu envelopes for %zu recipient(s) in %.2f s "
	       "(%.0f/s, %zu bytes each)\n",
	    o->count, s->n_to, bench_now() - t0,
	    (double)o->count / (bench_now() - t0), bytes / o->count);
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_sender s;
	struct keys_public broker;
	struct opts o;
	struct acker k[MAX_ACK];
	struct tally t;
	uint8_t **frames = NULL;
	size_t *lens = NULL, n_ack = 0;
	void *ctx = NULL, *sock = NULL;
	int rc = 1, n;

	memset(k, 0, sizeof(k));
	memset(&t, 0, sizeof(t));
	if (parse(argc, argv, &o) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (sodium_init() < 0)
		return 1;
	if (bench_sender_open(&s, o.key, o.keyring, o.to, o.agreement) != 0)
		return 1;
	if (bench_broker_key("bench_broker", o.broker_key, &broker) != 0)
		return 1;
	frames = calloc(o.count, sizeof(*frames));
	lens = calloc(o.count, sizeof(*lens));
	if (frames == NULL || lens == NULL || seal_all(&s, &o, frames, lens))
		goto out;
	ctx = zmq_ctx_new();
	if ((sock = connect_as(ctx, &broker, s.key, o.endpoint)) == NULL)
		goto out;
	if (o.ack != NULL) {
		if ((n = ackers_open(ctx, &broker, o.ack, o.endpoint, k)) < 0)
			goto out;
		n_ack = (size_t)n;
	}
	pump(sock, frames, lens, &o, k, n_ack, &t);
	double el = t.t_last - t.t_first;
	printf("%lu messages to %zu recipient(s), window %lu: %lu accepted, "
	       "%lu rejected in %.3f s\n",
	    o.count, s.n_to, o.window, t.accepted, t.rejected, el);
	for (int r = 0; r < 32; r++)
		if (t.reasons[r] != 0)
			printf("  rejected %lu as %s\n", t.reasons[r],
			    wire_reason_name(r));
	printf("RESULT recipients=%zu count=%lu accepted=%lu rejected=%lu "
	       "seconds=%.3f rate=%.0f",
	    s.n_to, o.count, t.accepted, t.rejected, el,
	    el > 0 ? (double)t.accepted / el : 0.0);
	if (n_ack > 0) {
		double dl = t.t_deliv - t.t_first;
		unsigned long low = t.accepted;
		for (size_t i = 0; i < n_ack; i++)
			low = k[i].delivered < low ? k[i].delivered : low;
		printf(" delivered=%lu relay_seconds=%.3f relay=%.0f", low, dl,
		    dl > 0 ? (double)low / dl : 0.0);
		if (low != o.count)
			t.accepted = 0; /* a failed run */
	}
	printf("\n");
	rc = t.accepted == o.count ? 0 : 1;
out:
	for (size_t i = 0; i < MAX_ACK; i++) {
		if (k[i].sock != NULL)
			zmq_close(k[i].sock);
		keys_secret_free(k[i].key);
	}
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
