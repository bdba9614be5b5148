/*
 * The browser test kit's runner (browser.h): headless Chromium in a
 * process group of its own, a fresh profile folder, a deadline, and the
 * group killed and reaped before returning.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/browser/browser.h"
#include "tests/lib/scratch.h"

#ifndef BROWSER_CHROMIUM
#define BROWSER_CHROMIUM ""
#endif

const char *
browser_program(void)
{
	const char *env = getenv("CONCORDAT_CHROMIUM");
	const char *p = env != NULL && env[0] != '\0' ? env : BROWSER_CHROMIUM;

	if (p[0] == '\0' || strstr(p, "NOTFOUND") != NULL ||
	    access(p, X_OK) != 0) {
		fprintf(stderr,
		    "browser: no Chromium (%s): the browser tests need "
		    "Debian's chromium; run scripts/install-deps, then "
		    "configure again (or set CONCORDAT_CHROMIUM)\n",
		    p[0] != '\0' ? p : "not found by CMake");
		return NULL;
	}
	return p;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The absolute file:// URL of path, in buf. */
static int
file_url(const char *path, char *buf, size_t n)
{
	char *abs = realpath(path, NULL);
	int w;

	if (abs == NULL) {
		fprintf(stderr, "browser: %s: %s\n", path, strerror(errno));
		return -1;
	}
	w = snprintf(buf, n, "file://%s", abs);
	free(abs);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

/*
 * Runs Chromium with the page and one mode argument; its stdout into *out
 * (may be NULL). Returns 0 when it exited 0 before the deadline.
 */
static int
run(const char *path, const char *mode, const char *size, char **out,
    unsigned timeout_s)
{
	const char *prog = browser_program();
	char url[4200], profile[256], profarg[300], errlog[300];
	struct strbuf_ish {
		char *buf;
		size_t len, cap;
	} o = {NULL, 0, 0};
	int fds[2], status = 0, rc = -1;
	double deadline;
	pid_t pid;

	if (out != NULL)
		*out = NULL;
	if (prog == NULL || file_url(path, url, sizeof(url)) != 0)
		return -1;
	scratch_dir_in(profile, sizeof(profile), "chromium");
	snprintf(profarg, sizeof(profarg), "--user-data-dir=%s", profile);
	snprintf(errlog, sizeof(errlog), "%s.log", profile);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		scratch_rmrf(profile);
		return -1;
	}
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		scratch_rmrf(profile);
		return -1;
	}
	if (pid == 0) {
		int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		setpgid(0, 0);
		dup2(fds[1], 1);
		if (e >= 0)
			dup2(e, 2);
		execl(prog, prog, "--headless", "--no-sandbox", "--disable-gpu",
		    profarg, "--no-first-run", "--no-default-browser-check",
		    "--disable-extensions", "--disable-background-networking",
		    "--disable-component-update", "--disable-sync",
		    "--disable-breakpad", "--hide-scrollbars", "--mute-audio",
		    size != NULL ? size : "--disable-translate", mode, url,
		    (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* either side may win the race */
	close(fds[1]);
	deadline = now() + (timeout_s ? timeout_s : BROWSER_TIMEOUT);
	for (;;) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		double left = deadline - now();
		ssize_t r;

		if (left <= 0) {
			fprintf(stderr,
			    "browser: %s: no answer in %u s; killed\n", path,
			    timeout_s ? timeout_s : BROWSER_TIMEOUT);
			break;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (o.len + 65536 > o.cap) {
			char *nb = realloc(o.buf, o.cap + 131072);
			if (nb == NULL)
				break;
			o.buf = nb;
			o.cap += 131072;
		}
		r = read(fds[0], o.buf + o.len, o.cap - o.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = 0;
			break;
		}
		o.len += (size_t)r;
	}
	close(fds[0]);
	/* After the document, Chromium exits by itself: give it the time
	 * left, then whatever is left of the group (helpers, a hung
	 * renderer) goes. */
	bool exited = false;
	while (rc == 0 && now() < deadline) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			exited = true;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		usleep(20000);
	}
	kill(-pid, SIGKILL);
	if (!exited)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (rc == 0 &&
	    !(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "browser: %s: chromium failed (see %s)\n", path,
		    errlog);
		rc = -1;
	}
	scratch_rmrf(profile);
	if (rc == 0)
		unlink(errlog);
	if (rc == 0 && out != NULL) {
		if (o.buf == NULL && (o.buf = malloc(1)) == NULL)
			return -1;
		o.buf[o.len] = '\0';
		*out = o.buf;
		return 0;
	}
	free(o.buf);
	return rc;
}

char *
browser_dom(const char *path, unsigned timeout_s)
{
	char *dom = NULL;

	if (run(path, "--dump-dom", NULL, &dom, timeout_s) != 0)
		return NULL;
	if (strncmp(dom, "<!DOCTYPE html>", 15) != 0 &&
	    strncmp(dom, "<html", 5) != 0) {
		fprintf(stderr, "browser: %s: no document in the dump\n", path);
		free(dom);
		return NULL;
	}
	return dom;
}

int
browser_screenshot(const char *path, const char *png, int width, int height,
    unsigned timeout_s)
{
	char shot[4200], size[64];
	char *abs;
	struct stat st;

	/* Chromium writes relative paths against its own working folder. */
	if (png[0] == '/')
		snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	else if ((abs = getcwd(NULL, 0)) != NULL) {
		snprintf(shot, sizeof(shot), "--screenshot=%s/%s", abs, png);
		free(abs);
	} else
		return -1;
	snprintf(size, sizeof(size), "--window-size=%d,%d", width, height);
	unlink(png);
	if (run(path, shot, size, NULL, timeout_s) != 0)
		return -1;
	if (stat(png, &st) != 0 || st.st_size < 8) {
		fprintf(stderr, "browser: %s: no screenshot written\n", png);
		return -1;
	}
	return 0;
}

char *
browser_dom_of(const char *dir, const char *name, const char *html)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.html", dir, name);
	scratch_write(path, html, 0644);
	return browser_dom(path, 0);
}
