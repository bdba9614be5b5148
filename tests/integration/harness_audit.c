/*
 * The harness's readers of the broker's audit log (harness.h), through
 * the real `concordat audit` command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

json_t *
h_audit(struct h_sys *s, const char *const args[])
{
	const char *argv[32] = {
	    s->cli, "audit", "query", "--data", s->data, "--json"};
	const char *out = h_p("%s/audit.out", s->dir);
	const char *err = h_p("%s/audit.err", s->dir);
	size_t n = 6, len;
	json_t *all = json_array();
	char *text, *line, *save = NULL;
	int rc;

	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		assert_true(n < 31);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	rc = h_run(s, out, err, argv);
	if (rc != 0) {
		harness_print_tail(err, 10);
		fail_msg("concordat audit query exited %d", rc);
	}
	text = scratch_slurp(out, &len);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *ev = json_loads(line, 0, &e);
		if (ev == NULL)
			fail_msg("audit query: not JSON: %s", line);
		json_array_append_new(all, ev);
	}
	free(text);
	return all;
}

size_t
h_audit_count(struct h_sys *s, const char *type, const char *msg_id)
{
	const char *args[] = {
	    "--event", type, msg_id ? "--msg-id" : NULL, msg_id, NULL};
	json_t *evs = h_audit(s, args);
	size_t n = json_array_size(evs);

	json_decref(evs);
	return n;
}

struct audit_wait {
	struct h_sys *s;
	const char *type, *msg_id;
	size_t n;
};

static bool
audit_holds(void *arg)
{
	const struct audit_wait *w = arg;

	return h_audit_count(w->s, w->type, w->msg_id) >= w->n;
}

bool
h_wait_audit(struct h_sys *s, const char *type, const char *msg_id, size_t n,
    unsigned ms)
{
	struct audit_wait w = {s, type, msg_id, n};

	/* Each look runs `concordat audit query`: not every 5 ms. */
	return h_wait_every(ms, 20, audit_holds, &w);
}

size_t
h_audit_stat(struct h_sys *s, const char *type)
{
	const char *out = h_p("%s/stats.out", s->dir);
	const char *argv[] = {
	    s->cli, "audit", "stats", "--data", s->data, "--json", NULL};
	json_t *st, *n;
	size_t v;

	assert_int_equal(h_run(s, out, NULL, argv), 0);
	st = h_json(out);
	n = json_object_get(json_object_get(st, "types"), type);
	v = n != NULL ? (size_t)json_integer_value(n) : 0;
	json_decref(st);
	return v;
}
