/*
 * concordat: one command, a table of verb groups (like wg and git). Each
 * folder owns its verbs (<folder>/verbs/); common/cli.c dispatches and
 * checks standard output once for all of them.
 */
#include <stdio.h>
#include <sys/resource.h>

#include <sodium.h>

#include "agents/verbs/agent_verbs.h"
#include "audit/verbs/audit_verbs.h"
#include "broker/verbs/broker_verbs.h"
#include "common/cli.h"
#include "keys/verbs/keys_verbs.h"
#include "policy/verbs/policy_verbs.h"
#include "proto/record.h"

static const struct cli_verb verbs[] = {
    {"keys", "generate and show keys, generate the pepper", keys_cli},
    {"policy",
        "check, explain, diff, test and summarise a "
        "sharing policy",
        policy_cli},
    {"audit",
        "query, report on, prove and verify the audit "
        "log",
        audit_cli},
    {"send", "drop a record into a running agent's outbox", agent_verb_send},
    {"spool", "an agent's spool at a glance (spool status)", agent_cli_spool},
    {"status", "the broker at a glance: agencies, queues, storage",
        broker_verb_status},
};

int
main(int argc, char **argv)
{
	struct rlimit nocore = {0, 0};

	record_wipe_on_free(); /* before any JSON: records hold plaintext */
	if (sodium_init() < 0)
		return cli_fail(EX_SOFTWARE, "libsodium failed to start");
	/* A core dump could hold a secret key or a record. */
	setrlimit(RLIMIT_CORE, &nocore);
	return cli_main(
	    "concordat", verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}
