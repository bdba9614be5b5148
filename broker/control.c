/*
 * The control socket (control.h): the broker's side, served from its loop
 * (broker.c polls the listening socket), and the client `concordat
 * status` uses. One request a connection, "status\n"; the answer is the
 * status document with the live figures only the running broker knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker_int.h"
#include "broker/control.h"
#include "broker/status.h"
#include "common/clock.h"
#include "common/log.h"

#define ANSWER_MAX (16u << 20)

static int
address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ERROR_TOOBIG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return ERROR_OK;
}

/* Waits up to the deadline for fd to be ready for events. */
static bool
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = {fd, events, 0};
	uint64_t now = clock_mono_ms();

	if (now >= deadline)
		return false;
	return poll(&pfd, 1, (int)(deadline - now)) == 1;
}

int
control_ask(const char *path, struct strbuf *sb)
{
	static const char req[] = "status\n";
	uint64_t deadline = clock_mono_ms() + CONTROL_TIMEOUT_MS;
	struct sockaddr_un sa;
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	int fd, rc = ERROR_OK;

	if (address(path, &sa) != 0)
		return ERROR_NOENT;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ERROR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return errno == ENOENT || errno == ECONNREFUSED ||
		        errno == ENOTSOCK
		    ? ERROR_NOENT
		    : errno == EACCES ? ERROR_PERM
		                      : ERROR_IO;
	}
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		rc = ERROR_IO;
	while (rc == 0) {
		if (!wait_fd(fd, POLLIN, deadline)) {
			rc = ERROR_IO;
			break;
		}
		if ((n = read(fd, buf, sizeof(buf))) < 0) {
			if (errno != EINTR)
				rc = ERROR_IO;
			continue;
		}
		if (n == 0)
			break;
		if ((total += (size_t)n) > ANSWER_MAX)
			rc = ERROR_TOOBIG;
		else
			strbuf_add(sb, buf, (size_t)n);
	}
	close(fd);
	if (rc == 0 && (rc = strbuf_error(sb)) == 0 &&
	    (total == 0 || sb->buf[0] != '{'))
		rc = ERROR_DECODE; /* closed without an answer, or an error */
	return rc;
}

/* ------------------------------------------------------------ server */

void
control_start(struct broker *b)
{
	const char *path = b->cfg.control_socket;
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd;

	b->mon.control_fd = -1;
	b->mon.started_ms = clock_now_ms();
	if (path[0] == '\0') {
		log_warn("no control socket: %s/%s is too long for a unix "
		         "socket; set control_socket",
		    b->cfg.data, CONTROL_SOCKET_NAME);
		return;
	}
	if (address(path, &sa) != 0)
		return;
	/* One broker a data folder (its lock): a socket left is a dead
	 * broker's. Anything else there is not ours to remove. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("no control socket: %s exists and is not a "
			        "socket",
			    path);
			return;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_err("no control socket: %s", strerror(errno));
		return;
	}
	old = umask(0117); /* 0660: the broker's user and group */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 8) != 0) {
		log_err("no control socket: %s: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return;
	}
	umask(old);
	b->mon.control_fd = fd;
	b->mon.control_open = true;
	log_info("control socket %s", path);
}

void
control_stop(struct broker *b)
{
	if (!b->mon.control_open)
		return;
	b->mon.control_open = false;
	close(b->mon.control_fd);
	b->mon.control_fd = -1;
	unlink(b->cfg.control_socket);
}

int
monitor_status(struct broker *b, struct status **out)
{
	uint64_t wall = clock_now_ms(), mono = clock_mono_ms();
	struct status *st;
	int rc;

	rc = status_gather(b->store, b->keyring, wall, STATUS_NO_ACTIVITY, &st);
	if (rc == 0 &&
	    (rc = status_reviews(
	         st, b->store, policy_review_within_ms(b->policy))) != 0)
		status_free(st);
	if (rc != 0)
		return rc;
	st->live = true;
	st->pid = (long)getpid();
	st->started_ms = b->mon.started_ms;
	st->accepted = b->accepted;
	st->rejected = b->rejected;
	st->delivered = b->mon.delivered;
	st->refused_hour = 0;
	for (size_t i = 0; i < 60; i++)
		if (b->mon.refused_minute_no[i] + 60 > mono / 60000)
			st->refused_hour += b->mon.refused_minute[i];
	for (size_t i = 0; i < b->n_peers; i++) {
		const struct peer *p = &b->peers[i];
		struct status_agency *a = status_agency(st, p->id);
		if (a == NULL)
			continue;
		a->connected = p->connected;
		a->last_seen_ms = p->seen_ms;
		a->in_flight = p->inflight;
		a->redelivered = p->redelivered;
	}
	*out = st;
	return ERROR_OK;
}

/* Reads the request: a line, within a short time (the loop waits). */
static bool
read_request(int fd, char *req, size_t n)
{
	uint64_t deadline = clock_mono_ms() + 200;
	size_t got = 0;
	ssize_t r;

	while (got < n - 1 && memchr(req, '\n', got) == NULL) {
		if (!wait_fd(fd, POLLIN, deadline))
			return false;
		if ((r = read(fd, req + got, n - 1 - got)) <= 0)
			return false;
		got += (size_t)r;
	}
	req[got] = '\0';
	return memchr(req, '\n', got) != NULL;
}

static void
send_all(int fd, const char *s, size_t len)
{
	uint64_t deadline = clock_mono_ms() + 1000;
	ssize_t n;

	while (len > 0 && wait_fd(fd, POLLOUT, deadline)) {
		if ((n = send(fd, s, len, MSG_NOSIGNAL)) <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

void
control_handle(struct broker *b, short revents)
{
	char req[CONTROL_REQUEST_MAX];
	struct status *st = NULL;
	struct strbuf sb;
	int fd, rc;

	if (!(revents & ZMQ_POLLIN))
		return;
	fd = accept4(
	    b->mon.control_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	strbuf_init(&sb);
	if (!read_request(fd, req, sizeof(req)))
		strbuf_addstr(&sb, "error: expected one line: status\n");
	else if (strcmp(req, "status\n") != 0)
		strbuf_addstr(
		    &sb, "error: unknown request (expected: status)\n");
	else if ((rc = monitor_status(b, &st)) != 0)
		strbuf_addf(&sb, "error: %s\n", error_strerror(rc));
	else
		status_json(st, b->cfg.data, &sb);
	status_free(st);
	if (strbuf_error(&sb) == 0)
		send_all(fd, strbuf_str(&sb), strlen(strbuf_str(&sb)));
	strbuf_release(&sb);
	close(fd);
}
