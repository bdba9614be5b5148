/*
 * cli_parse_subject (common/cli.h): an NHS number and the pepper file into
 * a subject_ref; cli_subject_* (common/cli_subject.h): several identifiers
 * of one person into theirs. Apart from the rest of the kit because it
 * needs keys/; library clikit, which only the verbs' libraries and
 * `concordat` link.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/cli_subject.h"
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

/* ------------------------------------------- several identifiers
 * (cli_subject.h) */

#define NAME_MAX_LEN 512 /* SURNAME,FORENAME as given */

/* "SMITH,John" into its two parts (trimmed), or false. */
static bool
split_name(const char *arg, char sur[NAME_MAX_LEN], char fore[NAME_MAX_LEN])
{
	const char *comma = strchr(arg, ',');
	size_t ls, lf;

	if (comma == NULL || strlen(arg) >= NAME_MAX_LEN)
		return false;
	ls = (size_t)(comma - arg);
	memcpy(sur, arg, ls);
	sur[ls] = '\0';
	lf = strlen(comma + 1);
	memcpy(fore, comma + 1, lf + 1);
	return true;
}

/* s trimmed of white space at both ends, in place. */
static char *
trim(char *s)
{
	size_t n;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int
add_name(struct cli_subject *e, const char *arg, char *why, size_t n)
{
	char sur[NAME_MAX_LEN], fore[NAME_MAX_LEN];
	uint8_t zero[KEYS_PEPPER_LEN] = {0}, ref[KEYS_REF_LEN];

	if (!split_name(arg, sur, fore)) {
		snprintf(why, n,
		    "--name '%s': want SURNAME,FORENAME (a comma between)",
		    arg);
		return ERROR_INVAL;
	}
	/* The agents' own check, with a throw-away pepper. */
	if (keys_subject_ref_name(zero, sur, fore, "2000-01-01", ref) != 0) {
		snprintf(why, n,
		    "--name '%s': the surname and the forename must not be "
		    "empty or hold '|'",
		    arg);
		return ERROR_INVAL;
	}
	e->kind = CLI_SUBJECT_NAME;
	return ERROR_OK;
}

int
cli_subject_add(struct cli_subjects *s, const char *opt, const char *arg,
    char *why, size_t n)
{
	struct cli_subject *e;
	int rc = ERROR_OK;

	if (strcmp(opt, "dob") == 0) {
		if (!keys_date_valid(arg)) {
			snprintf(why, n,
			    "--dob '%s': not a date YYYY-MM-DD (such as "
			    "1970-01-31)",
			    arg);
			return ERROR_INVAL;
		}
		/* The i-th --dob belongs to the i-th --name. */
		size_t seen = 0;
		for (size_t i = 0; i < s->n; i++)
			if (s->s[i].kind == CLI_SUBJECT_NAME &&
			    seen++ == s->n_dob) {
				s->s[i].dob = arg;
				break;
			}
		if (seen <= s->n_dob) {
			snprintf(why, n,
			    "--dob '%s' without a --name SURNAME,FORENAME "
			    "before it",
			    arg);
			return ERROR_INVAL;
		}
		s->n_dob++;
		return ERROR_OK;
	}
	if (s->n == CLI_SUBJECTS_MAX) {
		snprintf(why, n, "more than %d identifiers of one person",
		    CLI_SUBJECTS_MAX);
		return ERROR_TOOBIG;
	}
	e = &s->s[s->n];
	memset(e, 0, sizeof(*e));
	e->arg = arg;
	if (strcmp(opt, "subject") == 0) {
		if (!keys_nhs_valid(arg)) {
			snprintf(why, n,
			    "'%s' is not a valid NHS number (ten digits with "
			    "a correct check digit)",
			    arg);
			return ERROR_INVAL;
		}
		e->kind = CLI_SUBJECT_NHS;
	} else if (strcmp(opt, "name") == 0) {
		rc = add_name(e, arg, why, n);
	} else if (strcmp(opt, "subject-ref") == 0) {
		if (cli_parse_hex(arg, e->ref, CLI_REF_LEN) != 0) {
			snprintf(why, n,
			    "--subject-ref '%s': want 64 hex digits", arg);
			return ERROR_INVAL;
		}
		e->kind = CLI_SUBJECT_REF;
	} else {
		rc = ERROR_INVAL;
		snprintf(why, n, "unknown subject option '%s'", opt);
	}
	if (rc == ERROR_OK)
		s->n++;
	return rc;
}

/* e's words for the person, and (with a pepper) its subject_ref. */
static int
resolve_one(struct cli_subject *e, const uint8_t *pepper)
{
	char sur[NAME_MAX_LEN], fore[NAME_MAX_LEN], d[16] = {0}, hex[65];
	size_t k = 0;
	int rc = ERROR_OK;

	switch (e->kind) {
	case CLI_SUBJECT_NHS:
		for (const char *p = e->arg; *p != '\0' && k < 10; p++)
			if (*p >= '0' && *p <= '9')
				d[k++] = *p;
		snprintf(e->words, sizeof(e->words),
		    "NHS number %.3s %.3s %.4s", d, d + 3, d + 6);
		rc = keys_subject_ref_nhs(pepper, e->arg, e->ref);
		break;
	case CLI_SUBJECT_NAME:
		if (!split_name(e->arg, sur, fore))
			return ERROR_INVAL;
		snprintf(e->words, sizeof(e->words),
		    "name %.80s, %.80s born %s", trim(sur), trim(fore), e->dob);
		rc = keys_subject_ref_name(pepper, sur, fore, e->dob, e->ref);
		sodium_memzero(sur, sizeof(sur));
		sodium_memzero(fore, sizeof(fore));
		break;
	case CLI_SUBJECT_REF:
		sodium_bin2hex(hex, sizeof(hex), e->ref, CLI_REF_LEN);
		snprintf(e->words, sizeof(e->words), "subject_ref %s", hex);
		break;
	}
	return rc;
}

int
cli_subject_resolve(
    struct cli_subjects *s, const char *pepper_path, char *why, size_t n)
{
	uint8_t *pepper = NULL;
	bool need = false;
	int rc;

	if (s->n == 0) {
		snprintf(why, n,
		    "give the person as --subject NHS, --name "
		    "SURNAME,FORENAME --dob YYYY-MM-DD or --subject-ref HEX");
		return ERROR_INVAL;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->s[i].kind == CLI_SUBJECT_NAME && s->s[i].dob == NULL) {
			snprintf(why, n,
			    "--name '%s' needs --dob YYYY-MM-DD (the date of "
			    "birth the agencies sent)",
			    s->s[i].arg);
			return ERROR_INVAL;
		}
		need = need || s->s[i].kind != CLI_SUBJECT_REF;
	}
	if (need && pepper_path == NULL) {
		for (size_t i = 0; i < s->n; i++)
			if (s->s[i].kind != CLI_SUBJECT_REF) {
				snprintf(why, n,
				    "%s needs --pepper FILE (the subject "
				    "pepper the agencies share)",
				    s->s[i].kind == CLI_SUBJECT_NHS
				        ? "--subject"
				        : "--name");
				break;
			}
		return ERROR_INVAL;
	}
	s->pepper_path = pepper_path;
	if (pepper_path != NULL) {
		rc = keys_pepper_load(pepper_path, &pepper);
		if (rc != 0) {
			snprintf(why, n, "pepper %s: %s", pepper_path,
			    rc == ERROR_PERM
			        ? "refused: a symlink, or readable "
			          "by group or others (chmod 600)"
			        : error_strerror(rc));
			return rc == ERROR_INVAL ? ERROR_KEY : rc;
		}
		keys_pepper_id(pepper, s->pepper_id);
		s->has_pepper_id = true;
	}
	rc = ERROR_OK;
	for (size_t i = 0; i < s->n && rc == ERROR_OK; i++)
		rc = resolve_one(&s->s[i], pepper);
	keys_pepper_free(pepper);
	if (rc != 0) {
		snprintf(why, n, "subject_ref: %s", error_strerror(rc));
		return ERROR_INTERNAL;
	}
	return ERROR_OK;
}

bool
cli_subject_match(const struct cli_subjects *s, const uint8_t *ref)
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->s[i].ref, ref, CLI_REF_LEN) == 0)
			return true;
	return false;
}
