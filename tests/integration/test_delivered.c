/*
 * Every acknowledged delivery has its delivered event in the audit log,
 * however soon the recipient acknowledges it. The broker logs "delivered"
 * in the transaction after the one that sent the delivery, and it takes a
 * batch's acknowledgements before that. An acknowledgement read into that
 * same batch used to remove the item before its delivered event was
 * logged, and the event was lost. test_scenarios s4_copied_to_police
 * found it once under ASan in CI. Here the broker is stopped (SIGSTOP) the
 * moment the first delivery arrives, while it is still sending the rest,
 * and the acknowledgement waits for it when it resumes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

enum { N = 256 }; /* the window: all sent in one pump */

/* The next delivery on c within ms, or NULL. */
static struct wire_frame *
next_delivery(struct h_client *c, unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	for (uint64_t now; (now = h_now_ms()) < end;) {
		struct wire_frame *f = h_client_recv(c, (unsigned)(end - now));
		if (f != NULL && f->type == WIRE_DELIVERY)
			return f;
		wire_frame_free(f);
	}
	return NULL;
}

/*
 * The trust connects and its queue goes out at once; the broker is
 * stopped as the first delivery arrives and that one acknowledged; then
 * it resumes, and every delivery is acknowledged as it comes.
 */
static void
take_with_early_ack(struct h_sys *s)
{
	struct h_client *mht = h_client_of(s, H_MHT);
	struct wire_frame *f;
	unsigned got = 0;

	h_client_hello(mht);
	f = next_delivery(mht, H_WAIT_MS);
	assert_non_null(f);
	assert_int_equal(kill(s->broker.pid, SIGSTOP), 0);
	h_client_ack(mht, f->u.delivery.m.msg_id);
	wire_frame_free(f);
	got++;
	assert_int_equal(kill(s->broker.pid, SIGCONT), 0);
	while (got < N && (f = next_delivery(mht, H_WAIT_MS)) != NULL) {
		h_client_ack(mht, f->u.delivery.m.msg_id);
		wire_frame_free(f);
		got++;
	}
	assert_int_equal(got, N);
	h_client_free(mht);
}

/* Three rounds: the race is won in most, not in every one. */
static void
acknowledged_before_logged(void **state)
{
	enum { ROUNDS = 3 };
	struct h_sys *s = h_sys_new(NULL, "agency_burst: 5000\n", NULL, 1);

	(void)state;
	h_broker_start(s);
	struct h_client *pol = h_client_of(s, H_POLICE);
	/* N for the trust, queued while it is away. */
	const struct h_msg m = {.sender = H_POLICE, .signer = -1, .pad = 16000};
	for (unsigned r = 0; r < ROUNDS; r++) {
		h_client_send_accepted(s, pol, &m, N, NULL);
		take_with_early_ack(s);
		assert_true(h_wait_audit(
		    s, "acknowledged", NULL, (r + 1) * N, H_WAIT_MS));
	}
	size_t delivered = h_audit_count(s, "delivered", NULL);
	if (delivered != ROUNDS * N)
		fail_msg("%u acknowledged, %zu of them logged as delivered",
		    ROUNDS * N, delivered);
	h_client_free(pol);
	h_pass(s);
	h_sys_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(acknowledged_before_logged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
