/*
 * spoolstat.h: one readdir over a spool folder, lstat of each entry.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "agents/spoolstat.h"

int
spoolstat_count(const char *dir, uint64_t *n, uint64_t *oldest_ms)
{
	char f[PATH_MAX + 256];
	struct dirent *e;
	struct stat st;
	DIR *d;

	*n = 0;
	*oldest_ms = 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? ERROR_OK : ERROR_IO;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
		if (lstat(f, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		(*n)++;
		uint64_t ms = (uint64_t)st.st_mtim.tv_sec * 1000 +
		    (uint64_t)st.st_mtim.tv_nsec / 1000000;
		if (*oldest_ms == 0 || ms < *oldest_ms)
			*oldest_ms = ms;
	}
	closedir(d);
	return ERROR_OK;
}
