/*
 * `concordat policy`, for administrators: check a policy file, explain a
 * decision, diff two versions, run expected decisions, and write the
 * plain-English summary for the public (Caldicott principle 8). The group
 * and what its verbs share. Dispatched from cli/main.c.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "common/yamlconf.h"
#include "policy/verbs/policy_verbs.h"

static const char usage_text[] =
    "usage: concordat policy check FILE [--against OLD]\n"
    "       concordat policy explain FILE --from AGENCY --to AGENCY "
    "--purpose PURPOSE\n"
    "                [--urgency routine|urgent|emergency] "
    "[--reason REASON]\n"
    "                [--kind record|request] [--json]\n"
    "       concordat policy diff OLD NEW [--json | --html]\n"
    "       concordat policy test FILE CASES\n"
    "       concordat policy summary FILE [--html [--keyring DIR]]\n"
    "       concordat policy sign FILE --key GUARDIAN.key\n"
    "       concordat policy verify FILE --keyring DIR [--json]\n"
    "       concordat policy install NEW LIVE --keyring DIR\n"
    "                [--data DIR | --pid PID] [--wait SECONDS]\n"
    "\n"
    "  check    check FILE and print a one-line summary, or every error;\n"
    "           --against OLD: warn when decisions change but 'version'\n"
    "           does not go up\n"
    "  explain  what AGENCY --to would receive, field by field, and why\n"
    "  diff     every (from, to, purpose, urgency, field) whose decision\n"
    "           changes from OLD to NEW, with the rule or never entry\n"
    "           (FILE:LINE) behind each side; exit 1 when there is any;\n"
    "           --html: a page, a matrix per urgency of flow by field\n"
    "  test     run the expected decisions in CASES; exit 1 on a failure\n"
    "  summary  who receives what from whom and why, in plain English;\n"
    "           --html: a page to publish, with the agreement's\n"
    "           fingerprint and its guardians' signatures (FILE.sig),\n"
    "           checked against the guardian keys of --keyring DIR\n"
    "  sign     a guardian signs FILE: adds or replaces its line in\n"
    "           FILE.sig (created when missing)\n"
    "  verify   who has signed FILE.sig and who has not, against the\n"
    "           guardian keys (ID.guardian.pub) of DIR; exit 0 only when\n"
    "           every agency's guardian has, 1 when not\n"
    "  install  check NEW and its complete FILE.sig, put both at LIVE and\n"
    "           LIVE.sig atomically, and signal the broker (the pid in\n"
    "           DIR/concordat.lock, or PID) to reload; with --data, wait\n"
    "           (10 s) for it to activate NEW, else put the old one back\n"
    "\n"
    "See concordat-policy(1) and docs/policy.md.\n";

static const struct cli_verb verbs[] = {
    {"check", "check a policy file", policy_verb_check},
    {"explain", "explain one decision, field by field", policy_verb_explain},
    {"diff", "the decisions that change between two versions",
        policy_verb_diff},
    {"test", "run a cases file of expected decisions", policy_verb_test},
    {"summary", "the plain-English summary for the public",
        policy_verb_summary},
    {"sign", "sign an agreement with a guardian key", policy_verb_sign},
    {"verify", "who has signed an agreement, and who has not",
        policy_verb_verify},
    {"install", "install a signed agreement and reload the broker",
        policy_verb_install},
};

int
policy_cli(int argc, char **argv)
{
	return cli_group("policy", usage_text, verbs,
	    sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

int
policy_verbs_usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

int
policy_verbs_load_code(int rc)
{
	switch (rc) {
	case ERROR_POLICY:
	case ERROR_CONFIG:
	case ERROR_TOOBIG:
	case ERROR_INVAL:
		return EX_CONFIG;
	case ERROR_NOENT:
		return EX_NOINPUT;
	default:
		return cli_exit_code(rc);
	}
}

int
policy_verbs_load(const char *who, const char *path, struct policy **p)
{
	struct yamlconf_errors errs;
	int rc;

	yamlconf_errors_init(&errs);
	rc = policy_load_file(path, &errs, p);
	if (rc == ERROR_POLICY) {
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		cli_fail(EX_CONFIG, "%s: %s: %zu error%s", who, path,
		    errs.total, errs.total == 1 ? "" : "s");
	} else if (rc != ERROR_OK) {
		cli_fail(
		    0, "%s: cannot load %s: %s", who, path, error_strerror(rc));
	}
	yamlconf_errors_release(&errs);
	return rc == ERROR_OK ? 0 : policy_verbs_load_code(rc);
}

int
policy_verbs_options(int argc, char **argv, bool *json)
{
	return policy_verbs_format_options(argc, argv, json, NULL);
}

int
policy_verbs_format_options(int argc, char **argv, bool *json, bool *html)
{
	static const struct option with_json[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {"html", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cli_getopt(argc, argv, "h", with_json)) != -1) {
		switch (c) {
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		case 'j':
		case 'H':
			if ((c == 'j' ? json : html) == NULL)
				return cli_fail(EX_USAGE,
				    "policy %s: --%s is not an option of "
				    "this verb",
				    argv[0], c == 'j' ? "json" : "html");
			*(c == 'j' ? json : html) = true;
			break;
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (json != NULL && html != NULL && *json && *html)
		return cli_fail(EX_USAGE,
		    "policy %s: give --json or --html, not both", argv[0]);
	return -1;
}
