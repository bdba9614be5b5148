/*
 * Private to agents/: which outbox entries are complete (docs/agent.md
 * §5). The agent's table of what it has seen in outbox/, fed by inotify
 * and by rescans of the folder, so that a record is taken only when whole.
 * Used by outbox.c.
 *
 * A file renamed in (IN_MOVED_TO) is ready at once: the rename protocol
 * stays the fast, documented way. Any other entry is ready once no process
 * has it open, as far as inotify's open and close events tell, and it has
 * not changed (inode, size, mtime, ctime, links, owner, type) for the
 * settle time (agent.yaml settle_after, default 2 s). Without inotify, or after
 * the kernel dropped events, the settle time alone decides.
 */
#ifndef AGENTS_OUTWATCH_H
#define AGENTS_OUTWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/error.h"

#define OUTWATCH_MAX 65536 /* entries tracked; more wait their turn */

/* The inotify events of the outbox folder the table needs. */
#define OUTWATCH_EVENTS                                                        \
	(IN_CREATE | IN_OPEN | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |        \
	    IN_CLOSE_NOWRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |       \
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

/* What identifies one version of an entry. */
struct outwatch_id {
	dev_t dev;
	ino_t ino;
	mode_t mode;
	nlink_t nlink;
	uid_t uid;
	off_t size;
	struct timespec mtime, ctime;
};

/* One name in outbox/. The table owns it; valid until outwatch_forget,
 * outwatch_event, outwatch_rescan or outwatch_free. */
struct outwatch_entry {
	struct outwatch_entry *next; /* in its bucket */
	bool ready;    /* renamed in, or to be taken again: at once */
	bool done;     /* taken or reported: again only once it changes */
	bool reported; /* a name left alone, told to the log once */
	bool sealed;   /* sealed by this run: sealed_id is what was read */
	bool known;    /* id holds a look at it */
	int opens;     /* opens less closes that inotify reported */
	uint64_t changed_ms; /* monotonic: when last seen to change */
	unsigned seen;       /* the rescan that last saw it */
	struct outwatch_id id, sealed_id;
	char name[];
};

struct outwatch;

WUR int outwatch_new(struct outwatch **out);
void outwatch_free(struct outwatch *w);

/* The id of what st describes. */
void outwatch_id_of(const struct stat *st, struct outwatch_id *id);
bool outwatch_id_same(const struct outwatch_id *a, const struct outwatch_id *b);

/* The entry called name, or NULL. */
struct outwatch_entry *outwatch_find(struct outwatch *w, const char *name);

/* Drops the entry called name, if there is one. */
void outwatch_forget(struct outwatch *w, const char *name);

/*
 * e's name is no longer in the folder: e is dropped, unless this run
 * sealed it; then it stays (done, not known) until its receipt is filed,
 * which tells a file put there under that name since from the one sealed.
 */
void outwatch_gone(struct outwatch *w, struct outwatch_entry *e);

/* e was seen to be st now: a change restarts its settle time. */
void outwatch_saw(
    struct outwatch_entry *e, const struct stat *st, uint64_t now);

/*
 * Takes one inotify event of the outbox folder at monotonic time now.
 * Returns false when the event says the watch itself is gone (the folder
 * was removed or moved): the caller watches again.
 */
bool outwatch_event(
    struct outwatch *w, const struct inotify_event *ev, uint64_t now);

/* The kernel dropped events (IN_Q_OVERFLOW): open counts are unknown, and
 * every entry settles again from now. */
void outwatch_lost(struct outwatch *w, uint64_t now);

/*
 * Lists the folder dir: new names are added, changes restart settle
 * times, names that are gone are gone (outwatch_gone). Returns how many entries
 * it could not add because the table was full (they wait for a later one).
 */
size_t outwatch_rescan(struct outwatch *w, const char *dir, uint64_t now);

/*
 * Up to max entries due at now into out: not done, and ready or settled
 * (closed and unchanged for settle_ms). Pointers stay valid until the
 * table next changes.
 */
size_t outwatch_due(struct outwatch *w, uint64_t now, uint64_t settle_ms,
    struct outwatch_entry **out, size_t max);

#endif
