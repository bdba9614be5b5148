/*
 * `concordat keys show FILE`: the public identity of a .pub or .key file
 * (a secret key's permissions checked on the way).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"

static void
print_public(const struct keys_public *p, const char *what)
{
	char b64[64];

	printf("id:          %s\n", p->id);
	printf("role:        %s\n",
	    p->is_broker         ? "broker"
	        : p->is_guardian ? "guardian (signs agreements)"
	                         : "agency");
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
	if (p->is_guardian) {
		uint8_t kid[AGREEMENT_KEYID_LEN];
		char hex[2 * AGREEMENT_KEYID_LEN + 1];
		agreement_keyid(p->id, p->sign_pk, kid);
		sodium_bin2hex(hex, sizeof(hex), kid, sizeof(kid));
		printf("key name:    %s.guardian (key id %s)\n", p->id, hex);
		return;
	}
	sodium_bin2base64(b64, sizeof(b64), p->transport_pk,
	    sizeof(p->transport_pk), sodium_base64_VARIANT_ORIGINAL);
	printf("transport:   %s (CURVE)\n", b64);
}

int
keys_verb_show(int argc, char **argv)
{
	struct keys_public pub;
	struct keys_secret *sec = NULL;
	const char *path;
	size_t n;
	int rc;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return keys_verbs_usage(stdout, EX_OK);
	if (argc != 2)
		return keys_verbs_usage(stderr, EX_USAGE);
	path = argv[1];
	n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".key") == 0) {
		rc = keys_load_secret(path, &sec);
		if (rc == ERROR_KEY)
			rc = keys_load_guardian(path, &sec);
		if (rc == ERROR_PERM)
			return cli_fail(EX_NOPERM,
			    "keys show: %s: refused: a secret key must be a "
			    "regular file of mode 0600 owned by you, not a "
			    "symlink",
			    path);
		if (rc != 0)
			return cli_fail(cli_exit_code(rc), "keys show: %s: %s",
			    path, error_strerror(rc));
		print_public(&sec->pub, "secret key (permissions ok)");
		keys_secret_free(sec);
		return EX_OK;
	}
	rc = keys_load_public(path, &pub);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "keys show: %s: %s", path,
		    error_strerror(rc));
	print_public(&pub, "public identity");
	return EX_OK;
}
