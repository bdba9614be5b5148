/*
 * cli_parse_subject (common/cli.h): an NHS number and the pepper file into
 * a subject_ref. Apart from the rest of the kit because it needs keys/;
 * library clikit, which only the verbs' libraries and `concordat` link.
 */
#include <stdio.h>

#include "common/cli.h"
#include "common/error.h"
#include "keys/keys.h"

int
cli_parse_subject(const char *nhs, const char *pepper_path,
    uint8_t ref[CLI_REF_LEN], char *why, size_t n)
{
	uint8_t *pepper = NULL;
	int rc;

	if (!keys_nhs_valid(nhs)) {
		snprintf(why, n,
		    "'%s' is not a valid NHS number (ten digits with a "
		    "correct check digit)",
		    nhs);
		return ERROR_INVAL;
	}
	if (pepper_path == NULL) {
		snprintf(why, n,
		    "--subject needs --pepper FILE (the subject pepper the "
		    "agencies share)");
		return ERROR_INVAL;
	}
	rc = keys_pepper_load(pepper_path, &pepper);
	if (rc != 0) {
		snprintf(why, n, "pepper %s: %s", pepper_path,
		    rc == ERROR_PERM ? "refused: a symlink, or readable by "
		                       "group or others (chmod 600)"
		                     : error_strerror(rc));
		return rc == ERROR_INVAL ? ERROR_KEY : rc;
	}
	rc = keys_subject_ref_nhs(pepper, nhs, ref);
	keys_pepper_free(pepper);
	if (rc != 0) {
		snprintf(why, n, "subject_ref: %s", error_strerror(rc));
		return ERROR_INTERNAL;
	}
	return ERROR_OK;
}

int
cli_subject_exit(int err)
{
	return err == ERROR_INVAL ? EX_USAGE : cli_exit_code(err);
}
