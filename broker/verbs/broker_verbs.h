/*
 * The broker's verbs of `concordat` (broker/verbs/, library brokerverbs),
 * linked only by `concordat` and the CLI tests. Each returns a sysexits
 * code.
 */
#ifndef BROKER_VERBS_H
#define BROKER_VERBS_H

/* `concordat status [--config FILE | --data DIR] [--json] ...` */
int broker_verb_status(int argc, char **argv);

#endif
