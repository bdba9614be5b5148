/*
 * The demo's records as fixture data (see demo.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/demo.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

#define DEMO_DIR "scripts/demo-data"

const char *
demo_dir(void)
{
	return fixture_source(DEMO_DIR);
}

const char *
demo_path(const char *name)
{
	static char ring[8][PATH_MAX];
	static unsigned next;
	char *b = ring[next++ % 8];
	int r = snprintf(b, PATH_MAX, "%s/%s.json", demo_dir(), name);

	if (r < 0 || r >= PATH_MAX)
		scratch_die("path too long: %s", name);
	return b;
}

char *
demo_text(const char *name, const char *s1_msg_id, size_t *len)
{
	size_t n, ml = strlen(DEMO_S1_MSG_ID), sl;
	char *text = scratch_read(demo_path(name), &n), *out, *p, *hit;

	if (s1_msg_id == NULL) {
		if (len != NULL)
			*len = n;
		return text;
	}
	sl = strlen(s1_msg_id);
	/* At most n / ml placeholders, each growing by sl - ml at most. */
	if ((out = malloc(n + (n / ml + 1) * sl + 1)) == NULL)
		scratch_die("out of memory");
	p = out;
	for (const char *q = text; *q != '\0';) {
		if ((hit = strstr(q, DEMO_S1_MSG_ID)) == NULL) {
			size_t rest = strlen(q);
			memcpy(p, q, rest);
			p += rest;
			break;
		}
		memcpy(p, q, (size_t)(hit - q));
		p += hit - q;
		memcpy(p, s1_msg_id, sl);
		p += sl;
		q = hit + ml;
	}
	*p = '\0';
	free(text);
	if (len != NULL)
		*len = (size_t)(p - out);
	return out;
}

json_t *
demo_load(const char *name)
{
	json_error_t e;
	const char *path = demo_path(name);
	json_t *j = json_load_file(path, 0, &e);

	if (j == NULL)
		scratch_die("%s: %s (line %d)", path, e.text, e.line);
	return j;
}

static int
demo_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
demo_names(size_t *n)
{
	const char *dir = demo_dir();
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **more;
	size_t count = 0;

	if (d == NULL)
		scratch_die("cannot open %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 5 ||
		    strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		if ((more = realloc(names, (count + 2) * sizeof(*names))) ==
		    NULL)
			scratch_die("out of memory");
		names = more;
		if ((names[count] = strndup(de->d_name, l - 5)) == NULL)
			scratch_die("out of memory");
		count++;
	}
	closedir(d);
	if (names == NULL && (names = calloc(1, sizeof(*names))) == NULL)
		scratch_die("out of memory");
	names[count] = NULL;
	qsort(names, count, sizeof(*names), demo_cmp);
	if (n != NULL)
		*n = count;
	return names;
}

void
demo_names_free(char **names)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}
