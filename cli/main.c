/*
 * concordat: one command, a table of verbs (like wg and git). Each folder
 * owns its verbs' code; this file only dispatches.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>

#include <sodium.h>

#include "common/cliutil.h"
#include "agents/send.h"
#include "audit/audit.h"
#include "keys/keys.h"
#include "policy/policy_cli.h"
#include "proto/record.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
    {"keys", keys_cli, "generate and show keys, generate the pepper"},
    {"policy", policy_cli,
        "check, explain, diff, test and summarise a "
        "sharing policy"},
    {"audit", audit_cli,
        "query, report on, prove and verify the audit "
        "log"},
    {"send", send_cli, "drop a record into a running agent's outbox"},
};

static int
usage(FILE *f, int code)
{
	fprintf(f, "usage: concordat [--version] [--help] VERB [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\n'concordat VERB --help' describes a verb.\n");
	return code;
}

int
main(int argc, char **argv)
{
	struct rlimit nocore = {0, 0};

	record_wipe_on_free(); /* before any JSON: records hold plaintext */
	if (sodium_init() < 0)
		return cliutil_fail(EX_SOFTWARE, "libsodium failed to start");
	/* A core dump could hold a secret key or a record. */
	setrlimit(RLIMIT_CORE, &nocore);
	if (argc < 2)
		return usage(stderr, EX_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout, EX_OK);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("concordat %s\n", CONCORDAT_VERSION);
		return EX_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	cliutil_fail(EX_USAGE, "unknown verb '%s'", argv[1]);
	return usage(stderr, EX_USAGE);
}
