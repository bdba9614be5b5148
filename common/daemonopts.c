/*
 * The daemons' shared configuration keys (daemonopts.h).
 */
#include <stdio.h>
#include <string.h>

#include "common/daemonopts.h"

void
daemonopts_init(struct daemon_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = LOG_LEVEL_INFO;
}

/* A user name as useradd(8) takes them. */
static bool
user_valid(const char *s)
{
	if (s[0] == '\0' || s[0] == '-' || strlen(s) > 32)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		        *p == '.'))
			return false;
	return true;
}

void
daemonopts_load(struct yamlconf *y, const struct yamlconf_node *level,
    const struct yamlconf_node *user, const struct yamlconf_node *pid_file,
    struct daemon_opts *o)
{
	if (level != NULL && !log_level_parse(level->str, &o->log_level))
		yamlconf_error(y, level,
		    "log_level: '%s' is not a level (error, warning, info, "
		    "debug)",
		    level->str);
	if (user != NULL) {
		if (!user_valid(user->str))
			yamlconf_error(y, user, "user: '%s' is not a user name",
			    user->str);
		else
			snprintf(o->user, sizeof(o->user), "%s", user->str);
	}
	if (pid_file != NULL)
		yamlconf_path(y, pid_file, o->pid_file, sizeof(o->pid_file));
}
