/*
 * The spool folders as a security boundary (docs/agent.md §5): the local
 * record system is another user, and what it puts in outbox/ is untrusted.
 * Links to the agent's own secrets are refused without being read and
 * nothing of them reaches an error file or the log; records written in
 * place are taken only once complete; entries that are not records are
 * reported once, never read, and never block the agent; alerts and error
 * files never replace one another; a record replaced while its first
 * version waits for a receipt is sent too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/integration/harness.h"

#define RECORD(local, level)                                                   \
	"{\"recipients\": [\"mental_health_trust\"],\n"                        \
	" \"purpose\": \"triage_advice\", \"urgency\": \"urgent\",\n"          \
	" \"local_id\": \"" local "\",\n"                                      \
	" \"subject\": {\"nhs_number\": \"9434765919\"},\n"                    \
	" \"fields\": {\"risks\": {\"self_harm\": \"" level "\"}}}\n"

/* The agent's settle time for files written in place (docs/agent.md). */
#define SETTLE_MS 2000

static int
setup(void **state)
{
	*state = h_sys_new(NULL, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
write_all(int fd, const char *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Fails when text holds the key file's magic or 8 hex digits in a row of
 * the pepper (pepper: its 64 hex digits). */
static void
assert_no_secret(const char *what, const char *text, const char *pepper)
{
	size_t len = strlen(text);

	if (memmem(text, len, "CCSKEY", 6) != NULL)
		fail_msg("%s quotes the secret key file", what);
	for (size_t i = 0; i + 8 <= 64; i++)
		if (memmem(text, len, pepper + i, 8) != NULL)
			fail_msg(
			    "%s quotes the pepper (%.8s)", what, pepper + i);
}

/* The message of the one error of failed/STEM.error.json. */
static char *
only_error(const char *failed, const char *stem)
{
	const char *path = h_p("%s/%s.error.json", failed, stem);
	json_t *e, *errs;
	char *msg;

	if (!h_wait_file(path, H_WAIT_MS))
		fail_msg("no %s", path);
	e = h_json(path);
	errs = json_object_get(e, "errors");
	if (json_array_size(errs) != 1) {
		char *d = json_dumps(e, 0);
		fail_msg("%s: one error expected: %s", stem, d);
	}
	msg = strdup(json_string_value(
	    json_object_get(json_array_get(errs, 0), "message")));
	assert_non_null(msg);
	json_decref(e);
	return msg;
}

static void
assert_says(const char *what, const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("%s: '%s' does not say '%s'", what, text, needle);
}

struct snap {
	struct stat st;
	size_t len;
	char *text;
};

static void
snap_take(struct snap *sn, const char *path)
{
	assert_int_equal(lstat(path, &sn->st), 0);
	sn->text = scratch_slurp(path, &sn->len);
	assert_non_null(sn->text);
}

/* path is still the file sn saw: same inode, mode, bytes and mtime. */
static void
snap_same(struct snap *sn, const char *path)
{
	struct stat st;
	size_t len;
	char *text = scratch_slurp(path, &len);

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_ino, sn->st.st_ino);
	assert_int_equal(st.st_mode, sn->st.st_mode);
	assert_int_equal(st.st_mtim.tv_sec, sn->st.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, sn->st.st_mtim.tv_nsec);
	assert_int_equal(len, sn->len);
	assert_memory_equal(text, sn->text, len);
	free(text);
	free(sn->text);
}

/*
 * Symbolic and hard links in outbox/ to the agent's own secret key and
 * pepper: refused unread, moved to failed/ with an error that names the
 * problem and quotes nothing of the targets, which stay as they were.
 */
static void
links_to_secrets(void **state)
{
	struct h_sys *s = *state;
	char key[PATH_MAX], pepper[PATH_MAX], outbox[PATH_MAX];
	char failed[PATH_MAX], hex[65];
	struct snap ks, ps;
	static const struct {
		const char *stem;
		bool hard, to_key;
		const char *says;
	} links[] = {
	    {"skey", false, true, "symbolic link"},
	    {"spepper", false, false, "symbolic link"},
	    {"hkey", true, true, "2 links"},
	    {"hpepper", true, false, "2 links"},
	};

	snprintf(key, sizeof(key), "%s", h_p("%s/keys/police.key", s->dir));
	snprintf(pepper, sizeof(pepper), "%s", h_p("%s/keys/pepper", s->dir));
	snprintf(outbox, sizeof(outbox), "%s", h_spool(s, H_POLICE, "outbox"));
	snprintf(failed, sizeof(failed), "%s", h_spool(s, H_POLICE, "failed"));
	/* Any 64 hex digits are a pepper; these, digits then 'e', read as
	 * a number, which jansson's messages quote up to 20 bytes of. */
	scratch_write(pepper,
	    "12345678e0123456789abcdef0123456789abcdef0123456789abcdef0123456"
	    "\n",
	    0600);
	snap_take(&ks, key);
	snap_take(&ps, pepper);
	assert_true(ps.len >= 64);
	memcpy(hex, ps.text, 64);
	hex[64] = '\0';
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		const char *target = links[i].to_key ? key : pepper;
		const char *at = h_p("%s/%s.json", outbox, links[i].stem);
		assert_int_equal(
		    links[i].hard ? link(target, at) : symlink(target, at), 0);
	}
	h_drop(s, H_POLICE, "good.json", RECORD("GOOD-1", "high"));

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		const char *stem = links[i].stem;
		char *msg = only_error(failed, stem);
		char *text =
		    scratch_slurp(h_p("%s/%s.error.json", failed, stem), NULL);
		assert_says(stem, msg, links[i].says);
		assert_no_secret(h_p("failed/%s.error.json", stem), text, hex);
		free(text);
		free(msg);
		/* Moved as it was: the link itself, not a copy. */
		struct stat st;
		assert_true(
		    h_wait_file(h_p("%s/%s.json", failed, stem), H_WAIT_MS));
		assert_int_equal(
		    lstat(h_p("%s/%s.json", failed, stem), &st), 0);
		if (links[i].hard)
			assert_int_equal(st.st_ino,
			    links[i].to_key ? ks.st.st_ino : ps.st.st_ino);
		else
			assert_true(S_ISLNK(st.st_mode));
	}
	assert_true(h_wait_file(
	    h_p("%s/good.receipt.json", h_spool(s, H_POLICE, "sent")),
	    H_WAIT_MS));
	assert_int_equal(h_count(outbox, ""), 0);
	assert_int_equal(h_count(failed, ".error.json"), 4);
	assert_int_equal(h_count(failed, ""), 8);

	/* Nothing of either secret in the log. */
	char *log = scratch_slurp(s->agent[H_POLICE].log, NULL);
	assert_no_secret("the agent's log", log, hex);
	free(log);
	/* The targets are untouched, and the key still serves. */
	snap_same(&ks, key);
	snap_same(&ps, pepper);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* Waits for NAME in sent/ and checks it went once, whole, and alone. */
static void
assert_sent_once(
    struct h_sys *s, const char *name, const char *stem, const char *text)
{
	char sent[PATH_MAX], receipt[PATH_MAX], *kept;

	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	snprintf(receipt, sizeof(receipt), "%s",
	    h_p("%s/%s.receipt.json", sent, stem));

	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no %s (failed/ holds %zu files)", receipt,
		    h_count(h_spool(s, H_POLICE, "failed"), ""));
	json_t *r = h_json(receipt);
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	json_decref(r);
	assert_true(h_wait_file(h_p("%s/%s", sent, name), H_WAIT_MS));
	kept = scratch_slurp(h_p("%s/%s", sent, name), NULL);
	assert_non_null(kept);
	assert_string_equal(kept, text);
	free(kept);
	assert_true(
	    h_wait_count(h_spool(s, H_MHT, "inbox"), ".json", 1, H_WAIT_MS));
	/* A rescan and a settle time later, still one of everything. */
	sleep_ms(SETTLE_MS + 2500);
	assert_int_equal(h_count(sent, ""), 2);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ""), 0);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ""), 0);
	assert_int_equal(h_count(h_spool(s, H_MHT, "inbox"), ".json"), 1);
	assert_int_equal(h_audit_count(s, "accepted", NULL), 1);
}

/*
 * A record written in place, slowly, by a writer that keeps the file open
 * (once pausing longer than the settle time): taken once, complete.
 */
static void
slow_writer(void **state)
{
	struct h_sys *s = *state;
	static const char text[] = RECORD("SLOW-1", "high");
	size_t len = strlen(text), step = len / 12 + 1;
	int fd;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	fd = open(h_p("%s/slow.json", h_spool(s, H_POLICE, "outbox")),
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	for (size_t off = 0, k = 0; off < len; off += step, k++) {
		write_all(fd, text + off, off + step < len ? step : len - off);
		/* Past two rescans in all, and once past the settle time. */
		sleep_ms(k == 5 ? SETTLE_MS + 1500 : 400);
	}
	assert_int_equal(close(fd), 0);
	assert_sent_once(s, "slow.json", "slow", text);
	h_pass(s);
}

/* A record written in place in two steps (close, reopen, append): one. */
static void
two_step_writer(void **state)
{
	struct h_sys *s = *state;
	static const char text[] = RECORD("TWO-1", "medium");
	size_t half = strlen(text) / 2;
	char path[PATH_MAX];
	int fd;

	snprintf(
	    path, sizeof(path), "%s/two.json", h_spool(s, H_POLICE, "outbox"));

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	write_all(fd, text, half);
	assert_int_equal(close(fd), 0);
	sleep_ms(SETTLE_MS / 4);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	write_all(fd, text + half, strlen(text) - half);
	assert_int_equal(close(fd), 0);
	assert_sent_once(s, "two.json", "two", text);
	h_pass(s);
}

/*
 * agent.yaml's settle_after and rescan_every: with a settle time of 4 s, a
 * record written in place is still in outbox/ past the default 2 s and a
 * rescan, and is taken, once, after it has settled for 4 s. A value out of
 * range is refused, by name.
 */
static void
settle_time_from_config(void **state)
{
	struct h_sys *s = *state;
	static const char text[] = RECORD("SETTLE-1", "low");
	const char *err = h_p("%s/settle.err", s->dir);
	const char *const check[] = {
	    s->agent_bin, "-n", "-c", h_agent_yaml(s, H_POLICE), NULL};
	char *said;
	int fd;

	h_agent_config(s, H_POLICE, "settle_after: 10ms\n");
	assert_int_equal(h_run(s, NULL, err, check), 78);
	said = scratch_slurp(err, NULL);
	assert_non_null(strstr(said, "settle_after: '10ms' is out of range"));
	free(said);
	h_agent_config(s, H_POLICE, "rescan_every: 2h\n");
	assert_int_equal(h_run(s, NULL, err, check), 78);
	said = scratch_slurp(err, NULL);
	assert_non_null(strstr(said, "rescan_every: '2h' is out of range"));
	free(said);

	h_agent_config(s, H_POLICE, "settle_after: 4s\nrescan_every: 300ms\n");
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	fd = open(h_p("%s/settle.json", h_spool(s, H_POLICE, "outbox")),
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	write_all(fd, text, strlen(text));
	assert_int_equal(close(fd), 0);
	sleep_ms(SETTLE_MS + 600);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "sent"), ""), 0);
	assert_int_equal(
	    h_count(h_spool(s, H_POLICE, "outbox"), "settle.json"), 1);
	assert_sent_once(s, "settle.json", "settle", text);
	h_pass(s);
}

/*
 * What is not a record: folders, a FIFO, a socket, a file not named .json,
 * a file that is not UTF-8, a field over the limit, names that are not
 * record names and hidden ones. Each is reported once, plainly, without
 * quoting it; none blocks the agent or makes it spin; a good record beside
 * them is sent.
 */
static void
not_records(void **state)
{
	struct h_sys *s = *state;
	char outbox[PATH_MAX], failed[PATH_MAX], *big, *latin;
	struct sockaddr_un sun;
	size_t off;
	int sk;

	snprintf(outbox, sizeof(outbox), "%s", h_spool(s, H_POLICE, "outbox"));
	snprintf(failed, sizeof(failed), "%s", h_spool(s, H_POLICE, "failed"));
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);

	assert_int_equal(mkdir(h_p("%s/sub", outbox), 0750), 0);
	assert_int_equal(mkdir(h_p("%s/dir.json", outbox), 0750), 0);
	scratch_write(h_p("%s/dir.json/inner.json", outbox), "{}", 0640);
	assert_int_equal(mkfifo(h_p("%s/pipe.json", outbox), 0640), 0);
	assert_int_equal(mkfifo(h_p("%s/fifo", outbox), 0640), 0);
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sk >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    h_p("%s/sock.json", outbox));
	assert_int_equal(strlen(sun.sun_path), strlen(outbox) + 10);
	assert_int_equal(bind(sk, (struct sockaddr *)&sun, sizeof(sun)), 0);
	h_drop(s, H_POLICE, "notes.txt", "not a record\n");
	/* Latin-1, not UTF-8: a name with an e acute as one byte. */
	latin = strdup(RECORD("LATIN-1", "high"));
	assert_non_null(latin);
	char *at = strstr(latin, "LATIN-1");
	at[5] = (char)0xe9;
	off = (size_t)(at + 5 - latin);
	h_drop(s, H_POLICE, "latin1.json", latin);
	/* A field over the 64 KiB limit. */
	big = malloc(80 * 1024);
	assert_non_null(big);
	int n = snprintf(big, 1024,
	    "{\"recipients\": [\"mental_health_trust\"],\n"
	    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\",\n"
	    " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
	    " \"fields\": {\"identity\": {\"description\": \"");
	memset(big + n, 'x', 70000);
	snprintf(big + n + 70000, 64, "\"}}}\n");
	h_drop(s, H_POLICE, "big.json", big);
	/* Hidden, and names that are not record names: left alone. */
	h_drop(s, H_POLICE, ".hidden", "{}");
	h_drop(s, H_POLICE, "bad name.json", RECORD("BAD-1", "high"));
	h_drop(s, H_POLICE, "\xff\xfe.json", RECORD("BAD-2", "high"));
	h_drop(s, H_POLICE, "good.json", RECORD("GOOD-2", "low"));

	static const struct {
		const char *name, *stem, *says;
	} want[] = {
	    {"sub", "sub", "a folder"},
	    {"dir.json", "dir", "a folder"},
	    {"pipe.json", "pipe", "a FIFO"},
	    {"fifo", "fifo", "a FIFO"},
	    {"sock.json", "sock", "a socket"},
	    {"notes.txt", "notes.txt", "does not end in .json"},
	    {"latin1.json", "latin1", "not UTF-8"},
	    {"big.json", "big", "65536 bytes"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *msg = only_error(failed, want[i].stem);
		assert_says(want[i].name, msg, want[i].says);
		free(msg);
		assert_true(
		    h_wait_file(h_p("%s/%s", failed, want[i].name), H_WAIT_MS));
	}
	/* Which byte is not UTF-8, and which field is too big. */
	char *msg = only_error(failed, "latin1");
	assert_says("latin1.json", msg, h_p("byte offset %zu", off));
	free(msg);
	json_t *e = h_json(h_p("%s/big.error.json", failed));
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(e, "errors"), 0), "path")),
	    "fields.identity");
	json_decref(e);
	/* Moved as they were. */
	struct stat st;
	assert_int_equal(lstat(h_p("%s/pipe.json", failed), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(lstat(h_p("%s/sock.json", failed), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_true(h_wait_file(h_p("%s/dir.json/inner.json", failed), 1));
	char *kept = scratch_slurp(h_p("%s/latin1.json", failed), NULL);
	assert_string_equal(kept, latin);
	free(kept);

	/* The good record beside them went through. */
	assert_true(h_wait_file(
	    h_p("%s/good.receipt.json", h_spool(s, H_POLICE, "sent")),
	    H_WAIT_MS));

	/* Reported once: three rescans later, nothing more; and no spin. */
	pid_t pid = s->agent[H_POLICE].pid;
	long cpu = h_proc_cpu_ms(pid);
	sleep_ms(6500);
	cpu = h_proc_cpu_ms(pid) - cpu;
	print_message(
	    "the agent used %ld ms of CPU in 6.5 s beside them\n", cpu);
	assert_true(cpu < 1000);
	assert_int_equal(h_count(failed, ".error.json"), 8);
	assert_int_equal(h_count(failed, ""), 16);
	assert_int_equal(h_log_count(&s->agent[H_POLICE], "refused"), 8);
	assert_int_equal(
	    h_log_count(&s->agent[H_POLICE], "not a record name"), 2);
	assert_int_equal(h_log_count(&s->agent[H_POLICE], "is hidden"), 1);
	/* Left alone: the hidden file and the two bad names. */
	assert_int_equal(access(h_p("%s/.hidden", outbox), F_OK), 0);
	assert_int_equal(access(h_p("%s/bad name.json", outbox), F_OK), 0);
	assert_int_equal(access(h_p("%s/\xff\xfe.json", outbox), F_OK), 0);
	assert_int_equal(h_count(outbox, ""), 2);
	/* No name that is not a record name was quoted. */
	char *log = scratch_slurp(s->agent[H_POLICE].log, NULL);
	assert_null(strstr(log, "bad name"));
	assert_null(strstr(log, "\xff\xfe"));
	free(log);
	assert_int_equal(h_audit_count(s, "accepted", NULL), 1);
	close(sk);
	free(big);
	free(latin);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_pass(s);
}

/*
 * A burst of deliveries the recipient refuses (the sender is not in its
 * keyring): every refusal leaves its own two alert files, none replaced.
 */
static void
alerts_never_replaced(void **state)
{
	struct h_sys *s = *state;
	enum { N = 25 };
	char ids[N][33], alerts[PATH_MAX], *yaml;
	struct h_client *c;

	snprintf(alerts, sizeof(alerts), "%s", h_spool(s, H_MHT, "alerts"));

	/* The trust's keyring lacks the police. */
	char ring[PATH_MAX], conf[PATH_MAX];

	snprintf(ring, sizeof(ring), "%s", h_p("%s/ring-mht", s->dir));
	snprintf(conf, sizeof(conf), "%s",
	    h_p("%s/%s.yaml", s->dir, fixture_agency[H_MHT]));
	assert_int_equal(mkdir(ring, 0750), 0);
	for (int i = 0; i < H_NAG; i++) {
		/* Every guardian, so that the agreement verifies. */
		char *g = scratch_slurp(
		    h_p("%s/ring/%s.guardian.pub", s->dir, fixture_agency[i]),
		    NULL);
		scratch_write(
		    h_p("%s/%s.guardian.pub", ring, fixture_agency[i]), g,
		    0644);
		free(g);
		if (i == H_POLICE)
			continue;
		char *pub = scratch_slurp(
		    h_p("%s/ring/%s.pub", s->dir, fixture_agency[i]), NULL);
		scratch_write(
		    h_p("%s/%s.pub", ring, fixture_agency[i]), pub, 0644);
		free(pub);
	}
	yaml = scratch_slurp(conf, NULL);
	char *at = strstr(yaml, "keyring: ring\n");
	assert_non_null(at);
	char *fixed = malloc(strlen(yaml) + 16);
	assert_non_null(fixed);
	snprintf(fixed, strlen(yaml) + 16, "%.*skeyring: ring-mht\n%s",
	    (int)(at - yaml), yaml, at + strlen("keyring: ring\n"));
	scratch_write(conf, fixed, 0644);
	free(fixed);
	free(yaml);

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	c = h_client_new(s, h_p("%s/keys/police.key", s->dir));
	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	for (int i = 0; i < N; i++) {
		struct h_msg m = {.sender = H_POLICE, .signer = -1};
		uint8_t id[16], *frame;
		size_t len;
		h_seal(s, &m, id, &frame, &len);
		h_client_send(c, frame, len);
		free(frame);
		h_hex(id, 16, ids[i]);
	}
	if (!h_wait_count(alerts, ".json", 2 * N, H_WAIT_MS))
		fail_msg(
		    "%zu alert files for %d refusals", h_count(alerts, ""), N);
	assert_true(h_wait_log(&s->agent[H_MHT],
	    "SECURITY ALERT: delivery refused", N, H_WAIT_MS));
	sleep_ms(1000);
	/* The broker may deliver a message again (its ack was late): each
	 * refusal still has its own two files. */
	unsigned times = h_log_count(&s->agent[H_MHT], "delivery refused: ");
	assert_true(times >= N);
	assert_int_equal(h_count(alerts, ""), 2 * times);
	size_t refused = 0;
	unsigned quarantined[N] = {0};
	DIR *d = opendir(alerts);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		json_t *a = h_json(h_p("%s/%s", alerts, de->d_name));
		const char *what =
		    json_string_value(json_object_get(a, "alert"));
		const char *id =
		    json_string_value(json_object_get(a, "msg_id"));
		if (what != NULL && strcmp(what, "delivery refused") == 0)
			refused++;
		for (int i = 0; id != NULL && i < N; i++)
			if (strcmp(id, ids[i]) == 0)
				quarantined[i]++;
		json_decref(a);
	}
	closedir(d);
	assert_int_equal(refused, times);
	for (int i = 0; i < N; i++)
		assert_int_equal(quarantined[i],
		    h_log_count(
		        &s->agent[H_MHT], h_p("delivery refused: %s", ids[i])));
	assert_int_equal(h_count(h_spool(s, H_MHT, "inbox"), ".json"), 0);
	h_client_free(c);
	h_pass(s);
}

/*
 * The local system replaces outbox/NAME.json while its first version,
 * sealed, waits for the broker: both are sent; the second is not filed
 * away under the first one's receipt.
 */
static void
replaced_while_waiting(void **state)
{
	struct h_sys *s = *state;
	static const char first[] = RECORD("REPL-1", "high");
	static const char second[] = RECORD("REPL-2", "low");
	char sent[PATH_MAX], inbox[PATH_MAX];

	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	snprintf(inbox, sizeof(inbox), "%s", h_spool(s, H_MHT, "inbox"));
	h_agent_hold_agreement(s, H_POLICE);
	h_agent_start(s, H_POLICE, false);
	h_drop(s, H_POLICE, "same.json", first);
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "outbox same.json: sealed", 1, H_WAIT_MS));
	h_drop(s, H_POLICE, "same.json", second);
	sleep_ms(SETTLE_MS + 500);
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	if (!h_wait_count(sent, ".receipt.json", 2, H_WAIT_MS))
		fail_msg("%zu receipts in sent/ for two records",
		    h_count(sent, ".receipt.json"));
	assert_true(h_wait_count(inbox, ".json", 2, H_WAIT_MS));
	/* The second under its own name, with its own receipt. */
	assert_true(h_wait_file(h_p("%s/same.json", sent), H_WAIT_MS));
	char *kept = scratch_slurp(h_p("%s/same.json", sent), NULL);
	assert_non_null(kept);
	assert_string_equal(kept, second);
	free(kept);
	/* The trust received both, each once. */
	bool high = false, low = false;
	DIR *d = opendir(inbox);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		json_t *r = h_json(h_p("%s/%s", inbox, de->d_name));
		const char *lv = json_string_value(json_object_get(
		    json_object_get(json_object_get(r, "fields"), "risks"),
		    "self_harm"));
		assert_non_null(lv);
		if (strcmp(lv, "high") == 0) {
			assert_false(high);
			high = true;
		} else {
			assert_string_equal(lv, "low");
			assert_false(low);
			low = true;
		}
		json_decref(r);
	}
	closedir(d);
	assert_true(high && low);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ""), 0);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ""), 0);
	assert_int_equal(h_audit_count(s, "accepted", NULL), 2);
	h_pass(s);
}

/*
 * `concordat send` checks a record with the agent's own parser: a file that
 * is not UTF-8 is refused (exit 65) with where, and the count of problems,
 * and nothing reaches the outbox.
 */
static void
send_refuses_bad_bytes(void **state)
{
	struct h_sys *s = *state;
	char *rec = strdup(RECORD("SEND-1", "high")), file[PATH_MAX];
	char err[PATH_MAX], *text;
	char *at = strstr(rec, "SEND-1");

	snprintf(file, sizeof(file), "%s", h_p("%s/latin.json", s->dir));
	snprintf(err, sizeof(err), "%s", h_p("%s/send.err", s->dir));
	at[4] = (char)0xe9;
	scratch_write(file, rec, 0640);
	const char *argv[] = {s->cli, "send", "--spool",
	    h_p("%s/spool/police", s->dir), file, NULL};
	assert_int_equal(h_run(s, NULL, err, argv), 65);
	text = scratch_slurp(err, NULL);
	assert_says("concordat send", text,
	    h_p("not UTF-8 at byte offset %zu", (size_t)(at + 4 - rec)));
	assert_says("concordat send", text, "not sent: 1 problems");
	free(text);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ""), 0);
	free(rec);
	h_pass(s);
}

/* An argument runs only the tests it names (a cmocka filter pattern). */
int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(links_to_secrets, setup, teardown),
	    cmocka_unit_test_setup_teardown(slow_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(two_step_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        settle_time_from_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        alerts_never_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        replaced_while_waiting, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        send_refuses_bad_bytes, setup, teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
