/*
 * Dropping root for the configured user (runas.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/runas.h"

int
runas_switch(const char *user, char *why, size_t n)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	char name[64];

	if (user[0] == '\0')
		return ERROR_OK;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(why, n, "user: no user '%s' on this system%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return ERROR_NOENT;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	snprintf(name, sizeof(name), "%s", pw->pw_name);
	if (geteuid() != 0) {
		if (uid == geteuid())
			return ERROR_OK;
		snprintf(why, n,
		    "user: cannot become '%s': not started as root (uid %ld)",
		    user, (long)geteuid());
		return ERROR_PERM;
	}
	if (uid == 0)
		return ERROR_OK;
	if (initgroups(name, gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		snprintf(why, n, "user: cannot become '%s': %s", user,
		    strerror(errno));
		return ERROR_PERM;
	}
	/* No way back, checked. */
	if (setuid(0) == 0 || geteuid() != uid || getuid() != uid ||
	    getegid() != gid) {
		snprintf(why, n, "user: switching to '%s' did not hold", user);
		return ERROR_PERM;
	}
	return ERROR_OK;
}
