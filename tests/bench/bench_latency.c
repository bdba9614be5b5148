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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"
#include "tests/lib/fixture.h"

#define MARK BENCH_MARK

static const char usage_text[] =
    "usage: bench_latency --from SPOOL --inbox DIR --to AGENCY --purpose P\n"
    "           [--rate PER_SECOND] [--seconds S] [--warmup N] [--grace S]\n"
    "           [--first N]\n";

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

/* Prints the percentiles of got arrived and late missing latencies (the
 * missing ones at the end of lat, lower bounds), and the RESULT line. */
static void
report(double *lat, unsigned got, unsigned late, unsigned want, unsigned warm,
    double rate, double grace)
{
	unsigned arrived_n = got;
	double sum = 0;
	for (unsigned k = 0; k < got; k++)
		sum += lat[k];
	got += late;
	qsort(lat, got, sizeof(double), cmp);
	printf("%u records at %.0f/s (after %u warm-up), %u arrived: "
	       "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, "
	       "mean %.2f ms\n",
	    want, rate, warm, arrived_n, pct(lat, got, 50), pct(lat, got, 90),
	    pct(lat, got, 99), lat[got - 1], sum / arrived_n);
	if (late > 0)
		printf("%u records had not arrived %.0f s after the last was "
		       "dropped: counted at the time waited (lower bounds)\n",
		    late, grace);
	printf("RESULT count=%u arrived=%u missing=%u p50=%.2f p90=%.2f "
	       "p99=%.2f max=%.2f mean=%.2f\n",
	    want, arrived_n, late, pct(lat, got, 50), pct(lat, got, 90),
	    pct(lat, got, 99), lat[got - 1], sum / arrived_n);
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
	    {"grace", required_argument, NULL, 'g'},
	    {"first", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	const char *spool = NULL, *inbox = NULL, *to = NULL, *purpose = NULL;
	double rate = 100, seconds = 10, grace = 15, t0, *sent_at, *lat;
	bool *seen;
	unsigned long first = 0;
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
		case 'g':
			grace = atof(optarg);
			break;
		case 'F':
			first = strtoul(optarg, NULL, 10);
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
	seen = calloc(total, sizeof(bool));
	if (sent_at == NULL || lat == NULL || seen == NULL)
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
		if (i >= total && now > t0 + (double)total / rate + grace)
			break; /* the rest never came */
		if (i < total && now >= next) {
			if (bench_drop_record(spool, to, purpose,
			        (unsigned)(first + i)) != 0) {
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
			/* numbered from --first: a late record of an earlier
			 * run on the same agents is not taken for one of this
			 * run's */
			long k = marker(inbox, e->name) - (long)first;
			if (k < 0 || (unsigned long)k >= total ||
			    sent_at[k] < 0 || seen[k])
				continue;
			seen[k] = true;
			arrived++;
			if ((unsigned)k >= warm)
				lat[got++] = (at - sent_at[k]) * 1000.0;
		}
	}
	close(fd);
	unsigned want = total - warm, late = 0;
	/* What never came counts as the time waited for it (a lower bound,
	 * said as missing=N), so that p99 is not flattered by dropping the
	 * slowest. */
	double end = bench_now();
	for (unsigned k = warm; k < total && got > 0; k++)
		if (!seen[k] && sent_at[k] >= 0) {
			lat[got + late++] = (end - sent_at[k]) * 1000.0;
		}
	if (got == 0) {
		fprintf(
		    stderr, "bench_latency: nothing arrived in %s\n", inbox);
		return 1;
	}
	report(lat, got, late, want, warm, rate, grace);
	free(sent_at);
	free(lat);
	free(seen);
	return 0;
}
