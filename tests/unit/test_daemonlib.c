/*
 * The daemons' small common parts (issue 12): the back-off of repeated log
 * lines, the log level names, where logs go (the journal's stream, a
 * syslog socket that answers or not), the pid file, and the shared
 * configuration keys.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "common/daemonopts.h"
#include "common/log.h"
#include "common/lograte.h"
#include "common/pidfile.h"
#include "tests/lib/scratch.h"

/* First line at once; then one per interval, doubling, with the count. */
static void
lograte_backs_off(void **state)
{
	struct lograte r;
	char sfx[96], last[96] = "";
	unsigned lines = 0;

	(void)state;
	lograte_reset(&r);
	assert_true(lograte_hit(&r, "refused", 0, sfx, sizeof(sfx)));
	assert_string_equal(sfx, "");
	/* A retry every 100 ms for 8 s: lines at 0, 1, 3, 7 s. */
	for (uint64_t t = 100; t <= 8000; t += 100)
		if (lograte_hit(&r, "refused", t, sfx, sizeof(sfx))) {
			lines++;
			snprintf(last, sizeof(last), "%s", sfx);
		}
	assert_int_equal(lines, 3);
	assert_string_equal(last, " (repeated 40 times in the last 4s)");
	/* Up to the ceiling, never beyond. */
	for (uint64_t t = 8100; t < 4000000; t += 100)
		(void)lograte_hit(&r, "refused", t, sfx, sizeof(sfx));
	assert_int_equal(r.ivl_ms, LOGRATE_MAX_MS);
	/* Another error is logged at once. */
	assert_true(lograte_hit(&r, "unreachable", 4000000, sfx, sizeof(sfx)));
	assert_string_equal(sfx, "");
	/* The end says what was held back; the next one starts afresh. */
	assert_false(lograte_hit(&r, "unreachable", 4000100, sfx, sizeof(sfx)));
	assert_true(lograte_end(&r, 4000200, sfx, sizeof(sfx)));
	assert_string_equal(sfx, " (repeated 1 times in the last 1s)");
	assert_false(lograte_end(&r, 4000300, sfx, sizeof(sfx)));
	assert_true(lograte_hit(&r, "unreachable", 4000400, sfx, sizeof(sfx)));
	/* A quiet spell of twice the interval starts again too. */
	assert_true(lograte_hit(&r, "unreachable", 4002400, sfx, sizeof(sfx)));
}

static void
log_levels_named(void **state)
{
	enum log_level l;

	(void)state;
	assert_true(log_level_parse("warning", &l));
	assert_int_equal(l, LOG_LEVEL_WARNING);
	assert_true(log_level_parse("debug", &l));
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_false(log_level_parse("warn", &l));
	assert_false(log_level_parse("", &l));
	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
}

/* $JOURNAL_STREAM names stderr's device and inode, or it is not ours. */
static void
journal_stream_detected(void **state)
{
	struct stat st;
	char env[64];

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_true(log_stderr_is_journal());
	assert_int_equal(log_choose(false), LOG_DEST_JOURNAL);
	assert_int_equal(log_choose(true), LOG_DEST_JOURNAL);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	unsetenv("NOTIFY_SOCKET");
	setenv("INVOCATION_ID", "0123456789abcdef", 1);
	assert_int_equal(log_choose(false), LOG_DEST_STDERR);
	unsetenv("INVOCATION_ID");
	assert_int_equal(log_choose(true), LOG_DEST_STDERR);
	assert_int_equal(log_choose(false), LOG_DEST_SYSLOG);
}

/* The check made before going to the background. */
static void
syslog_reachable_or_not(void **state)
{
	char *dir = scratch_dir("daemonlib");
	char path[PATH_MAX];
	struct sockaddr_un sun;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/log", dir);
	assert_false(log_syslog_reachable(path));
	scratch_write(path, "not a socket", 0644);
	assert_false(log_syslog_reachable(path));
	unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_true(log_syslog_reachable(path));
	close(fd);
	/* Bound once, nobody there now. */
	assert_false(log_syslog_reachable(path));
	scratch_rmrf(dir);
	free(dir);
}

static void
pid_file_replaced_and_removed(void **state)
{
	char *dir = scratch_dir("daemonlib");
	char path[PATH_MAX], why[256];
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/x.pid", dir);
	scratch_write(path, "12345\n", 0644);
	assert_int_equal(pidfile_write(path, 4242, why, sizeof(why)), 0);
	text = scratch_read(path, NULL);
	assert_string_equal(text, "4242\n");
	free(text);
	/* Another instance's file stays. */
	pidfile_remove(path, 1111);
	assert_int_equal(access(path, F_OK), 0);
	pidfile_remove(path, 4242);
	assert_int_equal(access(path, F_OK), -1);
	/* A folder that is not there: the error names the file. */
	snprintf(path, sizeof(path), "%s/no/x.pid", dir);
	assert_int_not_equal(pidfile_write(path, 1, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no/x.pid"));
	scratch_rmrf(dir);
	free(dir);
}

static void
shared_keys_checked(void **state)
{
	static const char text[] =
	    "log_level: chatty\nuser: \"bad user\"\npid_file: run/x.pid\n";
	static const struct yamlconf_key keys[3] = {
	    {"log_level", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    {"user", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    {"pid_file", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	};
	const struct yamlconf_node *v[3];
	struct yamlconf_errors errs;
	struct yamlconf *y = NULL;
	struct daemon_opts o;

	(void)state;
	yamlconf_errors_init(&errs);
	assert_int_equal(yamlconf_load_buffer(text, sizeof(text) - 1,
	                     "/etc/x/agent.yaml", 65536, &errs, &y),
	    0);
	yamlconf_map(y, yamlconf_root(y), NULL, keys, 3, v);
	daemonopts_init(&o);
	daemonopts_load(y, v[0], v[1], v[2], &o);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.msg[0],
	    "/etc/x/agent.yaml:1: log_level: 'chatty' is not a level "
	    "(error, warning, info, debug)");
	assert_non_null(strstr(errs.msg[1], ":2: user: 'bad user'"));
	assert_int_equal(o.log_level, LOG_LEVEL_INFO);
	assert_string_equal(o.pid_file, "/etc/x/run/x.pid");
	yamlconf_free(y);
	yamlconf_errors_release(&errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lograte_backs_off),
	    cmocka_unit_test(log_levels_named),
	    cmocka_unit_test(journal_stream_detected),
	    cmocka_unit_test(syslog_reachable_or_not),
	    cmocka_unit_test(pid_file_replaced_and_removed),
	    cmocka_unit_test(shared_keys_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
