/*
 * The `concordat policy` verbs: check, explain, diff, test and summary.
 * cli/main.c dispatches `concordat policy ...` here.
 */
#ifndef POLICY_POLICY_CLI_H
#define POLICY_POLICY_CLI_H

/*
 * Runs `concordat policy VERB ...`; argv[0] is "policy". Prints results to
 * stdout and errors to stderr ("concordat: what failed: why", policy file
 * errors one per line as FILE:LINE: ...). Returns the exit status: 0, or 1
 * for `diff` with changes and `test` with failing cases, or a sysexits code
 * (64 usage, 65 bad data, 66 no input, 78 bad policy or cases file).
 */
int policy_cli(int argc, char **argv);

#endif
