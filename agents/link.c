/*
 * The agent's link to the broker (see link.h). It logs what goes wrong
 * with the connection itself, backed off (common/lograte.h): a broker it
 * cannot reach, a handshake that fails, a key the broker refuses.
 */
#include <errno.h>
#include <string.h>

#include <zmq.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/lograte.h"

#define LINK_MONITOR "inproc://concordat-agent-monitor"

/* What repeats, one back-off each (one agent per process). */
enum { RATE_UNREACHABLE, RATE_HANDSHAKE, RATE_REFUSED, RATE_COUNT };
static struct lograte rates[RATE_COUNT];
/* A connection was made since the last retry: a retry after it is no sign
 * of an unreachable broker (the handshake failed, or the link dropped). */
static bool reached;

int
link_open(struct agent *a)
{
	int one = 1, zero = 0, ivl = 100, ivl_max = 5000, hb = 5000;
	int hbt = 15000;
	int64_t max = 2 * WIRE_MAX_FRAME;

	a->ctx = zmq_ctx_new();
	a->dealer = a->ctx ? zmq_socket(a->ctx, ZMQ_DEALER) : NULL;
	if (a->dealer == NULL)
		return ERROR_INTERNAL;
	if (zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_SERVERKEY, a->broker.transport_pk, 32) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_PUBLICKEY, a->key->pub.transport_pk, 32) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_SECRETKEY, a->key->transport_sk, 32) ||
	    zmq_setsockopt(a->dealer, ZMQ_IMMEDIATE, &one, sizeof(one)) ||
	    zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) ||
	    zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt)) ||
	    zmq_setsockopt(a->dealer, ZMQ_MAXMSGSIZE, &max, sizeof(max)) ||
	    zmq_setsockopt(a->dealer, ZMQ_LINGER, &zero, sizeof(zero)))
		return ERROR_INTERNAL;
	if (zmq_socket_monitor(a->dealer, LINK_MONITOR,
	        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
	            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
		return ERROR_INTERNAL;
	a->monitor = zmq_socket(a->ctx, ZMQ_PAIR);
	if (a->monitor == NULL || zmq_connect(a->monitor, LINK_MONITOR))
		return ERROR_INTERNAL;
	if (zmq_connect(a->dealer, a->cfg.broker) != 0) {
		log_err("cannot connect to %s: %s agency=%s peer=%s "
		        "reason=bad_endpoint",
		    a->cfg.broker, zmq_strerror(zmq_errno()), a->cfg.agency,
		    a->cfg.broker);
		return ERROR_CONFIG;
	}
	return ERROR_OK;
}

void
link_close(struct agent *a)
{
	/* The monitor stopped before its reading end is closed: an event
	 * sent to a closed PAIR blocks the I/O thread, and zmq_ctx_term with
	 * it (libzmq issue 3575), all the likelier now that every connection
	 * retry is an event. */
	if (a->dealer != NULL)
		zmq_socket_monitor(a->dealer, NULL, 0);
	if (a->monitor != NULL)
		zmq_close(a->monitor);
	if (a->dealer != NULL)
		zmq_close(a->dealer);
	if (a->ctx != NULL)
		zmq_ctx_term(a->ctx);
	a->monitor = a->dealer = a->ctx = NULL;
}

int
link_send(struct agent *a, const uint8_t *frame, size_t len)
{
	/* ZMQ_IMMEDIATE: fails at once while no connection is up; whatever
	 * is pending is resent when the handshake succeeds. */
	if (zmq_send(a->dealer, frame, len, ZMQ_DONTWAIT) < 0)
		return ERROR_IO;
	return ERROR_OK;
}

int
link_poll(struct agent *a, int fd, unsigned ms, struct link_ready *r)
{
	zmq_pollitem_t items[3] = {
	    {a->dealer, 0, ZMQ_POLLIN, 0},
	    {a->monitor, 0, ZMQ_POLLIN, 0},
	    {NULL, fd, ZMQ_POLLIN, 0},
	};
	int n = zmq_poll(items, fd >= 0 ? 3 : 2, (long)ms);

	memset(r, 0, sizeof(*r));
	if (n < 0 && zmq_errno() != EINTR) {
		log_err("poll: %s", zmq_strerror(zmq_errno()));
		return ERROR_INTERNAL;
	}
	if (n < 0) {
		r->interrupted = true;
		return ERROR_OK;
	}
	r->frame = (items[0].revents & ZMQ_POLLIN) != 0;
	r->event = (items[1].revents & ZMQ_POLLIN) != 0;
	r->watched = fd >= 0 && (items[2].revents & ZMQ_POLLIN) != 0;
	return ERROR_OK;
}

/* The connection is up: what was held back is summarised, the back-offs
 * start again. */
static void
report_up(struct agent *a, uint64_t now)
{
	static const char *const what[RATE_COUNT] = {
	    [RATE_UNREACHABLE] = "could not reach the broker",
	    [RATE_HANDSHAKE] = "handshake failed",
	    [RATE_REFUSED] = "refused by the broker",
	};
	char sfx[96];

	for (int i = 0; i < RATE_COUNT; i++)
		if (lograte_end(&rates[i], now, sfx, sizeof(sfx)))
			log_info("the broker at %s answers again: %s before%s "
			         "agency=%s peer=%s",
			    a->cfg.broker, what[i], sfx, a->cfg.agency,
			    a->cfg.broker);
}

/* Logs an event of the monitor's, each kind backed off. */
static void
report(struct agent *a, uint16_t event)
{
	uint64_t now = clock_mono_ms();
	char sfx[96];

	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		report_up(a, now);
		break;
	case ZMQ_EVENT_CONNECTED:
		reached = true;
		break;
	case ZMQ_EVENT_CONNECT_RETRIED:
		if (reached) {
			reached = false;
			break;
		}
		if (lograte_hit(&rates[RATE_UNREACHABLE], "unreachable", now,
		        sfx, sizeof(sfx)))
			log_warn(
			    "cannot reach the broker at %s: the connection "
			    "is not accepted; retrying%s agency=%s peer=%s "
			    "reason=unreachable",
			    a->cfg.broker, sfx, a->cfg.agency, a->cfg.broker);
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		if (lograte_hit(
		        &rates[RATE_REFUSED], "refused", now, sfx, sizeof(sfx)))
			log_err("the broker refused this agency's key: is "
			        "%s.pub in the broker's keyring?%s agency=%s "
			        "peer=%s reason=key_refused fingerprint=%s",
			    a->cfg.agency, sfx, a->cfg.agency, a->cfg.broker,
			    a->key->pub.fingerprint);
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		if (lograte_hit(&rates[RATE_HANDSHAKE], "handshake", now, sfx,
		        sizeof(sfx)))
			log_err("handshake with the broker failed: is "
			        "broker_key the key of the broker at %s?%s "
			        "agency=%s peer=%s reason=handshake_failed "
			        "fingerprint=%s",
			    a->cfg.broker, sfx, a->cfg.agency, a->cfg.broker,
			    a->broker.fingerprint);
		break;
	default:
		break;
	}
}

enum link_event
link_event(struct agent *a)
{
	enum link_event what = LINK_NONE;
	zmq_msg_t ev, addr;
	uint16_t event = 0;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&ev, a->monitor, ZMQ_DONTWAIT) < 0)
		goto out;
	if (zmq_msg_more(&ev))
		zmq_msg_recv(&addr, a->monitor, 0);
	if (zmq_msg_size(&ev) < 6)
		goto out;
	memcpy(&event, zmq_msg_data(&ev), sizeof(event));
	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		what = LINK_UP;
		break;
	case ZMQ_EVENT_DISCONNECTED:
		what = LINK_DOWN;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		what = LINK_REFUSED;
		break;
	case ZMQ_EVENT_CONNECTED:
	case ZMQ_EVENT_CONNECT_RETRIED:
		break;
	default:
		what = LINK_HANDSHAKE;
		break;
	}
out:
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
	report(a, event);
	return what;
}

bool
link_recv(struct agent *a, struct link_frame *f)
{
	zmq_msg_init(&f->msg);
	if (zmq_msg_recv(&f->msg, a->dealer, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&f->msg);
		return false;
	}
	return true;
}

const uint8_t *
link_frame_data(struct link_frame *f)
{
	return zmq_msg_data(&f->msg);
}

size_t
link_frame_size(struct link_frame *f)
{
	return zmq_msg_size(&f->msg);
}

void
link_frame_release(struct link_frame *f)
{
	zmq_msg_close(&f->msg);
}
