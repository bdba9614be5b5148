/*
 * Helpers for the benchmark programs: clocks, the benchmark record, an
 * agency's keys from its files, sealing through proto/envelope.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/record.h"
#include "tests/bench/benchutil.h"
#include "tests/lib/fixture.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
bench_sender_init(struct bench_sender *s, const char *keyfile,
    const char *keyring, char *recipients)
{
	char why[512] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = keys_load_secret(keyfile, &s->key)) != 0) {
		fprintf(stderr, "%s: %s\n", keyfile, error_strerror(rc));
		return -1;
	}
	if ((rc = keyring_load(keyring, &s->keyring, why, sizeof(why))) != 0) {
		fprintf(stderr, "%s: %s\n", keyring, why);
		return -1;
	}
	for (char *tok = strtok(recipients, ","); tok != NULL;
	     tok = strtok(NULL, ",")) {
		const struct keys_public *k = keyring_find(s->keyring, tok);
		if (k == NULL || s->n_to == WIRE_MAX_RECIPIENTS) {
			fprintf(
			    stderr, "recipient '%s' not in %s\n", tok, keyring);
			return -1;
		}
		if (envelope_shared_key(
		        k->box_pk, s->key->box_sk, s->shared[s->n_to]) != 0)
			return -1;
		s->to[s->n_to++] = k->id;
	}
	if (s->n_to == 0) {
		fprintf(stderr, "no recipient\n");
		return -1;
	}
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *j = json_loads(fixture_record_field(f), 0, NULL);
		rc = j == NULL ? -1
		               : record_field_encode(f, j, &s->plain[f],
		                     &s->plain_len[f], why, sizeof(why));
		json_decref(j);
		if (rc != 0) {
			fprintf(stderr, "benchmark record, %s: %s\n",
			    fields_name(f), why);
			return -1;
		}
	}
	randombytes_buf(s->subject_ref, sizeof(s->subject_ref));
	return 0;
}

void
bench_sender_release(struct bench_sender *s)
{
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(s->plain[f]);
	keys_secret_free(s->key);
	keyring_free(s->keyring);
	sodium_memzero(s->shared, sizeof(s->shared));
}

int
bench_sender_agreement(struct bench_sender *s, const char *path)
{
	crypto_hash_sha256_state st;
	uint8_t buf[8192];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&st, buf, n);
	if (ferror(f)) {
		fprintf(stderr, "%s: cannot read\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	crypto_hash_sha256_final(&st, s->agreement);
	s->has_agreement = true;
	return 0;
}

int
bench_sender_open(struct bench_sender *s, const char *keyfile,
    const char *keyring, char *recipients, const char *agreement)
{
	if (bench_sender_init(s, keyfile, keyring, recipients) != 0)
		return -1;
	return agreement != NULL ? bench_sender_agreement(s, agreement) : 0;
}

int
bench_seal(const struct bench_sender *s, const char *purpose, int urgency,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len)
{
	struct envelope_seal_args a;

	memset(&a, 0, sizeof(a));
	a.sender = s->key->pub.id;
	a.sign_sk = s->key->sign_sk;
	a.created_at_ms = clock_now_ms();
	a.kind = KIND_RECORD;
	a.urgency = urgency;
	a.purpose = purpose;
	a.reason =
	    urgency == URGENCY_EMERGENCY ? EMERGENCY_REASON_RISK_TO_LIFE : 0;
	a.justification = NULL;
	a.subject_ref = s->subject_ref;
	a.agreement = s->has_agreement ? s->agreement : NULL;
	a.n_recipients = s->n_to;
	a.recipients = s->to;
	a.shared = (const uint8_t(*)[32])s->shared;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		a.plain[f] = s->plain[f];
		a.plain_len[f] = s->plain_len[f];
	}
	return envelope_seal(&a, msg_id, frame, len) == 0 ? 0 : -1;
}

/* Reads a small file into buf (NUL-terminated); its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int
bench_cpu_sample(pid_t pid, struct bench_cpu *c)
{
	char path[PATH_MAX], buf[256];
	struct dirent *e;
	DIR *d;

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		uint64_t ns;
		long tid;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		tid = strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/schedstat",
		    (int)pid, tid);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			continue; /* the thread ended meanwhile */
		ns = strtoull(buf, NULL, 10);
		c->total_ns += ns;
		if (c->n == BENCH_CPU_THREADS)
			continue;
		c->t[c->n].tid = (pid_t)tid;
		c->t[c->n].ns = ns;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/comm", (int)pid,
		    tid);
		if (read_small(path, buf, sizeof(buf)) > 0) {
			buf[strcspn(buf, "\n")] = '\0';
			buf[sizeof(c->t[c->n].comm) - 1] = '\0';
			memcpy(c->t[c->n].comm, buf, strlen(buf) + 1);
		}
		c->n++;
	}
	closedir(d);
	return 0;
}

uint64_t
bench_cpu_tid_ns(const struct bench_cpu *c, pid_t tid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].tid == tid)
			return c->t[i].ns;
	return 0;
}

int
bench_drop_record(
    const char *spool, const char *to, const char *purpose, unsigned i)
{
	char tmp[PATH_MAX], dst[PATH_MAX], body[4096], rcpt[512] = "";
	size_t used = 0;
	int fd, n;

	/* "a,b" as "\"a\", \"b\"" */
	for (const char *p = to; *p != '\0' && used + 8 < sizeof(rcpt);) {
		size_t len = strcspn(p, ",");
		n = snprintf(rcpt + used, sizeof(rcpt) - used, "%s\"%.*s\"",
		    used ? ", " : "", (int)len, p);
		if (n < 0 || (size_t)n >= sizeof(rcpt) - used)
			return -1;
		used += (size_t)n;
		p += len + (p[len] == ',');
	}
	n = snprintf(body, sizeof(body),
	    "{\"recipients\": [%s], \"purpose\": \"%s\", "
	    "\"urgency\": \"urgent\", \"kind\": \"record\", "
	    "\"local_id\": \"BENCH-%06u\", "
	    "\"subject\": {\"nhs_number\": \"9434765919\"}, \"fields\": {"
	    "\"identity\": %s, \"demographics\": %s, \"communication\": %s, "
	    "\"presentation\": {\"description\": \"" BENCH_MARK "%06u\"}, "
	    "\"substances\": %s, \"risks\": %s, \"health\": %s, "
	    "\"dependents\": %s}}\n",
	    rcpt, purpose, i, fixture_record_field(1), fixture_record_field(3),
	    fixture_record_field(4), i, fixture_record_field(6),
	    fixture_record_field(11), fixture_record_field(12),
	    fixture_record_field(13));
	if (n < 0 || (size_t)n >= sizeof(body)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp/bench-%06u.json", spool, i);
	snprintf(dst, sizeof(dst), "%s/outbox/bench-%06u.json", spool, i);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (write(fd, body, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, dst);
}

int
bench_broker_key(const char *prog, const char *path, struct keys_public *broker)
{
	if (keys_load_public(path, broker) != 0 || !broker->is_broker) {
		fprintf(stderr, "%s: %s: not a broker key\n", prog, path);
		return -1;
	}
	return 0;
}

void *
bench_connect(const char *prog, void *ctx, const struct keys_public *broker,
    const struct keys_secret *key, const char *endpoint)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;

	if (sock == NULL ||
	    zmq_setsockopt(
	        sock, ZMQ_CURVE_SERVERKEY, broker->transport_pk, 32) ||
	    zmq_setsockopt(
	        sock, ZMQ_CURVE_PUBLICKEY, key->pub.transport_pk, 32) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, key->transport_sk, 32) ||
	    zmq_setsockopt(sock, ZMQ_SNDHWM, &zero, sizeof(zero)) ||
	    zmq_setsockopt(sock, ZMQ_RCVHWM, &zero, sizeof(zero)) ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "%s: cannot connect to %s: %s\n", prog,
		    endpoint, zmq_strerror(zmq_errno()));
		if (sock != NULL)
			zmq_close(sock);
		return NULL;
	}
	return sock;
}
