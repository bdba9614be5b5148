/*
 * bench_latency: end-to-end latency from a sender's outbox to a recipient's
 * inbox, through real agents and a real broker. It writes records into the
 * sender's spool as a local system does (tmp/NAME.json, then rename into
 * outbox/) at a fixed rate, notes the time each rename returned, and
 * watches the recipient's inbox/ with inotify; the record's marker (in the
 * presentation field, which the policy must disclose to the recipient)
 * says which record arrived. Reports p50, p90, p99 and the maximum. Run by
 * scripts/bench; not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"
#include "tests/lib/fixture.h"

#define MARK "bench-latency-"

static const char usage_text[] =
    "usage: bench_latency --from SPOOL --inbox DIR --to AGENCY --purpose P\n"
    "           [--rate PER_SECOND] [--seconds S] [--warmup N]\n";

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

/* Writes record i as tmp/NAME.json and renames it into outbox/. */
static int
drop(const char *spool, const char *to, const char *purpose, unsigned i)
{
	char tmp[PATH_MAX], dst[PATH_MAX], body[4096];
	int fd, n;

	n = snprintf(body, sizeof(body),
	    "{\"recipients\": [\"%s\"], \"purpose\": \"%s\", "
	    "\"urgency\": \"urgent\", \"kind\": \"record\", "
	    "\"local_id\": \"BENCH-%06u\", "
	    "\"subject\": {\"nhs_number\": \"9434765919\"}, \"fields\": {"
	    "\"identity\": %s, \"demographics\": %s, \"communication\": %s, "
	    "\"presentation\": {\"description\": \"" MARK "%06u\"}, "
	    "\"substances\": %s, \"risks\": %s, \"health\": %s, "
	    "\"dependents\": %s}}\n",
	    to, purpose, i, fixture_record_field(1), fixture_record_field(3),
	    fixture_record_field(4), i, fixture_record_field(6),
	    fixture_record_field(11), fixture_record_field(12),
	    fixture_record_field(13));
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
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

/* Reads inbox/name and returns the record number its marker carries. */
static long
marker(const char *inbox, const char *name)
{
	char path[PATH_MAX], buf[16384], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", inbox, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, MARK)) == NULL)
		return -1;
	return strtol(p + strlen(MARK), NULL, 10);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"inbox", required_argument, NULL, 'i'},
	    {"to", required_argument, NULL, 't'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"rate", required_argument, NULL, 'r'},
	    {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *spool = NULL, *inbox = NULL, *to = NULL, *purpose = NULL;
	double rate = 100, seconds = 10, t0, *sent_at, *lat;
	unsigned warm = 20, total, got = 0, arrived = 0, i = 0;
	char ev[64 * 1024];
	int c, fd;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			spool = optarg;
			break;
		case 'i':
			inbox = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			purpose = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'w':
			warm = (unsigned)atoi(optarg);
			break;
		default:
			fputs(usage_text, stderr);
			return 64;
		}
	}
	if (!spool || !inbox || !to || !purpose || rate <= 0 || seconds <= 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	total = warm + (unsigned)(rate * seconds);
	sent_at = calloc(total, sizeof(double));
	lat = calloc(total, sizeof(double));
	if (sent_at == NULL || lat == NULL)
		return 1;
	for (unsigned k = 0; k < total; k++)
		sent_at[k] = -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(fd, inbox, IN_MOVED_TO) < 0) {
		fprintf(stderr, "bench_latency: cannot watch %s: %s\n", inbox,
		    strerror(errno));
		return 1;
	}

	t0 = bench_now();
	for (;;) {
		double now = bench_now(), next = t0 + (double)i / rate;
		if (i >= total && arrived >= total)
			break;
		if (i >= total && now > t0 + (double)total / rate + 15.0)
			break; /* the rest never came */
		if (i < total && now >= next) {
			if (drop(spool, to, purpose, i) != 0) {
				fprintf(stderr,
				    "bench_latency: cannot write "
				    "into %s: %s\n",
				    spool, strerror(errno));
				return 1;
			}
			sent_at[i++] = bench_now();
			continue;
		}
		int wait = i < total ? (int)((next - now) * 1000) : 100;
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, wait < 0 ? 0 : wait) <= 0)
			continue;
		double at = bench_now();
		ssize_t n = read(fd, ev, sizeof(ev));
		for (char *q = ev; n > 0 && q < ev + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			q += sizeof(*e) + e->len;
			if (e->len == 0 || e->name[0] == '.')
				continue;
			long k = marker(inbox, e->name);
			if (k < 0 || (unsigned long)k >= total ||
			    sent_at[k] < 0)
				continue;
			arrived++;
			if ((unsigned)k >= warm)
				lat[got++] = (at - sent_at[k]) * 1000.0;
		}
	}
	close(fd);
	unsigned want = total - warm;
	if (got == 0) {
		fprintf(
		    stderr, "bench_latency: nothing arrived in %s\n", inbox);
		return 1;
	}
	double sum = 0;
	for (unsigned k = 0; k < got; k++)
		sum += lat[k];
	qsort(lat, got, sizeof(double), cmp);
	printf("%u records at %.0f/s (after %u warm-up), %u arrived: "
	       "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, "
	       "mean %.2f ms\n",
	    want, rate, warm, got, pct(lat, got, 50), pct(lat, got, 90),
	    pct(lat, got, 99), lat[got - 1], sum / got);
	printf("RESULT count=%u arrived=%u p50=%.2f p90=%.2f p99=%.2f "
	       "max=%.2f mean=%.2f\n",
	    want, got, pct(lat, got, 50), pct(lat, got, 90), pct(lat, got, 99),
	    lat[got - 1], sum / got);
	free(sent_at);
	free(lat);
	return got == want ? 0 : 1;
}
