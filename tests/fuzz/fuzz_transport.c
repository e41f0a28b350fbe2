/*
 * Fuzz the coordinator's end of the node transport (net/transport_*.c)
 * with a hostile byte stream: a real hub (nng, its threads, the same
 * framing and HELLO code as tally-coordinator, over ipc:// instead of
 * tls+tcp:// so that no TLS handshake is paid per input) and a raw socket
 * that the harness writes the input into.
 *
 * Per input: connect; the hub's first frame must be a 32-byte challenge.
 * If the first input byte is odd the harness then authenticates as node 1
 * (HELLO signed over the challenge; the hub must answer WELCOME = 1). The
 * rest of the input goes on the wire as it is: frame heads, bodies, cut
 * frames, lengths of 0 or over the cap. The harness closes its side and
 * waits for the hub to close (a hub that never does is a hang).
 *
 * What the application receives must be exactly the complete frames of the
 * stream, in order, from node 1, up to the first frame the hub must refuse
 * (length 0 or over TLY_MAX_MESSAGE_BYTES); unauthenticated bytes must
 * never reach it (nobody can forge the HELLO), and the hub sends nothing
 * beyond the handshake but, once the node is bound, whole keepalives (empty
 * frames). The hub's heartbeat runs every HEARTBEAT_MS here
 * (FUZZ_TRANSPORT_HEARTBEAT_MS to change it), not every
 * TLY_HEARTBEAT_INTERVAL_MS, so that keepalives interleave with many
 * inputs: at the default a tick fell within an input only now and then,
 * and CI once caught one that the harness took for a stray frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "net/transport.h"
#include "tests/fuzz/fuzz_socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { NODE = 1, WAIT_MS = 5000, HEARTBEAT_MS = 5 };

static struct tly_hub *hub;
static struct tly_roster roster;
static struct tly_sign_key *node_key;
static struct sockaddr_un addr;
static int verbose; /* FUZZ_TRANSPORT_VERBOSE: what each input delivered */

static void
stop(void)
{
	tly_hub_close(hub);
	unlink(addr.sun_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_party party = {.id = NODE};
	char url[128], why[256];

	(void)argc, (void)argv;
	memset(seed, 0x42, sizeof seed);
	if (tly_crypto_init() != TLY_OK || tly_sign_key_alloc(&node_key, seed) != TLY_OK)
		abort();
	tly_sign_key_public(node_key, party.sign_pk);
	memset(party.kx_pk, 9, sizeof party.kx_pk);
	uint8_t coordinator_pk[TLY_SIGN_PUBLIC_BYTES];
	memset(coordinator_pk, 7, sizeof coordinator_pk);
	if (tly_roster_init(&roster, coordinator_pk, &party, 1) != TLY_OK)
		abort();
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/fuzz_transport.%ld.sock",
	         (long)getpid());
	unlink(addr.sun_path);
	snprintf(url, sizeof url, "ipc://%s", addr.sun_path);
	if (tly_hub_open(&hub, url, NULL, &roster, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "fuzz_transport: %s\n", why);
		abort();
	}
	atexit(stop);
	verbose = getenv("FUZZ_TRANSPORT_VERBOSE") != NULL;
	const char *hb = getenv("FUZZ_TRANSPORT_HEARTBEAT_MS");
	int every = hb != NULL && atoi(hb) > 0 ? atoi(hb) : HEARTBEAT_MS;
	/* never dead: a connection is closed by its input, not by silence */
	tly_hub_heartbeat(hub, every, WAIT_MS * 4);
	return 0;
}

static uint32_t
be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Say what the hub logged, then abort: for a failure that needs its side. */
static void
fail(const char *what)
{
	char line[TLY_EVENT_LINE_MAX];

	fprintf(stderr, "fuzz_transport: %s; the hub's events:\n", what);
	while (tly_hub_event(hub, line, sizeof line) == TLY_OK)
		fprintf(stderr, "  %s\n", line);
	abort();
}

/* Read exactly n bytes within WAIT_MS, or abort. */
static void
read_exact(int fd, uint8_t *out, size_t n)
{
	long deadline = now_ms() + WAIT_MS;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (now_ms() > deadline)
			fail("the handshake stalled");
		/* libFuzzer's -timeout alarm interrupts poll and read (EINTR) */
		if (poll(&p, 1, 100) <= 0 || p.revents == 0)
			continue;
		ssize_t r = read(fd, out + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("the hub closed during the handshake");
		got += (size_t)r;
	}
}

struct expected {
	size_t count;
	const uint8_t *at[4096];
	size_t len[4096];
};

/* The complete frames of the stream up to the first that must be refused.
 * After WELCOME (auth) an empty frame is a keepalive: skipped, never
 * delivered, and the connection is cut at the one past
 * TLY_KEEPALIVE_MAX_PER_S (one input arrives well within a second). */
static void
frames(const uint8_t *p, size_t n, int auth, struct expected *e)
{
	unsigned keepalives = 0;

	e->count = 0;
	while (n >= TLY_FRAME_HEAD_BYTES && e->count < 4096) {
		uint32_t len = be32_get(p);
		if (len == 0 && auth && ++keepalives <= TLY_KEEPALIVE_MAX_PER_S) {
			p += TLY_FRAME_HEAD_BYTES;
			n -= TLY_FRAME_HEAD_BYTES;
			continue;
		}
		if (len == 0 || len > TLY_MAX_MESSAGE_BYTES || n - TLY_FRAME_HEAD_BYTES < len)
			return;
		e->at[e->count] = p + TLY_FRAME_HEAD_BYTES;
		e->len[e->count++] = len;
		p += TLY_FRAME_HEAD_BYTES + len;
		n -= TLY_FRAME_HEAD_BYTES + len;
	}
}

/* Take every waiting post; each must be the next expected frame. */
static void
drain(const struct expected *e, size_t *seen, int auth, int timeout_ms)
{
	uint32_t from;
	uint8_t *msg;
	size_t len;
	char line[TLY_EVENT_LINE_MAX];

	while (tly_hub_recv(hub, &from, &msg, &len, timeout_ms) == TLY_OK) {
		if (!auth || from != NODE || *seen >= e->count || len != e->len[*seen] ||
		    memcmp(msg, e->at[*seen], len) != 0)
			abort(); /* not exactly the frames that were sent */
		(*seen)++;
		free(msg);
		timeout_ms = 0;
	}
	while (tly_hub_event(hub, line, sizeof line) == TLY_OK)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t head[TLY_FRAME_HEAD_BYTES], challenge[TLY_HELLO_CHALLENGE_BYTES];
	static struct expected e;
	size_t seen = 0;
	int auth, fd, closed = 0;
	size_t keepalive_bytes = 0; /* what the hub sent after WELCOME */

	if (size < 1 || size > 1 << 16)
		return 0;
	auth = data[0] & 1;
	data++, size--;
	frames(data, size, auth, &e);
	fd = connect_to(AF_UNIX, &addr, sizeof addr);
	read_exact(fd, head, sizeof head);
	if (be32_get(head) != TLY_HELLO_CHALLENGE_BYTES)
		fail("the hub's first frame is not the challenge");
	read_exact(fd, challenge, sizeof challenge);
	if (auth) {
		/* "tally/hello/v1" || challenge || node id (transport.h) */
		uint8_t signed_bytes[14 + TLY_HELLO_CHALLENGE_BYTES + 4];
		uint8_t hello[TLY_FRAME_HEAD_BYTES + TLY_HELLO_BYTES], welcome[8];
		memcpy(signed_bytes, "tally/hello/v1", 14);
		memcpy(signed_bytes + 14, challenge, sizeof challenge);
		be32_put(signed_bytes + 14 + sizeof challenge, NODE);
		be32_put(hello, TLY_HELLO_BYTES);
		be32_put(hello + 4, NODE);
		if (tly_sign(hello + 8, node_key, signed_bytes, sizeof signed_bytes) != TLY_OK)
			abort();
		write_all(fd, hello, sizeof hello);
		read_exact(fd, welcome, sizeof welcome);
		if (be32_get(welcome) != TLY_WELCOME_BYTES || be32_get(welcome + 4) != NODE)
			fail("WELCOME does not name the node");
	}
	write_all(fd, data, size);
	shutdown(fd, SHUT_WR);
	/* Until the hub closes its end: nothing more may come from it. */
	long deadline = now_ms() + WAIT_MS;
	while (!closed) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint8_t junk[256];
		drain(&e, &seen, auth, 0);
		if (now_ms() > deadline)
			fail("the hub never closed the connection");
		if (poll(&p, 1, 1) > 0) {
			ssize_t r = read(fd, junk, sizeof junk);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				/* only keepalives, only to a bound node: zero bytes */
				for (ssize_t i = 0; i < r; i++)
					if (!auth || junk[i] != 0)
						fail("the hub sent something unasked");
				keepalive_bytes += (size_t)r;
				continue;
			}
			closed = 1;
		}
	}
	close(fd);
	if (keepalive_bytes % TLY_FRAME_HEAD_BYTES != 0)
		fail("the hub sent a cut keepalive");
	drain(&e, &seen, auth, 0);
	if (seen != (auth ? e.count : 0)) {
		/* posts made before the close may still be on their way */
		deadline = now_ms() + WAIT_MS;
		while (seen < e.count && now_ms() < deadline)
			drain(&e, &seen, auth, 10);
		if (seen != (auth ? e.count : 0))
			fail("a complete frame was lost");
	}
	if (verbose)
		fprintf(stderr,
		        "fuzz_transport: %s, %zu of the %zu complete frames delivered, "
		        "%zu keepalives\n",
		        auth ? "authenticated" : "not authenticated", seen, e.count,
		        keepalive_bytes / TLY_FRAME_HEAD_BYTES);
	return 0;
}
