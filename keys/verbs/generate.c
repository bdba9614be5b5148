/*
 * `concordat keys generate --agency ID | --broker | --guardian --agency ID
 * --out DIR`: a new key pair, the secret half mode 0600, never
 * overwriting.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"

int
keys_verb_generate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"agency", required_argument, NULL, 'a'},
	    {"broker", no_argument, NULL, 'b'},
	    {"guardian", no_argument, NULL, 'g'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *agency = NULL, *out = NULL;
	int broker = 0, guardian = 0, c, rc;

	while ((c = cli_getopt(argc, argv, "a:bgo:h", opts)) != -1) {
		switch (c) {
		case 'a':
			agency = optarg;
			break;
		case 'b':
			broker = 1;
			break;
		case 'g':
			guardian = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			return keys_verbs_usage(stdout, EX_OK);
		default:
			return keys_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc || out == NULL || (agency == NULL) == !broker ||
	    (guardian && broker))
		return keys_verbs_usage(stderr, EX_USAGE);
	if (agency != NULL && !ident_agency_valid(agency))
		return cli_fail(EX_USAGE,
		    "keys generate: invalid agency id '%s' (want "
		    "[a-z][a-z0-9_]{0,31})",
		    agency);
	const char *id = broker ? KEYS_BROKER_ID : agency;
	const char *sfx = guardian ? ".guardian" : "";
	rc = guardian ? keys_generate_guardian(agency, out)
	              : keys_generate(broker ? NULL : agency, out);
	if (rc == ERROR_EXISTS)
		return cli_fail(EX_CANTCREAT,
		    "keys generate: %s/%s%s.key or .pub: already exists "
		    "(refusing to overwrite)",
		    out, id, sfx);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "keys generate: %s: %s", out,
		    error_strerror(rc));
	printf("wrote %s/%s%s.key (secret, 0600) and %s/%s%s.pub\n", out, id,
	    sfx, out, id, sfx);
	if (guardian)
		printf("keep %s/%s.guardian.key offline; give %s.guardian.pub "
		       "to every keyring\n",
		    out, id, id);
	return EX_OK;
}
