/*
 * `concordat keys`: generate agency and broker keys, generate the subject
 * pepper, show a key file's public identity. Dispatched from cli/main.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cliutil.h"
#include "keys/keys.h"

static const char usage_text[] =
    "usage: concordat keys generate --agency ID --out DIR\n"
    "       concordat keys generate --broker --out DIR\n"
    "       concordat keys pepper --out FILE\n"
    "       concordat keys show FILE\n"
    "\n"
    "generate  writes DIR/ID.key (secret, mode 0600) and DIR/ID.pub (the\n"
    "          public identity to put in every keyring); refuses to\n"
    "          overwrite. Agency ids match [a-z][a-z0-9_]{0,31}.\n"
    "pepper    writes the subject pepper shared by the agencies (0600);\n"
    "          never give it to the broker.\n"
    "show      prints the public identity of a .pub or .key file.\n";

static int
usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

static int
generate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"agency", required_argument, NULL, 'a'},
	    {"broker", no_argument, NULL, 'b'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *agency = NULL, *out = NULL;
	int broker = 0, c, rc;

	while ((c = getopt_long(argc, argv, "a:bo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			agency = optarg;
			break;
		case 'b':
			broker = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			return usage(stdout, EX_OK);
		default:
			return usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc || out == NULL || (agency == NULL) == !broker)
		return usage(stderr, EX_USAGE);
	if (agency != NULL && !ident_agency_valid(agency))
		return cliutil_fail(EX_USAGE,
		    "keys generate: invalid agency id '%s' (want "
		    "[a-z][a-z0-9_]{0,31})",
		    agency);
	const char *id = broker ? KEYS_BROKER_ID : agency;
	rc = keys_generate(broker ? NULL : agency, out);
	if (rc == ERROR_EXISTS)
		return cliutil_fail(EX_CANTCREAT,
		    "keys generate: %s/%s.key or .pub: already exists "
		    "(refusing to overwrite)",
		    out, id);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "keys generate: %s: %s", out, error_strerror(rc));
	printf(
	    "wrote %s/%s.key (secret, 0600) and %s/%s.pub\n", out, id, out, id);
	return EX_OK;
}

static int
pepper(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			return usage(stdout, EX_OK);
		default:
			return usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc || out == NULL)
		return usage(stderr, EX_USAGE);
	rc = keys_pepper_generate(out);
	if (rc == ERROR_EXISTS)
		return cliutil_fail(EX_CANTCREAT,
		    "keys pepper: %s: already exists (refusing to overwrite)",
		    out);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "keys pepper: %s: %s", out, error_strerror(rc));
	printf("wrote %s (secret, 0600): give it to each agency, never to "
	       "the broker\n",
	    out);
	return EX_OK;
}

static void
print_public(const struct keys_public *p, const char *what)
{
	char b64[64];

	printf("id:          %s\n", p->id);
	printf("role:        %s\n", p->is_broker ? "broker" : "agency");
	printf("file:        %s\n", what);
	printf("fingerprint: %s\n", p->fingerprint);
	sodium_bin2base64(b64, sizeof(b64), p->sign_pk, sizeof(p->sign_pk),
	    sodium_base64_VARIANT_ORIGINAL);
	printf("sign:        %s (Ed25519)\n", b64);
	if (p->has_box) {
		sodium_bin2base64(b64, sizeof(b64), p->box_pk,
		    sizeof(p->box_pk), sodium_base64_VARIANT_ORIGINAL);
		printf("box:         %s (X25519)\n", b64);
	}
	sodium_bin2base64(b64, sizeof(b64), p->transport_pk,
	    sizeof(p->transport_pk), sodium_base64_VARIANT_ORIGINAL);
	printf("transport:   %s (CURVE)\n", b64);
}

static int
show(int argc, char **argv)
{
	struct keys_public pub;
	struct keys_secret *sec = NULL;
	const char *path;
	size_t n;
	int rc;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout, EX_OK);
	if (argc != 2)
		return usage(stderr, EX_USAGE);
	path = argv[1];
	n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".key") == 0) {
		rc = keys_load_secret(path, &sec);
		if (rc == ERROR_PERM)
			return cliutil_fail(EX_NOPERM,
			    "keys show: %s: refused: a secret key must be a "
			    "regular file of mode 0600 owned by you, not a "
			    "symlink",
			    path);
		if (rc != 0)
			return cliutil_fail(cliutil_exit_code(rc),
			    "keys show: %s: %s", path, error_strerror(rc));
		print_public(&sec->pub, "secret key (permissions ok)");
		keys_secret_free(sec);
		return EX_OK;
	}
	rc = keys_load_public(path, &pub);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc), "keys show: %s: %s",
		    path, error_strerror(rc));
	print_public(&pub, "public identity");
	return EX_OK;
}

int
keys_cli(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, EX_USAGE);
	optind = 0; /* GNU getopt: start afresh for each call */
	if (strcmp(argv[1], "generate") == 0)
		return generate(argc - 1, argv + 1);
	if (strcmp(argv[1], "pepper") == 0)
		return pepper(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return show(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout, EX_OK);
	cliutil_fail(EX_USAGE, "keys: unknown verb '%s'", argv[1]);
	return usage(stderr, EX_USAGE);
}
