/*
 * `concordat send --spool DIR RECORD.json`: checks a record against the
 * record format and drops it into a running agent's outbox the way a local
 * system should (write to tmp/, then rename into outbox/).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent.h"
#include "agents/outrecord.h"
#include "agents/verbs/agent_verbs.h"
#include "common/cli.h"
#include "common/fileio.h"

static const char usage_text[] =
    "usage: concordat send --spool DIR RECORD.json\n"
    "\n"
    "Checks RECORD.json against the record format (docs/record-format.md)\n"
    "and places it in DIR/outbox/ for the agent to seal and send. Prints\n"
    "the outbox file's name; the receipt appears in DIR/sent/ (or the\n"
    "reasons in DIR/failed/).\n";

static void
print_errors(const char *file, json_t *errors)
{
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e)
	{
		const char *path =
		    json_string_value(json_object_get(e, "path"));
		fprintf(stderr, "%s: %s%s%s\n", file, path ? path : "",
		    path && path[0] ? ": " : "",
		    json_string_value(json_object_get(e, "message")));
	}
}

int
agent_verb_send(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"spool", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *spool = NULL, *file, *base;
	char tmpdir[4096], outdir[4096], name[512], src[4096], dst[4096];
	struct outrecord r;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len;
	json_t *errors;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "s:h", opts)) != -1) {
		switch (c) {
		case 's':
			spool = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EX_OK;
		default:
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (spool == NULL || optind != argc - 1) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	file = argv[optind];
	if ((rc = fileio_read(file, OUTRECORD_MAX_FILE, &buf, &len)) != 0)
		return cli_fail(cli_exit_code(rc), "send: %s: %s%s", file,
		    error_strerror(rc),
		    rc == ERROR_TOOBIG ? " (the limit is 1 MiB)" : "");
	errors = json_array();
	rc = outrecord_parse(buf, len, NULL, &r, errors);
	if (rc != 0) {
		size_t n = json_array_size(errors);
		print_errors(file, errors);
		json_decref(errors);
		free(buf);
		return cli_fail(
		    EX_DATAERR, "send: %s: not sent: %zu problems", file, n);
	}
	json_decref(errors);
	outrecord_release(&r);
	if (fileio_join(tmpdir, sizeof(tmpdir), spool, "tmp") != 0 ||
	    fileio_join(outdir, sizeof(outdir), spool, "outbox") != 0) {
		free(buf);
		return cli_fail(EX_USAGE, "send: %s: path too long", spool);
	}
	if (stat(outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(buf);
		return cli_fail(EX_NOINPUT,
		    "send: %s: no outbox folder (is an agent using this "
		    "spool?)",
		    outdir);
	}
	if ((rc = fileio_mkdirs(tmpdir, 0750)) != 0) {
		free(buf);
		return cli_fail(cli_exit_code(rc), "send: %s: %s", tmpdir,
		    error_strerror(rc));
	}
	/* A unique name, so that no record waiting in the outbox is
	 * replaced: the file's own name and a random tag. */
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t bl = strlen(base);
	if (bl > 5 && strcmp(base + bl - 5, ".json") == 0)
		bl -= 5;
	if (bl > 200)
		bl = 200;
	snprintf(name, sizeof(name), "%.*s-%08x.json", (int)bl, base,
	    randombytes_random());
	for (char *p = name; *p; p++)
		if (*p == '.' && p == name)
			*p = '_';
	rc = fileio_write_atomic(tmpdir, name, buf, len, 0640, FILEIO_EXCL);
	free(buf);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "send: %s/%s: %s", tmpdir,
		    name, error_strerror(rc));
	if (fileio_join(src, sizeof(src), tmpdir, name) != 0 ||
	    fileio_join(dst, sizeof(dst), outdir, name) != 0 ||
	    rename(src, dst) != 0 || fileio_fsync_dir(outdir) != 0)
		return cli_fail(
		    EX_IOERR, "send: cannot move %s into %s", name, outdir);
	printf("%s\n", dst);
	return EX_OK;
}
