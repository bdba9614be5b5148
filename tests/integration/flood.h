/*
 * A flood of clients the broker must refuse, run on a thread of its own:
 * CURVE clients with keys no keyring holds, reconnecting and taking fresh
 * keys, optionally from many source addresses (127.0.0.2 and up); raw TCP
 * connections that open and say nothing (half-open); raw TCP connections
 * that send random bytes. Used by the hostile tests (tests/integration)
 * and the flood benchmark (tests/bench). No cmocka here: the benchmark
 * links it too.
 */
#ifndef TESTS_INTEGRATION_FLOOD_H
#define TESTS_INTEGRATION_FLOOD_H

#include <stdint.h>

struct flood_opts {
	const char *endpoint;   /* the broker's: ipc://PATH or tcp://IP:PORT */
	uint8_t server_key[32]; /* the broker's transport public key */
	unsigned clients;       /* CURVE clients with keys of their own */
	unsigned renew_ms;  /* each takes a fresh key this often; 0: never */
	unsigned sources;   /* tcp: source addresses 127.0.0.2 on; 0: any */
	unsigned half_open; /* tcp: connections kept open and silent */
	unsigned garbage;   /* tcp: connections sending random bytes */
};

/* What the flood saw so far, from its side. */
struct flood_stats {
	uint64_t connects; /* TCP/IPC connections the CURVE clients made */
	uint64_t refused;  /* handshakes failed with an authentication error */
	uint64_t admitted; /* handshakes that succeeded: a broker bug */
	uint64_t keys;     /* keys used */
	uint64_t raw_opened;    /* raw TCP connections opened */
	uint64_t raw_closed;    /* of those, closed by the broker */
	uint64_t garbage_bytes; /* random bytes sent */
};

struct flood;

/*
 * Starts the flood; 0, or -1 with errno. The thread runs until
 * flood_stop.
 */
int flood_start(const struct flood_opts *o, struct flood **out);
/* The counts so far. */
void flood_stats(struct flood *f, struct flood_stats *st);
/* Stops the thread, closes everything, frees f; st gets the final counts
 * (st may be NULL). NULL is a no-op. */
void flood_stop(struct flood *f, struct flood_stats *st);

#endif
