/*
 * The harness's waits (harness.h): polling with deadlines, files counted
 * in folders, records dropped into an outbox, trees searched, and arrivals
 * counted with inotify.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

size_t
h_count(const char *dir, const char *suffix)
{
	size_t n = 0, sl = strlen(suffix);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] != '.' && l >= sl &&
		    strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

bool
h_wait_every(unsigned ms, unsigned every_ms, bool (*pred)(void *arg), void *arg)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		if (pred(arg))
			return true;
		if (h_now_ms() >= end)
			return false;
		struct timespec ts = {
		    every_ms / 1000, (long)(every_ms % 1000) * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

bool
h_wait(unsigned ms, bool (*pred)(void *arg), void *arg)
{
	return h_wait_every(ms, 5, pred, arg);
}

static bool
file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

bool
h_wait_file(const char *path, unsigned ms)
{
	return h_wait(ms, file_exists, (void *)(uintptr_t)path);
}

struct count_arg {
	const char *dir, *suffix;
	size_t n;
};

static bool
count_reached(void *arg)
{
	struct count_arg *c = arg;

	return h_count(c->dir, c->suffix) >= c->n;
}

bool
h_wait_count(const char *dir, const char *suffix, size_t n, unsigned ms)
{
	struct count_arg c = {dir, suffix, n};

	return h_wait(ms, count_reached, &c);
}

static bool
count_zero(void *arg)
{
	struct count_arg *c = arg;

	return h_count(c->dir, c->suffix) == 0;
}

bool
h_wait_none(const char *dir, const char *suffix, unsigned ms)
{
	struct count_arg c = {dir, suffix, 0};

	return h_wait(ms, count_zero, &c);
}

void
h_drop(struct h_sys *s, int agency, const char *name, const char *json)
{
	const char *tmp = h_p("%s/%s", h_spool(s, agency, "tmp"), name);
	const char *out = h_p("%s/%s", h_spool(s, agency, "outbox"), name);

	harness_mkdirs(h_spool(s, agency, "tmp"));
	harness_mkdirs(h_spool(s, agency, "outbox"));
	scratch_write(tmp, json, 0640);
	if (rename(tmp, out) != 0)
		fail_msg("cannot move %s into the outbox: %s", name,
		    strerror(errno));
}

static const char *grep_needle;
static size_t grep_hits;
static char *grep_found;
static size_t grep_found_n;

static int
grep_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	size_t len;
	char *buf;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	buf = scratch_slurp(path, &len);
	if (buf == NULL)
		return 0;
	if (memmem(buf, len, grep_needle, strlen(grep_needle)) != NULL) {
		if (grep_hits++ == 0 && grep_found != NULL)
			snprintf(grep_found, grep_found_n, "%s", path);
	}
	free(buf);
	return 0;
}

size_t
h_tree_grep(const char *root, const char *needle, char *found, size_t n)
{
	grep_needle = needle;
	grep_hits = 0;
	grep_found = found;
	grep_found_n = n;
	if (found != NULL && n > 0)
		found[0] = '\0';
	if (access(root, F_OK) != 0)
		return 0;
	assert_int_equal(nftw(root, grep_one, 16, FTW_PHYS), 0);
	return grep_hits;
}

/* ------------------------------------------------- arrivals in a folder */

#define WATCH_SLOTS 8192 /* a power of two, well above any test's count */

struct h_watch {
	int fd;
	size_t distinct, repeated;
	struct {
		char id[33];
		unsigned n;
	} slot[WATCH_SLOTS];
};

struct h_watch *
h_watch_new(const char *dir)
{
	struct h_watch *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(w->fd >= 0);
	if (inotify_add_watch(w->fd, dir, IN_MOVED_TO) < 0)
		fail_msg("inotify on %s: %s", dir, strerror(errno));
	return w;
}

void
h_watch_free(struct h_watch *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}

static bool
is_msg_name(const char *n)
{
	if (strlen(n) != 37 || strcmp(n + 32, ".json") != 0)
		return false;
	for (int i = 0; i < 32; i++)
		if (strchr("0123456789abcdef", n[i]) == NULL)
			return false;
	return true;
}

static unsigned *
watch_slot(struct h_watch *w, const char *id, bool add)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 32; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	for (unsigned k = 0; k < WATCH_SLOTS; k++) {
		unsigned i = (h + k) & (WATCH_SLOTS - 1);
		if (memcmp(w->slot[i].id, id, 32) == 0)
			return &w->slot[i].n;
		if (w->slot[i].id[0] == '\0') {
			if (!add)
				return NULL;
			memcpy(w->slot[i].id, id, 32);
			return &w->slot[i].n;
		}
	}
	fail_msg("h_watch: more than %d names", WATCH_SLOTS);
	return NULL;
}

void
h_watch_drain(struct h_watch *w)
{
	char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev =
			    (struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				fail_msg("h_watch: the kernel dropped events");
			if (ev->len > 0 && is_msg_name(ev->name)) {
				unsigned *c = watch_slot(w, ev->name, true);
				if (*c == 0)
					w->distinct++;
				else if (*c == 1)
					w->repeated++;
				(*c)++;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

unsigned
h_watch_count(const struct h_watch *w, const char *msg_id)
{
	unsigned *c = watch_slot((struct h_watch *)(uintptr_t)w, msg_id, false);

	return c != NULL ? *c : 0;
}

size_t
h_watch_distinct(const struct h_watch *w)
{
	return w->distinct;
}

size_t
h_watch_repeated(const struct h_watch *w)
{
	return w->repeated;
}
