/*
 * The agent against a broker that lies (DESIGN.md §5 "Recipient agent",
 * §11 "Refused deliveries"): a rogue ROUTER with the broker's own key,
 * which the trust's real agent pins and connects to, sends it deliveries
 * no honest broker sends. The agent must keep them all out of inbox/,
 * report each in alerts/, and acknowledge each, so that a delivery it
 * cannot take is not sent to it for ever.
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

static struct h_sys *sys;

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/* Frames from the agent until one acknowledges msg_id, within ms. */
static bool
acknowledged(struct h_rogue *r, const uint8_t id[16], unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	while (h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		bool hit = f != NULL && f->type == WIRE_DELIVERY_ACK &&
		    f->u.ack_recipient[0] == '\0' &&
		    memcmp(f->u.ack_msg_id, id, 16) == 0;
		wire_frame_free(f);
		if (hit)
			return true;
	}
	return false;
}

/*
 * A delivery cut short (it does not decode, but its manifest names its
 * msg_id): refused, alerted and acknowledged; bytes that name nothing:
 * logged; the agent stays up, and a good delivery after them still
 * reaches inbox/. (The wire's own refusals, a field over 64 KiB among
 * them, are test_wire's and test_envelope's.)
 */
static void
undecodable_deliveries(void **state)
{
	(void)state;
	struct h_rogue *r = h_rogue_new(sys);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t id[16], *frame;
	size_t len;
	char hex[33];

	h_agent_start(sys, H_MHT, true);
	/* The agent greets first: now the rogue knows where it is. */
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	assert_int_equal(hello->type, WIRE_PROOF_REQUEST);
	wire_frame_free(hello);
	/* The agreement every guardian signed, as the broker sends it. */
	h_rogue_agreement(r, sys->policy);

	/* Cut short by one byte. */
	h_delivery(sys, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len - 1);
	free(frame);
	assert_true(acknowledged(r, id, H_WAIT_MS));
	h_hex(id, 16, hex);
	assert_true(h_wait_count(
	    h_spool(sys, H_MHT, "alerts"), "-delivery.json", 1, H_WAIT_MS));
	assert_int_equal(
	    h_tree_grep(h_spool(sys, H_MHT, "alerts"), hex, NULL, 0), 2);

	/* Bytes that name no delivery: logged, nothing to acknowledge. */
	static const uint8_t junk[] = {0x1a, 0x05, 0x0a, 0x03, 0x08, 0x01};
	h_rogue_send(r, junk, sizeof(junk));

	/* A good one still goes through. */
	h_delivery(sys, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	assert_true(acknowledged(r, id, H_WAIT_MS));
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(sys, H_MHT, "inbox"), hex), H_WAIT_MS));
	/* Only the good one in inbox/; the agent stops cleanly. */
	assert_int_equal(h_count(h_spool(sys, H_MHT, "inbox"), ".json"), 1);
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	h_rogue_free(r);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(undecodable_deliveries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
