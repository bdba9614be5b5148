/*
 * The audit group (`concordat audit VERB`): its table of verbs, the child
 * process every verb that reads a log runs in, and what the verbs share.
 * Dispatched from cli/main.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/audit_int.h" /* AUDIT_VERSION */
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "db/db.h"
#include "common/isolate.h"
#include "keys/keys.h"

static const char usage_text[] =
    "usage: concordat audit query --data DIR [--subject NHS | --name S,F\n"
    "           --dob D | --subject-ref HEX]... [--pepper FILE]\n"
    "           [--msg-id HEX] [--agency A] [--purpose P]\n"
    "           [--rule R] [--breakglass] [--event TYPE] [--since T]\n"
    "           [--until T] [--json | --csv]\n"
    "       concordat audit report --data DIR --pepper FILE (--subject NHS |\n"
    "           --name S,F --dob D | --subject-ref HEX)... [--policy FILE]\n"
    "           [--since T] [--until T] [--json | --html]\n"
    "       concordat audit verify --data DIR --broker-key FILE [--indexes]\n"
    "       concordat audit reindex --data DIR\n"
    "       concordat audit prove --data DIR --seq N | --from SIZE [--json]\n"
    "       concordat audit stats --data DIR [--json]\n"
    "       concordat audit check-proof [--broker-key FILE] FILE.json\n"
    "       concordat audit agreement --data DIR --sha HEX [--note]\n"
    "       concordat audit review --guardian-key FILE (--data DIR --seq N |\n"
    "           --seq N --leaf-hash HEX) --outcome O --reviewer TEXT\n"
    "           [--note-file FILE] --out FILE\n"
    "\n"
    "query        list events; filters combine (all must hold)\n"
    "report       a subject access report: every disclosure about a person\n"
    "verify       recompute the log's Merkle tree and check every signed\n"
    "             checkpoint (and, with --indexes, the indexes)\n"
    "reindex      rebuild the indexes from the log's entries\n"
    "prove        the inclusion proof of one entry, or the consistency proof\n"
    "             from an older tree size, to the latest checkpoint\n"
    "stats        counts by event type, agency, purpose and rule\n"
    "check-proof  verify an inclusion or consistency proof file (RFC 6962)\n"
    "agreement    the archived agreement (or its signatures) a decision's\n"
    "             policy_sha256 names, byte for byte\n"
    "review       the guardian signs a review of a break-glass decision\n"
    "\n"
    "Run 'concordat audit VERB --help' for a verb's options.\n";

static const struct cli_verb verbs[] = {
    {"query", "list events", audit_verb_query},
    {"report", "a subject access report", audit_verb_report},
    {"verify", "check the log's tree and checkpoints", audit_verb_verify},
    {"reindex", "rebuild the indexes", audit_verb_reindex},
    {"prove", "an inclusion or consistency proof", audit_verb_prove},
    {"stats", "counts by type, agency, purpose and rule", audit_verb_stats},
    {"check-proof", "verify a proof file", audit_verb_check_proof},
    {"agreement", "the archived agreement a decision was made under",
        audit_verb_agreement},
    {"review", "sign a guardian's review of a break-glass decision",
        audit_verb_review},
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

/* The verbs that read a log, and so run in a child process. */
static bool
reads_log(const char *name)
{
	return strcmp(name, "check-proof") != 0 &&
	    strcmp(name, "agreement") != 0;
}

struct call {
	int argc;
	char **argv;
};

/*
 * isolate_run's function: the group in the child, its exit code as the
 * answer. The child's stdout is checked here, once, as cli_main checks
 * the parent's: what the child failed to write, the parent cannot see.
 */
static int
run_group(void *arg, void *out, size_t len)
{
	const struct call *c = arg;
	int code =
	    cli_group("audit", usage_text, verbs, N_VERBS, c->argc, c->argv);
	int e = 0;

	errno = 0;
	if (fflush(stdout) != 0)
		e = errno != 0 ? errno : EIO;
	if (e != 0 || ferror(stdout)) {
		fprintf(stderr,
		    "concordat: write error on standard output: %s\n",
		    e != 0 ? strerror(e) : "an earlier write failed");
		code = EX_IOERR;
	}
	memcpy(out, &code, len < sizeof(code) ? len : sizeof(code));
	return ERROR_OK;
}

/* The --data operand of a verb's arguments, for the words of a crash. */
static const char *
data_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--data=", 7) == 0)
			return argv[i] + 7;
	}
	return "the data folder";
}

/*
 * A verb that reads a log runs in a child process. LMDB trusts its file:
 * on some corrupt pages it asserts (abort) or reads beyond the page (a
 * segfault), and no check of ours before it can rule every such page out
 * short of reading them all through LMDB. A child that dies is a damaged
 * file to report (exit 65), not a crash of the command. The verb prints
 * from the child, to the same stdout and stderr.
 */
int
audit_cli(int argc, char **argv)
{
	struct call c = {argc, argv};
	const char *verb;
	char words[128];
	int code = EX_SOFTWARE, death, rc;

	if (argc < 2 || argv[1][0] == '-' || strcmp(argv[1], "help") == 0 ||
	    !reads_log(argv[1]))
		return cli_group(
		    "audit", usage_text, verbs, N_VERBS, argc, argv);
	for (size_t i = 0;; i++) {
		if (i == N_VERBS) /* unknown: said by the group */
			return cli_group(
			    "audit", usage_text, verbs, N_VERBS, argc, argv);
		if (strcmp(argv[1], verbs[i].name) == 0)
			break;
	}
	verb = argv[1];
	rc = isolate_run(run_group, &c, &code, sizeof(code), &death);
	if (rc == 0)
		return code;
	if (death == 0)
		return cli_fail(EX_OSERR,
		    "audit %s: cannot start a process to read the log: %s",
		    verb, error_strerror(rc));
	if (death == SIGPIPE) {
		/* The reader of our output went away: as if we had written. */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		return EX_IOERR;
	}
	if (!isolate_fault(death))
		return cli_fail(EX_OSERR,
		    "audit %s: the reader was stopped from outside (%s)", verb,
		    isolate_death(death, words, sizeof(words)));
	return cli_fail(EX_DATAERR,
	    "audit %s: %s: reading the log killed the reader (%s): its "
	    "file is damaged%s; restore the data folder from a backup",
	    verb, data_arg(argc - 1, argv + 1),
	    isolate_death(death, words, sizeof(words)),
	    death == SIGBUS ? " (a page lies past the end of data.mdb: the "
	                      "file was truncated)"
	                    : "");
}

/* ------------------------------------------------------------ shared */

void
verbs_close_log(struct reader *r)
{
	if (r->txn != NULL)
		db_txn_abort(r->txn);
	audit_free(r->a);
	audit_env_close(r->env);
	memset(r, 0, sizeof(*r));
}

/* A damaged log: what is wrong, and the remedy; returns EX_DATAERR. */
static int
damaged(const char *verb, const char *dir, const char *why)
{
	return cli_fail(EX_DATAERR,
	    "audit %s: %s: the log is damaged: %s; restore the data folder "
	    "from a backup",
	    verb, dir, why);
}

int
verbs_open_log(const char *verb, const char *dir, struct reader *r)
{
	enum audit_file_state state;
	char why[256];
	int rc;

	memset(r, 0, sizeof(*r));
	rc = audit_env_open(dir, 0, AUDIT_RDONLY, &r->env);
	if (rc == ERROR_TAMPERED) {
		if (audit_env_check(dir, &state, why, sizeof(why)) != 0 ||
		    state == AUDIT_FILE_OK || state == AUDIT_FILE_NONE)
			snprintf(why, sizeof(why),
			    "LMDB refuses data.mdb's meta pages");
		return damaged(verb, dir, why);
	}
	if (rc == ERROR_NOENT)
		return cli_fail(EX_NOINPUT,
		    "audit %s: %s: no audit log there (no such folder or "
		    "data.mdb)",
		    verb, dir);
	if (rc == ERROR_PERM)
		return cli_fail(EX_NOPERM,
		    "audit %s: %s: permission denied (readers need read "
		    "access to data.mdb and write access to lock.mdb)",
		    verb, dir);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc),
		    "audit %s: %s: cannot open: %s", verb, dir,
		    error_strerror(rc));
	if ((rc = audit_txn_begin(r->env, MDB_RDONLY, &r->txn)) == 0)
		rc = audit_open(r->env, r->txn, NULL, AUDIT_RDONLY, &r->a);
	if (rc == ERROR_NOTFOUND) {
		verbs_close_log(r);
		return cli_fail(EX_NOINPUT,
		    "audit %s: %s: not an audit log (no audit databases)", verb,
		    dir);
	}
	if (rc == ERROR_TAMPERED) {
		verbs_close_log(r);
		return damaged(verb, dir,
		    "LMDB finds a page of data.mdb corrupt or missing");
	}
	if (rc != 0) {
		verbs_close_log(r);
		return cli_fail(
		    rc == ERROR_CONFIG ? EX_DATAERR : cli_exit_code(rc),
		    "audit %s: %s: %s", verb, dir,
		    rc == ERROR_CONFIG ? "unsupported audit log version (this "
		                         "program reads version " AUDIT_VERSION
		                         ")"
		                       : error_strerror(rc));
	}
	return EX_OK;
}

int
verbs_missing(const char *verb, const char *what)
{
	return cli_fail(
	    EX_USAGE, "audit %s: missing %s (see --help)", verb, what);
}

int
verbs_unexpected(const char *verb, const char *arg)
{
	return cli_fail(
	    EX_USAGE, "audit %s: unexpected argument '%s'", verb, arg);
}

int
verbs_time(const char *verb, int c, const char *arg, uint64_t *ms)
{
	if (cli_parse_time(arg, ms) != 0)
		return cli_fail(EX_USAGE,
		    "audit %s: --%s '%s': not an RFC 3339 time or a date", verb,
		    c == 'f' ? "since" : "until", arg);
	return EX_OK;
}

int
verbs_range(const char *verb, uint64_t since_ms, uint64_t until_ms)
{
	if (until_ms != 0 && until_ms <= since_ms)
		return cli_fail(EX_USAGE,
		    "audit %s: --until must be later than --since", verb);
	return EX_OK;
}

int
verbs_broker_key(
    const char *verb, const char *path, uint8_t pk[CHECKPOINT_PK_LEN])
{
	struct keys_public pub;
	int rc;

	rc = keys_load_public(path, &pub);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc),
		    "audit %s: broker key %s: %s", verb, path,
		    error_strerror(rc));
	memcpy(pk, pub.sign_pk, CHECKPOINT_PK_LEN);
	return EX_OK;
}

int
verbs_write(struct strbuf *sb)
{
	int rc = strbuf_error(sb);

	if (rc == 0 && sb->len > 0)
		fwrite(sb->buf, 1, sb->len, stdout);
	strbuf_release(sb);
	if (rc != 0)
		return rc;
	return ferror(stdout) ? ERROR_IO : ERROR_OK;
}
