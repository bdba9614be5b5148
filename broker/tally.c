/*
 * Refusals counted in windows of BROKER_REFUSAL_WINDOW rather than audited
 * one by one (struct tally, broker_int.h): opened by the first, closed by
 * time. Called by broker.c.
 */
#include "broker/broker_int.h"
#include "common/clock.h"

/* Opens t's window, when none is open. */
void
tally_open(struct tally *t)
{
	if (!t->open) {
		t->open = true;
		t->since_ms = clock_mono_ms();
	}
}

/* Counts one refusal in t's window. */
void
tally_add(struct tally *t)
{
	tally_open(t);
	t->count++;
}

/* Whether t's window has closed (all: at stop, every window). */
bool
tally_closed(const struct tally *t, uint64_t now, bool all)
{
	return t->open && (all || now - t->since_ms >= BROKER_REFUSAL_WINDOW);
}
