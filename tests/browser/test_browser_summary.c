/*
 * `policy summary --html` in Chromium: the facts on the DOM it parsed: the
 * agreement, its SHA-256 and its guardians' signatures as the keyring
 * checks them (or said to be unchecked without one), and who may see
 * what for each purpose.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/yamlconf.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "tests/browser/browser.h"
#include "tests/browser/pagecheck.h"
#include "tests/browser/pages.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

static void
test_summary_page(void **state)
{
	char *dir = scratch_dir("browser-summary"), *path, *page, *dom, *c;
	char yaml[PATH_MAX], err[256];
	struct fixture_keys k;
	struct yamlconf_errors errs;
	struct keyring *kr;
	struct policy *p;
	const struct keys_public *g;
	char *bytes = scratch_read(fixture_agreement(), NULL);

	(void)state;
	fixture_keys_make(&k, dir);
	snprintf(yaml, sizeof(yaml), "%s/agreement.yaml", dir);
	scratch_write(yaml, bytes, 0644);
	free(bytes);
	/* Three of the four guardians sign. */
	fixture_agreement_sign(yaml, k.keys, 0x7, NULL);
	/* --keyring is the page's: an error without --html. */
	free(pages_run(dir, "summary-keyring", NULL, 64, "policy", "summary",
	    yaml, "--keyring", k.ring, NULL));
	page = pages_run(dir, "summary", &path, 0, "policy", "summary", yaml,
	    "--html", "--keyring", k.ring, NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_file(yaml, &errs, &p), 0);
	yamlconf_errors_release(&errs);
	/* The agreement: id, version, SHA-256 of the file. */
	PAGECHECK_CELL(dom, 0, 1, 1, policy_agreement(p));
	PAGECHECK_CELL(dom, 0, 2, 1, "1");
	PAGECHECK_CELL(dom, 0, 4, 1, policy_sha256_hex(p));
	/* The signers: three lines verified, each with its guardian key. */
	assert_int_equal(dom_rows(dom, 1), 4);
	assert_int_equal(keyring_load(k.ring, &kr, err, sizeof(err)), 0);
	for (size_t i = 1; i <= 3; i++) {
		char *agency = pagecheck_cell(dom, 1, i, 0);

		uint8_t id[AGREEMENT_KEYID_LEN];
		char hex[2 * AGREEMENT_KEYID_LEN + 1];

		g = keyring_find_guardian(kr, agency);
		assert_non_null(g);
		/* The note's key id is the guardian key's (C2SP). */
		agreement_keyid(agency, g->sign_pk, id);
		sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
		PAGECHECK_CELL(dom, 1, i, 2, hex);
		PAGECHECK_CELL(dom, 1, i, 3, g->fingerprint);
		PAGECHECK_CELL(dom, 1, i, 4, "valid");
		free(agency);
	}
	keyring_free(kr);
	assert_int_equal(
	    pagecheck_text_count(dom, "NOT complete: 1 agency"), 1);
	assert_int_equal(pagecheck_text_count(dom,
	                     "Not signed by the guardian of: "
	                     "social_care."),
	    1);
	/* Who may see what: a table per purpose that shares anything. */
	c = dom_by_id(dom, "purpose-triage_5fadvice");
	assert_non_null(c);
	assert_non_null(strstr(c, "Street triage advice to an officer"));
	free(c);
	assert_int_equal(dom_count(dom, "h3"), policy_purpose_count(p));
	PAGECHECK_CELL(dom, 2, 0, 2, "What is shared");
	PAGECHECK_CELL(dom, 2, 1, 0, "police");
	PAGECHECK_CELL(dom, 2, 1, 1, "mental health trust");
	policy_free(p);
	free(page);
	free(path);
	free(dom);

	/* Without a keyring: the note's lines, said to be unchecked. */
	page = pages_run(dir, "summary-unchecked", &path, 0, "policy",
	    "summary", yaml, "--html", NULL);
	dom = browser_dom(path, 0);
	pagecheck(page, dom);
	assert_int_equal(dom_rows(dom, 1), 4);
	for (size_t i = 1; i <= 3; i++) {
		PAGECHECK_CELL(dom, 1, i, 3, "(no keyring given)");
		PAGECHECK_CELL(dom, 1, i, 4, "not checked");
	}
	assert_int_equal(
	    pagecheck_text_count(dom, "Signatures not checked"), 1);
	assert_int_equal(pagecheck_text_count(dom, "Complete"), 0);
	free(page);
	free(path);
	free(dom);
	scratch_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_summary_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
