/*
 * bench_e2e: records through real agents and a real broker, from a
 * sender's outbox/ to the recipients' inbox/ folders, watched with inotify
 * (IN_MOVED_TO of a name not starting with '.': the agent writes
 * .MSGID.json.part and renames it into place). Run by scripts/bench; not a
 * test.
 *
 *	--mode burst	drops COUNT records (bench_drop_record) as fast as it
 *			can and waits until every inbox has COUNT new files:
 *			records per second from the first drop to the last
 *			arrival in any inbox
 *	--mode drop	only drops COUNT records (into a stopped agent's spool)
 *	--mode wait	watches the inboxes, prints READY, and waits until
 *			every inbox has COUNT new files; prints the wall-clock
 *			time (ms since the epoch) of the last arrival, for a
 *			drain timed from when the script started the agents
 *
 * A stall of STALL seconds (default 60) with nothing arriving ends the run
 * with what arrived so far (RESULT ... arrived=N, exit 1).
 */
#include <errno.h>
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

#define MAX_INBOX 8

static const char usage_text[] =
    "usage: bench_e2e --mode burst|drop|wait --count N [--from SPOOL]\n"
    "           [--to A[,B...]] [--purpose P] [--inbox DIR[,DIR...]]\n"
    "           [--stall S] [--first I]\n";

struct run {
	const char *mode, *spool, *to, *purpose;
	char *inboxes;
	unsigned long count, first;
	double stall;
	int fd;
	size_t n_inbox;
	int wd[MAX_INBOX];
	unsigned long got[MAX_INBOX];
	double last_mono, last_wall;
};

static int
parse(int argc, char **argv, struct run *r)
{
	static const struct option lo[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"inbox", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'n'},
	    {"stall", required_argument, NULL, 's'},
	    {"first", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(r, 0, sizeof(*r));
	r->stall = 60;
	r->purpose = "triage_advice";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			r->mode = optarg;
			break;
		case 'f':
			r->spool = optarg;
			break;
		case 't':
			r->to = optarg;
			break;
		case 'p':
			r->purpose = optarg;
			break;
		case 'i':
			r->inboxes = optarg;
			break;
		case 'n':
			r->count = strtoul(optarg, NULL, 10);
			break;
		case 's':
			r->stall = atof(optarg);
			break;
		case 'F':
			r->first = strtoul(optarg, NULL, 10);
			break;
		default:
			return -1;
		}
	}
	if (r->mode == NULL || r->count == 0 || optind != argc)
		return -1;
	if (strcmp(r->mode, "wait") != 0 && (!r->spool || !r->to))
		return -1;
	if (strcmp(r->mode, "drop") != 0 && r->inboxes == NULL)
		return -1;
	return 0;
}

static int
watch(struct run *r)
{
	if ((r->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -1;
	for (char *tok = strtok(r->inboxes, ","); tok != NULL;
	     tok = strtok(NULL, ",")) {
		if (r->n_inbox == MAX_INBOX)
			return -1;
		r->wd[r->n_inbox] = inotify_add_watch(r->fd, tok, IN_MOVED_TO);
		if (r->wd[r->n_inbox] < 0) {
			fprintf(stderr, "bench_e2e: cannot watch %s: %s\n", tok,
			    strerror(errno));
			return -1;
		}
		r->n_inbox++;
	}
	return 0;
}

static bool
done(const struct run *r)
{
	for (size_t i = 0; i < r->n_inbox; i++)
		if (r->got[i] < r->count)
			return false;
	return true;
}

/* Reads what inotify has; waits up to ms. 1 when something arrived. */
static int
collect(struct run *r, int ms)
{
	char ev[64 * 1024] __attribute__((aligned(8)));
	struct pollfd p = {r->fd, POLLIN, 0};
	int any = 0;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	ssize_t n = read(r->fd, ev, sizeof(ev));
	for (char *q = ev; n > 0 && q < ev + n;) {
		struct inotify_event *e = (struct inotify_event *)q;
		q += sizeof(*e) + e->len;
		if (e->len == 0 || e->name[0] == '.')
			continue;
		for (size_t i = 0; i < r->n_inbox; i++)
			if (r->wd[i] == e->wd) {
				r->got[i]++;
				any = 1;
			}
	}
	if (any) {
		r->last_mono = bench_now();
		r->last_wall = bench_wall_ms();
	}
	return any;
}

static unsigned long
fewest(const struct run *r)
{
	unsigned long m = r->count;

	for (size_t i = 0; i < r->n_inbox; i++)
		if (r->got[i] < m)
			m = r->got[i];
	return m;
}

int
main(int argc, char **argv)
{
	struct run r;
	double t0 = 0, progress;

	if (parse(argc, argv, &r) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (strcmp(r.mode, "drop") != 0 && watch(&r) != 0)
		return 1;
	if (strcmp(r.mode, "wait") == 0) {
		printf("READY\n");
		fflush(stdout);
	}
	if (strcmp(r.mode, "wait") != 0) {
		t0 = bench_now();
		for (unsigned long i = 0; i < r.count; i++) {
			if (bench_drop_record(r.spool, r.to, r.purpose,
			        (unsigned)(r.first + i)) != 0) {
				fprintf(stderr,
				    "bench_e2e: cannot write into %s: %s\n",
				    r.spool, strerror(errno));
				return 1;
			}
			if (r.fd > 0 && i % 64 == 63)
				collect(&r, 0);
		}
		if (strcmp(r.mode, "drop") == 0) {
			printf("RESULT dropped=%lu seconds=%.3f\n", r.count,
			    bench_now() - t0);
			return 0;
		}
	}
	progress = bench_now();
	while (!done(&r)) {
		if (collect(&r, 200))
			progress = bench_now();
		else if (bench_now() - progress > r.stall)
			break;
	}
	unsigned long low = fewest(&r);
	if (strcmp(r.mode, "burst") == 0) {
		double el = r.last_mono - t0;
		printf("RESULT count=%lu inboxes=%zu arrived=%lu seconds=%.3f "
		       "rate=%.1f\n",
		    r.count, r.n_inbox, low, el,
		    el > 0 ? (double)low / el : 0.0);
	} else {
		printf(
		    "RESULT count=%lu inboxes=%zu arrived=%lu last_ms=%.0f\n",
		    r.count, r.n_inbox, low, r.last_wall);
	}
	return low == r.count ? 0 : 1;
}
