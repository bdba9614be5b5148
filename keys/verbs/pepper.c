/*
 * `concordat keys pepper --out FILE`: the subject pepper the agencies
 * share (mode 0600, never overwriting).
 */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"

int
keys_verb_pepper(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "o:h", opts)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			return keys_verbs_usage(stdout, EX_OK);
		default:
			return keys_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc || out == NULL)
		return keys_verbs_usage(stderr, EX_USAGE);
	rc = keys_pepper_generate(out);
	if (rc == ERROR_EXISTS)
		return cli_fail(EX_CANTCREAT,
		    "keys pepper: %s: already exists (refusing to overwrite)",
		    out);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "keys pepper: %s: %s", out,
		    error_strerror(rc));
	printf("wrote %s (secret, 0600): give it to each agency, never to "
	       "the broker\n",
	    out);
	return EX_OK;
}
