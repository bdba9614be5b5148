/*
 * The agent's own store (agents/state.c) on real LMDB files: a sealed
 * frame is gone once the receipt is final; records and seen msg_ids go
 * when their retention says, and never while a file or a status report
 * still needs them; resealing keeps the chain of msg_ids; a record of the
 * first layout (version 0) is still read; a full map and a full disk are
 * storage-full errors, never "database error".
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
#include <lmdb.h>
#include <sodium.h>

#include "agents/state.h"
#include "common/clock.h"
#include "tests/lib/scratch.h"
#include "tests/unit/testutil.h"

#define MiB  ((uint64_t)1 << 20)
#define HOUR (60ull * 60 * 1000)
#define DAY  (24 * HOUR)

struct fx {
	char dir[128];
	struct state *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	scratch_dir_in(f->dir, sizeof(f->dir), "unit");
	assert_int_equal(state_open(f->dir, 64 * MiB, &f->s), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	state_close(f->s);
	scratch_rmrf(f->dir);
	free(f);
	return 0;
}

/* A pending message for file name with a frame of len random bytes. */
static void
msg_init(struct state_msg *m, const char *name, size_t len)
{
	memset(m, 0, sizeof(*m));
	randombytes_buf(m->msg_id, sizeof(m->msg_id));
	m->state = STATE_PENDING;
	snprintf(m->file, sizeof(m->file), "%s", name);
	m->frame = malloc(len);
	assert_non_null(m->frame);
	randombytes_buf(m->frame, len);
	m->frame_len = len;
}

static void
put(struct state *s, struct state_msg *m)
{
	int rc;

	assert_int_equal(state_put_msgs(s, m, 1, &rc), 0);
	assert_int_equal(rc, 0);
}

/* Accepted, with these recipients still to report. */
static void
accept(struct state *s, struct state_msg *m, uint64_t now,
    const char *const *waiting, size_t n)
{
	m->state = STATE_ACCEPTED;
	free(m->receipt);
	m->receipt = strdup("{\"outcome\": \"accepted\"}");
	m->n_waiting = n;
	for (size_t i = 0; i < n; i++)
		snprintf(
		    m->waiting[i], sizeof(m->waiting[i]), "%s", waiting[i]);
	assert_int_equal(state_finish_msg(s, m, now), 0);
}

static bool
kept(struct state *s, const uint8_t *id)
{
	struct state_msg m;
	int rc = state_get_msg(s, id, &m);

	state_msg_release(&m);
	assert_true(rc == 0 || rc == ERROR_NOTFOUND);
	return rc == 0;
}

static size_t
pruned(struct state *s, uint64_t now)
{
	struct state_pruned p;

	assert_int_equal(state_prune(s, now, 30 * DAY, 400 * DAY, 1000, &p), 0);
	assert_false(p.more);
	return p.msgs;
}

/* The frame goes with the final receipt; the receipt text with the move. */
static void
frame_deleted_when_final(void **state)
{
	struct fx *f = *state;
	struct state_msg m, got;
	uint64_t now = clock_now_ms();
	const char *mht[] = {"mental_health_trust"};

	msg_init(&m, "a.json", 8000);
	put(f->s, &m);
	assert_int_equal(state_find_file(f->s, "a.json", &got), 0);
	assert_int_equal(got.frame_len, 8000);
	assert_memory_equal(got.frame, m.frame, 8000);
	assert_int_equal(got.state, STATE_PENDING);
	assert_true(got.sealed_at_ms >= now && got.sealed_at_ms < now + 60000);
	state_msg_release(&got);

	accept(f->s, &m, now, mht, 1);
	assert_int_equal(state_get_msg(f->s, m.msg_id, &got), 0);
	assert_int_equal(got.state, STATE_ACCEPTED);
	assert_int_equal(got.frame_len, 0);
	assert_int_equal(got.final_at_ms, now);
	assert_string_equal(got.receipt, "{\"outcome\": \"accepted\"}");
	assert_int_equal(got.n_waiting, 1);
	assert_string_equal(got.waiting[0], "mental_health_trust");
	state_msg_release(&got);

	assert_int_equal(state_close_file(f->s, "a.json"), 0);
	assert_int_equal(state_get_msg(f->s, m.msg_id, &got), 0);
	assert_null(got.receipt);
	assert_string_equal(got.file, "a.json");
	state_msg_release(&got);
	assert_int_equal(state_find_file(f->s, "a.json", &got), ERROR_NOTFOUND);
	state_msg_release(&m);
}

/*
 * A sent message's record goes an hour after its last final status, or
 * after sent_retention whatever it waits for; never while pending or
 * while its file has not moved.
 */
static void
records_pruned(void **state)
{
	struct fx *f = *state;
	struct state_msg a, b, c, p;
	uint64_t t0 = clock_now_ms();
	const char *two[] = {"mental_health_trust", "ambulance"};

	msg_init(&a, "a.json", 100); /* both recipients acknowledge */
	msg_init(&b, "b.json", 100); /* one never does */
	msg_init(&c, "c.json", 100); /* moved late */
	msg_init(&p, "p.json", 100); /* pending for ever */
	put(f->s, &a);
	put(f->s, &b);
	put(f->s, &c);
	put(f->s, &p);
	accept(f->s, &a, t0, two, 2);
	accept(f->s, &b, t0, two, 2);
	accept(f->s, &c, t0, NULL, 0);
	assert_int_equal(state_close_file(f->s, "a.json"), 0);
	assert_int_equal(state_close_file(f->s, "b.json"), 0);

	/* Not final yet, or not yet for everyone: nothing goes. */
	assert_int_equal(state_status(f->s, a.msg_id, "mental_health_trust",
	                     false, t0 + 1000),
	    0);
	assert_int_equal(state_status(f->s, a.msg_id, "mental_health_trust",
	                     true, t0 + 2000),
	    0);
	assert_int_equal(
	    state_status(f->s, b.msg_id, "ambulance", true, t0 + 2000), 0);
	assert_int_equal(pruned(f->s, t0 + 2 * HOUR), 0);
	assert_true(kept(f->s, a.msg_id));

	/* A's last report; kept for the grace hour, then gone. C has no
	 * one to wait for but has not moved. */
	assert_int_equal(
	    state_status(f->s, a.msg_id, "ambulance", true, t0 + 3 * HOUR), 0);
	/* A report again (its ack was lost): no harm. */
	assert_int_equal(
	    state_status(f->s, a.msg_id, "ambulance", true, t0 + 3 * HOUR), 0);
	assert_int_equal(pruned(f->s, t0 + 3 * HOUR + HOUR / 2), 0);
	assert_int_equal(pruned(f->s, t0 + 4 * HOUR + 1), 1);
	assert_false(kept(f->s, a.msg_id));
	assert_true(kept(f->s, b.msg_id));
	assert_true(kept(f->s, c.msg_id));
	assert_int_equal(
	    state_status(f->s, a.msg_id, "ambulance", true, t0 + 5 * HOUR),
	    ERROR_NOTFOUND);

	/* C moves: it goes at the next prune. */
	assert_int_equal(state_close_file(f->s, "c.json"), 0);
	assert_int_equal(pruned(f->s, t0 + 5 * HOUR), 1);
	assert_false(kept(f->s, c.msg_id));

	/* B waits for mental_health_trust for ever: the retention ends it. */
	assert_int_equal(pruned(f->s, t0 + 30 * DAY - 1), 0);
	assert_true(kept(f->s, b.msg_id));
	assert_int_equal(pruned(f->s, t0 + 30 * DAY), 1);
	assert_false(kept(f->s, b.msg_id));

	/* Pending is never pruned, however old. */
	assert_int_equal(pruned(f->s, t0 + 3650 * DAY), 0);
	assert_true(kept(f->s, p.msg_id));
	state_msg_release(&a);
	state_msg_release(&b);
	state_msg_release(&c);
	state_msg_release(&p);
}

static void
seen_pruned(void **state)
{
	struct fx *f = *state;
	uint8_t id[3][WIRE_MSG_ID_LEN];
	struct state_pruned p;
	uint64_t t0 = clock_now_ms();
	bool seen;

	/* One round's deliveries, recorded in one commit. */
	struct state_op ops[3];
	for (int i = 0; i < 3; i++) {
		randombytes_buf(id[i], sizeof(id[i]));
		ops[i] =
		    (struct state_op){.kind = STATE_OP_SEEN, .msg_id = id[i]};
	}
	assert_int_equal(state_apply(f->s, ops, 3, clock_now_ms()), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ops[i].rc, 0);
	uint64_t t1 = clock_now_ms();
	/* Within the retention every one is still known. */
	assert_int_equal(
	    state_prune(f->s, t0 + 400 * DAY - 1, 30 * DAY, 400 * DAY, 100, &p),
	    0);
	assert_int_equal(p.seen, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(state_seen(f->s, id[i], &seen), 0);
		assert_true(seen);
	}
	/* Past it, all forgotten; two per call with a limit of two. */
	assert_int_equal(
	    state_prune(f->s, t1 + 400 * DAY, 30 * DAY, 400 * DAY, 2, &p), 0);
	assert_int_equal(p.seen, 2);
	assert_true(p.more);
	assert_int_equal(
	    state_prune(f->s, t1 + 400 * DAY, 30 * DAY, 400 * DAY, 2, &p), 0);
	assert_int_equal(p.seen, 1);
	assert_false(p.more);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(state_seen(f->s, id[i], &seen), 0);
		assert_false(seen);
	}
}

static int
collect(void *arg, const struct state_msg *m)
{
	struct state_msg *out = arg;

	assert_int_equal(out->n_prev, 0); /* called once */
	memcpy(out->msg_id, m->msg_id, WIRE_MSG_ID_LEN);
	out->n_prev = 1;
	return 0;
}

/* Resealed twice: the file leads to the last; the chain is kept. */
static void
supersede_chain(void **state)
{
	struct fx *f = *state;
	struct state_msg m1, m2, m3, got, each;
	uint64_t now = clock_now_ms();

	msg_init(&m1, "r.json", 300);
	put(f->s, &m1);
	m1.receipt = strdup("{\"reason\": \"stale\"}");
	msg_init(&m2, "r.json", 300);
	m2.n_prev = 1;
	memcpy(m2.prev[0], m1.msg_id, WIRE_MSG_ID_LEN);
	assert_int_equal(state_supersede(f->s, &m1, &m2, now), 0);
	/* m1 is no longer the file's message: refused a second time. */
	assert_int_equal(state_supersede(f->s, &m1, &m2, now), ERROR_EXISTS);

	assert_int_equal(state_get_msg(f->s, m1.msg_id, &got), 0);
	assert_int_equal(got.state, STATE_SUPERSEDED);
	assert_int_equal(got.frame_len, 0);
	assert_memory_equal(got.superseded_by, m2.msg_id, WIRE_MSG_ID_LEN);
	assert_string_equal(got.receipt, "{\"reason\": \"stale\"}");
	state_msg_release(&got);

	m2.receipt = strdup("{\"reason\": \"stale\"}");
	msg_init(&m3, "r.json", 300);
	m3.n_prev = 2;
	memcpy(m3.prev[0], m1.msg_id, WIRE_MSG_ID_LEN);
	memcpy(m3.prev[1], m2.msg_id, WIRE_MSG_ID_LEN);
	assert_int_equal(state_supersede(f->s, &m2, &m3, now + 1), 0);

	assert_int_equal(state_find_file(f->s, "r.json", &got), 0);
	assert_memory_equal(got.msg_id, m3.msg_id, WIRE_MSG_ID_LEN);
	assert_int_equal(got.state, STATE_PENDING);
	assert_int_equal(got.frame_len, 300);
	assert_memory_equal(got.frame, m3.frame, 300);
	assert_int_equal(got.n_prev, 2);
	assert_memory_equal(got.prev[0], m1.msg_id, WIRE_MSG_ID_LEN);
	assert_memory_equal(got.prev[1], m2.msg_id, WIRE_MSG_ID_LEN);
	state_msg_release(&got);

	/* Only the last is open, so only it is resent. */
	memset(&each, 0, sizeof(each));
	assert_int_equal(state_each_open(f->s, collect, &each), 0);
	assert_int_equal(each.n_prev, 1);
	assert_memory_equal(each.msg_id, m3.msg_id, WIRE_MSG_ID_LEN);

	/* The superseded ones stay while their retention lasts. */
	assert_int_equal(pruned(f->s, now + 2 * HOUR), 0);
	assert_true(kept(f->s, m1.msg_id));
	state_msg_release(&m1);
	state_msg_release(&m2);
	state_msg_release(&m3);
}

/* A record written by the first agents (header version 0) still reads. */
static void
version0_record(void **state)
{
	struct fx *f = *state;
	struct state_msg got;
	uint8_t id[WIRE_MSG_ID_LEN], rec[12 + 6 + 5 + 2];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi, fdbi;
	MDB_val k = {sizeof(id), id}, v = {sizeof(rec), rec};
	MDB_val fk = {6, "v.json"}, fv = {sizeof(id), id};

	state_close(f->s);
	f->s = NULL;
	randombytes_buf(id, sizeof(id));
	/* state, pad, file_len, frame_len, receipt_len; file, frame, receipt */
	memset(rec, 0, sizeof(rec));
	rec[0] = STATE_ACCEPTED;
	uint16_t fl = 6;
	uint32_t frl = 5, rl = 2;
	memcpy(rec + 2, &fl, 2);
	memcpy(rec + 4, &frl, 4);
	memcpy(rec + 8, &rl, 4);
	memcpy(rec + 12, "v.json", 6);
	memcpy(rec + 18, "FRAME", 5);
	memcpy(rec + 23, "{}", 2);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "agent.msg", 0, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "agent.file", 0, &fdbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_put(txn, fdbi, &fk, &fv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(state_open(f->dir, 64 * MiB, &f->s), 0);
	assert_int_equal(state_find_file(f->s, "v.json", &got), 0);
	assert_int_equal(got.state, STATE_ACCEPTED);
	assert_int_equal(got.frame_len, 5);
	assert_memory_equal(got.frame, "FRAME", 5);
	assert_string_equal(got.receipt, "{}");
	assert_int_equal(got.n_prev, 0);
	assert_int_equal(got.n_waiting, 0);
	state_msg_release(&got);
	/* Moved: rewritten in the new layout, frame and receipt dropped. */
	assert_int_equal(state_close_file(f->s, "v.json"), 0);
	assert_int_equal(state_get_msg(f->s, id, &got), 0);
	assert_int_equal(got.frame_len, 0);
	assert_null(got.receipt);
	state_msg_release(&got);
}

/* Puts 8 KB messages until the store refuses; returns its error. */
static int
fill(struct state *s, const char *prefix, unsigned *stored)
{
	char name[32];
	int rc = 0, one;

	for (*stored = 0; *stored < 100000; (*stored)++) {
		struct state_msg m;
		snprintf(name, sizeof(name), "%s%u.json", prefix, *stored);
		msg_init(&m, name, 8192);
		rc = state_put_msgs(s, &m, 1, &one);
		state_msg_release(&m);
		if (rc != 0)
			break;
	}
	return rc;
}

static void
map_full(void **state)
{
	struct fx *f = *state;
	uint64_t used, map;
	unsigned n;

	state_close(f->s);
	scratch_rmrf(f->dir);
	scratch_dir_in(f->dir, sizeof(f->dir), "unit");
	assert_int_equal(state_open(f->dir, 1 * MiB, &f->s), 0);
	assert_int_equal(state_usage(f->s, &used, &map), 0);
	assert_int_equal(map, 1 * MiB);
	assert_true(used < map / 10);
	assert_int_equal(fill(f->s, "m", &n), ERROR_MAPFULL);
	print_message("map of 1 MiB full after %u messages of 8 KiB\n", n);
	assert_true(n > 50 && n < 130);
	assert_int_equal(state_usage(f->s, &used, &map), 0);
	assert_true(used > map * 8 / 10);
	assert_string_equal(
	    error_strerror(ERROR_MAPFULL), "database full (retry later)");
	/* A larger map on a reload: room again, the data kept. */
	assert_int_equal(state_set_map_size(f->s, 4 * MiB), 0);
	assert_int_equal(state_usage(f->s, &used, &map), 0);
	assert_int_equal(map, 4 * MiB);
	struct state_msg got;
	assert_int_equal(state_find_file(f->s, "m0.json", &got), 0);
	state_msg_release(&got);
	unsigned more;
	assert_int_equal(fill(f->s, "n", &more), ERROR_MAPFULL);
	assert_true(more > 2 * n);
}

/* The store on a full file system: ERROR_NOSPC, then room again. */
static void
disk_full(void **state)
{
	struct fx *f = *state;
	struct state_msg got;
	unsigned n, more;

	state_close(f->s);
	f->s = NULL;
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		fail_msg("a mount namespace of our own: %s (run as root)",
		    strerror(errno));
	assert_int_equal(
	    mount("tmpfs", f->dir, "tmpfs", 0, "size=512k,mode=0700"), 0);
	assert_int_equal(state_open(f->dir, 64 * MiB, &f->s), 0);
	assert_int_equal(fill(f->s, "m", &n), ERROR_NOSPC);
	print_message("512 KiB file system full after %u messages\n", n);
	assert_true(n > 10);
	assert_string_equal(error_strerror(ERROR_NOSPC),
	    "no space left on device (retry later)");
	/* Still readable; and writable again once the disk has room. */
	assert_int_equal(state_find_file(f->s, "m0.json", &got), 0);
	state_msg_release(&got);
	assert_int_equal(
	    mount(NULL, f->dir, NULL, MS_REMOUNT, "size=2m,mode=0700"), 0);
	assert_int_equal(fill(f->s, "n", &more), ERROR_NOSPC);
	assert_true(more > n);
	assert_int_equal(state_find_file(f->s, "n0.json", &got), 0);
	state_msg_release(&got);
	state_close(f->s);
	f->s = NULL;
	assert_int_equal(umount2(f->dir, MNT_DETACH), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        frame_deleted_when_final, setup, teardown),
	    cmocka_unit_test_setup_teardown(records_pruned, setup, teardown),
	    cmocka_unit_test_setup_teardown(seen_pruned, setup, teardown),
	    cmocka_unit_test_setup_teardown(supersede_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(version0_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(map_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(disk_full, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
