/*
 * The `concordat keys` verbs (keys/verbs/, library keysverbs), linked only
 * by `concordat` and the CLI tests. Each returns a sysexits code.
 */
#ifndef KEYS_VERBS_H
#define KEYS_VERBS_H

#include <stdio.h>

/* `concordat keys VERB ...`: the group (argv[0] is "keys"). */
int keys_cli(int argc, char **argv);

int keys_verb_generate(int argc, char **argv);
int keys_verb_pepper(int argc, char **argv);
int keys_verb_show(int argc, char **argv);
int keys_verb_rotate(int argc, char **argv);
int keys_verb_subject_ref(int argc, char **argv);

/* The group's help, to f; returns code. */
int keys_verbs_usage(FILE *f, int code);

#endif
