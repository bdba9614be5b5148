/*
 * A fuzzer of the live broker over CURVE (P5): a real concordat-broker,
 * and police, a keyring agency, sending it mutations of valid frames in
 * batches: sealed Submits (built with h_seal), acknowledgements, proof
 * requests, and the Receipts and Deliveries the broker itself sent, with
 * bits flipped, cut short, extended, spliced, protobuf fields duplicated,
 * reordered, deleted or repeated, varints and lengths made absurd, nested
 * messages mutated inside, or wrapped in several ZeroMQ parts. After every
 * batch a second agency (ambulance) must get a valid receipt for a valid
 * message within a deadline; at the end the broker must stop cleanly on
 * SIGTERM and its audit log must verify.
 *
 * Seeded and reproducible in its choices: CONCORDAT_FUZZ_SEED (printed),
 * CONCORDAT_FUZZ_SECONDS (default 4, as in `make test`, label fuzz). The
 * frames it mutates are sealed afresh each run (new keys, times), so every
 * batch is also written to the test folder (fuzz-batch.bin: for each
 * frame its parts, each a 4-byte big-endian length and the bytes, after a
 * 4-byte part count) before it is sent; the folder is kept on a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "common/urgency.h"
#include "tests/integration/harness.h"

#define POOL       64         /* valid frames to mutate */
#define MAX_OUT    (1u << 21) /* 2 MiB: a little under the read limit */
#define MAX_PARTS  4
#define LIVE_MS    10000 /* the legitimate agency's deadline */
#define REFRESH_MS 60000 /* re-seal the submits (freshness is 5 min) */

static struct h_sys *sys;

/* ------------------------------------------------------------ random */

static uint64_t rng;

static uint64_t
next(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
below(size_t n)
{
	return n == 0 ? 0 : (size_t)(next() % n);
}

static void
fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)next();
}

/* ------------------------------------------------------------ buffers */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void
buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap && b->p != NULL)
		return; /* never NULL, even empty: it is sent and written */
	b->cap = n + n / 2 + 64;
	b->p = realloc(b->p, b->cap);
	assert_non_null(b->p);
}

static void
buf_set(struct buf *b, const uint8_t *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memmove(b->p, p, n);
	b->n = n;
}

/* Replaces [at, at+del) with n bytes of p (p may be NULL: random). */
static void
buf_splice(struct buf *b, size_t at, size_t del, const uint8_t *p, size_t n)
{
	buf_reserve(b, b->n - del + n);
	memmove(b->p + at + n, b->p + at + del, b->n - at - del);
	if (p != NULL && n > 0)
		memcpy(b->p + at, p, n);
	else if (n > 0)
		fill_random(b->p + at, n);
	b->n = b->n - del + n;
}

/* ------------------------------------------------------------ protobuf */

/* One field of a protobuf message: tag at start, payload from val. */
struct pbf {
	size_t start, val, end;
	unsigned wt;
	uint64_t num;
};

static bool
varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
	*v = 0;
	for (unsigned s = 0; s < 64 && *at < n; s += 7) {
		uint8_t c = p[(*at)++];
		*v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

static size_t
put_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	do {
		out[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* The fields of a message, as far as they parse; returns how many. */
static size_t
pb_fields(const uint8_t *p, size_t n, struct pbf *f, size_t max)
{
	size_t at = 0, k = 0;

	while (at < n && k < max) {
		struct pbf x;
		uint64_t tag, len;
		x.start = at;
		if (!varint(p, n, &at, &tag))
			break;
		x.wt = (unsigned)(tag & 7);
		x.num = tag >> 3;
		x.val = at;
		if (x.wt == 0) {
			if (!varint(p, n, &at, &len))
				break;
		} else if (x.wt == 1) {
			at += 8;
		} else if (x.wt == 5) {
			at += 4;
		} else if (x.wt == 2) {
			if (!varint(p, n, &at, &len) || len > n - at)
				break;
			x.val = at;
			at += (size_t)len;
		} else {
			break;
		}
		if (at > n)
			break;
		x.end = at;
		f[k++] = x;
	}
	return k;
}

/* ------------------------------------------------------------ the pool */

enum source { K_SUBMIT, K_ACK, K_PROOF_REQ, K_FROM_BROKER, K_KINDS };
static const char *const kind_name[K_KINDS] = {
    "submit", "ack", "proof_request", "broker frame"};

static struct buf pool[POOL];
static enum source pool_kind[POOL];
static size_t n_pool;

static void
pool_put(size_t i, enum source k, const uint8_t *p, size_t n)
{
	buf_set(&pool[i], p, n);
	pool_kind[i] = k;
}

/* Up to half the pool: fresh sealed Submits of several shapes. */
static void
seal_submits(void)
{
	static const char *const purposes[] = {"triage_advice",
	    "place_of_safety", "emergency_care", "law_enforcement"};
	for (size_t i = 0; i < POOL / 2; i++) {
		struct h_msg m = {.sender = H_POLICE, .signer = -1};
		uint8_t id[16], *frame;
		size_t len;
		m.purpose = purposes[below(4)];
		if (below(4) == 0) {
			m.urgency = URGENCY_EMERGENCY;
			m.reason = 1 + (int)below(4);
			m.justification = "risk to life";
		}
		if (below(3) == 0) {
			m.n_recipients = 1 + below(3);
			for (size_t r = 0; r < m.n_recipients; r++)
				m.recipients[r] = (int)(1 + r);
		}
		if (below(4) == 0)
			m.fields = "{\"identity\": {\"name\": \"A B\"}, "
			           "\"risks\": {\"self_harm\": \"high\"}}";
		if (below(8) == 0)
			m.pad = below(64 * 1024);
		h_seal(sys, &m, id, &frame, &len);
		pool_put(i, K_SUBMIT, frame, len);
		free(frame);
	}
	if (n_pool < POOL / 2)
		n_pool = POOL / 2;
}

static void
add_small_frames(void)
{
	for (size_t i = POOL / 2; i < POOL / 2 + 8; i++) {
		uint8_t id[16], *frame;
		size_t len;
		fill_random(id, 16);
		if (i % 3 == 0) {
			assert_int_equal(wire_ack_encode(id, &frame, &len), 0);
			pool_put(i, K_ACK, frame, len);
		} else if (i % 3 == 1) {
			assert_int_equal(wire_status_ack_encode(id, "ambulance",
			                     1 + (int)below(4), &frame, &len),
			    0);
			pool_put(i, K_ACK, frame, len);
		} else {
			assert_int_equal(
			    wire_proof_request_encode(
			        below(2) ? 0 : next(), &frame, &len),
			    0);
			pool_put(i, K_PROOF_REQ, frame, len);
		}
		free(frame);
	}
	n_pool = POOL / 2 + 8;
}

/* A frame the broker sent (receipt, delivery, proof): into the pool. */
static void
pool_from_broker(const uint8_t *p, size_t n)
{
	size_t i = POOL / 2 + 8 + below(POOL / 2 - 8);

	pool_put(i, K_FROM_BROKER, p, n);
	if (n_pool <= i)
		n_pool = i + 1;
}

/* ----------------------------------------------------------- mutation */

enum op {
	OP_NONE,
	OP_FLIP,
	OP_BYTE,
	OP_TRUNC,
	OP_EXTEND,
	OP_SPLICE,
	OP_DUP_FIELD,
	OP_SWAP_FIELDS,
	OP_DEL_FIELD,
	OP_REPEAT_FIELD,
	OP_ABSURD,
	OP_NESTED,
	OP_EMPTY,
	OP_COUNT
};
static const char *const op_name[OP_COUNT] = {"none", "flip", "byte", "trunc",
    "extend", "splice", "dup_field", "swap_fields", "del_field", "repeat_field",
    "absurd", "nested", "empty"};
static uint64_t op_used[OP_COUNT];

static void mutate(struct buf *b, unsigned depth);

/* A field of b chosen at random (false when none parses). */
static bool
pick_field(const struct buf *b, struct pbf *out, struct pbf *all, size_t *n_all)
{
	static struct pbf f[512];
	size_t n = pb_fields(b->p, b->n, f, 512);

	if (n == 0)
		return false;
	*out = f[below(n)];
	if (all != NULL) {
		memcpy(all, f, n * sizeof(*f));
		*n_all = n;
	}
	return true;
}

static void
op_fields(struct buf *b, enum op op, unsigned depth)
{
	static struct pbf all[512];
	struct pbf x;
	size_t n = 0;
	uint8_t tmp[16];

	if (!pick_field(b, &x, all, &n))
		return;
	size_t fl = x.end - x.start;
	switch (op) {
	case OP_DUP_FIELD: {
		uint8_t *copy = malloc(fl);
		assert_non_null(copy);
		memcpy(copy, b->p + x.start, fl);
		/* Beside itself, or at the end: protobuf merges or keeps the
		 * last of a singular field; the decoder must refuse or cope. */
		buf_splice(b, below(2) ? x.end : b->n, 0, copy, fl);
		free(copy);
		break;
	}
	case OP_SWAP_FIELDS: {
		if (n < 2)
			return;
		size_t i = below(n - 1);
		struct pbf a = all[i], c = all[i + 1];
		size_t al = a.end - a.start, cl = c.end - c.start;
		uint8_t *t = malloc(al + cl);
		assert_non_null(t);
		memcpy(t, b->p + c.start, cl);
		memcpy(t + cl, b->p + a.start, al);
		memcpy(b->p + a.start, t, al + cl);
		free(t);
		break;
	}
	case OP_DEL_FIELD:
		buf_splice(b, x.start, fl, NULL, 0);
		break;
	case OP_REPEAT_FIELD: {
		/* Absurd counts: the same field hundreds of times. */
		size_t k = 2 + below(fl > 0 ? (256 * 1024) / fl : 1);
		if (k > 5000)
			k = 5000;
		uint8_t *copy = malloc(fl);
		assert_non_null(copy);
		memcpy(copy, b->p + x.start, fl);
		for (size_t i = 0; i < k && b->n + fl < MAX_OUT; i++)
			buf_splice(b, x.end, 0, copy, fl);
		free(copy);
		break;
	}
	case OP_ABSURD: {
		/* A varint made huge, or a length beyond what follows. */
		uint64_t v;
		switch (below(4)) {
		case 0:
			v = UINT64_MAX;
			break;
		case 1:
			v = (uint64_t)1 << 63;
			break;
		case 2:
			v = UINT32_MAX;
			break;
		default:
			v = (uint64_t)(b->n - x.val) + 1 + below(16);
			break;
		}
		size_t vn = put_varint(tmp, v);
		if (x.wt == 0) {
			size_t at = x.val;
			uint64_t old;
			(void)varint(b->p, b->n, &at, &old);
			buf_splice(b, x.val, at - x.val, tmp, vn);
		} else if (x.wt == 2) {
			/* The length prefix sits between the tag and x.val. */
			size_t at = x.start;
			uint64_t tag;
			(void)varint(b->p, b->n, &at, &tag);
			buf_splice(b, at, x.val - at, tmp, vn);
		} else {
			fill_random(b->p + x.val, x.end - x.val);
		}
		break;
	}
	case OP_NESTED: {
		/* Mutate inside a length-delimited field, then mend its
		 * length so the outer message still parses. */
		if (x.wt != 2 || depth > 3)
			return;
		struct buf in = {0};
		buf_set(&in, b->p + x.val, x.end - x.val);
		mutate(&in, depth + 1);
		size_t at = x.start;
		uint64_t tag;
		(void)varint(b->p, b->n, &at, &tag);
		size_t vn = put_varint(tmp, in.n);
		buf_splice(b, x.val, x.end - x.val, in.p, in.n);
		buf_splice(b, at, x.val - at, tmp, vn);
		free(in.p);
		break;
	}
	default:
		break;
	}
}

static void
mutate(struct buf *b, unsigned depth)
{
	static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x07};
	enum op op = (enum op)(1 + below(OP_COUNT - 1));

	if (depth > 0 && op == OP_EMPTY)
		op = OP_FLIP;
	op_used[op]++;
	switch (op) {
	case OP_FLIP:
		for (size_t k = 1 + below(8); k > 0 && b->n > 0; k--)
			b->p[below(b->n)] ^= (uint8_t)(1u << below(8));
		break;
	case OP_BYTE:
		if (b->n > 0)
			b->p[below(b->n)] =
			    interesting[below(sizeof(interesting))];
		break;
	case OP_TRUNC:
		b->n = below(b->n);
		break;
	case OP_EXTEND:
		if (below(2) && b->n > 0) {
			size_t at = below(b->n), n = 1 + below(b->n - at);
			uint8_t *copy = malloc(n);
			assert_non_null(copy);
			memcpy(copy, b->p + at, n);
			buf_splice(b, b->n, 0, copy, n);
			free(copy);
		} else {
			buf_splice(b, b->n, 0, NULL, 1 + below(64));
		}
		break;
	case OP_SPLICE: {
		const struct buf *o = &pool[below(n_pool)];
		size_t cut = below(b->n + 1), from = below(o->n + 1);
		buf_splice(b, cut, b->n - cut, o->p + from, o->n - from);
		break;
	}
	case OP_EMPTY:
		b->n = 0;
		break;
	default:
		op_fields(b, op, depth);
		break;
	}
	if (b->n > MAX_OUT)
		b->n = MAX_OUT;
}

/* ------------------------------------------------------------ sending */

struct stats {
	uint64_t frames, bytes, multipart, batches, receipts, accepted;
	uint64_t reasons[32];
	uint64_t broker_frames, deliveries, live_max_ms;
	uint64_t kinds[K_KINDS];
};
static struct stats st;

/* Reads what the broker sent police: receipts counted, frames pooled. */
static void
drain_police(struct h_client *pol, unsigned ms)
{
	struct wire_frame *f;
	uint8_t *raw;
	size_t len;

	while ((f = h_client_recv_raw(pol, ms, &raw, &len)) != NULL) {
		st.broker_frames++;
		if (below(4) == 0)
			pool_from_broker(raw, len);
		free(raw);
		if (f->type == WIRE_RECEIPT) {
			st.receipts++;
			if (f->u.receipt.outcome == WIRE_ACCEPTED)
				st.accepted++;
			else if (f->u.receipt.reason < 32)
				st.reasons[f->u.receipt.reason]++;
		}
		wire_frame_free(f);
		ms = 0;
	}
}

/*
 * The trust's side: deliveries acknowledged (as an agent does) and kept
 * in the pool, for police to send back mutated.
 */
static void
drain_trust(struct h_client *mht)
{
	struct wire_frame *f;
	uint8_t *raw, *frame;
	size_t raw_len, len;

	while ((f = h_client_recv_raw(mht, 0, &raw, &raw_len)) != NULL) {
		if (f->type == WIRE_DELIVERY) {
			st.deliveries++;
			assert_int_equal(wire_ack_encode(f->u.delivery.m.msg_id,
			                     &frame, &len),
			    0);
			h_client_send(mht, frame, len);
			/* Its acknowledgement, and the Delivery's own bytes. */
			pool_from_broker(frame, len);
			free(frame);
			pool_from_broker(raw, raw_len);
		}
		free(raw);
		wire_frame_free(f);
	}
}

static void
put_be32(FILE *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v};

	assert_int_equal(fwrite(b, 1, 4, o), 4);
}

/* One batch: mutated frames sent, the batch kept in the folder first. */
static void
send_batch(struct h_client *pol, unsigned n)
{
	static struct buf out[256];
	size_t parts[256];
	FILE *o = fopen(h_p("%s/fuzz-batch.bin", sys->dir), "w");

	assert_non_null(o);
	assert_true(n <= 256);
	for (unsigned i = 0; i < n; i++) {
		size_t src = below(n_pool);
		buf_set(&out[i], pool[src].p, pool[src].n);
		st.kinds[pool_kind[src]]++;
		for (size_t k = 1 + below(3); k > 0; k--)
			mutate(&out[i], 0);
		parts[i] = below(8) == 0 ? 2 + below(MAX_PARTS - 1) : 1;
		put_be32(o, (uint32_t)parts[i]);
		size_t cut[MAX_PARTS + 1] = {0};
		for (size_t p = 1; p < parts[i]; p++)
			cut[p] = below(out[i].n + 1);
		cut[parts[i]] = out[i].n;
		/* Cut points in order. */
		for (size_t p = 1; p < parts[i]; p++)
			for (size_t q = p + 1; q < parts[i]; q++)
				if (cut[q] < cut[p]) {
					size_t t = cut[p];
					cut[p] = cut[q];
					cut[q] = t;
				}
		const void *pb[MAX_PARTS];
		size_t pl[MAX_PARTS];
		for (size_t p = 0; p < parts[i]; p++) {
			pb[p] = out[i].p + cut[p];
			pl[p] = cut[p + 1] - cut[p];
			put_be32(o, (uint32_t)pl[p]);
			assert_int_equal(fwrite(pb[p], 1, pl[p], o), pl[p]);
		}
		assert_int_equal(fflush(o), 0);
		h_client_send_parts(pol, parts[i], pb, pl);
		st.frames++;
		st.bytes += out[i].n;
		st.multipart += parts[i] > 1;
	}
	fclose(o);
	st.batches++;
}

/* The legitimate agency: a valid message gets a valid receipt in time. */
static void
check_live(struct h_client *amb)
{
	struct h_msg m = {
	    .sender = H_AMBULANCE, .signer = -1, .purpose = "emergency_care"};
	uint8_t id[16], *frame;
	size_t len;

	h_seal(sys, &m, id, &frame, &len);
	uint64_t t0 = h_now_ms();
	h_client_send(amb, frame, len);
	free(frame);
	struct wire_frame *f = h_client_receipt(amb, id, LIVE_MS);
	uint64_t took = h_now_ms() - t0;
	if (f == NULL)
		fail_msg("batch %" PRIu64
		         ": ambulance got no receipt within %d "
		         "ms (broker %s); the batch is in %s/fuzz-batch.bin",
		    st.batches, LIVE_MS,
		    h_proc_running(&sys->broker) ? "running" : "exited",
		    sys->dir);
	if (f->u.receipt.outcome != WIRE_ACCEPTED ||
	    !h_receipt_decided(&f->u.receipt))
		fail_msg("batch %" PRIu64
		         ": ambulance's valid message: %s (%s)",
		    st.batches, wire_reason_name(f->u.receipt.reason),
		    f->u.receipt.detail);
	wire_frame_free(f);
	if (took > st.live_max_ms)
		st.live_max_ms = took;
}

/* CONCORDAT_FUZZ_REPLAY=FILE: sends a kept batch instead of fuzzing. */
static void
replay(struct h_client *pol, const char *path)
{
	size_t len, at = 0;
	uint8_t *d = (uint8_t *)scratch_slurp(path, &len);

	if (d == NULL)
		fail_msg("cannot read %s", path);
	while (at + 4 <= len) {
		uint32_t parts = (uint32_t)d[at] << 24 |
		    (uint32_t)d[at + 1] << 16 | (uint32_t)d[at + 2] << 8 |
		    d[at + 3];
		const void *pb[MAX_PARTS];
		size_t pl[MAX_PARTS];
		at += 4;
		assert_true(parts >= 1 && parts <= MAX_PARTS);
		for (uint32_t p = 0; p < parts; p++) {
			assert_true(at + 4 <= len);
			pl[p] = (size_t)d[at] << 24 | (size_t)d[at + 1] << 16 |
			    (size_t)d[at + 2] << 8 | d[at + 3];
			at += 4;
			assert_true(pl[p] <= len - at);
			pb[p] = d + at;
			at += pl[p];
		}
		h_client_send_parts(pol, parts, pb, pl);
		st.frames++;
	}
	free(d);
	st.batches++;
}

static void
fuzz_broker(void **state)
{
	(void)state;
	const char *e = getenv("CONCORDAT_FUZZ_SEED");
	const char *secs = getenv("CONCORDAT_FUZZ_SECONDS");
	const char *again = getenv("CONCORDAT_FUZZ_REPLAY");
	uint64_t seed, seconds = secs != NULL ? strtoull(secs, NULL, 10) : 4;

	if (e != NULL) {
		seed = strtoull(e, NULL, 0);
	} else {
		randombytes_buf(&seed, sizeof(seed));
	}
	rng = seed;
	fprintf(stderr,
	    "fuzz_broker: CONCORDAT_FUZZ_SEED=%" PRIu64 " for %" PRIu64 " s\n",
	    seed, seconds);
	/* Every frame past the rate would be refused unread: lift it, and
	 * room in the map for a long run's rejection leaves. */
	sys = h_sys_new(NULL,
	    "map_size_mb: 4096\nagency_rate: 1000000\nagency_burst: 1000000\n",
	    NULL, 1);
	h_broker_start(sys);
	struct h_client *pol = h_client_of(sys, H_POLICE);
	struct h_client *amb = h_client_of(sys, H_AMBULANCE);
	struct h_client *mht = h_client_of(sys, H_MHT);
	h_client_hello(mht);
	h_client_hello(pol);

	seal_submits();
	add_small_frames();
	check_live(amb);
	uint64_t t0 = h_now_ms(), sealed = t0;
	if (again != NULL) {
		replay(pol, again);
		drain_police(pol, 100);
		check_live(amb);
	}
	while (again == NULL && h_now_ms() - t0 < seconds * 1000) {
		send_batch(pol, 32 + (unsigned)below(160));
		drain_police(pol, 0);
		drain_trust(mht);
		check_live(amb);
		if (!h_proc_running(&sys->broker))
			fail_msg("the broker exited; the last batch is in "
			         "%s/fuzz-batch.bin",
			    sys->dir);
		if (h_now_ms() - sealed > REFRESH_MS) {
			seal_submits();
			sealed = h_now_ms();
		}
	}
	/* Whatever is still on its way. */
	drain_police(pol, 1000);
	drain_trust(mht);
	uint64_t took = h_now_ms() - t0;
	long rss = h_proc_kb(sys->broker.pid, "VmRSS:");
	long hwm = h_proc_kb(sys->broker.pid, "VmHWM:");

	h_client_free(pol);
	h_client_free(amb);
	h_client_free(mht);
	uint64_t t1 = h_now_ms();
	int rc = h_broker_stop(sys);
	uint64_t stop_ms = h_now_ms() - t1;
	const char *argv[] = {sys->cli, "audit", "verify", "--data", sys->data,
	    "--broker-key", h_p("%s/keys/broker.pub", sys->dir), NULL};
	int vrc = h_run(sys, NULL, NULL, argv);
	size_t events = h_audit_stat(sys, "rejected");

	fprintf(stderr,
	    "FUZZ seed=%" PRIu64 " seconds=%.1f batches=%" PRIu64
	    " frames=%" PRIu64 " bytes=%" PRIu64 " multipart=%" PRIu64
	    " receipts=%" PRIu64 " accepted=%" PRIu64 " broker_frames=%" PRIu64
	    " deliveries=%" PRIu64 " live_max_ms=%" PRIu64
	    " rejected_events=%zu rss_kb=%ld hwm_kb=%ld stop_ms=%" PRIu64
	    " stop_rc=%d verify_rc=%d\n",
	    seed, (double)took / 1000.0, st.batches, st.frames, st.bytes,
	    st.multipart, st.receipts, st.accepted, st.broker_frames,
	    st.deliveries, st.live_max_ms, events, rss, hwm, stop_ms, rc, vrc);
	fprintf(stderr, "FUZZ reasons:");
	for (int r = 1; r < 32; r++)
		if (st.reasons[r] > 0)
			fprintf(stderr, " %s=%" PRIu64, wire_reason_name(r),
			    st.reasons[r]);
	fprintf(stderr, "\nFUZZ sources:");
	for (int k = 0; k < K_KINDS; k++)
		fprintf(stderr, " %s=%" PRIu64, kind_name[k], st.kinds[k]);
	fprintf(stderr, "\nFUZZ mutations:");
	for (int o = 1; o < OP_COUNT; o++)
		fprintf(stderr, " %s=%" PRIu64, op_name[o], op_used[o]);
	fprintf(stderr, "\n");
	assert_int_equal(rc, 0);
	assert_true(stop_ms < 10000);
	assert_int_equal(vrc, 0);
	/* Most frames get a receipt: the broker read and answered them. */
	assert_true(st.receipts > 0);
	for (size_t i = 0; i < POOL; i++)
		free(pool[i].p);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fuzz_broker),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	h_sys_free(sys);
	return rc;
}
