/*
 * The table of outbox entries and when each is complete (outwatch.h): a
 * hash table of names, each with what inotify and the last look said.
 * Taking and refusing entries is outbox.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/outwatch.h"

#define BUCKETS 4096 /* a power of two */

struct outwatch {
	struct outwatch_entry *bucket[BUCKETS];
	size_t count;
	unsigned scan; /* rescans so far */
};

static unsigned
hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (BUCKETS - 1);
}

int
outwatch_new(struct outwatch **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? ERROR_OK : ERROR_NOMEM;
}

void
outwatch_free(struct outwatch *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		while (w->bucket[i] != NULL) {
			struct outwatch_entry *e = w->bucket[i];
			w->bucket[i] = e->next;
			free(e);
		}
	free(w);
}

void
outwatch_id_of(const struct stat *st, struct outwatch_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->mode = st->st_mode;
	id->nlink = st->st_nlink;
	id->uid = st->st_uid;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

bool
outwatch_id_same(const struct outwatch_id *a, const struct outwatch_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mode == b->mode &&
	    a->nlink == b->nlink && a->uid == b->uid && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

struct outwatch_entry *
outwatch_find(struct outwatch *w, const char *name)
{
	struct outwatch_entry *e = w->bucket[hash(name)];

	while (e != NULL && strcmp(e->name, name) != 0)
		e = e->next;
	return e;
}

/* The entry called name, added (settling from now) when missing; NULL
 * when the table is full or memory is short. */
static struct outwatch_entry *
get(struct outwatch *w, const char *name, uint64_t now)
{
	struct outwatch_entry *e = outwatch_find(w, name);
	size_t n = strlen(name);
	unsigned h;

	if (e != NULL)
		return e;
	if (w->count >= OUTWATCH_MAX ||
	    (e = calloc(1, sizeof(*e) + n + 1)) == NULL)
		return NULL;
	memcpy(e->name, name, n + 1);
	e->changed_ms = now;
	e->seen = w->scan;
	h = hash(name);
	e->next = w->bucket[h];
	w->bucket[h] = e;
	w->count++;
	return e;
}

void
outwatch_forget(struct outwatch *w, const char *name)
{
	struct outwatch_entry **p = &w->bucket[hash(name)];

	while (*p != NULL && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	if (*p != NULL) {
		struct outwatch_entry *e = *p;
		*p = e->next;
		free(e);
		w->count--;
	}
}

void
outwatch_gone(struct outwatch *w, struct outwatch_entry *e)
{
	if (!e->sealed) {
		outwatch_forget(w, e->name);
		return;
	}
	/* Its receipt will need to know that a file under the name now is
	 * not the one sealed. */
	e->known = false;
	e->done = true;
	e->ready = false;
	e->opens = 0;
}

void
outwatch_saw(struct outwatch_entry *e, const struct stat *st, uint64_t now)
{
	struct outwatch_id id;

	outwatch_id_of(st, &id);
	if (e->known && outwatch_id_same(&e->id, &id))
		return;
	e->id = id;
	e->known = true;
	e->changed_ms = now;
	e->done = false;
}

/* A new file under the name: what was counted was another file's. */
static void
replaced(struct outwatch_entry *e, uint64_t now)
{
	e->opens = 0;
	e->known = false;
	e->done = false;
	e->changed_ms = now;
}

bool
outwatch_event(struct outwatch *w, const struct inotify_event *ev, uint64_t now)
{
	struct outwatch_entry *e;
	uint32_t m = ev->mask;

	if (m & IN_Q_OVERFLOW) {
		outwatch_lost(w, now);
		return true;
	}
	if (m & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
		return false;
	if (ev->len == 0 || ev->name[0] == '\0')
		return true;
	if (m & (IN_DELETE | IN_MOVED_FROM)) {
		if ((e = outwatch_find(w, ev->name)) != NULL)
			outwatch_gone(w, e);
		return true;
	}
	if (m & IN_CLOSE_NOWRITE) {
		if ((e = outwatch_find(w, ev->name)) != NULL && e->opens > 0)
			e->opens--;
		return true;
	}
	if ((e = get(w, ev->name, now)) == NULL)
		return true; /* full: a rescan finds it later */
	if (m & IN_MOVED_TO) {
		replaced(e, now);
		e->ready = true;
	} else if (m & IN_CREATE) {
		replaced(e, now);
		e->ready = false;
	}
	if (m & IN_OPEN)
		e->opens++;
	if (m & IN_CLOSE_WRITE && e->opens > 0)
		e->opens--;
	/* Whatever a writer does restarts the settle time; an open alone
	 * does not (the agent's own reads are opens too). */
	if (m & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)) {
		e->changed_ms = now;
		e->done = false;
	}
	return true;
}

void
outwatch_lost(struct outwatch *w, uint64_t now)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct outwatch_entry *e = w->bucket[i]; e != NULL;
		     e = e->next) {
			e->opens = 0;
			e->changed_ms = now;
			e->done = false;
		}
}

size_t
outwatch_rescan(struct outwatch *w, const char *dir, uint64_t now)
{
	struct dirent *de;
	struct stat st;
	size_t full = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	w->scan++;
	while ((de = readdir(d)) != NULL) {
		struct outwatch_entry *e;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((e = get(w, de->d_name, now)) == NULL) {
			full++;
			continue;
		}
		e->seen = w->scan;
		outwatch_saw(e, &st, now);
	}
	closedir(d);
	/* What the listing did not hold is gone (names added since it
	 * began came from events read before it, so they were listed). */
	for (size_t i = 0; i < BUCKETS; i++) {
		struct outwatch_entry **p = &w->bucket[i];
		while (*p != NULL) {
			struct outwatch_entry *e = *p;
			if (e->seen == w->scan || e->sealed) {
				if (e->seen != w->scan)
					outwatch_gone(w, e);
				p = &e->next;
				continue;
			}
			*p = e->next;
			free(e);
			w->count--;
		}
	}
	return full;
}

size_t
outwatch_due(struct outwatch *w, uint64_t now, uint64_t settle_ms,
    struct outwatch_entry **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < BUCKETS && n < max; i++)
		for (struct outwatch_entry *e = w->bucket[i];
		     e != NULL && n < max; e = e->next) {
			if (e->done)
				continue;
			if (e->ready ||
			    (e->opens == 0 && now - e->changed_ms >= settle_ms))
				out[n++] = e;
		}
	return n;
}
