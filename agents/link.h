/*
 * Private to agents/: the link to the broker. A DEALER socket with CURVE
 * (the broker's transport key pinned), reconnecting with backoff, and a
 * monitor that says when a handshake succeeds or fails; sending and
 * receiving whole frames. It knows nothing of what the frames mean: the
 * loop (agent.c) hands them to the inbox, outbox and trust sides, which
 * send through link_send.
 */
#ifndef AGENTS_LINK_H
#define AGENTS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "common/error.h"

struct agent;

/* What the monitor said (link_event). */
enum link_event {
	LINK_NONE,      /* nothing, or an event the agent does not watch */
	LINK_UP,        /* a handshake with the broker succeeded */
	LINK_DOWN,      /* the connection was lost */
	LINK_REFUSED,   /* the broker refused this agency's key */
	LINK_HANDSHAKE, /* another handshake failure (the broker's key?) */
};

/* What link_poll found ready. */
struct link_ready {
	bool frame;       /* a frame from the broker waits */
	bool event;       /* a monitor event waits */
	bool watched;     /* the descriptor given to link_poll is readable */
	bool interrupted; /* a signal cut the wait short: nothing is ready */
};

/* One frame received (link_recv), held until link_frame_release. */
struct link_frame {
	zmq_msg_t msg;
};

/* Opens the socket and its monitor and connects to a->cfg.broker. */
WUR int link_open(struct agent *a);
/* Closes what link_open opened (any part of it); a no-op after. */
void link_close(struct agent *a);

/*
 * Sends a frame now if connected; a failure is not an error for the
 * caller: pending messages are resent on the next connection.
 */
int link_send(struct agent *a, const uint8_t *frame, size_t len);

/*
 * Waits up to ms for a frame, a monitor event, or fd (-1: none) to be
 * readable. ERROR_OK (also when a signal interrupted the wait, said in
 * r->interrupted), or ERROR_INTERNAL, logged.
 */
int link_poll(struct agent *a, int fd, unsigned ms, struct link_ready *r);

/* The next monitor event, without waiting. */
enum link_event link_event(struct agent *a);

/*
 * The next frame from the broker, without waiting: true and *f holding it
 * (release it with link_frame_release), or false when none waits.
 */
bool link_recv(struct agent *a, struct link_frame *f);
const uint8_t *link_frame_data(struct link_frame *f);
size_t link_frame_size(struct link_frame *f);
void link_frame_release(struct link_frame *f);

#endif
