/*
 * `concordat keys subject-ref --pepper FILE (--subject NHS | --name
 * SURNAME,FORENAME --dob YYYY-MM-DD)`: the subject_ref an agent puts in
 * the manifest of a record about this person, in hex, for local systems
 * and for `audit query --subject-ref`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/cli_subject.h"
#include "keys/verbs/keys_verbs.h"

static const char subject_ref_help[] =
    "usage: concordat keys subject-ref --pepper FILE\n"
    "           (--subject NHS | --name SURNAME,FORENAME --dob YYYY-MM-DD)\n"
    "\n"
    "Prints the subject_ref (64 hex digits) the agents compute for a\n"
    "record about this person with this pepper: BLAKE2b-256 keyed by the\n"
    "pepper over the ten NHS digits, or over \"surname|forename|date\"\n"
    "trimmed, inner white space collapsed and lower-cased\n"
    "(docs/record-format.md). Give it to `audit query --subject-ref`.\n";

int
keys_verb_subject_ref(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pepper", required_argument, NULL, 'p'},
	    {"subject", required_argument, NULL, 's'},
	    {"name", required_argument, NULL, 'N'},
	    {"dob", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_subjects s;
	const char *pepper = NULL;
	char why[512], hex[2 * CLI_REF_LEN + 1];
	int c, rc;

	memset(&s, 0, sizeof(s));
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'p':
			pepper = optarg;
			break;
		case 's':
		case 'N':
		case 'B':
			if (cli_subject_add(&s,
			        c == 's'       ? "subject"
			            : c == 'N' ? "name"
			                       : "dob",
			        optarg, why, sizeof(why)) != 0)
				return cli_fail(
				    EX_USAGE, "keys subject-ref: %s", why);
			break;
		case 'h':
			fputs(subject_ref_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cli_fail(EX_USAGE,
		    "keys subject-ref: unexpected argument '%s'", argv[optind]);
	if (s.n == 0)
		return cli_fail(EX_USAGE,
		    "keys subject-ref: missing --subject NHS or --name "
		    "SURNAME,FORENAME --dob YYYY-MM-DD (see --help)");
	if (s.n > 1)
		return cli_fail(EX_USAGE,
		    "keys subject-ref: give one person's one identifier: "
		    "--subject NHS or --name SURNAME,FORENAME --dob DATE");
	if (pepper == NULL)
		return cli_fail(EX_USAGE,
		    "keys subject-ref: missing --pepper FILE (the subject "
		    "pepper the agencies share)");
	if ((rc = cli_subject_resolve(&s, pepper, why, sizeof(why))) != 0)
		return cli_fail(
		    cli_subject_exit(rc), "keys subject-ref: %s", why);
	sodium_bin2hex(hex, sizeof(hex), s.s[0].ref, CLI_REF_LEN);
	printf("%s\n", hex);
	return EX_OK;
}
