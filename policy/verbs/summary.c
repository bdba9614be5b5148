/*
 * `concordat policy summary FILE [--html [--keyring DIR]]`: the
 * plain-English summary for the public, built by policy/summary.c and
 * written here; --html makes it a page to publish, with the signatures of
 * the agreement's note (FILE.sig), checked against the guardian keys of
 * DIR when --keyring is given.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/strbuf.h"
#include "keys/agreement.h"
#include "policy/summary.h"
#include "policy/verbs/policy_verbs.h"

/* The signers' lines and their strings, for the page. */
struct signers {
	struct summary_signer s[AGREEMENT_MAX_LINES];
	char keyid[AGREEMENT_MAX_LINES][2 * AGREEMENT_KEYID_LEN + 1];
	const char *missing[AGREEMENT_MAX_PARTY];
};

/*
 * The key id of the i-th signature line of the note ("— NAME BASE64"),
 * as hex into out; "" when the line does not carry one.
 */
static void
note_keyid(const char *note, size_t len, size_t i, char *out)
{
	const char *p = note, *end = note + len, *blank;
	uint8_t bin[AGREEMENT_KEYID_LEN + AGREEMENT_SIG_LEN];
	size_t bl;

	out[0] = '\0';
	if ((blank = memmem(note, len, "\n\n", 2)) == NULL)
		return;
	p = blank + 2;
	for (size_t k = 0; p < end; k++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp;

		if (nl == NULL)
			nl = end;
		if (k == i) {
			sp = memrchr(p, ' ', (size_t)(nl - p));
			if (sp != NULL &&
			    sodium_base642bin(bin, sizeof(bin), sp + 1,
			        (size_t)(nl - sp - 1), NULL, &bl, NULL,
			        sodium_base64_VARIANT_ORIGINAL) == 0 &&
			    bl == sizeof(bin))
				sodium_bin2hex(out, 2 * AGREEMENT_KEYID_LEN + 1,
				    bin, AGREEMENT_KEYID_LEN);
			return;
		}
		p = nl + 1;
	}
}

/* The page's view of the note: sig from c, strings in g; kr may be NULL. */
static void
signers_fill(struct summary_signed *sig, struct signers *g,
    const struct policy_verbs_signed *s, const struct agreement_check *c,
    const struct keyring *kr)
{
	memset(sig, 0, sizeof(*sig));
	sig->has_note = s->note != NULL;
	sig->checked = kr != NULL;
	sig->complete = kr != NULL && c->complete;
	if (s->note != NULL && c->text != AGREEMENT_TEXT_OK)
		sig->problem = agreement_text_str(c->text);
	for (size_t i = 0; s->note != NULL && i < c->nlines; i++) {
		const struct agreement_line *l = &c->lines[i];
		const struct keys_public *pk =
		    kr != NULL && l->agency[0] != '\0'
		    ? keyring_find_guardian(kr, l->agency)
		    : NULL;

		note_keyid(s->note, s->note_len, i, g->keyid[i]);
		g->s[i].agency = l->agency;
		g->s[i].key_name = l->name;
		g->s[i].keyid = g->keyid[i];
		g->s[i].fingerprint = pk != NULL ? pk->fingerprint : NULL;
		g->s[i].valid = kr != NULL &&
		    l->status == AGREEMENT_LINE_VALID &&
		    c->text == AGREEMENT_TEXT_OK;
		g->s[i].status =
		    kr == NULL ? "not checked" : agreement_line_str(l->status);
	}
	sig->n = s->note != NULL ? c->nlines : 0;
	sig->signers = g->s;
	for (size_t i = 0; kr != NULL && i < c->nmissing; i++)
		g->missing[i] = c->missing[i];
	sig->nmissing = kr != NULL ? c->nmissing : 0;
	sig->missing = g->missing;
}

/* The page: the agreement read with its note, checked when kdir is set. */
static int
summary_page(const char *path, const char *kdir, struct strbuf *sb)
{
	struct policy_verbs_signed s = {0};
	struct agreement_check *c = NULL;
	struct signers *g = NULL;
	struct keyring *kr = NULL;
	struct summary_signed sig;
	const char *ids[POLICY_MAX_AGENCIES];
	char err[512] = "";
	int rc;

	if ((rc = policy_verbs_signed_load("policy summary", path, &s)) != 0)
		return rc;
	if (kdir != NULL &&
	    (rc = keyring_load(kdir, &kr, err, sizeof(err))) != 0) {
		rc = cli_fail(rc == ERROR_NOENT ? EX_NOINPUT : EX_CONFIG,
		    "policy summary: keyring %s",
		    err[0] ? err : error_strerror(rc));
		goto out;
	}
	c = calloc(1, sizeof(*c));
	g = calloc(1, sizeof(*g));
	if (c == NULL || g == NULL) {
		rc = cli_fail(EX_OSERR, "policy summary: out of memory");
		goto out;
	}
	for (size_t i = 0; i < policy_agency_count(s.p); i++)
		ids[i] = policy_agency_id(s.p, i);
	/* Without a keyring every line is unknown: read, not checked. */
	if (s.note != NULL &&
	    (rc = agreement_verify(s.yaml, s.yaml_len, s.note, s.note_len,
	         policy_agreement(s.p), (uint64_t)policy_version(s.p), ids,
	         policy_agency_count(s.p), kr, c)) != 0 &&
	    rc != ERROR_TOOBIG) {
		rc = cli_fail(cli_exit_code(rc), "policy summary: %s: %s",
		    s.sig, error_strerror(rc));
		goto out;
	}
	signers_fill(&sig, g, &s, c, kr);
	rc = summary_build_html(s.p, &sig, sb) != ERROR_OK
	    ? cli_fail(EX_OSERR, "policy summary: out of memory")
	    : EX_OK;
out:
	keyring_free(kr);
	free(c);
	free(g);
	policy_verbs_signed_release(&s);
	return rc;
}

int
policy_verb_summary(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"html", no_argument, NULL, 'H'},
	    {"keyring", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct strbuf sb = STRBUF_INIT;
	struct policy *p = NULL;
	const char *keyring = NULL;
	bool html = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'H':
			html = true;
			break;
		case 'k':
			keyring = optarg;
			break;
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 1)
		return policy_verbs_usage(stderr, EX_USAGE);
	if (keyring != NULL && !html)
		return cli_fail(EX_USAGE,
		    "policy summary: --keyring is used only with --html");
	if (html) {
		rc = summary_page(argv[optind], keyring, &sb);
	} else if ((rc = policy_verbs_load(
	                "policy summary", argv[optind], &p)) == 0 &&
	    summary_build(p, &sb) != ERROR_OK) {
		rc = cli_fail(EX_OSERR, "policy summary: out of memory");
	}
	if (rc == 0)
		fwrite(sb.buf, 1, sb.len, stdout);
	strbuf_release(&sb);
	policy_free(p);
	return rc;
}
