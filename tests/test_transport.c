/*
 * The transport on loopback, in one process: hub and links over tcp:// and
 * tls+tcp:// (certificates made here with the openssl command), the
 * signed handshake (unknown keys, wrong keys, another CA, garbage and
 * silence from raw sockets, a node that reconnects), ordering under a
 * burst, redialling, and the HTTPS API server and client (round trips,
 * refused certificates, 404/405/413, 503 on close).
 *
 * Ports: every listener binds port 0 and the tests ask which port it got,
 * so parallel test processes never collide.
 */
#define _GNU_SOURCE /* strcasestr */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "net/transport.h"
#include "tests/daemons.h"

enum { NODES = 3, WAIT_MS = 5000, EVENT_LOG = 1 << 16 };

static struct tly_identity coordinator, nodes[NODES + 2];
static struct tly_roster roster; /* nodes 1..NODES */
static char events[EVENT_LOG];
static char why[256];

static void
setup(void)
{
	struct tly_party parties[NODES];

	cr_assert_eq(tly_crypto_init(), TLY_OK);
	cr_assert_eq(tly_identity_generate(&coordinator, 0, 0), TLY_OK);
	/* nodes[i] has id i + 1; the last two are not in the roster. */
	for (uint32_t i = 0; i < NODES + 2; i++)
		cr_assert_eq(tly_identity_generate(&nodes[i], i + 1, 1), TLY_OK);
	for (size_t i = 0; i < NODES; i++)
		tly_identity_public(&nodes[i], &parties[i]);
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	tly_sign_key_public(coordinator.sign, pk);
	cr_assert_eq(tly_roster_init(&roster, pk, parties, NODES), TLY_OK);
	events[0] = '\0';
}

static void
teardown(void)
{
	tly_roster_fini(&roster);
	for (size_t i = 0; i < NODES + 2; i++)
		tly_identity_fini(&nodes[i]);
	tly_identity_fini(&coordinator);
}

TestSuite(transport, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static struct tly_hub *
hub_open_plain(void)
{
	struct tly_hub *hub;
	cr_assert_eq(tly_hub_open(&hub, "tcp://127.0.0.1:0", NULL, &roster, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_gt(tly_hub_port(hub), 0);
	return hub;
}

static struct tly_link *
link_open(const char *scheme, int port, const struct tly_tls_files *tls,
          const struct tly_identity *self)
{
	char url[128];
	struct tly_link *link;
	snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, port);
	cr_assert_eq(tly_link_open(&link, url, tls, self, why, sizeof why), TLY_OK, "%s", why);
	return link;
}

static int
wait_ready(struct tly_link *link, long ms)
{
	long end = dmn_now_ms() + ms;
	while (!tly_link_ready(link)) {
		if (dmn_now_ms() > end)
			return 0;
		dmn_pause_ms(10);
	}
	return 1;
}

/* Append every waiting hub (or link) event to `events`, then look for
 * needle, polling up to ms. */
static int
saw(struct tly_hub *hub, struct tly_link *link, const char *needle, long ms)
{
	long end = dmn_now_ms() + ms;
	char line[TLY_EVENT_LINE_MAX];
	for (;;) {
		while ((hub != NULL ? tly_hub_event(hub, line, sizeof line)
		                    : tly_link_event(link, line, sizeof line)) == TLY_OK) {
			size_t used = strlen(events);
			snprintf(events + used, sizeof events - used, "%s\n", line);
		}
		if (strstr(events, needle) != NULL)
			return 1;
		if (dmn_now_ms() > end)
			return 0;
		dmn_pause_ms(10);
	}
}

static void
hub_expect(struct tly_hub *hub, uint32_t from, const char *text)
{
	uint32_t got_from;
	uint8_t *msg;
	size_t len;
	cr_assert_eq(tly_hub_recv(hub, &got_from, &msg, &len, WAIT_MS), TLY_OK);
	cr_assert_eq(got_from, from);
	cr_assert_eq(len, strlen(text));
	cr_assert_arr_eq(msg, text, len);
	free(msg);
}

static void
link_expect(struct tly_link *link, const char *text)
{
	uint8_t *msg;
	size_t len;
	cr_assert_eq(tly_link_recv(link, &msg, &len, WAIT_MS), TLY_OK);
	cr_assert_eq(len, strlen(text));
	cr_assert_arr_eq(msg, text, len);
	free(msg);
}

/* Both directions between a hub and links for nodes 1..count. */
static void
exchange(struct tly_hub *hub, struct tly_link **links, size_t count)
{
	char text[64];
	for (size_t i = 0; i < count; i++) {
		snprintf(text, sizeof text, "from node %zu", i + 1);
		cr_assert_eq(tly_link_send(links[i], (const uint8_t *)text, strlen(text)), TLY_OK);
	}
	/* One sender's messages arrive in order; across senders any order. */
	for (size_t n = 0; n < count; n++) {
		uint32_t from;
		uint8_t *msg;
		size_t len;
		cr_assert_eq(tly_hub_recv(hub, &from, &msg, &len, WAIT_MS), TLY_OK);
		cr_assert(from >= 1 && from <= count);
		snprintf(text, sizeof text, "from node %u", (unsigned)from);
		cr_assert_eq(len, strlen(text));
		cr_assert_arr_eq(msg, text, len);
		free(msg);
	}
	for (size_t i = 0; i < count; i++) {
		snprintf(text, sizeof text, "to node %zu", i + 1);
		cr_assert_eq(
		    tly_hub_send(hub, (uint32_t)(i + 1), (const uint8_t *)text, strlen(text)),
		    TLY_OK);
	}
	for (size_t i = 0; i < count; i++) {
		snprintf(text, sizeof text, "to node %zu", i + 1);
		link_expect(links[i], text);
	}
}

/* ---- raw sockets: the wire as transport.h describes it ---- */

static int
raw_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
	return fd;
}

static void
raw_write(int fd, const void *buf, size_t len)
{
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read exactly len bytes: 1, or 0 on EOF, error or timeout. */
static int
raw_read(int fd, void *buf, size_t len, long ms)
{
	long end = dmn_now_ms() + ms;
	size_t got = 0;
	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = end - dmn_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, 0);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

/* Whether the peer closed the connection within ms. */
static int
raw_closed(int fd, long ms)
{
	uint8_t byte;
	long end = dmn_now_ms() + ms;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = end - dmn_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		ssize_t n = recv(fd, &byte, 1, 0);
		if (n <= 0)
			return 1;
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
raw_frame(int fd, const void *msg, uint32_t len)
{
	uint8_t head[4];
	put32(head, len);
	raw_write(fd, head, sizeof head);
	raw_write(fd, msg, len);
}

/* Read the challenge, answer with a HELLO signed by `signer` for `id`,
 * and return whether WELCOME (= id) came back. */
static int
raw_handshake(int fd, uint32_t id, const struct tly_identity *signer)
{
	uint8_t head[4], challenge[TLY_HELLO_CHALLENGE_BYTES], hello[TLY_HELLO_BYTES];
	uint8_t signed_bytes[14 + TLY_HELLO_CHALLENGE_BYTES + 4], welcome[4];

	cr_assert(raw_read(fd, head, 4, WAIT_MS));
	cr_assert_eq(get32(head), TLY_HELLO_CHALLENGE_BYTES);
	cr_assert(raw_read(fd, challenge, sizeof challenge, WAIT_MS));
	memcpy(signed_bytes, "tally/hello/v1", 14);
	memcpy(signed_bytes + 14, challenge, sizeof challenge);
	put32(signed_bytes + 14 + sizeof challenge, id);
	put32(hello, id);
	cr_assert_eq(tly_sign(hello + 4, signer->sign, signed_bytes, sizeof signed_bytes), TLY_OK);
	raw_frame(fd, hello, sizeof hello);
	if (!raw_read(fd, head, 4, WAIT_MS) || get32(head) != 4 ||
	    !raw_read(fd, welcome, 4, WAIT_MS))
		return 0;
	return get32(welcome) == id;
}

static void
hub_silent(struct tly_hub *hub, long ms)
{
	uint32_t from;
	uint8_t *msg;
	size_t len;
	cr_assert_eq(tly_hub_recv(hub, &from, &msg, &len, (int)ms), TLY_ETIMEDOUT);
}

/* ---- plain tcp ---- */

Test(transport, hub_and_links_exchange)
{
	struct tly_hub *hub = hub_open_plain();
	struct tly_link *links[NODES];

	for (size_t i = 0; i < NODES; i++)
		links[i] = link_open("tcp", tly_hub_port(hub), NULL, &nodes[i]);
	for (size_t i = 0; i < NODES; i++)
		cr_assert(wait_ready(links[i], WAIT_MS), "link %zu never ready", i + 1);
	for (uint32_t id = 1; id <= NODES; id++)
		cr_assert(tly_hub_connected(hub, id));
	cr_assert_not(tly_hub_connected(hub, NODES + 1));
	exchange(hub, links, NODES);
	cr_assert(saw(hub, NULL, "node 2 connected from 127.0.0.1:", WAIT_MS), "%s", events);
	cr_assert(saw(NULL, links[0], "connected to the coordinator", WAIT_MS), "%s", events);

	uint8_t byte = 1;
	cr_assert_eq(tly_hub_send(hub, NODES + 1, &byte, 1), TLY_EPEER);
	cr_assert_eq(tly_hub_send(hub, 1, &byte, 0), TLY_EINVAL);
	cr_assert_eq(tly_link_send(links[0], &byte, 0), TLY_EINVAL);

	/* A node that leaves is reported and no longer routable. */
	tly_link_close(links[1]);
	cr_assert(saw(hub, NULL, "node 2 disconnected", WAIT_MS), "%s", events);
	cr_assert_not(tly_hub_connected(hub, 2));
	cr_assert_eq(tly_hub_send(hub, 2, &byte, 1), TLY_EPEER);
	tly_link_close(links[0]);
	tly_link_close(links[2]);
	tly_hub_close(hub);
}

/* nng's pair1 in polyamorous mode dropped most of such a burst; every
 * message must arrive, in order, both ways, and so must the largest. */
Test(transport, burst_arrives_in_order)
{
	enum { COUNT = 300, SIZE = 80000 };
	struct tly_hub *hub = hub_open_plain();
	struct tly_link *link = link_open("tcp", tly_hub_port(hub), NULL, &nodes[0]);
	uint8_t *buf = malloc(TLY_MAX_MESSAGE_BYTES), *msg;
	uint32_t from;
	size_t len;

	cr_assert(wait_ready(link, WAIT_MS));
	for (uint32_t i = 0; i < COUNT; i++) {
		memset(buf, (int)(i & 0xff), SIZE);
		put32(buf, i);
		cr_assert_eq(tly_hub_send(hub, 1, buf, SIZE), TLY_OK);
		cr_assert_eq(tly_link_send(link, buf, SIZE), TLY_OK);
	}
	for (uint32_t i = 0; i < COUNT; i++) {
		cr_assert_eq(tly_link_recv(link, &msg, &len, WAIT_MS), TLY_OK, "message %u", i);
		cr_assert_eq(len, SIZE);
		cr_assert_eq(get32(msg), i);
		cr_assert_eq(msg[SIZE - 1], (uint8_t)i);
		free(msg);
		cr_assert_eq(tly_hub_recv(hub, &from, &msg, &len, WAIT_MS), TLY_OK, "message %u",
		             i);
		cr_assert_eq(from, 1);
		cr_assert_eq(get32(msg), i);
		free(msg);
	}
	for (size_t i = 0; i < TLY_MAX_MESSAGE_BYTES; i++)
		buf[i] = (uint8_t)(i * 31);
	cr_assert_eq(tly_hub_send(hub, 1, buf, TLY_MAX_MESSAGE_BYTES), TLY_OK);
	cr_assert_eq(tly_link_recv(link, &msg, &len, WAIT_MS), TLY_OK);
	cr_assert_eq(len, TLY_MAX_MESSAGE_BYTES);
	cr_assert_arr_eq(msg, buf, len);
	cr_assert_eq(tly_link_send(link, msg, len), TLY_OK);
	free(msg);
	cr_assert_eq(tly_hub_recv(hub, &from, &msg, &len, WAIT_MS), TLY_OK);
	cr_assert_eq(len, TLY_MAX_MESSAGE_BYTES);
	cr_assert_arr_eq(msg, buf, len);
	free(msg);
	cr_assert_eq(tly_hub_send(hub, 1, buf, TLY_MAX_MESSAGE_BYTES + 1), TLY_EINVAL);
	free(buf);
	tly_link_close(link);
	tly_hub_close(hub);
}

Test(transport, unknown_or_wrong_key_is_refused)
{
	struct tly_hub *hub = hub_open_plain();
	struct tly_identity impostor;
	struct tly_link *stranger, *fake;
	uint8_t byte = 7;

	/* Node NODES + 1 is not in the roster; `fake` claims id 2 with a
	 * key of its own. */
	cr_assert_eq(tly_identity_generate(&impostor, 2, 1), TLY_OK);
	stranger = link_open("tcp", tly_hub_port(hub), NULL, &nodes[NODES]);
	fake = link_open("tcp", tly_hub_port(hub), NULL, &impostor);
	cr_assert(saw(hub, NULL, "not in the roster", WAIT_MS), "%s", events);
	cr_assert(saw(hub, NULL, "HELLO signature for node 2 does not verify", WAIT_MS), "%s",
	          events);
	cr_assert_not(wait_ready(stranger, 1000));
	cr_assert_not(wait_ready(fake, 10));
	cr_assert_not(tly_hub_connected(hub, 2));
	cr_assert_not(tly_hub_connected(hub, NODES + 1));
	cr_assert_eq(tly_link_send(stranger, &byte, 1), TLY_EPEER);
	cr_assert_eq(tly_link_send(fake, &byte, 1), TLY_EPEER);
	hub_silent(hub, 300);
	events[0] = '\0';
	cr_assert(saw(NULL, fake, "ended the handshake", WAIT_MS), "%s", events);
	tly_link_close(stranger);
	tly_link_close(fake);
	tly_identity_fini(&impostor);
	tly_hub_close(hub);
}

/* Garbage, a message before HELLO and a forged HELLO from raw sockets are
 * cut off; nothing reaches the application; the hub keeps serving. */
Test(transport, garbage_is_refused_and_hub_keeps_serving)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct tly_hub *hub = hub_open_plain();
	int port = tly_hub_port(hub);
	uint8_t junk[TLY_HELLO_BYTES];
	int fd;

	fd = raw_connect(port);
	raw_write(fd, http, sizeof http - 1);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);
	cr_assert(saw(hub, NULL, "a handshake frame of 1195725856 bytes", WAIT_MS), "%s", events);

	/* A protocol message first, HELLO after: never delivered. */
	fd = raw_connect(port);
	raw_frame(fd, "a message before the handshake", 30);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);

	/* A HELLO-sized frame of noise. */
	memset(junk, 0xa5, sizeof junk);
	put32(junk, 1);
	fd = raw_connect(port);
	raw_frame(fd, junk, sizeof junk);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);
	cr_assert(saw(hub, NULL, "HELLO signature for node 1 does not verify", WAIT_MS), "%s",
	          events);

	/* Half a frame, then gone. */
	fd = raw_connect(port);
	raw_write(fd, "\0\0", 2);
	close(fd);

	hub_silent(hub, 200);
	struct tly_link *link = link_open("tcp", port, NULL, &nodes[0]);
	cr_assert(wait_ready(link, WAIT_MS));
	exchange(hub, &link, 1);
	tly_link_close(link);
	tly_hub_close(hub);
}

/* The wire, spoken by hand: a valid handshake routes; a second connection
 * for the same node replaces the first; an oversized frame after the
 * handshake is cut off. */
Test(transport, raw_handshake_and_replaced_connection)
{
	struct tly_hub *hub = hub_open_plain();
	int port = tly_hub_port(hub);
	uint8_t head[4], body[16];
	int first, second;

	first = raw_connect(port);
	cr_assert(raw_handshake(first, 1, &nodes[0]));
	raw_frame(first, "by hand", 7);
	hub_expect(hub, 1, "by hand");

	second = raw_connect(port);
	cr_assert(raw_handshake(second, 1, &nodes[0]));
	cr_assert(saw(hub, NULL, "node 1 reconnected", WAIT_MS), "%s", events);
	cr_assert(raw_closed(first, WAIT_MS));
	close(first);
	cr_assert_eq(tly_hub_send(hub, 1, (const uint8_t *)"to the new one", 14), TLY_OK);
	cr_assert(raw_read(second, head, 4, WAIT_MS));
	cr_assert_eq(get32(head), 14);
	cr_assert(raw_read(second, body, 14, WAIT_MS));
	cr_assert_arr_eq(body, "to the new one", 14);

	put32(head, (uint32_t)TLY_MAX_MESSAGE_BYTES + 1);
	raw_write(second, head, 4);
	cr_assert(raw_closed(second, WAIT_MS));
	close(second);
	cr_assert(saw(hub, NULL, "a message frame of", WAIT_MS), "%s", events);
	cr_assert_not(tly_hub_connected(hub, 1));
	tly_hub_close(hub);
}

Test(transport, silent_connection_times_out)
{
	struct tly_hub *hub = hub_open_plain();
	int fd = raw_connect(tly_hub_port(hub));
	long start = dmn_now_ms();

	cr_assert(raw_closed(fd, TLY_HANDSHAKE_MS + 3000));
	cr_assert_geq(dmn_now_ms() - start, TLY_HANDSHAKE_MS - 500);
	close(fd);
	cr_assert(saw(hub, NULL, "no HELLO within", WAIT_MS), "%s", events);
	tly_hub_close(hub);
}

/* A link redials when its hub goes away and comes back on the same port. */
Test(transport, link_redials)
{
	struct tly_hub *hub = hub_open_plain();
	int port = tly_hub_port(hub);
	struct tly_link *link = link_open("tcp", port, NULL, &nodes[0]);
	char url[64];
	uint8_t byte = 1;

	cr_assert(wait_ready(link, WAIT_MS));
	tly_hub_close(hub);
	long end = dmn_now_ms() + WAIT_MS;
	while (tly_link_ready(link) && dmn_now_ms() < end)
		dmn_pause_ms(10);
	cr_assert_not(tly_link_ready(link));
	cr_assert_eq(tly_link_send(link, &byte, 1), TLY_EPEER);
	cr_assert(saw(NULL, link, "connection to the coordinator lost", WAIT_MS), "%s", events);

	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
	cr_assert_eq(tly_hub_open(&hub, url, NULL, &roster, why, sizeof why), TLY_OK, "%s", why);
	cr_assert(wait_ready(link, WAIT_MS));
	exchange(hub, &link, 1);
	tly_link_close(link);
	tly_hub_close(hub);
}

/* ---- heartbeat (issue 12 section 4) ---- */

/* Intervals here are far apart (dead after 30 intervals) so that a
 * loaded machine stalling a process for a second never kills a healthy
 * link; the waits for a death are many times dead_ms. */
enum { HB_EVERY_MS = 100, HB_DEAD_MS = 3000 };

/* Read frames from fd for up to ms; how many were keepalives (empty). 0
 * when anything else came. */
static int
raw_keepalives(int fd, long ms)
{
	uint8_t head[4];
	int count = 0;
	long end = dmn_now_ms() + ms;
	while (dmn_now_ms() < end && raw_read(fd, head, 4, end - dmn_now_ms())) {
		if (get32(head) != 0)
			return 0;
		count++;
	}
	return count;
}

/* A node that completed the handshake and then says nothing is dropped
 * after heartbeat_dead_ms, although the hub keeps sending it keepalives. */
Test(transport, silent_bound_node_is_dropped)
{
	struct tly_hub *hub = hub_open_plain();
	tly_hub_heartbeat(hub, HB_EVERY_MS, 1000);
	int fd = raw_connect(tly_hub_port(hub));
	cr_assert(raw_handshake(fd, 1, &nodes[0]));
	cr_assert(tly_hub_connected(hub, 1));
	long start = dmn_now_ms();
	cr_assert_geq(raw_keepalives(fd, 300), 1, "the hub sends keepalives while bound");
	cr_assert(raw_closed(fd, 20000), "a silent node must be dropped");
	cr_log_info("silent node dropped after %ld ms (dead after 1000 ms)", dmn_now_ms() - start);
	cr_assert_geq(dmn_now_ms() - start, 900);
	cr_assert(saw(hub, NULL, "nothing from it for 1000 ms (no heartbeat)", WAIT_MS), "%s",
	          events);
	cr_assert_not(tly_hub_connected(hub, 1));
	close(fd);
	tly_hub_close(hub);
}

/* Keepalives in both directions keep an idle link up far beyond
 * dead_ms on either side, and carry no message to the application. */
Test(transport, keepalives_hold_an_idle_link)
{
	struct tly_hub *hub = hub_open_plain();
	tly_hub_heartbeat(hub, HB_EVERY_MS, HB_DEAD_MS);
	struct tly_link *link = link_open("tcp", tly_hub_port(hub), NULL, &nodes[0]);
	tly_link_heartbeat(link, HB_EVERY_MS, HB_DEAD_MS);
	cr_assert(wait_ready(link, WAIT_MS));
	hub_silent(hub, 2 * HB_DEAD_MS + 1000);
	uint8_t *msg;
	size_t len;
	cr_assert_eq(tly_link_recv(link, &msg, &len, 10), TLY_ETIMEDOUT);
	cr_assert(tly_link_ready(link));
	cr_assert(tly_hub_connected(hub, 1));
	cr_assert_not(saw(hub, NULL, "disconnected", 0), "%s", events);
	cr_assert_not(saw(NULL, link, "lost", 0), "%s", events);
	exchange(hub, &link, 1);
	tly_link_close(link);
	tly_hub_close(hub);
}

/* Keepalives are bounded: a peer sending more than
 * TLY_KEEPALIVE_MAX_PER_S in a second is cut off; and an empty frame is
 * no HELLO. */
Test(transport, keepalive_flood_and_early_keepalive_are_refused)
{
	struct tly_hub *hub = hub_open_plain();
	int fd = raw_connect(tly_hub_port(hub));
	cr_assert(raw_handshake(fd, 1, &nodes[0]));
	uint8_t zeros[4 * (TLY_KEEPALIVE_MAX_PER_S + 10)] = {0};
	raw_write(fd, zeros, sizeof zeros);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);
	cr_assert(saw(hub, NULL, "keepalives within a second", WAIT_MS), "%s", events);
	cr_assert_not(tly_hub_connected(hub, 1));

	fd = raw_connect(tly_hub_port(hub));
	uint8_t head[4], challenge[TLY_HELLO_CHALLENGE_BYTES];
	cr_assert(raw_read(fd, head, 4, WAIT_MS) &&
	          raw_read(fd, challenge, sizeof challenge, WAIT_MS));
	raw_write(fd, zeros, 4);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);
	cr_assert(saw(hub, NULL, "a handshake frame of 0 bytes", WAIT_MS), "%s", events);
	tly_hub_close(hub);
}

/* A raw TCP listener on loopback: the coordinator's end played by hand. */
static int
raw_listener(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The node's side: a coordinator that welcomed the link and then went
 * silent (frozen, or its host cut off without a RST) is noticed within
 * dead_ms; the link is no longer ready, and redials. */
Test(transport, link_notices_a_silent_coordinator_and_redials)
{
	int port, listener = raw_listener(&port);
	struct tly_link *link = link_open("tcp", port, NULL, &nodes[0]);
	tly_link_heartbeat(link, HB_EVERY_MS, 1000);
	struct pollfd p = {.fd = listener, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, WAIT_MS), 1);
	int fd = accept(listener, NULL, NULL);
	cr_assert_geq(fd, 0);
	uint8_t challenge[TLY_HELLO_CHALLENGE_BYTES] = {1}, head[4], hello[TLY_HELLO_BYTES];
	raw_frame(fd, challenge, sizeof challenge);
	cr_assert(raw_read(fd, head, 4, WAIT_MS) && get32(head) == TLY_HELLO_BYTES);
	cr_assert(raw_read(fd, hello, sizeof hello, WAIT_MS));
	uint8_t welcome[4];
	put32(welcome, 1);
	raw_frame(fd, welcome, sizeof welcome);
	cr_assert(wait_ready(link, WAIT_MS));
	long start = dmn_now_ms();
	cr_assert_geq(raw_keepalives(fd, 300), 1, "the link sends keepalives once welcomed");
	long end = dmn_now_ms() + 20000;
	while (tly_link_ready(link) && dmn_now_ms() < end)
		dmn_pause_ms(10);
	cr_assert_not(tly_link_ready(link), "the link never noticed the silence");
	cr_log_info("silent coordinator noticed after %ld ms (dead after 1000 ms)",
	            dmn_now_ms() - start);
	cr_assert(
	    saw(NULL, link, "nothing from it for 1000 ms (no heartbeat): redialling", WAIT_MS),
	    "%s", events);
	cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "the link redials");
	int again = accept(listener, NULL, NULL);
	cr_assert_geq(again, 0);
	close(again);
	close(fd);
	tly_link_close(link);
	close(listener);
}

Test(transport, bad_arguments)
{
	struct tly_hub *hub, *second;
	struct tly_link *link;
	struct tly_http *http;
	const struct tly_tls_files files = {.cert = "/nonexistent.pem", .ca = "/nonexistent.pem"};
	char url[64];

	cr_assert_eq(tly_hub_open(&hub, "tls+tcp://127.0.0.1:0", NULL, &roster, why, sizeof why),
	             TLY_EINVAL);
	cr_assert_eq(tly_hub_open(&hub, "tcp://127.0.0.1:0", &files, &roster, why, sizeof why),
	             TLY_EINVAL);
	cr_assert_eq(tly_hub_open(&hub, "bogus", NULL, &roster, why, sizeof why), TLY_EINVAL);
	cr_assert_eq(tly_hub_open(&hub, "tls+tcp://127.0.0.1:0", &files, &roster, why, sizeof why),
	             TLY_EIO);
	cr_assert(strstr(why, "/nonexistent.pem") != NULL, "%s", why);
	cr_assert_eq(tly_link_open(&link, "http://127.0.0.1:1", NULL, &nodes[0], why, sizeof why),
	             TLY_EINVAL);
	cr_assert_eq(tly_http_open(&http, "https://127.0.0.1:0", NULL, why, sizeof why),
	             TLY_EINVAL);

	hub = hub_open_plain();
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tly_hub_port(hub));
	cr_assert_eq(tly_hub_open(&second, url, NULL, &roster, why, sizeof why), TLY_EIO);
	cr_assert(strstr(why, "cannot listen") != NULL, "%s", why);
	tly_hub_close(hub);
	tly_hub_close(NULL);
	tly_link_close(NULL);
	tly_http_close(NULL);
}

/* ---- HTTP, plain ---- */

struct job {
	const char *url, *method;
	const struct tly_tls_files *tls;
	const char *body;
	size_t len;
	tly_err rv;
	int status;
	uint8_t *response;
	size_t response_len;
	char why[256];
};

static void *
run_job(void *arg)
{
	struct job *job = arg;
	job->rv = tly_https_request(job->url, job->method, job->tls, (const uint8_t *)job->body,
	                            job->len, WAIT_MS, &job->status, &job->response,
	                            &job->response_len, job->why, sizeof job->why);
	return NULL;
}

/* Take one request and answer "METHOD PATH BODY" with 200. */
static void
serve_echo(struct tly_http *http)
{
	struct tly_http_request req;
	char answer[4096];

	cr_assert_eq(tly_http_next(http, &req, WAIT_MS), TLY_OK);
	cr_assert_eq(req.body[req.body_len], '\0');
	snprintf(answer, sizeof answer, "%s %s %s", req.method, req.path, (char *)req.body);
	cr_assert_eq(tly_http_reply(http, req.handle, 200, "text/plain", (const uint8_t *)answer,
	                            strlen(answer)),
	             TLY_OK);
	cr_assert_eq(tly_http_reply(http, req.handle, 200, "text/plain", NULL, 0), TLY_EINVAL);
	free(req.body);
}

static void
round_trip(struct tly_http *http, const char *base, const struct tly_tls_files *tls,
           const char *method, const char *path, const char *body, const char *want)
{
	struct job job = {
	    .method = method, .tls = tls, .body = body, .len = body ? strlen(body) : 0};
	char url[256];
	pthread_t thread;

	snprintf(url, sizeof url, "%s%s", base, path);
	job.url = url;
	cr_assert_eq(pthread_create(&thread, NULL, run_job, &job), 0);
	serve_echo(http);
	pthread_join(thread, NULL);
	cr_assert_eq(job.rv, TLY_OK, "%s", job.why);
	cr_assert_eq(job.status, 200);
	cr_assert_str_eq((char *)job.response, want);
	free(job.response);
}

/* A request nng or the transport answers by itself: the status. */
static int
direct_status(const char *url, const char *method, const struct tly_tls_files *tls,
              const char *body, size_t len)
{
	struct job job = {.url = url, .method = method, .tls = tls, .body = body, .len = len};
	run_job(&job);
	cr_assert_eq(job.rv, TLY_OK, "%s", job.why);
	free(job.response);
	return job.status;
}

static void
refusals(const char *base, const struct tly_tls_files *tls)
{
	char url[256];
	size_t big = 2 << 20;
	char *body = malloc(big);

	memset(body, 'x', big);
	snprintf(url, sizeof url, "%s/v1/query", base);
	cr_assert_eq(direct_status(url, "POST", tls, body, big), 413);
	cr_assert_eq(direct_status(url, "PUT", tls, "{}", 2), 405);
	snprintf(url, sizeof url, "%s/v2/query", base);
	cr_assert_eq(direct_status(url, "GET", tls, NULL, 0), 404);
	snprintf(url, sizeof url, "%s/v1x", base);
	cr_assert_eq(direct_status(url, "GET", tls, NULL, 0), 404);
	free(body);
}

static struct tly_http *
http_open_at(const char *scheme, const struct tly_tls_files *tls, char *base, size_t len)
{
	struct tly_http *http;
	char url[64];
	snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
	cr_assert_eq(tly_http_open(&http, url, tls, why, sizeof why), TLY_OK, "%s", why);
	cr_assert_gt(tly_http_port(http), 0);
	snprintf(base, len, "%s://127.0.0.1:%d", scheme, tly_http_port(http));
	return http;
}

Test(transport, http_plain_queue_and_refusals)
{
	char base[64];
	struct tly_http *http = http_open_at("http", NULL, base, sizeof base);
	struct tly_http_request req;

	round_trip(http, base, NULL, "GET", "/v1/result?id=7", NULL, "GET /v1/result?id=7 ");
	round_trip(http, base, NULL, "POST", "/v1/query", "{\"a\":1}", "POST /v1/query {\"a\":1}");
	round_trip(http, base, NULL, "GET", "/v1", NULL, "GET /v1 ");
	refusals(base, NULL);
	cr_assert_eq(tly_http_next(http, &req, 50), TLY_ETIMEDOUT);
	cr_assert_eq(tly_http_reply(http, 12345, 200, "text/plain", NULL, 0), TLY_EINVAL);
	tly_http_close(http);
}

/* A raw plain-HTTP exchange: the whole response (headers and body) the
 * server sends before it closes or `ms` pass, NUL-terminated in out. */
static void
raw_response(int fd, char *out, size_t len, long ms)
{
	size_t got = 0;
	long end = dmn_now_ms() + ms;

	while (got + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = end - dmn_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, out + got, len - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
		/* Complete once the body's announced length is in. */
		char *head_end = strstr(out, "\r\n\r\n");
		const char *cl = head_end != NULL ? strcasestr(out, "Content-Length:") : NULL;
		if (cl != NULL && (size_t)(head_end + 4 - out) + strtoul(cl + 15, NULL, 10) <= got)
			break;
	}
	out[got] = '\0';
	close(fd);
}

static void
raw_exchange(int port, const char *request, char *out, size_t len, long ms)
{
	int fd = raw_connect(port);
	raw_write(fd, request, strlen(request));
	raw_response(fd, out, len, ms);
}

/* What the transport answers by itself is JSON, with the headers HTTP
 * asks for (Allow on 405), and an application's extra headers go out. */
Test(transport, http_direct_answers_are_json)
{
	char base[64], answer[4096];
	struct tly_http *http = http_open_at("http", NULL, base, sizeof base);
	int port = tly_http_port(http);
	struct tly_http_request req;

	raw_exchange(port, "PUT /v1/queries HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	             answer, sizeof answer, WAIT_MS);
	cr_assert(strstr(answer, " 405 ") != NULL, "%s", answer);
	cr_assert(strcasestr(answer, "\r\nAllow: GET, POST\r\n") != NULL, "%s", answer);
	cr_assert(strcasestr(answer, "Content-Type: application/json") != NULL, "%s", answer);
	cr_assert(strstr(answer, "{\"error\":{\"code\":\"method_not_allowed\"") != NULL, "%s",
	          answer);
	raw_exchange(port, "GET /nowhere?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", answer, sizeof answer,
	             WAIT_MS);
	cr_assert(strstr(answer, " 404 ") != NULL, "%s", answer);
	cr_assert(strcasestr(answer, "Content-Type: application/json") != NULL, "%s", answer);
	cr_assert(strstr(answer, "\"code\":\"not_found\"") != NULL, "%s", answer);
	const char *post =
	    "POST /v1/queries HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n";
	char *big = calloc(1, 2000000);
	cr_assert_not_null(big);
	int fd = raw_connect(port);
	raw_write(fd, post, strlen(post));
	raw_write(fd, big, 2000000);
	free(big);
	raw_response(fd, answer, sizeof answer, WAIT_MS);
	cr_assert(strstr(answer, " 413 ") != NULL, "%s", answer);
	cr_assert(strstr(answer, "\"limit\":1048576") != NULL, "%s", answer);
	cr_assert_eq(tly_http_next(http, &req, 0), TLY_ETIMEDOUT, "nothing was queued");

	/* Extra headers: a queued request answered with Retry-After. */
	fd = raw_connect(port);
	const char *get = "GET /v1/queries?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	raw_write(fd, get, strlen(get));
	cr_assert_eq(tly_http_next(http, &req, WAIT_MS), TLY_OK);
	free(req.body);
	cr_assert_str_eq(req.path, "/v1/queries?x=1");
	cr_assert_eq(tly_http_reply_headers(http, req.handle, 429, "application/json",
	                                    (const uint8_t *)"{}", 2,
	                                    (const char *const[]){"Retry-After", NULL, NULL}),
	             TLY_EINVAL);
	cr_assert_eq(tly_http_reply_headers(http, req.handle, 429, "application/json",
	                                    (const uint8_t *)"{}", 2,
	                                    (const char *const[]){"Retry-After", "7", NULL}),
	             TLY_OK);
	raw_response(fd, answer, sizeof answer, WAIT_MS);
	cr_assert(strstr(answer, " 429 ") != NULL, "%s", answer);
	cr_assert(strcasestr(answer, "\r\nRetry-After: 7\r\n") != NULL, "%s", answer);
	tly_http_close(http);
}

/* Requests still waiting when the server closes get 503. */
Test(transport, http_close_answers_503)
{
	char base[64], url[128];
	struct tly_http *http = http_open_at("http", NULL, base, sizeof base);
	struct tly_http_request req;
	struct job taken = {.method = "GET"}, queued = {.method = "GET"};
	pthread_t t1, t2;

	snprintf(url, sizeof url, "%s/v1/slow", base);
	taken.url = queued.url = url;
	cr_assert_eq(pthread_create(&t1, NULL, run_job, &taken), 0);
	cr_assert_eq(tly_http_next(http, &req, WAIT_MS), TLY_OK);
	free(req.body);
	cr_assert_eq(pthread_create(&t2, NULL, run_job, &queued), 0);
	dmn_pause_ms(300); /* let the second request reach the queue */
	tly_http_close(http);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	cr_assert_eq(taken.rv, TLY_OK, "%s", taken.why);
	cr_assert_eq(taken.status, 503);
	cr_assert_eq(queued.rv, TLY_OK, "%s", queued.why);
	cr_assert_eq(queued.status, 503);
	free(taken.response);
	free(queued.response);
}

Test(transport, http_client_errors)
{
	int status;
	uint8_t *response;
	size_t len;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sa_len = sizeof sa;
	char url[64];

	/* A port nobody listens on: bind one, never listen. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sa_len), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
	cr_assert_eq(tly_https_request(url, "GET", NULL, NULL, 0, WAIT_MS, &status, &response, &len,
	                               why, sizeof why),
	             TLY_EIO);
	cr_assert(strstr(why, "refused") != NULL, "%s", why);
	close(fd);

	/* A listener that never answers. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = 0;
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sa_len), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
	cr_assert_eq(tly_https_request(url, "GET", NULL, NULL, 0, 300, &status, &response, &len,
	                               why, sizeof why),
	             TLY_ETIMEDOUT);
	close(fd);
	cr_assert_eq(tly_https_request("ftp://x/", "GET", NULL, NULL, 0, 300, &status, &response,
	                               &len, why, sizeof why),
	             TLY_EINVAL);
}

/* ---- TLS: certificates from the openssl command ---- */

static char pki[] = "/tmp/tally-transport-XXXXXX";

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void
make_ca(const char *name)
{
	sh("cd %s && openssl ecparam -name prime256v1 -genkey -noout -out %s.key 2>/dev/null && "
	   "openssl req -new -x509 -key %s.key -sha256 -days 2 -subj /CN=%s -out %s.pem",
	   pki, name, name, name, name);
}

/* A leaf for `name`, signed by `ca`, with subjectAltName `san` (or
 * none) and the given extendedKeyUsage. */
static void
make_leaf(const char *name, const char *ca, const char *san, const char *eku)
{
	sh("cd %s && printf '[x]\\nbasicConstraints=critical,CA:FALSE\\n"
	   "keyUsage=critical,digitalSignature,keyAgreement\\nextendedKeyUsage=%s\\n%s%s\\n' "
	   "> %s.ext && openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
	   "openssl req -new -key %s.key -subj /CN=%s -out %s.csr && "
	   "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial %ld -days 2 "
	   "-sha256 -extfile %s.ext -extensions x -out %s.pem 2>/dev/null",
	   pki, eku, san ? "subjectAltName=" : "", san ? san : "", name, name, name, name, name,
	   name, ca, ca, (long)(dmn_now_ms() % 100000000) + (long)strlen(name), name, name);
}

static void
pki_setup(void)
{
	setup();
	cr_assert_not_null(mkdtemp(pki));
	make_ca("ca");
	make_ca("otherca");
	make_leaf("hub", "ca", "DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1", "serverAuth,clientAuth");
	make_leaf("hub_ip_only", "ca", "DNS:localhost,IP:127.0.0.1", "serverAuth,clientAuth");
	make_leaf("node", "ca", NULL, "clientAuth");
	make_leaf("rogue", "otherca", NULL, "clientAuth");
	sh("cd %s && cat node.pem node.key > node_combined.pem", pki);
}

static void
pki_teardown(void)
{
	sh("rm -rf %s", pki);
	teardown();
}

TestSuite(tls, .init = pki_setup, .fini = pki_teardown);

static char hub_cert[128], hub_key[128], ca[128], node_cert[128], node_key[128];
static char combined[128], rogue_cert[128], rogue_key[128], otherca[128];
static char ip_only_cert[128], ip_only_key[128];

static void
paths(void)
{
	snprintf(hub_cert, sizeof hub_cert, "%s/hub.pem", pki);
	snprintf(hub_key, sizeof hub_key, "%s/hub.key", pki);
	snprintf(ip_only_cert, sizeof ip_only_cert, "%s/hub_ip_only.pem", pki);
	snprintf(ip_only_key, sizeof ip_only_key, "%s/hub_ip_only.key", pki);
	snprintf(ca, sizeof ca, "%s/ca.pem", pki);
	snprintf(otherca, sizeof otherca, "%s/otherca.pem", pki);
	snprintf(node_cert, sizeof node_cert, "%s/node.pem", pki);
	snprintf(node_key, sizeof node_key, "%s/node.key", pki);
	snprintf(combined, sizeof combined, "%s/node_combined.pem", pki);
	snprintf(rogue_cert, sizeof rogue_cert, "%s/rogue.pem", pki);
	snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", pki);
}

/* The openssl command as a TLS client that presents no certificate. */
static void
no_certificate(int port)
{
	sh("timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile %s -verify_return_error "
	   "</dev/null >/dev/null 2>&1; true",
	   port, ca);
}

static struct tly_hub *
hub_open_tls(const char *cert, const char *key)
{
	struct tly_tls_files files = {.cert = cert, .key = key, .ca = ca};
	struct tly_hub *hub;
	cr_assert_eq(tly_hub_open(&hub, "tls+tcp://127.0.0.1:0", &files, &roster, why, sizeof why),
	             TLY_OK, "%s", why);
	return hub;
}

Test(tls, hub_and_links_exchange)
{
	paths();
	struct tly_hub *hub = hub_open_tls(hub_cert, hub_key);
	struct tly_tls_files node_files = {.cert = node_cert, .key = node_key, .ca = ca};
	struct tly_tls_files one_file = {.cert = combined, .ca = ca};
	struct tly_link *links[NODES];

	for (size_t i = 0; i < NODES; i++)
		links[i] = link_open("tls+tcp", tly_hub_port(hub), i == 1 ? &one_file : &node_files,
		                     &nodes[i]);
	for (size_t i = 0; i < NODES; i++)
		cr_assert(wait_ready(links[i], WAIT_MS), "link %zu never ready", i + 1);
	exchange(hub, links, NODES);
	exchange(hub, links, NODES);
	for (size_t i = 0; i < NODES; i++)
		tly_link_close(links[i]);
	tly_hub_close(hub);
}

Test(tls, refusals)
{
	paths();
	struct tly_hub *hub = hub_open_tls(hub_cert, hub_key);
	struct tly_tls_files node_files = {.cert = node_cert, .key = node_key, .ca = ca};
	struct tly_tls_files rogue_files = {.cert = rogue_cert, .key = rogue_key, .ca = ca};
	struct tly_tls_files distrustful = {.cert = node_cert, .key = node_key, .ca = otherca};
	struct tly_link *stranger, *rogue, *doubter, *good;

	/* TLS is fine, the key is not in the roster. */
	stranger = link_open("tls+tcp", tly_hub_port(hub), &node_files, &nodes[NODES]);
	cr_assert(saw(hub, NULL, "not in the roster", WAIT_MS), "%s", events);
	/* A certificate from another CA: TLS refuses it. */
	rogue = link_open("tls+tcp", tly_hub_port(hub), &rogue_files, &nodes[1]);
	cr_assert(saw(hub, NULL, "closed before HELLO", WAIT_MS), "%s", events);
	/* A TLS client with no certificate at all. */
	no_certificate(tly_hub_port(hub));
	/* A link that does not trust the hub's CA. */
	doubter = link_open("tls+tcp", tly_hub_port(hub), &distrustful, &nodes[2]);
	cr_assert_not(wait_ready(stranger, 1000));
	cr_assert_not(wait_ready(rogue, 10));
	cr_assert_not(wait_ready(doubter, 10));
	for (uint32_t id = 1; id <= NODES + 1; id++)
		cr_assert_not(tly_hub_connected(hub, id));
	hub_silent(hub, 100);
	events[0] = '\0';
	cr_assert(saw(NULL, doubter, "coordinator", WAIT_MS), "%s", events);

	/* And a proper node still gets in. */
	good = link_open("tls+tcp", tly_hub_port(hub), &node_files, &nodes[0]);
	cr_assert(wait_ready(good, WAIT_MS));
	exchange(hub, &good, 1);
	tly_link_close(good);
	tly_link_close(doubter);
	tly_link_close(rogue);
	tly_link_close(stranger);
	tly_hub_close(hub);
}

/* What transport.h says certificates must carry: mbedTLS 2.28 matches
 * the dialled name against dNSName entries only, so IP:127.0.0.1 alone
 * does not do for tls+tcp://127.0.0.1; server_name = "localhost" does. */
Test(tls, server_name_matching)
{
	paths();
	struct tly_hub *hub = hub_open_tls(ip_only_cert, ip_only_key);
	struct tly_tls_files by_ip = {.cert = node_cert, .key = node_key, .ca = ca};
	struct tly_tls_files by_name = {
	    .cert = node_cert, .key = node_key, .ca = ca, .server_name = "localhost"};
	struct tly_link *ip_link = link_open("tls+tcp", tly_hub_port(hub), &by_ip, &nodes[0]);
	struct tly_link *name_link = link_open("tls+tcp", tly_hub_port(hub), &by_name, &nodes[1]);

	cr_assert(wait_ready(name_link, WAIT_MS));
	cr_assert_not(wait_ready(ip_link, 1000));
	tly_link_close(ip_link);
	tly_link_close(name_link);
	tly_hub_close(hub);
}

Test(tls, https_api)
{
	paths();
	struct tly_tls_files server_files = {.cert = hub_cert, .key = hub_key, .ca = ca};
	struct tly_tls_files planner = {.cert = node_cert, .key = node_key, .ca = ca};
	struct tly_tls_files rogue = {.cert = rogue_cert, .key = rogue_key, .ca = ca};
	struct tly_tls_files distrustful = {.cert = node_cert, .key = node_key, .ca = otherca};
	char base[64], url[128];
	struct tly_http *http = http_open_at("https", &server_files, base, sizeof base);
	struct tly_http_request req;
	int status;
	uint8_t *response;
	size_t len;

	round_trip(http, base, &planner, "GET", "/v1/status", NULL, "GET /v1/status ");
	round_trip(http, base, &planner, "POST", "/v1/query", "{\"dataset\":\"patients\"}",
	           "POST /v1/query {\"dataset\":\"patients\"}");
	refusals(base, &planner);

	snprintf(url, sizeof url, "%s/v1/status", base);
	cr_assert_eq(tly_https_request(url, "GET", &rogue, NULL, 0, WAIT_MS, &status, &response,
	                               &len, why, sizeof why),
	             TLY_EIO, "%s", why);
	cr_assert_eq(tly_https_request(url, "GET", &distrustful, NULL, 0, WAIT_MS, &status,
	                               &response, &len, why, sizeof why),
	             TLY_EIO, "%s", why);
	cr_assert_eq(tly_https_request(url, "GET", NULL, NULL, 0, WAIT_MS, &status, &response, &len,
	                               why, sizeof why),
	             TLY_EINVAL);

	/* No certificate, and plain text on the TLS port: refused, and the
	 * server carries on. */
	no_certificate(tly_http_port(http));
	int fd = raw_connect(tly_http_port(http));
	raw_write(fd, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 36);
	cr_assert(raw_closed(fd, WAIT_MS));
	close(fd);
	cr_assert_eq(tly_http_next(http, &req, 100), TLY_ETIMEDOUT);
	round_trip(http, base, &planner, "GET", "/v1/after", NULL, "GET /v1/after ");
	tly_http_close(http);
}

/* A node cut off by the hub (a flooder): its connection closes, its unread
 * messages are dropped, its HELLO is refused while held off, and it is
 * back after the hold. Another node is untouched. */
Test(transport, disconnect_drops_unread_and_holds_off)
{
	struct tly_hub *hub = hub_open_plain();
	struct tly_link *rogue = link_open("tcp", tly_hub_port(hub), NULL, &nodes[0]);
	struct tly_link *honest = link_open("tcp", tly_hub_port(hub), NULL, &nodes[1]);
	cr_assert(wait_ready(rogue, WAIT_MS) && wait_ready(honest, WAIT_MS));
	for (int i = 0; i < 50; i++)
		cr_assert_eq(tly_link_send(rogue, (const uint8_t *)"junk", 4), TLY_OK);
	/* The first junk is read; then the rest are waiting unread. */
	hub_expect(hub, 1, "junk");
	dmn_pause_ms(1000); /* the other 49 reach the inbox (on a loaded machine, most) */
	size_t dropped = tly_hub_disconnect(hub, 1, 1500, "a test");
	cr_assert(dropped >= 1 && dropped <= 49, "%zu unread messages dropped", dropped);
	cr_log_info("%zu of 49 unread messages dropped", dropped);
	cr_assert(saw(hub, NULL, "node 1 disconnected", WAIT_MS));
	cr_assert(saw(hub, NULL, "of its messages dropped unread", WAIT_MS));
	cr_assert_not(tly_hub_connected(hub, 1));
	uint32_t from;
	uint8_t *msg;
	size_t len;
	cr_assert_eq(tly_hub_recv(hub, &from, &msg, &len, 200), TLY_ETIMEDOUT,
	             "nothing of it left");
	/* Held off: it redials and is refused. */
	cr_assert(saw(hub, NULL, "node 1 was disconnected and is held off", WAIT_MS));
	/* The other node still talks. */
	cr_assert(tly_hub_connected(hub, 2));
	cr_assert_eq(tly_link_send(honest, (const uint8_t *)"still here", 10), TLY_OK);
	hub_expect(hub, 2, "still here");
	/* After the hold it is welcomed again. */
	long end = dmn_now_ms() + WAIT_MS;
	while (!tly_hub_connected(hub, 1) && dmn_now_ms() < end)
		dmn_pause_ms(20);
	cr_assert(tly_hub_connected(hub, 1), "back after the hold");
	/* A node not connected: only the hold is set. */
	cr_assert_eq(tly_hub_disconnect(hub, 3, 10, "not here"), 0);
	tly_link_close(rogue);
	tly_link_close(honest);
	tly_hub_close(hub);
}

/* An HTTPS server that accepts and never answers (here: a listener that
 * never even accepts, so the TLS handshake hangs) must not hold the
 * client past its timeout. nng 1.5.2 times the request out, but closing
 * the connection then waited forever for a TLS send queued behind the
 * handshake: tly_https_request never returned, and `tally query
 * --timeout` with it; this test ran into its own 60 s timeout. Twice, so
 * that the request given up on (left to nng, see request_step in
 * net/transport_http.c) does not block the next one. */
Test(tls, https_client_times_out_on_a_silent_server, .timeout = 60)
{
	paths();
	struct tly_tls_files planner = {.cert = node_cert, .key = node_key, .ca = ca};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sa_len = sizeof sa;
	char url[64];
	int status;
	uint8_t *response;
	size_t len;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sa_len), 0);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/status", ntohs(sa.sin_port));
	for (int i = 0; i < 2; i++)
		cr_assert_eq(tly_https_request(url, "GET", &planner, NULL, 0, 1000, &status,
		                               &response, &len, why, sizeof why),
		             TLY_ETIMEDOUT, "%s", why);
	close(fd);
}
