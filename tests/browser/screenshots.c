/*
 * browser_screenshots OUTDIR: the pages as docs/pages/ shows them, made
 * the way the browser tests make them (pages.h) and photographed by the
 * browser kit at 1200 x 1600. Run by scripts/screenshots. Everything is
 * made in a scratch folder entered first, so that the paths the pages
 * show are the same on every run.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/browser/browser.h"
#include "tests/browser/pages.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

static int
shoot(const char *page, const char *out, const char *name)
{
	char png[PATH_MAX];

	snprintf(png, sizeof(png), "%s/%s.png", out, name);
	if (browser_screenshot(page, png, 1200, 1600, 0) != 0)
		return 1;
	printf("%s\n", png);
	return 0;
}

int
main(int argc, char **argv)
{
	char *dir, *out, *page, *path, *yaml;
	struct fixture_keys k;
	struct event ev[16];
	size_t n;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: browser_screenshots OUTDIR\n");
		return 64;
	}
	if (sodium_init() < 0)
		return 70;
	if ((out = realpath(argv[1], NULL)) == NULL)
		scratch_die("screenshots: %s: no such folder", argv[1]);
	yaml = scratch_read(fixture_agreement(), NULL);
	dir = scratch_dir("screenshots");
	if (chdir(dir) != 0)
		scratch_die("screenshots: %s: cannot enter", dir);
	scratch_write("crisis-care.yaml", yaml, 0644);
	scratch_write("agreement.yaml", yaml, 0644);
	free(yaml);

	page = pages_run(".", "policy-diff", &path, 1, "policy", "diff",
	    "crisis-care.yaml", pages_new_policy("."), "--html", NULL);
	bad |= shoot(path, out, "policy-diff");
	free(page);
	free(path);

	fixture_keys_make(&k, ".");
	fixture_agreement_sign(
	    "agreement.yaml", k.keys, FIXTURE_ALL_GUARDIANS, NULL);
	page = pages_run(".", "policy-summary", &path, 0, "policy", "summary",
	    "agreement.yaml", "--html", "--keyring", k.ring, NULL);
	bad |= shoot(path, out, "policy-summary");
	free(page);
	free(path);

	n = pages_example_events(ev, 16);
	pages_log(".", ev, n);
	page = pages_run(".", "audit-query", &path, 0, "audit", "query",
	    "--data", "./log", "--html", NULL);
	bad |= shoot(path, out, "audit-query");
	free(page);
	free(path);
	page = pages_run(".", "review-queue", &path, 0, "audit", "query",
	    "--data", "./log", "--breakglass", "--unreviewed", "--html", NULL);
	bad |= shoot(path, out, "review-queue");
	free(page);
	free(path);
	/* The letter about the people of messages 1 and 2 (pages.c). */
	char one[65], two[65];
	for (int i = 0; i < 32; i++) {
		snprintf(one + 2 * i, 3, "%02x", 0x41);
		snprintf(two + 2 * i, 3, "%02x", 0x42);
	}
	page = pages_run(".", "subject-access-report", &path, 0, "audit",
	    "report", "--data", "./log", "--subject-ref", one, "--subject-ref",
	    two, "--html", NULL);
	bad |= shoot(path, out, "subject-access-report");
	free(page);
	free(path);
	if (chdir("/") != 0)
		bad = 1;
	scratch_rmrf(dir);
	free(dir);
	free(out);
	return bad ? 1 : 0;
}
