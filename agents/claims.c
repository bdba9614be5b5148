/*
 * What the leaf under a receipt or a status report must say (DESIGN.md
 * §7): the event type its outcome or state claims, of this agency's own
 * message, for the recipient it names. outbox.c and inbox.c ask it of
 * every leaf they are offered; a leaf that says anything else backs
 * nothing.
 */
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/spool.h"
#include "common/log.h"

static bool
ours(const struct agent *a, const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const struct event *ev)
{
	return ev->has_msg_id &&
	    sodium_memcmp(ev->msg_id, msg_id, WIRE_MSG_ID_LEN) == 0 &&
	    strcmp(ev->sender, a->cfg.agency) == 0;
}

bool
claims_receipt(
    const struct agent *a, const struct wire_receipt *r, const struct event *ev)
{
	if (!ours(a, r->msg_id, ev))
		return false;
	if (r->outcome == WIRE_ACCEPTED)
		return ev->type == EVENT_DECISION || ev->type == EVENT_ACCEPTED;
	if (r->outcome != WIRE_REJECTED)
		return false;
	/* A replay of our own message hands back its decisions. */
	if (r->reason == WIRE_REASON_REPLAY &&
	    (ev->type == EVENT_DECISION || ev->type == EVENT_ACCEPTED))
		return true;
	return ev->type == EVENT_REJECTED && (int)ev->reason == r->reason;
}

bool
claims_status(
    const struct agent *a, const struct wire_status *s, const struct event *ev)
{
	int want;

	switch (s->state) {
	case WIRE_STATE_DELIVERED:
		want = EVENT_DELIVERED;
		break;
	case WIRE_STATE_ACKNOWLEDGED:
		want = EVENT_ACKNOWLEDGED;
		break;
	case WIRE_STATE_EXPIRED:
		want = EVENT_EXPIRED;
		break;
	default:
		return false;
	}
	return (int)ev->type == want && ours(a, s->msg_id, ev) &&
	    strcmp(ev->recipient, s->recipient) == 0;
}

bool
claims_receipt_leaves(
    struct agent *a, const struct wire_receipt *r, struct event *evs, bool *ok)
{
	char hex[33];
	bool held = false;
	int rc;

	for (size_t i = 0; i < r->n_decisions; i++) {
		struct checkpoint cp;
		rc = trust_check(a, &r->decisions[i], &evs[i], &cp);
		held |= rc == TRUST_HELD;
		ok[i] = rc == 0 && claims_receipt(a, r, &evs[i]);
	}
	if (held) {
		spool_hex_id(r->msg_id, hex);
		log_info("%s: receipt under a checkpoint not yet proven; kept "
		         "pending until it is",
		    hex);
	}
	return held;
}
