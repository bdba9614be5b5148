/*
 * Helpers shared by the unit tests (see testutil.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "common/urgency.h"
#include "tests/lib/fixture.h"
#include "tests/unit/testutil.h"

/* ---------------------------------------------------------- randomness */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void
tu_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t
tu_rand(void)
{
	/* xorshift64*: plenty for choosing test parameters. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

uint32_t
tu_below(uint32_t n)
{
	return n ? (uint32_t)(tu_rand() % n) : 0;
}

void
tu_fill(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(tu_rand() >> 56);
}

/* ----------------------------------------------------------- folders */

const char *
tu_path(const char *dir, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* ----------------------------------------------------------- agencies */

void
tu_agency_init(struct tu_agency *a, const char *id, uint8_t seed)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	if (seed == 0) {
		crypto_sign_keypair(a->sign_pk, a->sign_sk);
		crypto_box_keypair(a->box_pk, a->box_sk);
		return;
	}
	uint8_t s[32];
	fixture_sign_seed(seed, a->sign_pk, a->sign_sk);
	memset(s, seed, sizeof(s));
	s[0] ^= 0xff;
	crypto_box_seed_keypair(a->box_pk, a->box_sk, s);
}

void
tu_shared(
    const struct tu_agency *own, const struct tu_agency *peer, uint8_t out[32])
{
	assert_int_equal(
	    envelope_shared_key(peer->box_pk, own->box_sk, out), 0);
}

void
tu_msg_init(struct tu_msg *m, const struct tu_agency *sender,
    const struct tu_agency *const *recipients, size_t n, const size_t *lens)
{
	static const size_t sizes[] = {
	    0, 1, 17, 100, 239, 240, 255, 256, 257, 511, 600, 1000};

	memset(m, 0, sizeof(*m));
	m->sender = sender;
	assert_true(n <= WIRE_MAX_RECIPIENTS);
	m->n_recipients = n;
	for (size_t i = 0; i < n; i++)
		m->recipients[i] = recipients[i];
	m->kind = KIND_RECORD;
	m->urgency = URGENCY_URGENT;
	m->purpose = "triage_advice";
	randombytes_buf(m->subject_ref, sizeof(m->subject_ref));
	m->created_at_ms = 1795000000000ull;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		size_t len = lens != NULL
		    ? lens[f]
		    : sizes[tu_below(sizeof(sizes) / sizeof(sizes[0]))];
		m->plain[f] = malloc(len ? len : 1);
		assert_non_null(m->plain[f]);
		tu_fill(m->plain[f], len);
		m->plain_len[f] = len;
	}
}

int
tu_seal(struct tu_msg *m)
{
	struct envelope_seal_args a;
	const char *ids[WIRE_MAX_RECIPIENTS];
	uint8_t shared[WIRE_MAX_RECIPIENTS][32];

	memset(&a, 0, sizeof(a));
	a.sender = m->sender->id;
	a.sign_sk = m->sign_sk != NULL ? m->sign_sk : m->sender->sign_sk;
	a.created_at_ms = m->created_at_ms;
	a.kind = m->kind;
	a.urgency = m->urgency;
	a.purpose = m->purpose;
	a.reason = m->reason;
	a.justification = m->justification;
	a.subject_ref = m->subject_ref;
	a.pepper_id = m->pepper_id;
	a.n_recipients = m->n_recipients;
	for (size_t i = 0; i < m->n_recipients; i++) {
		ids[i] = m->recipients[i]->id;
		tu_shared(m->sender, m->recipients[i], shared[i]);
	}
	a.recipients = ids;
	a.shared = (const uint8_t(*)[32])shared;
	a.grants = m->grants;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		a.plain[f] = m->plain[f];
		a.plain_len[f] = m->plain_len[f];
	}
	free(m->frame);
	m->frame = NULL;
	return envelope_seal(&a, m->msg_id, &m->frame, &m->len);
}

void
tu_msg_release(struct tu_msg *m)
{
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(m->plain[f]);
	free(m->frame);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------- frames */

size_t
tu_find(const uint8_t *hay, size_t hlen, const void *needle, size_t nlen)
{
	const uint8_t *p = memmem(hay, hlen, needle, nlen);

	assert_non_null(p);
	size_t off = (size_t)(p - hay);
	/* Unique, or flipping "it" would be ambiguous. */
	assert_null(memmem(p + 1, hlen - off - 1, needle, nlen));
	return off;
}

struct wire_frame *
tu_decode(const uint8_t *buf, size_t len, int type)
{
	struct wire_frame *f = NULL;
	char why[256] = "";
	int rc = wire_decode(buf, len, &f, why, sizeof(why));

	if (rc != 0)
		print_message(
		    "wire_decode: %s (%s)\n", error_strerror(rc), why);
	assert_int_equal(rc, 0);
	assert_non_null(f);
	assert_int_equal(f->type, type);
	return f;
}

void
tu_dummy_proof(struct wire_audit_proof *p)
{
	static const uint8_t leaf[] = "leaf";
	static const char checkpoint[] = "example.org/log\n1\nAAAA\n";

	memset(p, 0, sizeof(*p));
	p->leaf_index = 7;
	p->leaf = leaf;
	p->leaf_len = sizeof(leaf) - 1;
	p->n_path = 2;
	memset(p->path[0], 0xaa, WIRE_HASH_LEN);
	memset(p->path[1], 0xbb, WIRE_HASH_LEN);
	p->checkpoint = checkpoint;
	p->checkpoint_len = sizeof(checkpoint) - 1;
}

int
tu_delivery_decode(const uint8_t *d, size_t dlen, struct wire_frame **out)
{
	struct wire_audit_proof p;
	uint8_t *frame = NULL;
	size_t flen = 0;
	int rc;

	tu_dummy_proof(&p);
	assert_int_equal(wire_delivery_frame(d, dlen, &p, &frame, &flen), 0);
	rc = wire_decode(frame, flen, out, NULL, 0);
	free(frame);
	return rc;
}

int
tu_open(const uint8_t *d, size_t dlen, const struct tu_agency *self,
    const struct tu_agency *sender, struct envelope_opened **out)
{
	struct wire_frame *f = NULL;
	uint8_t shared[32];
	int rc;

	*out = NULL;
	assert_int_equal(tu_delivery_decode(d, dlen, &f), 0);
	assert_int_equal(f->type, WIRE_DELIVERY);
	tu_shared(self, sender, shared);
	rc = envelope_open(
	    &f->u.delivery, self->id, sender->sign_pk, shared, out);
	if (rc != 0)
		assert_null(*out);
	wire_frame_free(f);
	return rc;
}

/* ---------------------------------------------------- raw protobuf */

Concordat__Frame *
tu_frame_unpack(const uint8_t *buf, size_t len)
{
	Concordat__Frame *f = concordat__frame__unpack(NULL, len, buf);

	assert_non_null(f);
	return f;
}

Concordat__Manifest *
tu_manifest_unpack(const uint8_t *buf, size_t len)
{
	Concordat__Manifest *m = concordat__manifest__unpack(NULL, len, buf);

	assert_non_null(m);
	return m;
}

Concordat__Delivery *
tu_delivery_unpack(const uint8_t *buf, size_t len)
{
	Concordat__Delivery *d = concordat__delivery__unpack(NULL, len, buf);

	assert_non_null(d);
	return d;
}

uint8_t *
tu_pack(const ProtobufCMessage *m, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);

	assert_non_null(b);
	assert_int_equal(protobuf_c_message_pack(m, b), n);
	*len = n;
	return b;
}

void
tu_set_bytes(ProtobufCBinaryData *b, const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	assert_non_null(c);
	if (n > 0)
		memcpy(c, p, n);
	free(b->data);
	b->data = c;
	b->len = n;
}

void
tu_set_str(char **s, const char *v)
{
	char *c = strdup(v);

	assert_non_null(c);
	free(*s);
	*s = c;
}

void
tu_add_unknown(ProtobufCMessage *m, uint32_t tag, ProtobufCWireType wt)
{
	ProtobufCMessageUnknownField *u;
	uint8_t *data;
	size_t len;

	u = realloc(m->unknown_fields, (m->n_unknown_fields + 1) * sizeof(*u));
	assert_non_null(u);
	m->unknown_fields = u;
	switch (wt) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		len = 1;
		break;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		len = 8;
		break;
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		len = 4;
		break;
	default:
		len = 2; /* length 1, then "x" */
		break;
	}
	data = calloc(1, len);
	assert_non_null(data);
	data[0] = 1;
	if (wt == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
		data[1] = 'x';
	u = &m->unknown_fields[m->n_unknown_fields++];
	u->tag = tag;
	u->wire_type = wt;
	u->len = len;
	u->data = data;
}

#define SIGN_CTX "concordat/manifest/v1"

void
tu_sign_manifest(
    const uint8_t *manifest, size_t len, const uint8_t sk[64], uint8_t sig[64])
{
	size_t n = sizeof(SIGN_CTX) - 1;
	uint8_t *msg = malloc(n + len);

	assert_non_null(msg);
	memcpy(msg, SIGN_CTX, n);
	memcpy(msg + n, manifest, len);
	crypto_sign_detached(sig, NULL, msg, n + len, sk);
	free(msg);
}

bool
tu_verify_manifest(const uint8_t *manifest, size_t len, const uint8_t sig[64],
    const uint8_t pk[32])
{
	size_t n = sizeof(SIGN_CTX) - 1;
	uint8_t *msg = malloc(n + len);
	bool ok;

	assert_non_null(msg);
	memcpy(msg, SIGN_CTX, n);
	memcpy(msg + n, manifest, len);
	ok = crypto_sign_verify_detached(sig, msg, n + len, pk) == 0;
	free(msg);
	return ok;
}

void
tu_resign(Concordat__Frame *f, const uint8_t *manifest, size_t len,
    const uint8_t sk[64])
{
	Concordat__Envelope *e = f->submit->envelope;
	uint8_t sig[64];

	tu_set_bytes(&e->manifest, manifest, len);
	tu_sign_manifest(manifest, len, sk, sig);
	tu_set_bytes(&e->signature, sig, sizeof(sig));
}

size_t
tu_ad(uint8_t *ad, const uint8_t msg_id[16], int field, const char *recipient)
{
	const char *ctx =
	    recipient ? "concordat/wrap/v1" : "concordat/field/v1";
	size_t n = 0;

	memcpy(ad, ctx, strlen(ctx));
	n += strlen(ctx);
	memcpy(ad + n, msg_id, 16);
	n += 16;
	ad[n++] = (uint8_t)field;
	if (recipient != NULL) {
		memcpy(ad + n, recipient, strlen(recipient));
		n += strlen(recipient);
	}
	return n;
}

/* ------------------------------------------------------- memory */

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

#ifdef TU_ASAN
#include <sanitizer/asan_interface.h>
void __sanitizer_purge_allocator(void);
#endif

/* VmHWM of /proc/self/status in bytes, or 0. */
static size_t
peak_rss(void)
{
	char line[256];
	size_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtoul(line + 6, NULL, 10);
	fclose(f);
	return kb * 1024;
}

int
tu_peak_growth(int (*fn)(void *), void *arg, size_t *grown)
{
	struct {
		int ok, rc;
		size_t grown;
	} r = {0, 0, 0};
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t before, after;
		int fd;

		close(p[0]);
#ifdef TU_ASAN
		__sanitizer_purge_allocator();
#else
		malloc_trim(0);
#endif
		/* "5": the peak becomes the current resident size. */
		fd = open("/proc/self/clear_refs", O_WRONLY);
		if (fd >= 0 && write(fd, "5", 1) == 1 && close(fd) == 0 &&
		    (before = peak_rss()) > 0) {
			r.rc = fn(arg);
			after = peak_rss();
			r.ok = after >= before;
			r.grown = after - before;
		}
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!r.ok)
		fail_msg("the child could not measure its peak memory");
	*grown = r.grown;
	return r.rc;
}

void
tu_child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "child: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	_exit(3);
}

/* Counts the canary in [lo, hi) of the child's memory. */
static size_t
scan_range(int mem, uintptr_t lo, uintptr_t hi, const char *canary,
    const char *name, size_t *scanned)
{
	enum { CHUNK = 1 << 20 };
	size_t n = TU_CANARY_LEN, found = 0;
	uint8_t *buf = malloc(CHUNK + TU_CANARY_LEN);

	assert_non_null(buf);
	/* Chunks overlap by n - 1 bytes, for a canary across two. */
	for (uintptr_t at = lo; at < hi;) {
		size_t want = hi - at < CHUNK + n - 1 ? hi - at : CHUNK + n - 1;
		ssize_t got = pread(mem, buf, want, (off_t)at);
		if (got <= 0)
			fail_msg("cannot read the child's %s at %#" PRIxPTR
			         ": %s",
			    name, at, got < 0 ? strerror(errno) : "EOF");
		*scanned += (size_t)got;
		for (const uint8_t *q = buf;
		     (q = memmem(q, (size_t)got - (size_t)(q - buf), canary,
		          n)) != NULL;
		     q++) {
			print_message("canary found at %#" PRIxPTR " in %s\n",
			    at + (uintptr_t)(q - buf), name);
			found++;
		}
		if ((size_t)got < n || at + (size_t)got >= hi)
			break;
		at += (size_t)got - (n - 1);
	}
	free(buf);
	return found;
}

size_t
tu_canary_survivors(void (*fn)(const char *canary, void *arg), void *arg)
{
	char canary[TU_CANARY_LEN + 1], path[64], line[512];
	uint8_t raw[TU_CANARY_LEN / 2];
	size_t found = 0, scanned = 0;
	uintptr_t shadow_lo = 0, shadow_hi = 0;
	int p[2], status, mem;
	FILE *maps;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		/* The parent reads our memory through /proc. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
			tu_child_fail("prctl: %s", strerror(errno));
		if (read(p[0], canary, TU_CANARY_LEN) != TU_CANARY_LEN)
			tu_child_fail("no canary");
		close(p[0]);
		canary[TU_CANARY_LEN] = '\0';
		fn(canary, arg);
		sodium_memzero(canary, sizeof(canary));
		raise(SIGSTOP);
		_exit(0);
	}
	close(p[0]);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(canary, sizeof(canary), raw, sizeof(raw));
	assert_int_equal(write(p[1], canary, TU_CANARY_LEN), TU_CANARY_LEN);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	if (!WIFSTOPPED(status))
		fail_msg("the child did not stop (status %#x)", status);

#ifdef TU_ASAN
	{
		size_t scale, offset;
		__asan_get_shadow_mapping(&scale, &offset);
		shadow_lo = offset;
		shadow_hi = offset + (((uintptr_t)1 << 47) >> scale);
	}
#endif
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	assert_non_null(maps = fopen(path, "r"));
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	assert_true((mem = open(path, O_RDONLY)) >= 0);
	while (fgets(line, sizeof(line), maps) != NULL) {
		uintptr_t lo, hi;
		char perms[8], name[256] = "[anonymous]";
		if (sscanf(line,
		        "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %*s %255s", &lo,
		        &hi, perms, name) < 3)
			fail_msg("cannot parse the child's maps: %s", line);
		if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p')
			continue;
		if (strncmp(name, "[stack", 6) == 0)
			continue;
		if (shadow_hi != 0 && lo >= shadow_lo && hi <= shadow_hi)
			continue;
		found += scan_range(mem, lo, hi, canary, name, &scanned);
	}
	close(mem);
	fclose(maps);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* A scan that read nothing would prove nothing. */
	assert_true(scanned > 0);
	sodium_memzero(canary, sizeof(canary));
	return found;
}
