/*
 * `concordat send`, the agents' verb: dispatched from cli/main.c.
 */
#ifndef AGENTS_SEND_H
#define AGENTS_SEND_H

/* `concordat send --spool DIR RECORD.json`; returns a sysexits code. */
int send_cli(int argc, char **argv);

#endif
