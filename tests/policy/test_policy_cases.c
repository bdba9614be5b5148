/*
 * The policy cases as data (bgpd's regress, Tor's conf_examples): each
 * folder under tests/policy/cases holds a policy file, and either the
 * exact errors its load must report (expected-errors.txt, every line, in
 * order) or a question (question.yaml) and the answer (expected.json, the
 * shape of `concordat policy explain --json`, compared as a subset so that
 * a case states only what it is about).
 *
 * question.yaml: from, to, purpose, and optionally urgency, reason,
 * kind, and policy (a path from the source folder, instead of the folder's
 * own policy.yaml).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/fileio.h"
#include "common/urgency.h"
#include "common/yamlconf.h"
#include "policy/policy.h"
#include "policy/policy_json.h"

#define MAX_CASES 256

static char source_dir[2048];
static char cases_dir[4096];

struct tcase {
	char name[256];
	char dir[4400];
};

static bool
exists(const char *dir, const char *name)
{
	char path[4600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Reads dir/name whole (NUL-terminated); NULL when absent. */
static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[4600];
	uint8_t *buf = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fileio_read(path, 4 * 1024 * 1024, &buf, &n) != 0)
		return NULL;
	if (len != NULL)
		*len = n;
	return (char *)buf;
}

/* Asserts that actual has everything expected has (objects: per key). */
static void
json_subset(json_t *want, json_t *got, const char *path)
{
	char sub[1024];

	if (json_is_object(want)) {
		const char *k;
		json_t *v;

		if (!json_is_object(got))
			fail_msg("%s: expected an object", path);
		json_object_foreach(want, k, v)
		{
			json_t *g = json_object_get(got, k);

			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if (g == NULL)
				fail_msg("%s: missing from the answer", sub);
			json_subset(v, g, sub);
		}
		return;
	}
	if (!json_equal(want, got)) {
		char *w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
		char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);

		print_error("%s: expected %s, got %s\n", path, w, g);
		free(w);
		free(g);
		fail();
	}
}

static void
check_errors(const struct tcase *c, const struct yamlconf_errors *errs, int rc,
    const struct policy *p)
{
	char *want = slurp(c->dir, "expected-errors.txt", NULL);
	char *line, *save = NULL;
	size_t i = 0;

	assert_non_null(want);
	/* Fail closed: any error, and there is no policy at all. */
	assert_int_not_equal(rc, 0);
	assert_null(p);
	for (line = strtok_r(want, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (i >= errs->n)
			fail_msg("%s: missing error: %s", c->name, line);
		if (strcmp(errs->msg[i], line) != 0)
			fail_msg(
			    "%s: error %zu:\n  expected: %s\n  got:      %s",
			    c->name, i + 1, line, errs->msg[i]);
		i++;
	}
	if (i != errs->n)
		fail_msg("%s: unexpected error: %s", c->name, errs->msg[i]);
	free(want);
}

static void
check_answer(const struct tcase *c, const struct policy *p)
{
	enum { FROM, TO, PURPOSE, URGENCY, REASON, KIND, POLICY, NK };
	static const struct yamlconf_key keys[NK] = {
	    [FROM] = {"from", YAMLCONF_STRING, YAMLCONF_REQUIRED},
	    [TO] = {"to", YAMLCONF_STRING, YAMLCONF_REQUIRED},
	    [PURPOSE] = {"purpose", YAMLCONF_STRING, YAMLCONF_REQUIRED},
	    [URGENCY] = {"urgency", YAMLCONF_STRING, 0},
	    [REASON] = {"reason", YAMLCONF_STRING, 0},
	    [KIND] = {"kind", YAMLCONF_STRING, 0},
	    [POLICY] = {"policy", YAMLCONF_STRING, 0},
	};
	const struct yamlconf_node *v[NK];
	struct yamlconf_errors errs;
	struct yamlconf *y = NULL;
	struct policy_decision *d = malloc(sizeof(*d));
	struct policy_question q = {
	    .urgency = URGENCY_ROUTINE, .kind = KIND_RECORD};
	char path[4600], *text;
	json_t *want, *got;
	json_error_t jerr;
	int rc;

	assert_non_null(d);
	yamlconf_errors_init(&errs);
	snprintf(path, sizeof(path), "%s/question.yaml", c->dir);
	assert_int_equal(yamlconf_load_file(path, 65536, &errs, &y), 0);
	yamlconf_map(y, yamlconf_root(y), NULL, keys, NK, v);
	if (errs.total > 0)
		fail_msg("%s", errs.msg[0]);
	q.from = v[FROM]->str;
	q.to = v[TO]->str;
	q.purpose = v[PURPOSE]->str;
	if (v[URGENCY] != NULL)
		assert_int_not_equal(
		    q.urgency = urgency_parse(v[URGENCY]->str), 0);
	if (v[KIND] != NULL)
		assert_int_not_equal(
		    q.kind = urgency_kind_parse(v[KIND]->str), 0);
	if (v[REASON] != NULL)
		assert_int_not_equal(
		    q.reason = emergency_reason_parse(v[REASON]->str), 0);

	rc = policy_eval(p, &q, d);
	assert_true(rc == 0 || rc == ERROR_PURPOSE);
	got = policy_json_decision(p, &q, d, rc);
	assert_non_null(got);
	text = slurp(c->dir, "expected.json", NULL);
	assert_non_null(text);
	want = json_loads(text, 0, &jerr);
	if (want == NULL)
		fail_msg(
		    "%s/expected.json:%d: %s", c->name, jerr.line, jerr.text);
	json_subset(want, got, c->name);
	json_decref(want);
	json_decref(got);
	free(text);
	yamlconf_free(y);
	yamlconf_errors_release(&errs);
	free(d);
}

/* The policy a case folder names: its own, or question.yaml's `policy`. */
static int
load_case_policy(
    const struct tcase *c, struct yamlconf_errors *errs, struct policy **p)
{
	struct yamlconf_errors qerrs;
	struct yamlconf *y = NULL;
	const struct yamlconf_node *root;
	char path[4600];
	size_t len;
	int rc = ERROR_NOENT;

	if (exists(c->dir, "policy.yaml")) {
		char *buf = slurp(c->dir, "policy.yaml", &len);

		assert_non_null(buf);
		/* Named as the case folder's file, whatever the build path. */
		rc = policy_load_buffer(buf, len, "policy.yaml", errs, p);
		free(buf);
		return rc;
	}
	yamlconf_errors_init(&qerrs);
	snprintf(path, sizeof(path), "%s/question.yaml", c->dir);
	assert_int_equal(yamlconf_load_file(path, 65536, &qerrs, &y), 0);
	root = yamlconf_root(y);
	assert_int_equal(root->kind, YAMLCONF_NODE_MAP);
	for (size_t i = 0; i < root->n; i++) {
		if (strcmp(root->keys[i]->str, "policy") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", source_dir,
		    root->values[i]->str);
		rc = policy_load_file(path, errs, p);
	}
	if (rc == ERROR_NOENT && errs->n == 0)
		fail_msg("%s: no policy.yaml and no 'policy' in question.yaml",
		    c->name);
	yamlconf_free(y);
	yamlconf_errors_release(&qerrs);
	return rc;
}

static void
run_case(void **state)
{
	const struct tcase *c = *state;
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	int rc;

	yamlconf_errors_init(&errs);
	rc = load_case_policy(c, &errs, &p);
	if (exists(c->dir, "expected-errors.txt")) {
		check_errors(c, &errs, rc, p);
	} else {
		if (rc != 0)
			fail_msg("%s: policy does not load: %s", c->name,
			    errs.n > 0 ? errs.msg[0] : error_strerror(rc));
		assert_int_equal(errs.total, 0);
		check_answer(c, p);
	}
	policy_free(p);
	yamlconf_errors_release(&errs);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(
	    ((const struct tcase *)a)->name, ((const struct tcase *)b)->name);
}

int
main(void)
{
	static struct tcase cases[MAX_CASES];
	static struct CMUnitTest tests[MAX_CASES];
	const char *src = getenv("CONCORDAT_SOURCE_DIR");
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	snprintf(source_dir, sizeof(source_dir), "%s", src ? src : ".");
	snprintf(
	    cases_dir, sizeof(cases_dir), "%s/tests/policy/cases", source_dir);
	dir = opendir(cases_dir);
	if (dir == NULL) {
		fprintf(stderr, "cannot open %s\n", cases_dir);
		return 1;
	}
	while ((de = readdir(dir)) != NULL && n < MAX_CASES) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(
		    cases[n].name, sizeof(cases[n].name), "%s", de->d_name);
		snprintf(cases[n].dir, sizeof(cases[n].dir), "%s/%s", cases_dir,
		    de->d_name);
		if (stat(cases[n].dir, &st) == 0 && S_ISDIR(st.st_mode))
			n++; /* README.md and the like are not cases */
	}
	closedir(dir);
	qsort(cases, n, sizeof(cases[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	if (n == 0) {
		fprintf(stderr, "no cases in %s\n", cases_dir);
		return 1;
	}
	return _cmocka_run_group_tests("policy cases", tests, n, NULL, NULL);
}
