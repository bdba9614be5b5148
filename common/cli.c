/*
 * The verb layer of `concordat` (see cli.h): dispatch of the top level and
 * of each group, getopt in the house format, the stdout check, and the
 * argument parsers the verbs share.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/suggest.h"

#define CLI_MAX_VERBS 32

/* The group of the verb running ("" at the top level), for messages. */
static const char *current_group = "";
/* True until the running verb's first cli_getopt call. */
static bool fresh_args = true;

int
cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("concordat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cli_exit_code(int err)
{
	switch (err) {
	case ERROR_OK:
		return EX_OK;
	case ERROR_NOENT:
		return EX_NOINPUT;
	case ERROR_PERM:
		return EX_NOPERM;
	case ERROR_NOMEM:
		return EX_OSERR;
	case ERROR_IO:
	case ERROR_NOSPC:
		return EX_IOERR;
	case ERROR_EXISTS:
		return EX_CANTCREAT;
	case ERROR_POLICY:
	case ERROR_CONFIG:
		return EX_CONFIG;
	case ERROR_INTERNAL:
		return EX_SOFTWARE;
	case ERROR_BUSY:
		return EX_TEMPFAIL;
	default:
		return EX_DATAERR;
	}
}

/* "usage: PROG [--version] [--help] VERB [ARGS]" and the table. */
static int
table_usage(FILE *f, const char *prog, const struct cli_verb *verbs,
    size_t nverbs, int code)
{
	int w = 8;

	for (size_t i = 0; i < nverbs; i++)
		if ((int)strlen(verbs[i].name) > w)
			w = (int)strlen(verbs[i].name);
	fprintf(f, "usage: %s [--version] [--help] VERB [ARGS]\n\n", prog);
	for (size_t i = 0; i < nverbs; i++)
		fprintf(f, "  %-*s %s\n", w, verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'%s VERB --help' describes a verb.\n", prog);
	return code;
}

static bool
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 ||
	    strcmp(s, "help") == 0;
}

/*
 * The verb named word, or NULL after saying it is unknown: "WHERE: unknown
 * verb 'x' (did you mean 'y'?)" or with the list of the verbs.
 */
static const struct cli_verb *
find_verb(const char *where, const struct cli_verb *verbs, size_t nverbs,
    const char *word)
{
	const char *names[CLI_MAX_VERBS];
	char list[512] = "";
	const char *hint;
	size_t n = nverbs < CLI_MAX_VERBS ? nverbs : CLI_MAX_VERBS;

	for (size_t i = 0; i < nverbs; i++)
		if (strcmp(word, verbs[i].name) == 0)
			return &verbs[i];
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(list);

		names[i] = verbs[i].name;
		snprintf(list + used, sizeof(list) - used, "%s%s",
		    i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
	}
	hint = suggest_closest(word, names, n);
	if (hint != NULL)
		cli_fail(EX_USAGE, "%s%sunknown verb '%s' (did you mean '%s'?)",
		    where, where[0] ? ": " : "", word, hint);
	else
		cli_fail(EX_USAGE, "%s%sunknown verb '%s' (%s)", where,
		    where[0] ? ": " : "", word, list);
	return NULL;
}

static int
run_verb(const char *group, const struct cli_verb *v, int argc, char **argv)
{
	const char *saved = current_group;
	int code;

	current_group = group;
	fresh_args = true;
	code = v->run(argc, argv);
	current_group = saved;
	fresh_args = true;
	return code;
}

/*
 * Flushes and closes stdout; EX_IOERR after saying why, else code. e is
 * errno as the verb left it: the reason of an earlier failed write, when
 * stdio's error flag is set (stdio keeps the flag, not the reason).
 */
static int
check_stdout(int code, int e)
{
	bool failed = ferror(stdout) != 0;

	if (!failed)
		e = 0;

	errno = 0;
	if (fflush(stdout) != 0) {
		failed = true;
		if (e == 0)
			e = errno;
	}
	errno = 0;
	if (fclose(stdout) != 0) {
		failed = true;
		if (e == 0)
			e = errno;
	}
	if (!failed)
		return code;
	fprintf(stderr, "concordat: write error on standard output: %s\n",
	    e != 0 ? strerror(e) : "an earlier write failed");
	return EX_IOERR;
}

int
cli_main(const char *prog, const struct cli_verb *verbs, size_t nverbs,
    int argc, char **argv)
{
	const struct cli_verb *v;
	int code;

	if (argc < 2)
		return table_usage(stderr, prog, verbs, nverbs, EX_USAGE);
	if (is_help(argv[1]))
		code = table_usage(stdout, prog, verbs, nverbs, EX_OK);
	else if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "-V") == 0)
		code = printf("%s %s\n", prog, CONCORDAT_VERSION) < 0 ? EX_IOERR
		                                                      : EX_OK;
	else if ((v = find_verb("", verbs, nverbs, argv[1])) == NULL)
		return EX_USAGE;
	else
		code = run_verb("", v, argc - 1, argv + 1);
	return check_stdout(code, errno);
}

int
cli_group(const char *group, const char *usage, const struct cli_verb *verbs,
    size_t nverbs, int argc, char **argv)
{
	const struct cli_verb *v;
	char prog[64];

	snprintf(prog, sizeof(prog), "concordat %s", group);
	if (argc < 2 || is_help(argv[1])) {
		FILE *f = argc < 2 ? stderr : stdout;
		int code = argc < 2 ? EX_USAGE : EX_OK;

		if (usage == NULL)
			return table_usage(f, prog, verbs, nverbs, code);
		fputs(usage, f);
		return code;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("concordat %s\n", CONCORDAT_VERSION);
		return EX_OK;
	}
	if ((v = find_verb(group, verbs, nverbs, argv[1])) == NULL)
		return EX_USAGE;
	return run_verb(group, v, argc - 1, argv + 1);
}

int
cli_getopt(
    int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char opts[128];
	const char *arg;
	int c;

	if (fresh_args) {
		optind = 0; /* glibc: start afresh, reinitialising */
		fresh_args = false;
	}
	/* A leading ':' tells a missing value ('):') from an unknown ('?'). */
	snprintf(opts, sizeof(opts), ":%s",
	    shortopts[0] == ':' ? shortopts + 1 : shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	char shortname[3] = {'-', (char)optopt, '\0'};
	if (strncmp(arg, "--", 2) != 0 && optopt != 0)
		arg = shortname;
	cli_fail(EX_USAGE, "%s%s%s: %s '%s' (see --help)", current_group,
	    current_group[0] ? " " : "", argv[0],
	    c == ':' ? "missing value for" : "unknown option", arg);
	return '?';
}

int
cli_parse_time(const char *s, uint64_t *ms)
{
	return clock_parse(s, ms) == 0 ? ERROR_OK : ERROR_INVAL;
}

int
cli_parse_hex(const char *s, uint8_t *out, size_t len)
{
	size_t got;
	const char *end;

	if (strlen(s) != len * 2 ||
	    sodium_hex2bin(out, len, s, len * 2, NULL, &got, &end) != 0 ||
	    got != len || *end != '\0')
		return ERROR_INVAL;
	return ERROR_OK;
}
