/*
 * Sending pending messages again: after a reconnection or a new agreement
 * all of them, and from the agent's resend timer (every resend_after) only
 * those whose receipt is overdue. Called by agent.c and agreements.c.
 */
#include <stdbool.h>
#include <stdint.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "common/clock.h"
#include "common/log.h"

struct resend {
	struct agent *a;
	bool all;
	uint64_t now_ms; /* wall clock, as sealed_at_ms */
};

static int
resend_one(void *arg, const struct state_msg *m)
{
	struct resend *r = arg;

	if (m->state != STATE_PENDING || !r->a->connected)
		return 0;
	/*
	 * The timer fires every resend_after whatever was sent meanwhile: a
	 * message sealed and sent just before it has had no time to get its
	 * receipt, and sending it again would only reach the broker as a
	 * second copy, audited as a replay (or, for one it rejects, as a
	 * second rejection). It goes at the next round instead.
	 */
	if (!r->all && m->sealed_at_ms <= r->now_ms &&
	    r->now_ms - m->sealed_at_ms < r->a->cfg.resend_ms)
		return 0; /* (a clock set back makes it due, as before) */
	link_send(r->a, m->frame, m->frame_len);
	return 0;
}

static void
resend(struct agent *a, bool all)
{
	struct resend r = {a, all, clock_now_ms()};

	if (state_each_open(a->state, resend_one, &r) != 0)
		log_err("cannot read the pending messages");
	a->last_send_ms = clock_mono_ms();
}

void
outbox_resend(struct agent *a)
{
	resend(a, true);
}

void
outbox_resend_due(struct agent *a)
{
	resend(a, false);
}
