/*
 * The harness of the integration and fault tests: a temporary folder with
 * keys for the broker and the four agencies, their configuration files, the
 * real concordat-broker and concordat-agent processes (logs in the folder),
 * waits with deadlines, JSON and audit-log readers, and a custom CURVE
 * client that seals envelopes itself, to act as a rogue or a fast sender.
 * Used by every test of tests/integration; nothing here is mocked.
 */
#ifndef TESTS_INTEGRATION_HARNESS_H
#define TESTS_INTEGRATION_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "audit/checkpoint.h"
#include "keys/keys.h"
#include "proto/event.h"
#include "proto/wire.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

/* The four agencies of the example agreement, by index (fixture_agency
 * of tests/lib/fixture.h names them). */
enum {
	H_POLICE = FIXTURE_POLICE,
	H_AMBULANCE = FIXTURE_AMBULANCE,
	H_MHT = FIXTURE_MHT,
	H_SOCIAL = FIXTURE_SOCIAL,
	H_NAG = FIXTURE_NAG
};

/* Generous: they bound a failure, not a pass (ASan runs are slow). */
#define H_WAIT_MS 30000

/* Guardian keys the harness can make; a mask of all of them. */
#define H_MAX_GUARDIANS 8
#define H_ALL_GUARDIANS 0xffu

struct h_proc {
	char name[64];
	pid_t pid; /* 0 when not running */
	unsigned starts;
	char log[PATH_MAX]; /* stderr of the current (or last) run */
};

struct h_sys {
	char dir[PATH_MAX];    /* the test's temporary folder */
	char build[PATH_MAX];  /* CONCORDAT_BUILD_DIR */
	char source[PATH_MAX]; /* CONCORDAT_SOURCE_DIR */
	char cli[PATH_MAX], broker_bin[PATH_MAX], agent_bin[PATH_MAX];
	char endpoint[160]; /* ipc://DIR/broker.sock, or tcp://127.0.0.1:port */
	int port;           /* the TCP port after h_sys_use_tcp, else 0 */
	char broker_yaml[PATH_MAX];
	char policy[PATH_MAX];
	char data[PATH_MAX]; /* the broker's LMDB folder */
	char logs[PATH_MAX];
	struct h_proc broker;
	struct h_proc agent[H_NAG];
	/* Loaded on first use by h_seal and h_client_new. */
	struct keys_secret *sk[H_NAG];
	struct keys_public pk[H_NAG];
	struct keys_public broker_pk;
	uint8_t *pepper;
	char *broker_extra, *agent_extra; /* as given to h_sys_new */
	/* The folder is removed at the end only when every test passed. */
	unsigned tests, passed;
	/* File systems h_tmpfs mounted, unmounted by h_sys_free. */
	char mounts[4][PATH_MAX];
	unsigned n_mounts;
	/* The guardians whose keys are in keys/ and ring/ (index = bit of
	 * a mask): the four agencies' first, then any h_guardian_new made.
	 * Unless no_auto_sign, policy.yaml is signed by all of them at
	 * h_sys_new, at every h_broker_start and every h_broker_reload. */
	char guardians[H_MAX_GUARDIANS][IDENT_AGENCY_MAX + 1];
	unsigned n_guardians;
	bool no_auto_sign;
};

/* ------------------------------------------------------------ set-up */

/*
 * A fresh system: folder, keys (through `concordat keys`), the four
 * agencies' guardian keys (keys/ID.guardian.key, ring/ID.guardian.pub),
 * keyring, pepper, broker.yaml and one agent.yaml per agency. policy_text
 * is the sharing agreement to write into the folder as policy.yaml (NULL:
 * the example policy's bytes), signed there by every party's guardian
 * (policy.yaml.sig);
 * broker_extra and agent_extra are YAML lines appended to the configs (or
 * NULL); broker.yaml has map_size_mb: 64 unless broker_extra sets it. Nothing
 * is started. tests is how many tests will call h_pass.
 */
struct h_sys *h_sys_new(const char *policy_text, const char *broker_extra,
    const char *agent_extra, unsigned tests);

/*
 * Stops whatever still runs (SIGTERM, then SIGKILL) and removes the folder
 * when every test passed (unless CONCORDAT_KEEP is set); otherwise keeps it
 * and prints the tail of every log. NULL is a no-op.
 */
void h_sys_free(struct h_sys *s);

/*
 * Moves the system to tcp://127.0.0.1 on a port nothing listens on now:
 * rewrites broker.yaml and the agents' configurations. Before the broker
 * starts. Returns the port.
 */
int h_sys_use_tcp(struct h_sys *s);

/* A test's last statement: it passed. */
void h_pass(struct h_sys *s);

/* printf into one of a ring of static buffers: paths for one statement. */
const char *h_p(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* SPOOL/sub of an agency ("inbox", "sent", ...). */
const char *h_spool(struct h_sys *s, int agency, const char *sub);
/* The agent's state folder by default: DIR/spool/AGENCY.state (h_p). */
const char *h_state(struct h_sys *s, int agency);

/* The path of an agency's agent.yaml. */
const char *h_agent_yaml(struct h_sys *s, int agency);

/*
 * Writes an agency's agent.yaml again, with extra YAML lines in place of
 * the agent_extra given to h_sys_new (NULL: none). Takes effect at the
 * agent's next start, or its next SIGHUP.
 */
void h_agent_config(struct h_sys *s, int agency, const char *extra);

/* ------------------------------------------------------- file systems */

/*
 * Mounts a tmpfs of bytes on dir (created when missing), in a mount
 * namespace of the test's own: made on first use (unshare(CLONE_NEWNS),
 * then / made private, so nothing leaks to the machine), before any
 * thread is started; the processes the test starts afterwards inherit it.
 * Needs root (the tests run as root). h_sys_free unmounts it.
 */
void h_tmpfs(struct h_sys *s, const char *dir, size_t bytes);

/*
 * Fills the file system that holds path: writes the file path until the
 * file system refuses (ENOSPC). Removing the file frees the space.
 */
void h_fill(const char *path);

/* ---------------------------------------------------------- processes */

/* Starts the broker (policy.yaml signed first, unless no_auto_sign) and
 * waits until it listens. */
void h_broker_start(struct h_sys *s);
/*
 * The same with env ("NAME=VALUE" entries, NULL-terminated) added to its
 * environment for this start only.
 */
void h_broker_start_env(struct h_sys *s, const char *const env[]);
/*
 * In an ASan build (this program's and so the broker's), the environment
 * entry ASAN_OPTIONS=<what ctest gave>:extra, in a static buffer; NULL in
 * a plain build. Tests that measure the broker's memory pass
 * "quarantine_size_mb=4" (H_ASAN_LEAN), so that VmRSS shows what the
 * broker keeps, not the freed memory ASan holds back.
 */
const char *h_env_asan(const char *extra);
#define H_ASAN_LEAN "quarantine_size_mb=4"

/* SIGTERM, waits; returns the exit status (128+signal when killed). */
int h_broker_stop(struct h_sys *s);

/* ------------------------------------------------ signed agreements */

/*
 * A guardian key for agency id (any id): with in_ring, keys/ID.guardian.key
 * and ring/ID.guardian.pub, and a bit of the masks below; without, only
 * rogue/ID.guardian.key, a key no keyring holds.
 */
void h_guardian_new(struct h_sys *s, const char *id, bool in_ring);
/*
 * Signs path (`concordat policy sign`) with the guardians in mask (bit i:
 * s->guardians[i]) that are parties to it; a file with errors is left
 * unsigned. Returns how many signed.
 */
unsigned h_agreement_sign(struct h_sys *s, const char *path, unsigned mask);
/* Signs path with the guardian key file keyfile (must succeed). */
void h_agreement_sign_key(
    struct h_sys *s, const char *path, const char *keyfile);
/*
 * Writes text to path and signs it with mask in a new path.sig (the old one
 * removed first); with tamper not NULL, then
 * changes one byte of the YAML: the case of the first byte of tamper's
 * first occurrence.
 */
void h_agreement_write(struct h_sys *s, const char *path, const char *text,
    unsigned mask, const char *tamper);
/* SIGHUP to the broker, policy.yaml signed first unless no_auto_sign. */
void h_broker_reload(struct h_sys *s);
/*
 * Runs concordat-broker -f on broker.yaml to its end (it must refuse to
 * start; killed after H_WAIT_MS), stderr to log; its exit status.
 */
int h_broker_refused(struct h_sys *s, const char *log);
/* SIGKILL, waits. */
void h_broker_kill(struct h_sys *s);

/*
 * Starts an agency's agent; with wait, waits until its handshake with the
 * broker succeeded.
 */
void h_agent_start(struct h_sys *s, int agency, bool wait);
int h_agent_stop(struct h_sys *s, int agency);
/* Sends sig to an agency's agent and waits for it to exit; the status. */
int h_agent_signal(struct h_sys *s, int agency, int sig);
void h_agent_kill(struct h_sys *s, int agency);

/* How often needle occurs in p's current log. */
unsigned h_log_count(const struct h_proc *p, const char *needle);
/* Waits until needle occurs at least n times in p's current log. */
bool h_wait_log(
    const struct h_proc *p, const char *needle, unsigned n, unsigned ms);

/*
 * Runs a program to completion, stdout to out and stderr to err (NULL:
 * /dev/null); returns its exit status (128+signal when killed). One still
 * running after H_WAIT_MS is killed and fails the test, naming it.
 */
int h_run(struct h_sys *s, const char *out, const char *err,
    const char *const argv[]);

/* h_run with a deadline: a program still running after ms is killed
 * (SIGKILL), which returns 128 + SIGKILL. */
int h_run_for(struct h_sys *s, const char *out, const char *err,
    const char *const argv[], unsigned ms);

/* Resident and peak memory of a process in kB (VmRSS, VmHWM). */
long h_proc_kb(pid_t pid, const char *key);
/* The descriptors a process holds open now (/proc/PID/fd). */
long h_proc_fds(pid_t pid);
/* CPU time a process has used so far, user and system, in ms. */
long h_proc_cpu_ms(pid_t pid);
/* Whether p still runs; reaps it (pid 0) when it has exited. */
bool h_proc_running(struct h_proc *p);

/* ------------------------------------------------------------- waits */

uint64_t h_now_ms(void); /* monotonic */

/* Polls pred every few ms until it holds or ms pass; returns whether. */
bool h_wait(unsigned ms, bool (*pred)(void *arg), void *arg);
/* The same, every every_ms: for a pred that runs a program each time. */
bool h_wait_every(
    unsigned ms, unsigned every_ms, bool (*pred)(void *arg), void *arg);
bool h_wait_file(const char *path, unsigned ms);
/* Waits until dir holds at least n visible files ending in suffix. */
bool h_wait_count(const char *dir, const char *suffix, size_t n, unsigned ms);
/* Waits until dir holds no visible file ending in suffix. */
bool h_wait_none(const char *dir, const char *suffix, unsigned ms);
/* Visible (not dot-) files in dir ending in suffix. */
size_t h_count(const char *dir, const char *suffix);

/* ------------------------------------------------------------- files */

/* Whole files: scratch_write, scratch_slurp (tests/lib/scratch.h). */
/* Parses a JSON file; fails the test when it does not parse. */
json_t *h_json(const char *path);
/*
 * Places a record into SPOOL/outbox/name the way a local system does (tmp/
 * then rename).
 */
void h_drop(struct h_sys *s, int agency, const char *name, const char *json);
/*
 * Searches every file under root for the bytes of needle; returns the
 * number of files that hold it, naming the first in found.
 */
size_t h_tree_grep(const char *root, const char *needle, char *found, size_t n);

/* ------------------------------------------------- arrivals in a folder */

/*
 * Counts, with inotify, every time a file named MSGID.json (32 hex digits)
 * is renamed into a folder: how a delivery lands in an inbox. A file
 * written twice is counted twice, which a listing cannot show.
 */
struct h_watch;

struct h_watch *h_watch_new(const char *dir);
void h_watch_free(struct h_watch *w);
/* Reads the events so far; fails the test if the kernel dropped some. */
void h_watch_drain(struct h_watch *w);
/* Arrivals of msg_id (hex). */
unsigned h_watch_count(const struct h_watch *w, const char *msg_id);
/* Distinct names that arrived, and names that arrived more than once. */
size_t h_watch_distinct(const struct h_watch *w);
size_t h_watch_repeated(const struct h_watch *w);

/* ------------------------------------------------------------- audit */

/*
 * `concordat audit query --data DATA --json ARGS...`: the events as a JSON
 * array (the caller decrefs). args ends with NULL.
 */
json_t *h_audit(struct h_sys *s, const char *const args[]);
/* How many events of type (with msg_id hex, when not NULL) the log holds. */
size_t h_audit_count(struct h_sys *s, const char *type, const char *msg_id);
/*
 * Waits up to ms for the log to hold at least n such events (an event is
 * committed after the broker's log line about it, so wait for the event).
 */
bool h_wait_audit(struct h_sys *s, const char *type, const char *msg_id,
    size_t n, unsigned ms);

/* Events of type in the log, from `concordat audit stats` (cheap). */
size_t h_audit_stat(struct h_sys *s, const char *type);

/* ------------------------------------------------- the custom client */

/* What h_seal seals. Zero members take the defaults given. */
struct h_msg {
	int sender;          /* the manifest's sender */
	int signer;          /* whose sign key signs; -1: the sender */
	const char *purpose; /* "triage_advice" */
	int urgency;         /* URGENCY_URGENT */
	int reason;          /* EMERGENCY: enum emergency_reason */
	const char *justification;
	int64_t age_ms;      /* created_at = now - age_ms */
	size_t n_recipients; /* 0: mental_health_trust alone */
	int recipients[H_NAG];
	const char *fields;          /* JSON object of B8 fields, or NULL */
	size_t pad;                  /* extra bytes of identity.description */
	const uint8_t *reuse_msg_id; /* this msg_id, not a new one */
	/* Manifest.agreement: this SHA-256; NULL: the one the running
	 * broker's log says is in force (else s->policy's), unless
	 * no_agreement. */
	const uint8_t *agreement;
	bool no_agreement;
	/* h_delivery: every field, as a broker that redacts nothing sends;
	 * otherwise what the agreement allows the recipient. */
	bool unredacted;
};

/* Seals m into a Submit frame (malloc'd) and its msg_id. */
void h_seal(struct h_sys *s, const struct h_msg *m,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len);

struct h_client;

/*
 * A DEALER with CURVE to the broker, authenticating with the secret key
 * file keyfile (an agency's), pinning the broker's key. Does not wait for
 * the handshake (see h_client_event).
 */
struct h_client *h_client_new(struct h_sys *s, const char *keyfile);

/* What h_client_open may change from h_client_new's defaults. */
struct h_client_opts {
	const char *keyfile; /* an agency's secret key file, or NULL: */
	const uint8_t *public_key, *secret_key; /* a CURVE pair; NULL: fresh */
	int rcvhwm; /* frames queued unread in the client; 0: unbounded */
	int rcvbuf; /* the kernel's receive buffer in bytes; 0: default */
	bool once;  /* one connection attempt, never a reconnection */
};
struct h_client *h_client_open(struct h_sys *s, const struct h_client_opts *o);
/* A client with a fresh random key that no keyring holds. */
struct h_client *h_client_random(struct h_sys *s);
void h_client_free(struct h_client *c);
/*
 * Waits for a monitor event in mask (ZMQ_EVENT_*); returns it, or 0 when
 * none came within ms.
 */
int h_client_event(struct h_client *c, int mask, unsigned ms);
/* Sends one frame (blocking); fails the test when it cannot. */
void h_client_send(struct h_client *c, const void *buf, size_t len);
/* Acknowledges the delivery msg_id (a DeliveryAck). */
void h_client_ack(struct h_client *c, const uint8_t msg_id[WIRE_MSG_ID_LEN]);
/* Sends one ZeroMQ message of n parts (part i: len[i] bytes of buf[i]). */
void h_client_send_parts(
    struct h_client *c, size_t n, const void *const buf[], const size_t len[]);
/*
 * The next frame from the broker within ms, decoded (the caller frees it
 * with wire_frame_free), or NULL. Status frames are acknowledged.
 */
struct wire_frame *h_client_recv(struct h_client *c, unsigned ms);
/* The same, and the frame's bytes (malloc'd, the caller frees) in raw. */
struct wire_frame *h_client_recv_raw(
    struct h_client *c, unsigned ms, uint8_t **raw, size_t *raw_len);
/* The receipt for msg_id within ms (other frames skipped), or NULL. */
struct wire_frame *h_client_receipt(
    struct h_client *c, const uint8_t msg_id[WIRE_MSG_ID_LEN], unsigned ms);
/*
 * Seals n messages from m (each with a new msg_id), sends them all through
 * c, then waits for each one's receipt and fails the test unless every one
 * is ACCEPTED. Their msg_ids go to ids, unless it is NULL.
 */
void h_client_send_accepted(struct h_sys *s, struct h_client *c,
    const struct h_msg *m, size_t n, uint8_t (*ids)[WIRE_MSG_ID_LEN]);
/* A client of a keyring agency (its key file), its handshake done. */
struct h_client *h_client_of(struct h_sys *s, int agency);
/*
 * Sends a ProofRequest for tree size 0, as an agent does on connecting:
 * from then on the broker delivers the agency's queue to this connection.
 */
void h_client_hello(struct h_client *c);
/*
 * Seals m, sends it on c and returns the broker's receipt (the caller
 * frees it), failing the test when none comes within H_WAIT_MS. msg_id
 * may be NULL.
 */
struct wire_frame *h_submit(struct h_sys *s, struct h_client *c,
    const struct h_msg *m, uint8_t msg_id[WIRE_MSG_ID_LEN]);

/* True when the receipt carries decision leaves about its msg_id. */
bool h_receipt_decided(const struct wire_receipt *r);

void h_hex(const uint8_t *b, size_t n, char *out);

/* The broker's transport public key (keys/broker.pub). */
const uint8_t *h_broker_transport_key(struct h_sys *s);

/*
 * A raw TCP connection to the broker (after h_sys_use_tcp), blocking;
 * returns the descriptor.
 */
int h_tcp_connect(struct h_sys *s);

/* ------------------------------------------------------ a rogue broker */

/*
 * A broker that misbehaves on purpose: a ROUTER bound at the system's
 * endpoint with the broker's own CURVE key (so the agents pin it and
 * connect) and no ZAP handler, that sends whatever the test gives it to the
 * agent last heard from. The real broker must not be running.
 */
struct h_rogue;

struct h_rogue *h_rogue_new(struct h_sys *s);
void h_rogue_free(struct h_rogue *r);
/* The next frame an agent sends within ms (the caller frees it), or NULL;
 * the rogue answers that agent from then on. */
struct wire_frame *h_rogue_recv(struct h_rogue *r, unsigned ms);
/* Sends one frame to the agent last heard from. */
void h_rogue_send(struct h_rogue *r, const void *buf, size_t len);
/* The routing id of the agent last heard from (up to 256 bytes). */
size_t h_rogue_peer(const struct h_rogue *r, uint8_t rid[256]);
/* Answers the agent of routing id rid from now on. */
void h_rogue_use(struct h_rogue *r, const uint8_t *rid, size_t len);

/*
 * A log the rogue broker makes up (harness_log.c): leaf hashes in order,
 * signed with the broker's own key. h_log_fill appends count leaves of its
 * own (salt tells one made-up history from another).
 */
#define H_LOG_MAX 256
struct h_log {
	size_t n;
	uint8_t hash[H_LOG_MAX][32];
};
void h_log_fill(struct h_log *l, uint8_t salt, size_t count);
/* The signed checkpoint of l's first size leaves: *cp and its note. */
void h_log_checkpoint(struct h_sys *s, const struct h_log *l, uint64_t size,
    struct checkpoint *cp, char note[CHECKPOINT_MAX], size_t *len);
/* RFC 6962 consistency proof from from to to leaves of l. */
void h_log_consistency(const struct h_log *l, uint64_t from, uint64_t to,
    uint8_t path[][32], size_t *n);
/*
 * A Proof frame under l's checkpoint of to leaves with the proof from
 * from (none when from > to) and the nw cosignatures w, saying it is from
 * claimed_from.
 */
void h_log_proof(struct h_sys *s, const struct h_log *l, uint64_t from,
    uint64_t to, uint64_t claimed_from, const struct wire_cosignature *w,
    size_t nw, uint8_t **frame, size_t *len);
/*
 * Appends the leaf of ev to l and fills *pr, its proof under l's
 * checkpoint of all its leaves (tied from tie_from leaves of l when
 * tie_from >= 0). pr borrows static buffers, valid until the next call.
 */
void h_log_event(struct h_sys *s, struct h_log *l, const struct event *ev,
    int64_t tie_from, struct wire_audit_proof *pr);
/*
 * A Delivery frame as h_delivery's, its decision leaf appended to l, under
 * l's checkpoint of all its leaves; with a tie from tie_from leaves of l
 * when tie_from >= 0.
 */
void h_delivery_in(struct h_sys *s, const struct h_msg *m, int recipient,
    struct h_log *l, int64_t tie_from, uint8_t msg_id[WIRE_MSG_ID_LEN],
    uint8_t **frame, size_t *len);

/*
 * A Delivery frame of m for recipient, every field sealed for it given,
 * and its msg_id, with an audit proof forged with the broker's own keys:
 * a decision leaf that names the fields sent, alone in a log of one, under
 * a checkpoint the broker's key signed. What a compromised broker can send.
 */
void h_delivery(struct h_sys *s, const struct h_msg *m, int recipient,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len);

/* -------------------------------------------------------- agreements */

/* SHA-256 of a file's bytes (an agreement's, as a manifest names it). */
void h_file_sha(const char *path, uint8_t sha[32]);
/*
 * The fields s->policy lets agency to see of a record from agency from
 * for purpose at urgency (0: urgent), with an emergency reason code (0:
 * none), as the agents ask it.
 */
fieldset h_allowed(struct h_sys *s, int from, int to, const char *purpose,
    int urgency, int reason);
/* An agency's agent's archive of agreements (STATE/agreements). */
const char *h_agreements_dir(struct h_sys *s, int agency);
/*
 * Puts s->policy, signed, in an agency's archive as its current agreement,
 * as if the broker had sent it before: so that the agent, started with no
 * broker, seals at once. Before the agent starts.
 */
void h_agent_hold_agreement(struct h_sys *s, int agency);
/*
 * The agreement in force at the broker, as its current log last said
 * ("listening on ...; policy HEX" or "reloaded: policy HEX"): true and
 * sha, or false when it has said none.
 */
bool h_broker_agreement(struct h_sys *s, uint8_t sha[32]);
/* The rogue broker sends the agreement at path and path.sig as it is. */
void h_rogue_agreement(struct h_rogue *r, const char *path);

#endif
