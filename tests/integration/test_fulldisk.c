/*
 * A full disk under the broker (DESIGN.md §9, §11): its data folder on a
 * small tmpfs of its own, in a mount namespace of this test (children
 * inherit it), filled by a sender whose recipient is offline. Every
 * refusal must be the retryable storage_full, never internal; what frees
 * space (the recipient collecting and acknowledging) must still commit;
 * then the broker takes messages again, without a restart and after one.
 * Needs the right to mount (root, as in CI); without it the test fails.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/integration/harness.h"

#define DISK "size=16m"
#define PAD  (60 * 1024) /* bytes of each message's description */

static struct h_sys *sys;

static struct h_client *
client(int agency)
{
	struct h_client *c = h_client_new(
	    sys, h_p("%s/keys/%s.key", sys->dir, fixture_agency[agency]));

	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	return c;
}

/* Sends one padded message for the trust; its receipt. */
static struct wire_frame *
send_one(struct h_client *c, uint8_t id[16])
{
	struct h_msg m = {.sender = H_POLICE, .signer = -1, .pad = PAD};
	uint8_t *frame;
	size_t len;
	struct wire_frame *f;

	h_seal(sys, &m, id, &frame, &len);
	h_client_send(c, frame, len);
	free(frame);
	f = h_client_receipt(c, id, H_WAIT_MS);
	if (f == NULL)
		fail_msg("no receipt from the broker");
	return f;
}

/*
 * Sends until the broker refuses; every refusal must be storage_full and
 * retryable. Returns how many were accepted.
 */
static unsigned
fill(struct h_client *c)
{
	unsigned accepted = 0;

	for (int i = 0; i < 1000; i++) {
		uint8_t id[16];
		struct wire_frame *f = send_one(c, id);
		const struct wire_receipt *r = &f->u.receipt;
		if (r->outcome == WIRE_ACCEPTED) {
			accepted++;
			wire_frame_free(f);
			continue;
		}
		if (r->reason != WIRE_REASON_STORAGE_FULL || !r->retryable)
			fail_msg("refused as %s (%s), not storage_full",
			    wire_reason_name(r->reason), r->detail);
		wire_frame_free(f);
		return accepted;
	}
	fail_msg("a disk of %s took 1000 messages of %d KiB", DISK, PAD >> 10);
	return 0;
}

/* Sends until one is accepted again, within the deadline. */
static void
accepted_again(struct h_client *c)
{
	uint64_t t0 = h_now_ms();

	for (;;) {
		uint8_t id[16];
		struct wire_frame *f = send_one(c, id);
		int outcome = f->u.receipt.outcome,
		    reason = f->u.receipt.reason;
		wire_frame_free(f);
		if (outcome == WIRE_ACCEPTED)
			return;
		assert_int_equal(reason, WIRE_REASON_STORAGE_FULL);
		if (h_now_ms() - t0 > H_WAIT_MS)
			fail_msg("still storage_full after the queue drained");
		usleep(300 * 1000);
	}
}

static void
full_disk(void **state)
{
	(void)state;
	struct h_client *c;
	unsigned n;

	h_broker_start(sys);
	c = client(H_POLICE);
	n = fill(c);
	print_message(
	    "%u messages of %d KiB filled a disk of %s\n", n, PAD >> 10, DISK);
	assert_true(n > 0);
	/* Full: still refused the same way a moment later. */
	assert_int_equal(fill(c), 0);

	/* The recipient collects everything: those commits must succeed. */
	h_agent_start(sys, H_MHT, true);
	assert_true(
	    h_wait_count(h_spool(sys, H_MHT, "inbox"), ".json", n, H_WAIT_MS));
	accepted_again(c);
	h_client_free(c);

	/* Full again, then a crash and a restart on the full disk: the
	 * broker starts, and the queue still drains. */
	c = client(H_POLICE);
	h_agent_stop(sys, H_MHT);
	unsigned m = fill(c);
	h_client_free(c);
	h_broker_kill(sys);
	h_broker_start(sys);
	h_agent_start(sys, H_MHT, true);
	assert_true(h_wait_count(
	    h_spool(sys, H_MHT, "inbox"), ".json", n + 1 + m, H_WAIT_MS));
	c = client(H_POLICE);
	accepted_again(c);
	h_client_free(c);
	assert_int_equal(h_log_count(&sys->broker, "internal"), 0);
	assert_int_equal(h_broker_stop(sys), 0);
	h_pass(sys);
}

static int
setup(void **state)
{
	(void)state;
	/* A mount namespace of our own, so the tmpfs is ours alone. */
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		fail_msg("cannot make a mount namespace (needs root): %s",
		    strerror(errno));
	sys = h_sys_new(NULL, NULL, NULL, 1); /* map_size_mb: 64 */
	mkdir(sys->data, 0700);
	if (mount("tmpfs", sys->data, "tmpfs", 0, DISK ",mode=0700") != 0)
		fail_msg("cannot mount a tmpfs on %s: %s", sys->data,
		    strerror(errno));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char data[PATH_MAX];

	snprintf(data, sizeof(data), "%s", sys->data);
	if (sys->broker.pid != 0)
		h_broker_kill(sys);
	umount2(data, MNT_DETACH);
	h_sys_free(sys);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_disk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
