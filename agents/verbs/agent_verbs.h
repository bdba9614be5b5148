/*
 * The agents' verbs of `concordat` (agents/verbs/, library agentverbs),
 * linked only by `concordat` and the CLI tests.
 */
#ifndef AGENTS_VERBS_H
#define AGENTS_VERBS_H

/* `concordat send --spool DIR RECORD.json`; returns a sysexits code. */
int agent_verb_send(int argc, char **argv);

/* `concordat spool status ...` and the group `concordat spool`. */
int agent_verb_spool_status(int argc, char **argv);
int agent_cli_spool(int argc, char **argv);

#endif
