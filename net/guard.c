/*
 * guard.c - the TCP guard in front of the API (guard.h).
 *
 * One thread runs an epoll loop, level-triggered. Each connection is
 * registered twice (client and upstream), with the connection's address
 * and a tag bit in the event data. Interest is recomputed after every
 * event from the buffers: read a side while the buffer towards the other
 * side has room, write a side while the buffer towards it has bytes.
 * Pending connections sit in a list in accept order, so the oldest is at
 * the head for handshake deadlines and eviction.
 */
#define _GNU_SOURCE
#include "net/guard.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	EVENTS_MAX = 256,
	ACCEPT_BURST = 256,   /* accepts per wake-up, so relaying goes on */
	ACCEPT_PAUSE_MS = 50, /* after an accept error (EMFILE) */
	TICK_MS = 100,        /* deadlines are checked this often */
	TAG_UPSTREAM = 1,
	DATA_LISTENER = 0, /* event data that is not a connection */
	DATA_GONE = 1,
	DATA_WAKE = 2,
	HOST_MAX = 256,
};

struct pipe_buf {
	uint8_t *bytes; /* TLY_GUARD_BUF_BYTES, allocated on first use */
	size_t off, len;
	int eof; /* the reading side ended; shut the writing side once empty */
};

struct gconn {
	struct gconn *prev, *next; /* pending list, or the established list */
	int cfd, ufd;
	int pending;
	int connecting;         /* ufd's connect in progress */
	uint64_t since;         /* accept time (pending) / last byte (established) */
	struct pipe_buf to_up;  /* client -> server */
	struct pipe_buf to_cli; /* server -> client */
	uint32_t cev, uev;      /* registered interest */
	struct tly_guard_scan scan;
};

struct list {
	struct gconn *head, *tail;
};

struct tly_guard {
	struct tly_guard_limits lim;
	int lfd, efd, wake;
	int port;
	struct sockaddr_in upstream;
	pthread_t thread;
	int started;
	uint64_t accept_paused_until;
	struct list pending, established;
	struct epoll_event events[EVENTS_MAX]; /* the batch being handled */
	int n_events;
	pthread_mutex_t mtx; /* stats */
	struct tly_guard_stats stats;
};

/* ---- the TLS record scan ---- */

int
tly_guard_scan_feed(struct tly_guard_scan *s, const uint8_t *bytes, size_t len)
{
	while (len > 0 && !s->done) {
		if (s->skip > 0) {
			size_t n = len < s->skip ? len : s->skip;
			s->skip -= (uint32_t)n;
			bytes += n;
			len -= n;
			continue;
		}
		s->head[s->have++] = *bytes++;
		len--;
		if (s->have < sizeof s->head)
			continue;
		s->have = 0;
		uint32_t body = (uint32_t)s->head[3] << 8 | s->head[4];
		if (s->head[0] < 20 || s->head[0] > 23 || s->head[1] != 3 || body == 0 ||
		    body > TLY_GUARD_RECORD_MAX)
			return -1;
		s->done = s->head[0] == 23;
		s->skip = body;
	}
	return s->done;
}

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
list_remove(struct list *l, struct gconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
list_append(struct list *l, struct gconn *c)
{
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
count(struct tly_guard *g, uint64_t *counter, int open_delta, int pending_delta)
{
	pthread_mutex_lock(&g->mtx);
	if (counter != NULL)
		(*counter)++;
	g->stats.open = (uint32_t)((int)g->stats.open + open_delta);
	g->stats.pending = (uint32_t)((int)g->stats.pending + pending_delta);
	pthread_mutex_unlock(&g->mtx);
}

static void
conn_close(struct tly_guard *g, struct gconn *c, uint64_t *reason)
{
	/* Later events of this batch for c: dropped (marked DATA_GONE). */
	for (int i = 0; i < g->n_events; i++)
		if ((g->events[i].data.u64 & ~(uint64_t)TAG_UPSTREAM) == (uint64_t)(uintptr_t)c)
			g->events[i].data.u64 = DATA_GONE;
	list_remove(c->pending ? &g->pending : &g->established, c);
	count(g, reason, -1, c->pending ? -1 : 0);
	close(c->cfd); /* also drops it from the epoll set */
	if (c->ufd >= 0)
		close(c->ufd);
	free(c->to_up.bytes);
	free(c->to_cli.bytes);
	free(c);
}

static void
set_interest(struct tly_guard *g, struct gconn *c, int fd, uint32_t *have, uint32_t want,
             uint64_t tag)
{
	struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)(uintptr_t)c | tag};

	if (*have == want)
		return;
	(void)epoll_ctl(g->efd, EPOLL_CTL_MOD, fd, &ev);
	*have = want;
}

/* Interest from the buffers' state (see the top of the file). */
static void
update(struct tly_guard *g, struct gconn *c)
{
	uint32_t cw = 0, uw = 0;

	if (!c->to_up.eof && c->to_up.len < TLY_GUARD_BUF_BYTES)
		cw |= EPOLLIN;
	if (c->to_cli.len > 0)
		cw |= EPOLLOUT;
	set_interest(g, c, c->cfd, &c->cev, cw, 0);
	if (c->ufd < 0)
		return;
	if (c->connecting) {
		uw = EPOLLOUT;
	} else {
		if (!c->to_cli.eof && c->to_cli.len < TLY_GUARD_BUF_BYTES)
			uw |= EPOLLIN;
		if (c->to_up.len > 0)
			uw |= EPOLLOUT;
	}
	set_interest(g, c, c->ufd, &c->uev, uw, TAG_UPSTREAM);
}

/* ---- relaying ---- */

static int
dial(struct tly_guard *g, struct gconn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT,
	                         .data.u64 = (uint64_t)(uintptr_t)c | TAG_UPSTREAM};

	c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->ufd < 0)
		return -1;
	if (connect(c->ufd, (const struct sockaddr *)&g->upstream, sizeof g->upstream) != 0 &&
	    errno != EINPROGRESS)
		return -1;
	c->connecting = 1;
	c->uev = EPOLLOUT;
	return epoll_ctl(g->efd, EPOLL_CTL_ADD, c->ufd, &ev);
}

static void
establish(struct tly_guard *g, struct gconn *c)
{
	list_remove(&g->pending, c);
	c->pending = 0;
	list_append(&g->established, c);
	count(g, NULL, 0, -1);
}

/* Read from fd into b: 1 on progress (*fresh, *n: the new bytes; *n = 0
 * at EOF), 0 on nothing (EAGAIN), -1 on error. */
static int
fill(int fd, struct pipe_buf *b, const uint8_t **fresh, size_t *n_fresh)
{
	if (b->bytes == NULL && (b->bytes = malloc(TLY_GUARD_BUF_BYTES)) == NULL)
		return -1;
	if (b->eof || b->len == TLY_GUARD_BUF_BYTES)
		return 0; /* a hang-up seen while not reading */
	if (b->off > 0 && b->len > 0)
		memmove(b->bytes, b->bytes + b->off, b->len);
	b->off = 0;
	ssize_t n = read(fd, b->bytes + b->len, TLY_GUARD_BUF_BYTES - b->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	*fresh = b->bytes + b->len;
	*n_fresh = (size_t)n;
	b->len += (size_t)n;
	b->eof = n == 0;
	return 1;
}

/* Write b to fd; once it is empty after EOF, shut fd's writing side. */
static int
drain(int fd, struct pipe_buf *b)
{
	if (b->len > 0) {
		ssize_t n = send(fd, b->bytes + b->off, b->len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		b->off += (size_t)n;
		b->len -= (size_t)n;
	}
	if (b->len == 0 && b->eof)
		(void)shutdown(fd, SHUT_WR);
	return 1;
}

static int
client_readable(struct tly_guard *g, struct gconn *c)
{
	const uint8_t *fresh = NULL;
	size_t n = 0;
	int rv = fill(c->cfd, &c->to_up, &fresh, &n);

	if (rv <= 0)
		return rv;
	if (c->pending && n > 0) {
		int seen = g->lim.tls ? tly_guard_scan_feed(&c->scan, fresh, n) : 1;
		if (seen < 0)
			return -1; /* not TLS */
		if (seen > 0)
			establish(g, c);
	}
	if (c->pending && c->to_up.eof)
		return -1; /* ended its side before the handshake */
	if (c->ufd < 0 && dial(g, c) != 0)
		return -1;
	return 1;
}

static int
upstream_ready(struct gconn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		return -1;
	c->connecting = 0;
	return 1;
}

/* One side's events; -1 closes the connection. */
static int
on_event(struct tly_guard *g, struct gconn *c, int upstream, uint32_t events)
{
	const uint8_t *fresh;
	size_t n;
	int rv = 1;

	if (!upstream) {
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rv = client_readable(g, c);
		if (rv >= 0 && (events & EPOLLOUT))
			rv = drain(c->cfd, &c->to_cli);
	} else if (c->connecting) {
		rv = upstream_ready(c);
	} else {
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rv = fill(c->ufd, &c->to_cli, &fresh, &n);
		if (rv >= 0 && (events & EPOLLOUT))
			rv = drain(c->ufd, &c->to_up);
	}
	if (rv < 0)
		return -1;
	if (!c->pending)
		c->since = now_ms();
	/* Flush what can go at once (the other side is usually writable). */
	if (c->ufd >= 0 && !c->connecting && drain(c->ufd, &c->to_up) < 0)
		return -1;
	if (drain(c->cfd, &c->to_cli) < 0)
		return -1;
	/* Both directions ended and flushed: done. */
	if (c->to_up.eof && c->to_cli.eof && c->to_up.len == 0 && c->to_cli.len == 0)
		return -1;
	update(g, c);
	return 0;
}

static void
handle(struct tly_guard *g, int i)
{
	uint64_t data = g->events[i].data.u64;
	struct gconn *c = (struct gconn *)(uintptr_t)(data & ~(uint64_t)TAG_UPSTREAM);

	if (on_event(g, c, (int)(data & TAG_UPSTREAM), g->events[i].events) < 0)
		conn_close(g, c, NULL);
}

/* ---- accepting ---- */

static void
admit(struct tly_guard *g, int fd)
{
	struct gconn *c;
	struct epoll_event ev = {.events = EPOLLIN};

	if (g->stats.open >= g->lim.max_conns) {
		if (g->pending.head == NULL) {
			count(g, &g->stats.refused, 0, 0); /* first: the client may look at once */
			close(fd);
			return;
		}
		conn_close(g, g->pending.head, &g->stats.evicted);
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		count(g, &g->stats.refused, 0, 0);
		close(fd);
		return;
	}
	c->cfd = fd;
	c->ufd = -1;
	c->pending = 1;
	c->since = now_ms();
	c->cev = EPOLLIN;
	ev.data.u64 = (uint64_t)(uintptr_t)c;
	if (epoll_ctl(g->efd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		count(g, &g->stats.refused, 0, 0);
		close(fd);
		free(c);
		return;
	}
	list_append(&g->pending, c);
	count(g, &g->stats.accepted, 1, 1);
}

static void
accept_some(struct tly_guard *g)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(g->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(g, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		/* Out of descriptors, say: make room from the pending, else pause
		 * rather than spin on a listener that stays readable. */
		count(g, &g->stats.accept_failed, 0, 0);
		if (g->pending.head != NULL) {
			conn_close(g, g->pending.head, &g->stats.evicted);
			continue;
		}
		g->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
		struct epoll_event ev = {.events = 0, .data.u64 = 0};
		(void)epoll_ctl(g->efd, EPOLL_CTL_MOD, g->lfd, &ev);
		return;
	}
}

/* ---- deadlines and the loop ---- */

static void
expire(struct tly_guard *g, uint64_t now)
{
	while (g->pending.head != NULL && now - g->pending.head->since >= g->lim.handshake_ms)
		conn_close(g, g->pending.head, &g->stats.timed_out);
	for (struct gconn *c = g->established.head, *next; c != NULL; c = next) {
		next = c->next;
		if (now - c->since >= g->lim.idle_ms)
			conn_close(g, c, &g->stats.timed_out);
	}
	if (g->accept_paused_until != 0 && now >= g->accept_paused_until) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
		g->accept_paused_until = 0;
		(void)epoll_ctl(g->efd, EPOLL_CTL_MOD, g->lfd, &ev);
	}
}

static void *
run(void *arg)
{
	struct tly_guard *g = arg;
	uint64_t last_tick = now_ms();

	for (;;) {
		g->n_events = epoll_wait(g->efd, g->events, EVENTS_MAX, TICK_MS);
		for (int i = 0; i < g->n_events; i++) {
			uint64_t data = g->events[i].data.u64;
			if (data == DATA_LISTENER)
				accept_some(g);
			else if (data == DATA_WAKE)
				return NULL;
			else if (data != DATA_GONE)
				handle(g, i);
		}
		int idle = g->n_events <= 0;
		g->n_events = 0;
		uint64_t now = now_ms();
		if (idle || now - last_tick >= TICK_MS) {
			expire(g, now);
			last_tick = now;
		}
	}
}

/* ---- open and close ---- */

/* "https://HOST:PORT" (or http, [v6]) into host and port. */
static tly_err
split_url(const char *url, char host[static HOST_MAX], char port[static 8])
{
	const char *p = strstr(url, "://"), *end, *hstart, *hend, *colon;

	if (p == NULL)
		return TLY_EINVAL;
	p += 3;
	end = p + strcspn(p, "/");
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (hend == NULL || hend + 1 >= end || hend[1] != ':')
			return TLY_EINVAL;
		hstart = p + 1;
		colon = hend + 1;
	} else if ((colon = memrchr(p, ':', (size_t)(end - p))) == NULL) {
		return TLY_EINVAL;
	} else {
		hstart = p;
		hend = colon;
	}
	size_t plen = (size_t)(end - colon - 1), hlen = (size_t)(hend - hstart);
	if (plen == 0 || plen >= 8 || hlen >= HOST_MAX)
		return TLY_EINVAL;
	memcpy(port, colon + 1, plen);
	port[plen] = '\0';
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	return TLY_OK;
}

static tly_err
guard_listen(struct tly_guard *g, const char *url, char *why, size_t why_len)
{
	char host[HOST_MAX], port[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	struct sockaddr_storage sa;
	socklen_t sa_len = sizeof sa;
	int one = 1;

	if (split_url(url, host, port) != TLY_OK) {
		snprintf(why, why_len, "%s: not SCHEME://HOST:PORT", url);
		return TLY_EINVAL;
	}
	int grv = getaddrinfo(*host != '\0' ? host : NULL, port, &hints, &ai);
	if (grv != 0) {
		snprintf(why, why_len, "%s: %s", url, gai_strerror(grv));
		return TLY_EINVAL;
	}
	g->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->lfd < 0 || setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(g->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(g->lfd, SOMAXCONN) != 0 ||
	    getsockname(g->lfd, (struct sockaddr *)&sa, &sa_len) != 0) {
		snprintf(why, why_len, "cannot listen on %s: %s", url, strerror(errno));
		freeaddrinfo(ai);
		return TLY_EIO;
	}
	freeaddrinfo(ai);
	g->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
	                                         : ((struct sockaddr_in *)&sa)->sin_port);
	return TLY_OK;
}

static tly_err
guard_start(struct tly_guard *g)
{
	struct epoll_event lev = {.events = EPOLLIN, .data.u64 = DATA_LISTENER};
	struct epoll_event wev = {.events = EPOLLIN, .data.u64 = DATA_WAKE};

	if ((g->efd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (g->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    epoll_ctl(g->efd, EPOLL_CTL_ADD, g->lfd, &lev) != 0 ||
	    epoll_ctl(g->efd, EPOLL_CTL_ADD, g->wake, &wev) != 0)
		return TLY_EIO;
	if (pthread_create(&g->thread, NULL, run, g) != 0)
		return TLY_ENOMEM;
	g->started = 1;
	return TLY_OK;
}

tly_err
tly_guard_open(struct tly_guard **out, const char *url, int upstream_port,
               const struct tly_guard_limits *limits, char *why, size_t why_len)
{
	struct tly_guard *g;
	tly_err rv;

	TLY_REQUIRE(out != NULL && url != NULL && limits != NULL);
	if (limits->max_conns == 0 || limits->handshake_ms == 0 || limits->idle_ms == 0 ||
	    upstream_port <= 0 || upstream_port > 65535) {
		snprintf(why, why_len, "guard: a limit is 0 or the upstream port is bad");
		return TLY_EINVAL;
	}
	if ((g = calloc(1, sizeof *g)) == NULL)
		return TLY_ENOMEM;
	g->lim = *limits;
	g->lfd = g->efd = g->wake = -1;
	pthread_mutex_init(&g->mtx, NULL);
	g->upstream.sin_family = AF_INET;
	g->upstream.sin_port = htons((uint16_t)upstream_port);
	g->upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((rv = guard_listen(g, url, why, why_len)) != TLY_OK ||
	    (rv = guard_start(g)) != TLY_OK) {
		if (rv != TLY_EINVAL && why != NULL && *why == '\0')
			snprintf(why, why_len, "guard: %s", strerror(errno));
		tly_guard_close(g);
		return rv;
	}
	*out = g;
	return TLY_OK;
}

int
tly_guard_port(const struct tly_guard *guard)
{
	return guard->port;
}

void
tly_guard_stats(struct tly_guard *guard, struct tly_guard_stats *out)
{
	pthread_mutex_lock(&guard->mtx);
	*out = guard->stats;
	pthread_mutex_unlock(&guard->mtx);
}

void
tly_guard_close(struct tly_guard *g)
{
	if (g == NULL)
		return;
	if (g->started) {
		uint64_t one = 1;
		if (write(g->wake, &one, sizeof one) != (ssize_t)sizeof one)
			abort(); /* an eventfd write cannot fail here */
		pthread_join(g->thread, NULL);
	}
	while (g->pending.head != NULL)
		conn_close(g, g->pending.head, NULL);
	while (g->established.head != NULL)
		conn_close(g, g->established.head, NULL);
	if (g->wake >= 0)
		close(g->wake);
	if (g->efd >= 0)
		close(g->efd);
	if (g->lfd >= 0)
		close(g->lfd);
	pthread_mutex_destroy(&g->mtx);
	free(g);
}
