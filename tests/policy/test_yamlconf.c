/*
 * Unit tests for common/yamlconf: the document tree, the schema walker and
 * every refusal of the loader, with the exact messages users see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/yamlconf.h"

struct fixture {
	struct yamlconf_errors errs;
	struct yamlconf *y;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	yamlconf_errors_init(&f->errs);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	yamlconf_free(f->y);
	yamlconf_errors_release(&f->errs);
	free(f);
	return 0;
}

static int
load(struct fixture *f, const char *text)
{
	yamlconf_free(f->y);
	f->y = NULL;
	yamlconf_errors_release(&f->errs);
	yamlconf_errors_init(&f->errs);
	return yamlconf_load_buffer(
	    text, strlen(text), "t.yaml", 4096, &f->errs, &f->y);
}

/* Asserts that the error list is exactly the messages given, in order. */
static void
expect_errors(struct fixture *f, ...)
{
	va_list ap;
	const char *m;
	size_t i = 0;

	va_start(ap, f);
	while ((m = va_arg(ap, const char *)) != NULL) {
		if (i >= f->errs.n)
			fail_msg("missing error: %s", m);
		assert_string_equal(f->errs.msg[i], m);
		i++;
	}
	va_end(ap);
	if (i != f->errs.n)
		fail_msg("unexpected error: %s", f->errs.msg[i]);
	assert_int_equal(f->errs.total, i);
}

static const struct yamlconf_key broker_keys[] = {
    {"listen", YAMLCONF_STRING, YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
    {"key", YAMLCONF_STRING, YAMLCONF_REQUIRED},
    {"keyring", YAMLCONF_STRING, 0},
    {"peers", YAMLCONF_LIST, 0},
    {"limit", YAMLCONF_INT, 0},
    {"verbose", YAMLCONF_BOOL, 0},
    {"to", YAMLCONF_ONE_OR_LIST, 0},
    {"options", YAMLCONF_MAP, 0},
    {"rules", YAMLCONF_MAP_LIST, 0},
};
#define NBROKER (sizeof(broker_keys) / sizeof(broker_keys[0]))

static void
test_values_and_lines(void **state)
{
	struct fixture *f = *state;
	const struct yamlconf_node *v[NBROKER];

	assert_int_equal(load(f,
	                     "# broker\n"
	                     "listen: tcp://127.0.0.1:7000\n"
	                     "key: \"/etc/concordat/broker.key\"\n"
	                     "peers: [a, b]\n"
	                     "limit: -42\n"
	                     "verbose: true\n"
	                     "to: police\n"
	                     "options: {x: 1}\n"
	                     "rules:\n"
	                     "  - id: one\n"
	                     "  - id: two\n"),
	    0);
	assert_int_equal(yamlconf_map(f->y, yamlconf_root(f->y), NULL,
	                     broker_keys, NBROKER, v),
	    0);
	expect_errors(f, NULL);
	assert_string_equal(v[0]->str, "tcp://127.0.0.1:7000");
	assert_int_equal(v[0]->line, 2);
	assert_int_equal(v[0]->column, 9);
	assert_string_equal(v[1]->str, "/etc/concordat/broker.key");
	assert_int_equal(v[1]->line, 3);
	assert_null(v[2]);
	assert_int_equal(v[3]->n, 2);
	assert_string_equal(v[3]->items[1]->str, "b");
	assert_true(v[4]->is_int);
	assert_int_equal(v[4]->integer, -42);
	assert_true(v[5]->boolean);
	assert_int_equal(yamlconf_count(v[6]), 1);
	assert_string_equal(yamlconf_item(v[6], 0)->str, "police");
	assert_null(yamlconf_item(v[6], 1));
	assert_int_equal(yamlconf_count(v[3]), 2);
	assert_string_equal(yamlconf_item(v[3], 0)->str, "a");
	assert_int_equal(v[7]->kind, YAMLCONF_NODE_MAP);
	assert_string_equal(v[7]->keys[0]->str, "x");
	assert_int_equal(v[8]->n, 2);
	assert_int_equal(v[8]->items[1]->line, 11);
	assert_string_equal(yamlconf_name(f->y), "t.yaml");
}

static void
test_schema_errors(void **state)
{
	struct fixture *f = *state;
	const struct yamlconf_node *v[NBROKER];

	assert_int_equal(load(f,
	                     "listne: x\n"
	                     "listen: ''\n"
	                     "peers: a\n"
	                     "limit: lots\n"
	                     "verbose: yes\n"
	                     "to: [a, [b]]\n"
	                     "options: [1]\n"
	                     "rules: [x, {id: 1}]\n"
	                     "zzzzzz: 1\n"),
	    0);
	assert_int_not_equal(yamlconf_map(f->y, yamlconf_root(f->y), NULL,
	                         broker_keys, NBROKER, v),
	    0);
	expect_errors(f,
	    "t.yaml:1: unknown key 'listne' (did you mean 'listen'?)",
	    "t.yaml:2: 'listen': must not be empty",
	    "t.yaml:3: 'peers': expected a list, found a string",
	    "t.yaml:4: 'limit': expected an integer, found 'lots'",
	    "t.yaml:5: 'verbose': expected true or false, found 'yes'",
	    "t.yaml:6: 'to': expected a list of strings, found a list in it",
	    "t.yaml:7: 'options': expected a mapping, found a list",
	    "t.yaml:9: unknown key 'zzzzzz'",
	    "t.yaml:1: missing required key 'key'", NULL);
	for (size_t i = 0; i < NBROKER - 1; i++)
		assert_null(v[i]); /* nothing of the wrong type comes back */
	/* A list of mappings comes back: yamlconf_map checks each item. */
	assert_non_null(v[8]);
	yamlconf_map(f->y, v[8]->items[0], "rule 1", broker_keys, 1, v);
	assert_string_equal(f->errs.msg[f->errs.n - 1],
	    "t.yaml:8: rule 1: expected a mapping, found a string");
	yamlconf_errors_sort(&f->errs, 0);
	assert_string_equal(
	    f->errs.msg[1], "t.yaml:1: missing required key 'key'");
}

static void
test_expect_and_what(void **state)
{
	struct fixture *f = *state;
	const struct yamlconf_node *v[NBROKER];

	assert_int_equal(load(f, "- a\n- b\n"), 0);
	yamlconf_map(
	    f->y, yamlconf_root(f->y), "broker.yaml", broker_keys, NBROKER, v);
	assert_false(yamlconf_expect(f->y, yamlconf_root(f->y), "root",
	                 YAMLCONF_LIST, YAMLCONF_NONEMPTY) == false);
	assert_false(yamlconf_expect(
	    f->y, yamlconf_root(f->y)->items[0], NULL, YAMLCONF_INT, 0));
	expect_errors(f,
	    "t.yaml:1: broker.yaml: expected a mapping, found a list",
	    "t.yaml:1: expected an integer, found 'a'", NULL);
	assert_int_equal(load(f, "a: []\nb: ~\nc: null\nd:\n"), 0);
	assert_false(yamlconf_expect(f->y, yamlconf_root(f->y)->values[0], "a",
	    YAMLCONF_LIST, YAMLCONF_NONEMPTY));
	assert_true(yamlconf_root(f->y)->values[1]->is_null);
	assert_string_equal(yamlconf_root(f->y)->values[1]->str, "");
	assert_true(yamlconf_root(f->y)->values[2]->is_null);
	assert_true(yamlconf_root(f->y)->values[3]->is_null);
	assert_false(yamlconf_expect(
	    f->y, yamlconf_root(f->y)->values[3], "d", YAMLCONF_LIST, 0));
	assert_false(yamlconf_expect(f->y, yamlconf_root(f->y)->values[3], "d",
	    YAMLCONF_STRING, YAMLCONF_NONEMPTY));
	assert_true(yamlconf_expect(
	    f->y, yamlconf_root(f->y)->values[3], "d", YAMLCONF_STRING, 0));
	expect_errors(f, "t.yaml:1: a: must not be empty",
	    "t.yaml:4: d: expected a list, found nothing",
	    "t.yaml:4: d: must not be empty", NULL);
}

static void
test_integers(void **state)
{
	struct fixture *f = *state;
	const struct yamlconf_node *r;

	assert_int_equal(load(f,
	                     "a: 9223372036854775807\n"
	                     "b: -9223372036854775808\n"
	                     "c: 9223372036854775808\n"
	                     "d: 0x10\n"
	                     "e: 1.5\n"
	                     "f: \"7\"\n"
	                     "g: '-'\n"),
	    0);
	r = yamlconf_root(f->y);
	assert_true(r->values[0]->is_int);
	assert_true(r->values[0]->integer == INT64_MAX);
	assert_true(r->values[1]->is_int);
	assert_true(r->values[1]->integer == INT64_MIN);
	assert_false(r->values[2]->is_int);
	assert_false(r->values[3]->is_int);
	assert_false(r->values[4]->is_int);
	assert_true(r->values[5]->is_int);
	assert_false(r->values[6]->is_int);
}

static void
test_duplicate_keys(void **state)
{
	struct fixture *f = *state;
	const struct yamlconf_node *v[NBROKER];

	/* The tree still comes back, so the loader reports its own errors
	 * in the same run. */
	assert_int_equal(load(f,
	                     "listen: a\n"
	                     "key: k\n"
	                     "rules:\n"
	                     "  - {id: 1, id: 2}\n"
	                     "listen: b\n"
	                     "listen: c\n"
	                     "bogus: 1\n"),
	    0);
	yamlconf_map(f->y, yamlconf_root(f->y), NULL, broker_keys, NBROKER, v);
	yamlconf_errors_sort(&f->errs, 0);
	expect_errors(f, "t.yaml:4: duplicate key 'id' (first at line 4)",
	    "t.yaml:5: duplicate key 'listen' (first at line 1)",
	    "t.yaml:6: duplicate key 'listen' (first at line 1)",
	    "t.yaml:7: unknown key 'bogus'", NULL);
	assert_string_equal(v[0]->str, "a"); /* the first one */
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, ""), ERROR_CONFIG);
	expect_errors(f, "t.yaml: file is empty", NULL);
	assert_null(f->y);
	assert_int_equal(load(f, "# nothing\n\n   \n"), ERROR_CONFIG);
	expect_errors(f, "t.yaml: file is empty", NULL);
	assert_int_equal(load(f, "---\n"), ERROR_CONFIG);
	expect_errors(f, "t.yaml: file is empty", NULL);
	assert_int_equal(load(f, "a:\n\tb: 1\n"), ERROR_CONFIG);
	expect_errors(f,
	    "t.yaml:2: YAML syntax error: found character that "
	    "cannot start any token (tabs are not allowed for "
	    "indentation: use spaces)",
	    NULL);
	assert_int_equal(load(f, "a: [1, 2\nb: 3\n"), ERROR_CONFIG);
	expect_errors(f,
	    "t.yaml:2: YAML syntax error: did not find expected ',' "
	    "or ']' (while parsing a flow sequence at line 1)",
	    NULL);
	assert_int_equal(load(f, "a: 1\n---\nb: 2\n"), ERROR_CONFIG);
	expect_errors(
	    f, "t.yaml:2: more than one YAML document in the file", NULL);
	assert_int_equal(load(f, "a: &x [1, 2]\nb: *x\nc: *x\n"), ERROR_CONFIG);
	expect_errors(f,
	    "t.yaml:1: YAML anchor '&x' is not allowed (anchors "
	    "and aliases are refused: write the value out in full)",
	    "t.yaml:2: YAML alias '*x' is not allowed (anchors and aliases "
	    "are refused: write the value out in full)",
	    "t.yaml:3: YAML alias '*x' is not allowed (anchors and aliases "
	    "are refused: write the value out in full)",
	    NULL);
	assert_int_equal(load(f, "a: \"x\\0y\"\n"), 0);
	expect_errors(f, "t.yaml:1: a string holds a NUL byte", NULL);
	assert_int_equal(load(f, "[a]: 1\n? \n: 2\n"), 0);
	expect_errors(f, "t.yaml:1: a mapping key must be a string, not a list",
	    "t.yaml:2: a mapping key must be a string, not nothing", NULL);
	assert_int_equal(load(f, "a: \"\\xff\"\n"), 0);
	assert_int_equal(load(f, "a: b\xff\n"), ERROR_CONFIG);
	expect_errors(f,
	    "t.yaml:1: YAML syntax error: invalid leading UTF-8 "
	    "octet (byte 4)",
	    NULL);
}

static void
test_size_cap(void **state)
{
	struct fixture *f = *state;
	char big[5000];

	memset(big, '#', sizeof(big));
	assert_int_equal(yamlconf_load_buffer(
	                     big, sizeof(big), "t.yaml", 4096, &f->errs, &f->y),
	    ERROR_TOOBIG);
	assert_null(f->y);
	expect_errors(f, "t.yaml: file is larger than 4096 bytes", NULL);
}

static void
test_depth(void **state)
{
	struct fixture *f = *state;
	char text[200];

	/* YAMLCONF_MAX_DEPTH levels load; one more does not. */
	memset(text, 0, sizeof(text));
	memset(text, '[', YAMLCONF_MAX_DEPTH);
	memset(text + YAMLCONF_MAX_DEPTH, ']', YAMLCONF_MAX_DEPTH);
	assert_int_equal(load(f, text), 0);
	expect_errors(f, NULL);
	memset(text, 0, sizeof(text));
	memset(text, '[', YAMLCONF_MAX_DEPTH + 1);
	memset(text + YAMLCONF_MAX_DEPTH + 1, ']', YAMLCONF_MAX_DEPTH + 1);
	assert_int_equal(load(f, text), ERROR_CONFIG);
	expect_errors(f, "t.yaml:1: nesting deeper than 32 levels", NULL);
	/* Unbalanced and huge: refused at the depth, not read to the end. */
	{
		size_t n = 1 << 20;
		char *deep = malloc(n);

		assert_non_null(deep);
		memset(deep, '{', n);
		assert_int_equal(
		    yamlconf_load_buffer(deep, n, "t.yaml", n, &f->errs, &f->y),
		    ERROR_CONFIG);
		free(deep);
	}
}

static void
test_error_cap(void **state)
{
	struct fixture *f = *state;

	yamlconf_errors_release(&f->errs);
	yamlconf_errors_init(&f->errs);
	for (int i = 150; i > 0; i--)
		yamlconf_errors_add(
		    &f->errs, "t.yaml", (unsigned)i, "error %d", i);
	assert_int_equal(f->errs.total, 150);
	assert_int_equal(f->errs.n, YAMLCONF_MAX_ERRORS + 1);
	assert_string_equal(f->errs.msg[YAMLCONF_MAX_ERRORS],
	    "t.yaml: too many errors (only the first 100 are shown)");
	yamlconf_errors_sort(&f->errs, 0);
	assert_string_equal(f->errs.msg[0], "t.yaml:51: error 51");
	assert_string_equal(f->errs.msg[YAMLCONF_MAX_ERRORS],
	    "t.yaml: too many errors (only the first 100 are shown)");
}

static void
test_sanitised(void **state)
{
	struct fixture *f = *state;

	yamlconf_errors_add(&f->errs, "t.yaml", 3, "bad '%s'", "a\nb\033[31m");
	yamlconf_errors_add(&f->errs, "t.yaml", 0, "no line");
	assert_string_equal(f->errs.msg[0], "t.yaml:3: bad 'a?b?[31m'");
	assert_string_equal(f->errs.msg[1], "t.yaml: no line");
	yamlconf_errors_sort(&f->errs, 0);
	assert_string_equal(f->errs.msg[0], "t.yaml: no line");
}

static void
test_files(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/yamlconf-test-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a: 1\n", 5), 5);
	close(fd);
	assert_int_equal(yamlconf_load_file(path, 4096, &f->errs, &f->y), 0);
	assert_string_equal(yamlconf_name(f->y), path);
	assert_int_equal(yamlconf_root(f->y)->values[0]->integer, 1);
	yamlconf_free(f->y);
	f->y = NULL;
	assert_int_equal(
	    yamlconf_load_file(path, 2, &f->errs, &f->y), ERROR_TOOBIG);
	unlink(path);
	assert_int_equal(
	    yamlconf_load_file(path, 4096, &f->errs, &f->y), ERROR_NOENT);
	assert_int_equal(
	    yamlconf_load_file("/", 4096, &f->errs, &f->y), ERROR_INVAL);
	assert_null(f->y);
	assert_int_equal(f->errs.n, 3);
	assert_string_equal(f->errs.msg[2], "/: not a regular file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_values_and_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_schema_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_expect_and_what, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_duplicate_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sanitised, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
