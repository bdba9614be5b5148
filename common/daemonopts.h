/*
 * The configuration keys both daemons share (broker.yaml, agent.yaml):
 * log_level, user and pid_file, read by their config loaders and used by
 * daemon_main before the daemon's own work starts.
 */
#ifndef COMMON_DAEMONOPTS_H
#define COMMON_DAEMONOPTS_H

#include <limits.h>

#include "common/log.h"
#include "common/yamlconf.h"

struct daemon_opts {
	enum log_level log_level; /* log_level, default info */
	char user[64];            /* user: who to become when root; "": none */
	char pid_file[PATH_MAX];  /* pid_file; "": none */
};

/* Defaults into *o. */
void daemonopts_init(struct daemon_opts *o);

/*
 * The three keys' nodes (each may be NULL when absent) into *o; a bad
 * value is an error in y naming its file and line.
 */
void daemonopts_load(struct yamlconf *y, const struct yamlconf_node *level,
    const struct yamlconf_node *user, const struct yamlconf_node *pid_file,
    struct daemon_opts *o);

#endif
