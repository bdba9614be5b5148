/*
 * What `policy sign`, `verify` and `install` share: an agreement's exact
 * bytes read once (so that what is parsed is what is hashed), its note
 * FILE.sig beside it, the check against a keyring and its report.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "common/yamlconf.h"
#include "policy/verbs/policy_verbs.h"

void
policy_verbs_signed_release(struct policy_verbs_signed *s)
{
	free(s->yaml);
	free(s->note);
	policy_free(s->p);
	memset(s, 0, sizeof(*s));
}

int
policy_verbs_signed_load(
    const char *who, const char *path, struct policy_verbs_signed *s)
{
	struct yamlconf_errors errs;
	uint8_t *note = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if (snprintf(s->sig, sizeof(s->sig), "%s.sig", path) >=
	    (int)sizeof(s->sig))
		return cli_fail(EX_USAGE, "%s: %s: path too long", who, path);
	rc = fileio_read(path, POLICY_FILE_MAX, &s->yaml, &s->yaml_len);
	if (rc != 0)
		return cli_fail(policy_verbs_load_code(rc), "%s: %s: %s", who,
		    path, error_strerror(rc));
	yamlconf_errors_init(&errs);
	rc = policy_load_buffer(s->yaml, s->yaml_len, path, &errs, &s->p);
	if (rc != 0) {
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		cli_fail(0, "%s: %s: %zu error%s", who, path, errs.total,
		    errs.total == 1 ? "" : "s");
	}
	yamlconf_errors_release(&errs);
	if (rc != 0) {
		policy_verbs_signed_release(s);
		return policy_verbs_load_code(rc);
	}
	rc = fileio_read(s->sig, AGREEMENT_NOTE_MAX, &note, &s->note_len);
	if (rc == ERROR_NOENT) {
		s->note_len = 0;
		return EX_OK;
	}
	if (rc != 0) {
		int code = cli_fail(
		    rc == ERROR_TOOBIG ? EX_DATAERR : cli_exit_code(rc),
		    "%s: %s: %s", who, s->sig,
		    rc == ERROR_TOOBIG ? "larger than an agreement note may be"
		                       : error_strerror(rc));
		policy_verbs_signed_release(s);
		return code;
	}
	s->note = (char *)note;
	return EX_OK;
}

int
policy_verbs_signed_check(const char *who, struct policy_verbs_signed *s,
    const char *keyring, struct agreement_check **out)
{
	const char *ids[POLICY_MAX_AGENCIES];
	struct keyring *kr = NULL;
	char err[512] = "";
	size_t n = policy_agency_count(s->p);
	int rc;

	*out = NULL;
	if ((rc = keyring_load(keyring, &kr, err, sizeof(err))) != 0)
		return cli_fail(rc == ERROR_NOENT ? EX_NOINPUT : EX_CONFIG,
		    "%s: keyring %s", who, err[0] ? err : error_strerror(rc));
	for (size_t i = 0; i < n; i++)
		ids[i] = policy_agency_id(s->p, i);
	if ((*out = malloc(sizeof(**out))) == NULL) {
		keyring_free(kr);
		return cli_fail(EX_OSERR, "%s: out of memory", who);
	}
	rc = agreement_verify(s->yaml, s->yaml_len, s->note, s->note_len,
	    policy_agreement(s->p), (uint64_t)policy_version(s->p), ids, n, kr,
	    *out);
	keyring_free(kr);
	if (rc != 0 && rc != ERROR_TOOBIG) {
		free(*out);
		*out = NULL;
		return cli_fail(cli_exit_code(rc), "%s: %s: %s", who, s->sig,
		    error_strerror(rc));
	}
	return EX_OK;
}

static void
list(FILE *f, const char *label, char (*ids)[IDENT_AGENCY_MAX + 1], size_t n)
{
	fprintf(f, "%s", label);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", ids[i]);
	fprintf(f, "%s\n", n == 0 ? "(none)" : "");
}

void
policy_verbs_check_print(FILE *f, const struct policy_verbs_signed *s,
    const struct agreement_check *c)
{
	char hex[2 * AGREEMENT_SHA_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), c->sha256, sizeof(c->sha256));
	fprintf(f, "%s: agreement %s version %lld, sha256 %s\n", s->path,
	    policy_agreement(s->p), policy_version(s->p), hex);
	if (s->note == NULL) {
		fprintf(f, "%s: missing: no guardian has signed\n", s->sig);
	} else if (c->text != AGREEMENT_TEXT_OK) {
		fprintf(f, "%s: %s", s->sig, agreement_text_str(c->text));
		if (c->text == AGREEMENT_TEXT_SHA) {
			sodium_bin2hex(hex, sizeof(hex), c->note_sha256,
			    sizeof(c->note_sha256));
			fprintf(f, ": the note signs sha256 %s", hex);
		} else if (c->text == AGREEMENT_TEXT_VERSION) {
			fprintf(f, ": the note says version %llu",
			    (unsigned long long)c->note_version);
		}
		fprintf(f, "; every guardian must sign %s again\n", s->path);
	}
	list(f, "  signed:     ", (char(*)[IDENT_AGENCY_MAX + 1]) c->signed_by,
	    c->nsigned);
	list(f, "  not signed: ", (char(*)[IDENT_AGENCY_MAX + 1]) c->missing,
	    c->nmissing);
	for (size_t i = 0; i < c->nlines; i++) {
		const struct agreement_line *l = &c->lines[i];
		if (l->status == AGREEMENT_LINE_VALID)
			continue;
		/* The text is four lines and a blank one. */
		fprintf(f, "  %s:%zu: %s: %s\n", s->sig, i + 6,
		    l->name[0] ? l->name : "(no key name)",
		    agreement_line_str(l->status));
	}
	if (c->lines_over > 0)
		fprintf(f, "  %s: %zu more lines not read (at most %d)\n",
		    s->sig, c->lines_over, AGREEMENT_MAX_LINES);
	if (c->complete)
		fprintf(f,
		    "%s: complete: signed by the guardians of all %zu "
		    "agencies\n",
		    s->path, c->nsigned);
	else
		fprintf(f,
		    "%s: NOT complete: %zu of %zu agencies' guardians have "
		    "not signed\n",
		    s->path, c->nmissing, c->nsigned + c->nmissing);
}

static json_t *
id_array(char (*ids)[IDENT_AGENCY_MAX + 1], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

static const char *const line_names[] = {"valid", "not_party", "unknown_key",
    "bad_signature", "duplicate", "malformed"};
static const char *const text_names[] = {
    "ok", "malformed", "sha256", "id", "version"};

json_t *
policy_verbs_check_json(
    const struct policy_verbs_signed *s, const struct agreement_check *c)
{
	char hex[2 * AGREEMENT_SHA_LEN + 1];
	json_t *lines = json_array(), *o;

	sodium_bin2hex(hex, sizeof(hex), c->sha256, sizeof(c->sha256));
	for (size_t i = 0; lines != NULL && i < c->nlines; i++)
		json_array_append_new(lines,
		    json_pack("{s:s, s:s, s:s, s:I}", "name", c->lines[i].name,
		        "agency", c->lines[i].agency, "status",
		        line_names[c->lines[i].status], "line",
		        (json_int_t)(i + 6)));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:s, s:o, s:o, "
	              "s:o}",
	    "file", s->path, "note", s->sig, "agreement",
	    policy_agreement(s->p), "version", (json_int_t)policy_version(s->p),
	    "sha256", hex, "has_note", s->note != NULL, "complete", c->complete,
	    "text", text_names[c->text], "signed",
	    id_array((char(*)[IDENT_AGENCY_MAX + 1]) c->signed_by, c->nsigned),
	    "missing",
	    id_array((char(*)[IDENT_AGENCY_MAX + 1]) c->missing, c->nmissing),
	    "lines", lines);
	return o;
}
