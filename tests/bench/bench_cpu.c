/*
 * bench_cpu: CPU time on record for processes and their threads, from
 * /proc/PID/task/TID/schedstat (bench_cpu_sample). Run once before and
 * once after an interval: the second run, given the first one's output
 * with --since, prints what each process and thread used in between, and
 * with --per N that over N messages, in microseconds. Run by scripts/bench;
 * not a test.
 *
 *	bench_cpu PID... > before
 *	bench_cpu --since before [--per N] PID...
 *
 * Output lines: "CPU pid=P ns=N" per process (every thread), "THREAD pid=P
 * tid=T comm=C ns=N" per thread; with --since the ns are the differences,
 * and with --per N each line also has us_per=X.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/benchutil.h"

#define MAX_PIDS 16

static const char usage_text[] =
    "usage: bench_cpu [--since FILE] [--per N] PID...\n";

/* The ns a previous output gave pid (tid 0: the process), or 0. */
static uint64_t
before_ns(FILE *f, pid_t pid, pid_t tid)
{
	char line[256];
	int p, t;
	uint64_t ns;

	if (f == NULL)
		return 0;
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (tid == 0 &&
		    sscanf(line, "CPU pid=%d ns=%" SCNu64, &p, &ns) == 2 &&
		    p == pid)
			return ns;
		if (tid != 0 &&
		    sscanf(line, "THREAD pid=%d tid=%d", &p, &t) == 2 &&
		    p == pid && t == tid) {
			const char *q = strstr(line, " ns=");
			return q ? strtoull(q + 4, NULL, 10) : 0;
		}
	}
	return 0;
}

static void
put(const char *head, uint64_t ns, double per)
{
	if (per > 0)
		printf("%s ns=%" PRIu64 " us_per=%.1f\n", head, ns,
		    (double)ns / 1e3 / per);
	else
		printf("%s ns=%" PRIu64 "\n", head, ns);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"since", required_argument, NULL, 's'},
	    {"per", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	FILE *since = NULL;
	double per = 0;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if ((since = fopen(optarg, "r")) == NULL) {
				perror(optarg);
				return 1;
			}
			break;
		case 'n':
			per = atof(optarg);
			break;
		default:
			fputs(usage_text, stderr);
			return 64;
		}
	}
	if (optind == argc || argc - optind > MAX_PIDS) {
		fputs(usage_text, stderr);
		return 64;
	}
	for (int i = optind; i < argc; i++) {
		struct bench_cpu s;
		char head[128];
		pid_t pid = (pid_t)strtol(argv[i], NULL, 10);
		if (bench_cpu_sample(pid, &s) != 0) {
			fprintf(stderr, "bench_cpu: no process %s\n", argv[i]);
			rc = 1;
			continue;
		}
		snprintf(head, sizeof(head), "CPU pid=%d", (int)pid);
		put(head, s.total_ns - before_ns(since, pid, 0), per);
		for (size_t t = 0; t < s.n; t++) {
			snprintf(head, sizeof(head),
			    "THREAD pid=%d tid=%d comm=%s", (int)pid,
			    (int)s.t[t].tid,
			    s.t[t].comm[0] ? s.t[t].comm : "?");
			for (char *q = head; *q; q++)
				if (*q == ' ' && q > strstr(head, "comm="))
					*q = '_';
			put(head, s.t[t].ns - before_ns(since, pid, s.t[t].tid),
			    per);
		}
	}
	if (since != NULL)
		fclose(since);
	return rc;
}
