/*
 * bench_transport - the transport alone, for the coordinator benchmarks to
 * compare against: messages of 8 * 10^4 bytes (a vector of d = 10^4 field
 * elements) sent by a hub to a link, which echoes them back, over tcp://
 * and over tls+tcp:// (mutual TLS, ECDSA P-256 certificates made in a
 * temporary folder with tly_pki_init/tly_pki_issue), all on loopback in
 * this process (the link's echo loop runs in a thread of its own).
 *
 * Rows (median of REPS runs):
 *   round_trip  one message out and back at a time: us per round trip,
 *               and MB/s of payload (both directions counted)
 *   windowed    WINDOW messages in flight: MB/s of payload, both ways
 * Baselines measured in the same run: for tcp, raw kernel TCP over
 * loopback doing the same echo with the same 4-byte length framing
 * (blocking sockets, a thread per side); for tls, the transport over tcp.
 *
 * Every transport row comes twice: with glibc's malloc as it is, then
 * with heap trimming off (mallopt M_TRIM_THRESHOLD and M_MMAP_THRESHOLD,
 * as LIMITS.md suggests for the daemons). nng's threads allocate the
 * received messages and the application frees them; with many in flight
 * glibc then trims and re-faults its heaps for every message (measured:
 * ~30 page faults and an madvise per 80 kB message, 5-8x slower windowed).
 * CSV on stdout in the format of timing.h. Runs in under a minute.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/timing.h"
#include "cli/pki.h"
#include "crypto/rng.h"
#include "net/transport.h"

enum {
	CELLS = 10000,
	SIZE = CELLS * 8,
	ROUND_TRIPS = 200, /* per run */
	WINDOW = 16,
	WINDOWED = 800, /* messages per run */
	REPS = 5,
	WAIT_MS = 10000,
};

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_transport: %s%s%s\n", what, why ? ": " : "", why ? why : "");
	exit(1);
}

/* ---- the two ends: transport or raw sockets ---- */

struct pair {
	struct tly_hub *hub;
	struct tly_link *link;
	int raw_client, raw_server; /* raw: the two ends of one TCP connection */
	pthread_t echo;
	atomic_int stop;
	uint8_t *out;
};

static void
raw_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			die("raw write", NULL);
		p += n;
		len -= (size_t)n;
	}
}

static int
raw_read(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n <= 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

static void
raw_send(int fd, const uint8_t *msg, size_t len)
{
	uint8_t head[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                   (uint8_t)len};

	raw_write(fd, head, sizeof head);
	raw_write(fd, msg, len);
}

static int
raw_recv(int fd, uint8_t *buf)
{
	uint8_t head[4];

	if (!raw_read(fd, head, sizeof head))
		return 0;
	size_t len = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
	if (len != SIZE)
		die("raw frame length", NULL);
	return raw_read(fd, buf, len);
}

static void *
echo_raw(void *arg)
{
	struct pair *p = arg;
	uint8_t *buf = malloc(SIZE);

	if (buf == NULL)
		die("out of memory", NULL);
	while (raw_recv(p->raw_server, buf))
		raw_send(p->raw_server, buf, SIZE);
	free(buf);
	return NULL;
}

static void *
echo_link(void *arg)
{
	struct pair *p = arg;
	uint8_t *msg;
	size_t len;

	while (!atomic_load(&p->stop)) {
		if (tly_link_recv(p->link, &msg, &len, 50) != TLY_OK)
			continue;
		if (tly_link_send(p->link, msg, len) != TLY_OK)
			die("link send", NULL);
		free(msg);
	}
	return NULL;
}

static void
pair_send(struct pair *p)
{
	if (p->hub == NULL)
		raw_send(p->raw_client, p->out, SIZE);
	else if (tly_hub_send(p->hub, 1, p->out, SIZE) != TLY_OK)
		die("hub send", NULL);
}

static void
pair_recv(struct pair *p)
{
	uint8_t *msg;
	uint32_t from;
	size_t len;

	if (p->hub == NULL) {
		uint8_t *buf = malloc(SIZE);
		if (buf == NULL || !raw_recv(p->raw_client, buf))
			die("raw echo", NULL);
		bench_consume(buf, SIZE);
		free(buf);
		return;
	}
	if (tly_hub_recv(p->hub, &from, &msg, &len, WAIT_MS) != TLY_OK || len != SIZE)
		die("hub receive", NULL);
	bench_consume(msg, len);
	free(msg);
}

static void
run_round_trips(void *arg)
{
	for (int i = 0; i < ROUND_TRIPS; i++) {
		pair_send(arg);
		pair_recv(arg);
	}
}

static void
run_windowed(void *arg)
{
	for (int i = 0; i < WINDOW; i++)
		pair_send(arg);
	for (int i = WINDOW; i < WINDOWED; i++) {
		pair_recv(arg);
		pair_send(arg);
	}
	for (int i = 0; i < WINDOW; i++)
		pair_recv(arg);
}

/* ---- set-up ---- */

static void
raw_open(struct pair *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sa_len = sizeof sa;
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&sa, &sa_len) != 0)
		die("raw listener", NULL);
	p->raw_client = socket(AF_INET, SOCK_STREAM, 0);
	if (p->raw_client < 0 || connect(p->raw_client, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    (p->raw_server = accept(listener, NULL, NULL)) < 0)
		die("raw connect", NULL);
	close(listener);
	setsockopt(p->raw_client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(p->raw_server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (pthread_create(&p->echo, NULL, echo_raw, p) != 0)
		die("thread", NULL);
}

static void
transport_open(struct pair *p, const char *scheme, const struct tly_tls_files *hub_tls,
               const struct tly_tls_files *link_tls, const struct tly_roster *roster,
               const struct tly_identity *node)
{
	char url[64], why[256];
	struct timespec pause = {.tv_nsec = 5000000};

	snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
	if (tly_hub_open(&p->hub, url, hub_tls, roster, why, sizeof why) != TLY_OK)
		die("hub", why);
	snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, tly_hub_port(p->hub));
	if (tly_link_open(&p->link, url, link_tls, node, why, sizeof why) != TLY_OK)
		die("link", why);
	for (int waited = 0; !tly_link_ready(p->link); waited += 5) {
		if (waited > WAIT_MS)
			die("link never ready", scheme);
		nanosleep(&pause, NULL);
	}
	if (pthread_create(&p->echo, NULL, echo_link, p) != 0)
		die("thread", NULL);
}

static void
pair_close(struct pair *p)
{
	if (p->hub == NULL) {
		shutdown(p->raw_client, SHUT_WR);
		pthread_join(p->echo, NULL);
		close(p->raw_client);
		close(p->raw_server);
		return;
	}
	atomic_store(&p->stop, 1);
	pthread_join(p->echo, NULL);
	tly_link_close(p->link);
	tly_hub_close(p->hub);
}

struct figures {
	double rt_us, rt_mbs, win_mbs;
};

static struct figures
measure(struct pair *p)
{
	double rt = bench_median(run_round_trips, p, REPS);
	double win = bench_median(run_windowed, p, REPS);

	return (struct figures){
	    .rt_us = rt / ROUND_TRIPS * 1e6,
	    .rt_mbs = 2.0 * SIZE * ROUND_TRIPS / rt / 1e6,
	    .win_mbs = 2.0 * SIZE * WINDOWED / win / 1e6,
	};
}

static void
report(const char *transport, const char *malloc_mode, const struct figures *f,
       const char *baseline, const struct figures *b)
{
	char params[96];

	snprintf(params, sizeof params, "%s d=%d bytes=%d malloc=%s", transport, CELLS, SIZE,
	         malloc_mode);
	bench_row("transport", "round_trip", params, f->rt_us, "us", baseline, b->rt_us);
	bench_row("transport", "round_trip_rate", params, f->rt_mbs, "MB/s", baseline, b->rt_mbs);
	snprintf(params, sizeof params, "%s d=%d bytes=%d malloc=%s window=%d", transport, CELLS,
	         SIZE, malloc_mode, WINDOW);
	bench_row("transport", "windowed", params, f->win_mbs, "MB/s", baseline, b->win_mbs);
}

struct setup {
	const struct tly_roster *roster;
	const struct tly_identity *node;
	const struct tly_tls_files *hub_tls, *node_tls;
	uint8_t *out;
};

/* The transport over tcp and tls+tcp, against raw TCP measured now. */
static void
transport_rows(const struct setup *s, const char *malloc_mode)
{
	struct pair raw = {.out = s->out}, tcp = {.out = s->out}, tls = {.out = s->out};
	struct figures f_raw, f_tcp, f_tls;

	raw_open(&raw);
	f_raw = measure(&raw);
	pair_close(&raw);
	transport_open(&tcp, "tcp", NULL, NULL, s->roster, s->node);
	f_tcp = measure(&tcp);
	pair_close(&tcp);
	transport_open(&tls, "tls+tcp", s->hub_tls, s->node_tls, s->roster, s->node);
	f_tls = measure(&tls);
	pair_close(&tls);
	report("tcp", malloc_mode, &f_tcp, "raw_tcp", &f_raw);
	report("tls+tcp", malloc_mode, &f_tls, "transport_tcp", &f_tcp);
}

static void
make_pki(char *dir, struct tly_tls_files *hub, struct tly_tls_files *node, char paths[6][256])
{
	static const char *const hosts[] = {"127.0.0.1"};
	char why[256];

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", NULL);
	if (tly_pki_init(dir, 1, NULL, why, sizeof why) != TLY_OK ||
	    tly_pki_issue(dir, "coordinator", TLY_PKI_COORDINATOR, hosts, 1, NULL, 1, why,
	                  sizeof why) != TLY_OK ||
	    tly_pki_issue(dir, "node1", TLY_PKI_NODE, NULL, 0, NULL, 1, why, sizeof why) != TLY_OK)
		die("certificates", why);
	snprintf(paths[0], 256, "%s/node-ca.crt", dir); /* one CA per role (cli/pki.h) */
	snprintf(paths[1], 256, "%s/coordinator.crt", dir);
	snprintf(paths[2], 256, "%s/coordinator.key", dir);
	snprintf(paths[3], 256, "%s/node1.crt", dir);
	snprintf(paths[4], 256, "%s/node1.key", dir);
	*hub = (struct tly_tls_files){.cert = paths[1], .key = paths[2], .ca = paths[0]};
	snprintf(paths[5], 256, "%s/coordinator-ca.crt", dir);
	*node = (struct tly_tls_files){.cert = paths[3], .key = paths[4], .ca = paths[5]};
}

static void
remove_pki(const char *dir, char paths[6][256])
{
	static const char *const rest[] = {"node-ca.key", "coordinator-ca.key", "planner-ca.key",
	                                   "planner-ca.crt"};
	char path[300];

	for (int i = 0; i < 6; i++)
		unlink(paths[i]);
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, rest[i]);
		unlink(path);
	}
	rmdir(dir);
}

int
main(void)
{
	struct tly_identity coordinator, node;
	struct tly_party party;
	struct tly_roster roster;
	struct tly_tls_files hub_tls, node_tls;
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	char dir[] = "/tmp/tally-bench-transport-XXXXXX", paths[6][256];
	if (tly_crypto_init() != TLY_OK || tly_identity_generate(&coordinator, 0, 0) != TLY_OK ||
	    tly_identity_generate(&node, 1, 1) != TLY_OK)
		die("identities", NULL);
	tly_identity_public(&node, &party);
	tly_sign_key_public(coordinator.sign, pk);
	if (tly_roster_init(&roster, pk, &party, 1) != TLY_OK)
		die("roster", NULL);
	make_pki(dir, &hub_tls, &node_tls, paths);
	uint8_t *out = malloc(SIZE);
	if (out == NULL)
		die("out of memory", NULL);
	for (size_t i = 0; i < SIZE; i++)
		out[i] = (uint8_t)(i * 131);
	struct setup setup = {.roster = &roster,
	                      .node = &node,
	                      .hub_tls = &hub_tls,
	                      .node_tls = &node_tls,
	                      .out = out};
	transport_rows(&setup, "default");
	if (mallopt(M_TRIM_THRESHOLD, 256 << 20) != 1 || mallopt(M_MMAP_THRESHOLD, 64 << 20) != 1)
		die("mallopt", NULL);
	transport_rows(&setup, "no-trim");

	free(out);
	remove_pki(dir, paths);
	tly_roster_fini(&roster);
	tly_identity_fini(&node);
	tly_identity_fini(&coordinator);
	return 0;
}
