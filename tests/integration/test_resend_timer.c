/*
 * The agent's resend timer (agents/outresend.c): it fires every
 * resend_after, and a message sealed a moment before it fired must not be
 * sent again then, before its receipt could come; a broker answers such a
 * second copy as a replay, and the demo's audit log showed one now and
 * then. A rogue broker that never answers counts the copies the agent
 * sends; a message whose receipt is overdue is still sent again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define RESEND_MS 4000

static struct h_sys *sys;

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, "resend_after: 4s\n", 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/* Submissions the agent sends until deadline (monotonic ms): the msg_id
 * of the first in id, the number of copies of it, the first's arrival. */
static unsigned
count_submits(struct h_rogue *r, uint64_t deadline, uint8_t id[16],
    bool *have_id, uint64_t *first_ms)
{
	unsigned n = 0;

	while (h_now_ms() < deadline) {
		struct wire_frame *f = h_rogue_recv(r, 100);
		if (f == NULL || f->type != WIRE_SUBMIT) {
			wire_frame_free(f);
			continue;
		}
		if (!*have_id) {
			memcpy(id, f->u.submit.m.msg_id, 16);
			*have_id = true;
			*first_ms = h_now_ms();
		}
		if (memcmp(id, f->u.submit.m.msg_id, 16) == 0)
			n++;
		wire_frame_free(f);
	}
	return n;
}

static void
no_resend_before_resend_after(void **state)
{
	(void)state;
	struct h_rogue *r = h_rogue_new(sys);
	uint8_t id[16];
	bool have_id = false;
	uint64_t t0, first = 0;
	unsigned n;

	h_agent_start(sys, H_POLICE, true);
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	assert_int_equal(hello->type, WIRE_PROOF_REQUEST);
	wire_frame_free(hello);
	/* The agreement makes the agent resend what is pending: from here
	 * the timer fires every RESEND_MS. */
	h_rogue_agreement(r, sys->policy);
	assert_true(
	    h_wait_log(&sys->agent[H_POLICE], "is current", 1, H_WAIT_MS));
	t0 = h_now_ms();
	/* A record sealed well before the timer's next round. */
	usleep(1500 * 1000);
	h_drop(sys, H_POLICE, "s1.json",
	    "{\"recipients\": [\"mental_health_trust\"], \"purpose\": "
	    "\"triage_advice\", \"urgency\": \"urgent\", \"kind\": "
	    "\"record\", \"local_id\": \"s1\", \"subject\": "
	    "{\"nhs_number\": \"9434765919\"}, \"fields\": {\"presentation\": "
	    "{\"description\": \"agitated\"}}}");
	/* Past the round after it (and a loop tick or two). */
	n = count_submits(r, t0 + RESEND_MS + 2500, id, &have_id, &first);
	assert_true(have_id);
	/* The test shows something only if it was sent before the round. */
	if (first >= t0 + RESEND_MS - 300)
		fail_msg("the record was sent %llu ms after the agreement, "
		         "not before the timer's round at %d ms",
		    (unsigned long long)(first - t0), RESEND_MS);
	if (n != 1)
		fail_msg("the record was sent %u times within %d ms of its "
		         "seal: resent before its receipt could come",
		    n, RESEND_MS);
	/* Its receipt is overdue at the next round: sent again then. */
	n += count_submits(r, t0 + 3 * RESEND_MS + 1500, id, &have_id, &first);
	assert_true(n >= 2);
	assert_int_equal(h_agent_stop(sys, H_POLICE), 0);
	h_rogue_free(r);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(no_resend_before_resend_after),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
