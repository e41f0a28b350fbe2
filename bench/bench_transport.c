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
 * The channel rows (issue 14 §4, docs/CHANNEL.md) price the bytes of a
 * node link: messages of 80 kB and of 1 MB echoed as above, CHAN_WINDOW
 * in flight, heap trimming off, over
 *   tcp                    the transport over tcp://, the baseline
 *   tls+tcp                the transport over tls+tcp:// (nng's mbedTLS,
 *                          the same certificates as above)
 *   tcp+aes256gcm-openssl  tcp:// carrying AEAD frames sealed with
 *   tcp+aes256gcm-sodium   tly_aead (OpenSSL), libsodium's AES-256-GCM
 *   tcp+chacha20poly1305-ietf  (when the CPU has AES-NI) or its
 *                          ChaCha20-Poly1305: a key per direction from
 *                          crypto_kx, a 64-bit counter nonce, the frame
 *                          length as associated data; each end seals what
 *                          it sends and opens what it receives
 *   tcp+net/channel        the same with the prototype's frames
 *                          (net/channel.h: AES-256-GCM through tly_aead,
 *                          keys from X25519 and a transcript hash)
 *   cpu        CPU of the whole process (getrusage: both ends, nng's
 *              threads, user and system) per payload byte, ns/B
 *   rate       wall throughput, MB/s of payload, both directions counted
 *   cpu_added  cpu minus tcp's: what the channel itself costs, against
 *              what TLS adds (ratio < 1: cheaper than TLS)
 * All kinds are open at once and measured in turn, round by round, so
 * the ratios compare runs made under the same load.
 *
 * The handshake rows price a connection: a fresh link dialled to a hub
 * until WELCOME, over tcp (HELLO v1) and over tls+tcp (mbedTLS's
 * handshake, then HELLO v1), wall ms (median) and the process's CPU ms
 * (mean) over CONNECTS links; and the CPU of the crypto of the proposed handshake
 * (docs/CHANNEL.md §2: both sides, no I/O) against TLS's connect CPU.
 * CSV on stdout in the format of timing.h. Runs in about a minute.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/timing.h"
#include "cli/pki.h"
#include "crypto/aead.h"
#include "crypto/kx.h"
#include "net/channel.h"
#include "crypto/rng.h"
#include "net/transport.h"

enum {
	CELLS = 10000,
	SIZE = CELLS * 8,
	BIG = 1 << 20,     /* the channel rows' larger message */
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

/* A hub on loopback and a link to it, welcomed. */
static void
transport_connect(struct tly_hub **hub, struct tly_link **link, const char *scheme,
                  const struct tly_tls_files *hub_tls, const struct tly_tls_files *link_tls,
                  const struct tly_roster *roster, const struct tly_identity *node)
{
	char url[64], why[256];
	struct timespec pause = {.tv_nsec = 5000000};

	snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
	if (tly_hub_open(hub, url, hub_tls, roster, why, sizeof why) != TLY_OK)
		die("hub", why);
	snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, tly_hub_port(*hub));
	if (tly_link_open(link, url, link_tls, node, why, sizeof why) != TLY_OK)
		die("link", why);
	for (int waited = 0; !tly_link_ready(*link); waited += 5) {
		if (waited > WAIT_MS)
			die("link never ready", scheme);
		nanosleep(&pause, NULL);
	}
}

static void
transport_open(struct pair *p, const char *scheme, const struct tly_tls_files *hub_tls,
               const struct tly_tls_files *link_tls, const struct tly_roster *roster,
               const struct tly_identity *node)
{
	transport_connect(&p->hub, &p->link, scheme, hub_tls, link_tls, roster, node);
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
	const struct tly_identity *coordinator, *node;
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

/* ---- the channel rows: what the bytes cost, tcp, tls+tcp, AEAD frames ---- */

enum chan_alg {
	CHAN_PLAIN,      /* the transport over tcp:// or tls+tcp://, no frames of ours */
	CHAN_GCM_SSL,    /* AES-256-GCM through tly_aead (OpenSSL), tally's default AEAD */
	CHAN_GCM_SODIUM, /* libsodium's crypto_aead_aes256gcm (AES-NI and PCLMUL) */
	CHAN_CHACHA,     /* libsodium's crypto_aead_chacha20poly1305_ietf */
	CHAN_PROTO,      /* net/channel.c, the design's frames (AES-256-GCM via tly_aead) */
};

enum {
	CHAN_NONCE_BYTES = 12, /* 4 zero bytes, then the frame counter u64 big-endian */
	CHAN_TAG_BYTES = TLY_AEAD_TAG_BYTES,
	CHAN_WINDOW = 16,
};

_Static_assert(crypto_aead_aes256gcm_NPUBBYTES == CHAN_NONCE_BYTES, "gcm nonce");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == CHAN_NONCE_BYTES, "ietf nonce");
_Static_assert(crypto_aead_aes256gcm_ABYTES == CHAN_TAG_BYTES, "gcm tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == CHAN_TAG_BYTES, "ietf tag");
_Static_assert(crypto_kx_SESSIONKEYBYTES == TLY_AEAD_KEY_BYTES, "kx session keys");

/* One direction of a channel: its key and the counter of its next frame. */
struct chan_dir {
	uint8_t key[TLY_AEAD_KEY_BYTES];
	uint64_t counter;
};

/* One end's two directions and its buffers (each end is one thread). */
struct chan_end {
	struct chan_dir tx, rx;
	struct tly_channel ch;    /* CHAN_PROTO's two directions */
	uint8_t *sealed, *opened; /* size + TLY_CHANNEL_OVERHEAD, size */
};

struct chan {
	struct tly_hub *hub;
	struct tly_link *link;
	pthread_t echo;
	atomic_int stop;
	enum chan_alg alg;
	size_t size;
	long messages; /* per run, each sent and echoed */
	const uint8_t *plain;
	struct chan_end hub_end, link_end;
};

static void
chan_nonce(uint8_t nonce[static CHAN_NONCE_BYTES], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

/* The frame's length, authenticated as associated data. */
static void
chan_ad(uint8_t ad[static 4], size_t len)
{
	ad[0] = (uint8_t)(len >> 24);
	ad[1] = (uint8_t)(len >> 16);
	ad[2] = (uint8_t)(len >> 8);
	ad[3] = (uint8_t)len;
}

/* Seal len bytes of pt into ct (len + tag) under the next counter. */
static void
chan_seal(enum chan_alg alg, struct chan_dir *dir, uint8_t *ct, const uint8_t *pt, size_t len)
{
	uint8_t nonce[CHAN_NONCE_BYTES], ad[4];
	int rc = -1;

	chan_nonce(nonce, dir->counter++);
	chan_ad(ad, len + CHAN_TAG_BYTES);
	if (alg == CHAN_GCM_SSL)
		rc =
		    tly_aead_seal(TLY_AEAD_AES256GCM, ct, pt, len, ad, 4, nonce, dir->key) == TLY_OK
		        ? 0
		        : -1;
	else if (alg == CHAN_GCM_SODIUM)
		rc = crypto_aead_aes256gcm_encrypt(ct, NULL, pt, len, ad, 4, NULL, nonce, dir->key);
	else if (alg == CHAN_CHACHA)
		rc = crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, len, ad, 4, NULL,
		                                               nonce, dir->key);
	if (rc != 0)
		die("seal", NULL);
}

/* Open a frame of ct_len bytes into pt under the next counter: dies on
 * any failure (the run checks that every frame opens). */
static void
chan_open(enum chan_alg alg, struct chan_dir *dir, uint8_t *pt, const uint8_t *ct, size_t ct_len)
{
	uint8_t nonce[CHAN_NONCE_BYTES], ad[4];
	int rc = -1;

	chan_nonce(nonce, dir->counter++);
	chan_ad(ad, ct_len);
	if (alg == CHAN_GCM_SSL)
		rc = tly_aead_open(TLY_AEAD_AES256GCM, pt, ct, ct_len, ad, 4, nonce, dir->key) ==
		             TLY_OK
		         ? 0
		         : -1;
	else if (alg == CHAN_GCM_SODIUM)
		rc = crypto_aead_aes256gcm_decrypt(pt, NULL, NULL, ct, ct_len, ad, 4, nonce,
		                                   dir->key);
	else if (alg == CHAN_CHACHA)
		rc = crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, ad, 4,
		                                               nonce, dir->key);
	if (rc != 0)
		die("frame did not open", NULL);
}

static size_t
chan_wire_bytes(const struct chan *c)
{
	if (c->alg == CHAN_PLAIN)
		return c->size;
	return c->size + (c->alg == CHAN_PROTO ? TLY_CHANNEL_OVERHEAD : CHAN_TAG_BYTES);
}

/* Seal c->size bytes of pt into e->sealed, the next frame of e's end. */
static void
end_seal(const struct chan *c, struct chan_end *e, const uint8_t *pt)
{
	if (c->alg != CHAN_PROTO)
		chan_seal(c->alg, &e->tx, e->sealed, pt, c->size);
	else if (tly_channel_seal(&e->ch, e->sealed, TLY_CHANNEL_MESSAGE, pt, c->size) != TLY_OK)
		die("channel seal", NULL);
}

/* Open the next frame for e's end into e->opened; dies if it does not. */
static void
end_open(const struct chan *c, struct chan_end *e, const uint8_t *frame, size_t len)
{
	enum tly_channel_type type;
	size_t got;

	if (c->alg != CHAN_PROTO)
		chan_open(c->alg, &e->rx, e->opened, frame, len);
	else if (tly_channel_open(&e->ch, e->opened, &got, &type, frame, len) != TLY_OK ||
	         got != c->size || type != TLY_CHANNEL_MESSAGE)
		die("channel frame did not open", NULL);
}

/* The node's end: open what came, seal it again the other way, send it. */
static void
chan_echo_one(struct chan *c, uint8_t *msg, size_t len)
{
	struct chan_end *e = &c->link_end;

	if (len != chan_wire_bytes(c))
		die("channel frame length", NULL);
	if (c->alg != CHAN_PLAIN) {
		end_open(c, e, msg, len);
		end_seal(c, e, e->opened);
		msg = e->sealed;
	}
	if (tly_link_send(c->link, msg, len) != TLY_OK)
		die("link send", NULL);
}

static void *
chan_echo(void *arg)
{
	struct chan *c = arg;
	uint8_t *msg;
	size_t len;

	while (!atomic_load(&c->stop)) {
		if (tly_link_recv(c->link, &msg, &len, 50) != TLY_OK)
			continue;
		chan_echo_one(c, msg, len);
		free(msg);
	}
	return NULL;
}

static void
chan_send(struct chan *c)
{
	const uint8_t *msg = c->plain;

	if (c->alg != CHAN_PLAIN) {
		end_seal(c, &c->hub_end, c->plain);
		msg = c->hub_end.sealed;
	}
	if (tly_hub_send(c->hub, 1, msg, chan_wire_bytes(c)) != TLY_OK)
		die("hub send", NULL);
}

static void
chan_recv(struct chan *c)
{
	uint8_t *msg;
	uint32_t from;
	size_t len;

	if (tly_hub_recv(c->hub, &from, &msg, &len, WAIT_MS) != TLY_OK || len != chan_wire_bytes(c))
		die("hub receive", NULL);
	if (c->alg != CHAN_PLAIN) {
		end_open(c, &c->hub_end, msg, len);
		bench_consume(c->hub_end.opened, c->size);
	} else {
		bench_consume(msg, len);
	}
	free(msg);
}

static void
chan_windowed(struct chan *c)
{
	for (int i = 0; i < CHAN_WINDOW; i++)
		chan_send(c);
	for (long i = CHAN_WINDOW; i < c->messages; i++) {
		chan_recv(c);
		chan_send(c);
	}
	for (int i = 0; i < CHAN_WINDOW; i++)
		chan_recv(c);
}

/* CPU seconds of the whole process: both ends, the echo thread and nng's
 * I/O threads, user and system. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage", NULL);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Per-direction keys as crypto_kx derives them: the node is the client,
 * the hub the server; the node's tx key is the hub's rx key. */
static void
chan_keys(struct chan *c)
{
	uint8_t node_pk[crypto_kx_PUBLICKEYBYTES], node_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t hub_pk[crypto_kx_PUBLICKEYBYTES], hub_sk[crypto_kx_SECRETKEYBYTES];

	crypto_kx_keypair(node_pk, node_sk);
	crypto_kx_keypair(hub_pk, hub_sk);
	if (crypto_kx_client_session_keys(c->link_end.rx.key, c->link_end.tx.key, node_pk, node_sk,
	                                  hub_pk) != 0 ||
	    crypto_kx_server_session_keys(c->hub_end.rx.key, c->hub_end.tx.key, hub_pk, hub_sk,
	                                  node_pk) != 0)
		die("crypto_kx", NULL);
	sodium_memzero(node_sk, sizeof node_sk);
	sodium_memzero(hub_sk, sizeof hub_sk);
}

/* CHAN_PROTO's keys as docs/CHANNEL.md §2 makes them: X25519 of two fresh
 * ephemeral keys, the transcript hash of a handshake with a random
 * challenge (no signatures: the bench prices the frames, not the
 * handshake). */
static void
chan_proto_keys(struct chan *c, const struct tly_roster *roster)
{
	uint8_t e_c[TLY_KX_PUBLIC_BYTES], e_c_sk[TLY_KX_SECRET_BYTES], e_n[TLY_KX_PUBLIC_BYTES],
	    e_n_sk[TLY_KX_SECRET_BYTES], challenge[TLY_CHANNEL_CHALLENGE_BYTES],
	    shared[TLY_KX_SHARED_BYTES], th[TLY_CHANNEL_HASH_BYTES];

	tly_kx_keypair(e_c, e_c_sk);
	tly_kx_keypair(e_n, e_n_sk);
	randombytes_buf(challenge, sizeof challenge);
	if (tly_kx_x25519(shared, e_c_sk, e_n) != TLY_OK ||
	    tly_channel_transcript(th, roster->coordinator_pk, 1, challenge, e_c, e_n) != TLY_OK ||
	    tly_channel_init(&c->hub_end.ch, TLY_CHANNEL_COORDINATOR, shared, th) != TLY_OK ||
	    tly_channel_init(&c->link_end.ch, TLY_CHANNEL_NODE, shared, th) != TLY_OK)
		die("channel keys", NULL);
	sodium_memzero(e_c_sk, sizeof e_c_sk);
	sodium_memzero(e_n_sk, sizeof e_n_sk);
	sodium_memzero(shared, sizeof shared);
}

static void
chan_buffers(struct chan_end *e, size_t size)
{
	e->sealed = malloc(size + TLY_CHANNEL_OVERHEAD);
	e->opened = malloc(size);
	if (e->sealed == NULL || e->opened == NULL)
		die("out of memory", NULL);
}

/* Connect the channel and start its echo thread. */
static void
chan_start(struct chan *c, const struct setup *s, const char *scheme)
{
	int tls = strcmp(scheme, "tls+tcp") == 0;

	c->plain = s->out;
	c->messages = c->size > SIZE ? bench_pick(64, 8) : bench_pick(800, 80);
	chan_keys(c);
	chan_proto_keys(c, s->roster);
	chan_buffers(&c->hub_end, c->size);
	chan_buffers(&c->link_end, c->size);
	transport_connect(&c->hub, &c->link, scheme, tls ? s->hub_tls : NULL,
	                  tls ? s->node_tls : NULL, s->roster, s->node);
	if (pthread_create(&c->echo, NULL, chan_echo, c) != 0)
		die("thread", NULL);
}

static void
chan_stop(struct chan *c)
{
	atomic_store(&c->stop, 1);
	pthread_join(c->echo, NULL);
	tly_link_close(c->link);
	tly_hub_close(c->hub);
	free(c->hub_end.sealed);
	free(c->hub_end.opened);
	free(c->link_end.sealed);
	free(c->link_end.opened);
	sodium_memzero(&c->hub_end, sizeof c->hub_end);
	sodium_memzero(&c->link_end, sizeof c->link_end);
}

/* One run: CPU ns per payload byte and MB/s of payload, both directions. */
static void
chan_once(struct chan *c, double *cpu, double *rate)
{
	double bytes = 2.0 * (double)c->size * (double)c->messages;
	double wall = bench_now(), used = cpu_seconds();

	chan_windowed(c);
	*cpu = (cpu_seconds() - used) * 1e9 / bytes;
	*rate = bytes / (bench_now() - wall) / 1e6;
}

static const struct {
	const char *name, *scheme;
	enum chan_alg alg;
} chan_kinds[] = {
    {"tcp", "tcp", CHAN_PLAIN},
    {"tls+tcp", "tls+tcp", CHAN_PLAIN},
    {"tcp+aes256gcm-openssl", "tcp", CHAN_GCM_SSL},
    {"tcp+aes256gcm-sodium", "tcp", CHAN_GCM_SODIUM},
    {"tcp+chacha20poly1305-ietf", "tcp", CHAN_CHACHA},
    {"tcp+net/channel", "tcp", CHAN_PROTO},
};

enum { CHAN_KINDS = sizeof chan_kinds / sizeof chan_kinds[0] };

static double
median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof v[0], by_value);
	return v[n / 2];
}

/* Rows of one kind: against plain tcp measured in the same rounds; the
 * CPU a channel adds to tcp, against what TLS adds. */
static void
chan_report(int kind, size_t size, const double *cpu, const double *rate)
{
	char params[128];
	const char *name = chan_kinds[kind].name;
	const char *base = kind == 0 ? NULL : "tcp";

	snprintf(params, sizeof params, "%s bytes=%zu window=%d malloc=no-trim", name, size,
	         CHAN_WINDOW);
	bench_row("channel", "cpu", params, cpu[kind], "ns/B", base, cpu[0]);
	bench_row("channel", "rate", params, rate[kind], "MB/s", base, rate[0]);
	if (kind > 0)
		bench_row("channel", "cpu_added", params, cpu[kind] - cpu[0], "ns/B",
		          kind > 1 ? "tls+tcp_added" : NULL, cpu[1] - cpu[0]);
}

static int
chan_skip(int kind)
{
	return chan_kinds[kind].alg == CHAN_GCM_SODIUM && !crypto_aead_aes256gcm_is_available();
}

/* Every kind open at once and measured in turn, REPS rounds (one in the
 * short pass) after a warm-up: a busy machine slows them all alike. */
static void
chan_rows(const struct setup *s, size_t size)
{
	static struct chan chans[CHAN_KINDS];
	double cpu[CHAN_KINDS][REPS], rate[CHAN_KINDS][REPS], cpu_med[CHAN_KINDS] = {0},
	                                                      rate_med[CHAN_KINDS] = {0};
	int reps = (int)bench_pick(REPS, 1);

	for (int k = 0; k < CHAN_KINDS; k++) {
		if (chan_skip(k))
			continue;
		memset(&chans[k], 0, sizeof chans[k]);
		chans[k].alg = chan_kinds[k].alg;
		chans[k].size = size;
		chan_start(&chans[k], s, chan_kinds[k].scheme);
		chan_windowed(&chans[k]);
	}
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < CHAN_KINDS; k++)
			if (!chan_skip(k))
				chan_once(&chans[k], &cpu[k][r], &rate[k][r]);
	for (int k = 0; k < CHAN_KINDS; k++) {
		if (chan_skip(k))
			continue;
		cpu_med[k] = median_of(cpu[k], reps);
		rate_med[k] = median_of(rate[k], reps);
		chan_stop(&chans[k]);
	}
	for (int k = 0; k < CHAN_KINDS; k++)
		if (!chan_skip(k))
			chan_report(k, size, cpu_med, rate_med);
}

/* ---- the handshake rows: what a connection costs to set up ---- */

enum {
	CONNECTS = 20,    /* fresh links dialled per kind */
	HANDSHAKES = 200, /* proposed handshakes computed per run */
	T_BYTES = TLY_SIGN_PUBLIC_BYTES + 4 + TLY_CHANNEL_CHALLENGE_BYTES + 2 * TLY_KX_PUBLIC_BYTES,
};

/* Dial the hub with a fresh link and wait for WELCOME: wall seconds, and
 * the process's CPU seconds in *cpu (both ends, nng's threads). */
static double
dial_once(struct tly_hub *hub, const char *scheme, const struct tly_tls_files *tls,
          const struct tly_identity *node, double *cpu)
{
	char url[64], why[256];
	struct tly_link *link;
	struct timespec pause = {.tv_nsec = 1000000};
	double start = bench_now(), used = cpu_seconds(), wall;

	snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, tly_hub_port(hub));
	if (tly_link_open(&link, url, tls, node, why, sizeof why) != TLY_OK)
		die("link", why);
	while (!tly_link_ready(link)) {
		if (bench_now() - start > WAIT_MS / 1e3)
			die("link never ready", scheme);
		nanosleep(&pause, NULL);
	}
	wall = bench_now() - start;
	*cpu = cpu_seconds() - used;
	tly_link_close(link);
	return wall;
}

/* Over CONNECTS fresh links (3 in the short pass) to one hub: the median
 * wall ms to WELCOME, the mean CPU ms. */
static void
connect_cost(const struct setup *s, const char *scheme, double *wall_ms, double *cpu_ms)
{
	int tls = strcmp(scheme, "tls+tcp") == 0, count = (int)bench_pick(CONNECTS, 3);
	double wall[CONNECTS], cpu[CONNECTS];
	char url[64], why[256];
	struct tly_hub *hub;

	snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
	if (tly_hub_open(&hub, url, tls ? s->hub_tls : NULL, s->roster, why, sizeof why) != TLY_OK)
		die("hub", why);
	for (int i = 0; i < count; i++)
		wall[i] = dial_once(hub, scheme, tls ? s->node_tls : NULL, s->node, &cpu[i]);
	tly_hub_close(hub);
	*wall_ms = median_of(wall, count) * 1e3;
	*cpu_ms = 0;
	for (int i = 0; i < count; i++)
		*cpu_ms += cpu[i] * 1e3 / count; /* the mean: robust to a coarse clock */
}

/* label || T, the bytes either side of the proposed handshake signs. */
static size_t
signed_bytes(uint8_t *out, const char *label, const uint8_t t[static T_BYTES])
{
	size_t len = strlen(label);

	memcpy(out, label, len);
	memcpy(out + len, t, T_BYTES);
	return len + T_BYTES;
}

/* T = coordinator_pk || id || challenge || E_c || E_n (docs/CHANNEL.md §2). */
static void
transcript_bytes(uint8_t t[static T_BYTES], const struct setup *s, const uint8_t *challenge,
                 const uint8_t *e_c, const uint8_t *e_n)
{
	uint8_t *p = t;

	memcpy(p, s->roster->coordinator_pk, TLY_SIGN_PUBLIC_BYTES);
	p += TLY_SIGN_PUBLIC_BYTES;
	memcpy(p, (const uint8_t[4]){0, 0, 0, 1}, 4);
	p += 4;
	memcpy(p, challenge, TLY_CHANNEL_CHALLENGE_BYTES);
	p += TLY_CHANNEL_CHALLENGE_BYTES;
	memcpy(p, e_c, TLY_KX_PUBLIC_BYTES);
	memcpy(p + TLY_KX_PUBLIC_BYTES, e_n, TLY_KX_PUBLIC_BYTES);
}

/* One side's keys: the X25519 output and the transcript hash. */
static void
side_keys(struct tly_channel *ch, enum tly_channel_role role, const struct setup *s,
          const uint8_t *my_sk, const uint8_t *peer, const uint8_t *challenge, const uint8_t *e_c,
          const uint8_t *e_n)
{
	uint8_t shared[TLY_KX_SHARED_BYTES], th[TLY_CHANNEL_HASH_BYTES];

	if (tly_kx_x25519(shared, my_sk, peer) != TLY_OK ||
	    tly_channel_transcript(th, s->roster->coordinator_pk, 1, challenge, e_c, e_n) !=
	        TLY_OK ||
	    tly_channel_init(ch, role, shared, th) != TLY_OK)
		die("handshake keys", NULL);
	sodium_memzero(shared, sizeof shared);
}

/* Both sides' crypto of one proposed handshake, no I/O: two ephemeral
 * key pairs, two X25519, two transcripts and key derivations, two
 * Ed25519 signatures made and verified. */
static void
handshake_once(const struct setup *s)
{
	uint8_t e_c[32], e_c_sk[32], e_n[32], e_n_sk[32], challenge[32], t[T_BYTES];
	uint8_t msg[64 + T_BYTES], sig[TLY_SIGN_BYTES];
	struct tly_channel hub_ch, node_ch;
	size_t len;

	tly_kx_keypair(e_c, e_c_sk); /* CHALLENGE2 */
	randombytes_buf(challenge, sizeof challenge);
	tly_kx_keypair(e_n, e_n_sk); /* HELLO2 */
	transcript_bytes(t, s, challenge, e_c, e_n);
	side_keys(&node_ch, TLY_CHANNEL_NODE, s, e_n_sk, e_c, challenge, e_c, e_n);
	len = signed_bytes(msg, "tally/chan-hello/v1", t);
	if (tly_sign(sig, s->node->sign, msg, len) != TLY_OK ||
	    tly_sign_verify(sig, msg, len, tly_roster_sign_pk(s->roster, 1)) != TLY_OK)
		die("HELLO2", NULL);
	side_keys(&hub_ch, TLY_CHANNEL_COORDINATOR, s, e_c_sk, e_n, challenge, e_c, e_n);
	len = signed_bytes(msg, "tally/chan-welcome/v1", t); /* WELCOME2 */
	if (tly_sign(sig, s->coordinator->sign, msg, len) != TLY_OK ||
	    tly_sign_verify(sig, msg, len, s->roster->coordinator_pk) != TLY_OK)
		die("WELCOME2", NULL);
	bench_consume(hub_ch.tx.key, sizeof hub_ch.tx.key);
	bench_consume(node_ch.rx.key, sizeof node_ch.rx.key);
	tly_channel_fini(&hub_ch);
	tly_channel_fini(&node_ch);
	sodium_memzero(e_c_sk, sizeof e_c_sk);
	sodium_memzero(e_n_sk, sizeof e_n_sk);
}

/* CPU ms per proposed handshake: the median of REPS runs (one in the
 * short pass) of HANDSHAKES, after a warm-up run. */
static double
handshake_cpu_ms(const struct setup *s)
{
	double cpu[REPS];
	int reps = (int)bench_pick(REPS, 1);

	for (int r = -1; r < reps; r++) {
		double used = cpu_seconds();
		for (int i = 0; i < HANDSHAKES; i++)
			handshake_once(s);
		if (r >= 0)
			cpu[r] = (cpu_seconds() - used) / HANDSHAKES * 1e3;
	}
	return median_of(cpu, reps);
}

/* Connecting over tcp (HELLO v1) and tls+tcp (mbedTLS, then HELLO v1),
 * and the CPU of the proposed handshake's crypto alone, per connection. */
static void
handshake_rows(const struct setup *s)
{
	double tcp_wall, tcp_cpu, tls_wall, tls_cpu, v2_cpu;

	connect_cost(s, "tcp", &tcp_wall, &tcp_cpu);
	connect_cost(s, "tls+tcp", &tls_wall, &tls_cpu);
	v2_cpu = handshake_cpu_ms(s);
	bench_row("handshake", "connect", "tcp hello=v1", tcp_wall, "ms", NULL, 0);
	bench_row("handshake", "connect", "tls+tcp hello=v1", tls_wall, "ms", "tcp", tcp_wall);
	bench_row("handshake", "connect_cpu", "tcp hello=v1", tcp_cpu, "ms", NULL, 0);
	bench_row("handshake", "connect_cpu", "tls+tcp hello=v1", tls_cpu, "ms", "tcp", tcp_cpu);
	bench_row("handshake", "crypto_cpu", "proposed v2 both sides", v2_cpu, "ms",
	          "tls+tcp_connect", tls_cpu);
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
	uint8_t *out = malloc(BIG);
	if (out == NULL)
		die("out of memory", NULL);
	for (size_t i = 0; i < BIG; i++)
		out[i] = (uint8_t)(i * 131);
	struct setup setup = {.roster = &roster,
	                      .coordinator = &coordinator,
	                      .node = &node,
	                      .hub_tls = &hub_tls,
	                      .node_tls = &node_tls,
	                      .out = out};
	transport_rows(&setup, "default");
	if (mallopt(M_TRIM_THRESHOLD, 256 << 20) != 1 || mallopt(M_MMAP_THRESHOLD, 64 << 20) != 1)
		die("mallopt", NULL);
	transport_rows(&setup, "no-trim");
	chan_rows(&setup, SIZE);
	chan_rows(&setup, BIG);
	handshake_rows(&setup);

	free(out);
	remove_pki(dir, paths);
	tly_roster_fini(&roster);
	tly_identity_fini(&node);
	tly_identity_fini(&coordinator);
	return 0;
}
