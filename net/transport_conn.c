/*
 * transport_conn.c - stations and framed connections over nng_stream, for
 * the hub and the link. See transport_impl.h for the locking and lifetime
 * rules.
 */
#include "net/transport_impl.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rx_done(void *arg);
static void tx_done(void *arg);

static void
peer_name(nng_stream *stream, char *out, size_t len)
{
	nng_sockaddr sa;
	char host[INET6_ADDRSTRLEN];

	if (nng_stream_get_addr(stream, NNG_OPT_REMADDR, &sa) != 0) {
		snprintf(out, len, "an unknown peer");
		return;
	}
	switch (sa.s_family) {
	case NNG_AF_INET:
		inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof host);
		snprintf(out, len, "%s:%u", host, (unsigned)ntohs(sa.s_in.sa_port));
		break;
	case NNG_AF_INET6:
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof host);
		snprintf(out, len, "[%s]:%u", host, (unsigned)ntohs(sa.s_in6.sa_port));
		break;
	default:
		snprintf(out, len, "a local peer");
		break;
	}
}

/* ---- stations ---- */

tly_err
tly_station_init(struct tly_station *st, const struct tly_conn_ops *ops, void *owner)
{
	memset(st, 0, sizeof *st);
	st->ops = ops;
	st->owner = owner;
	st->hb_interval_ms = TLY_HEARTBEAT_INTERVAL_MS;
	st->hb_dead_ms = TLY_HEARTBEAT_DEAD_MS;
	if (nng_mtx_alloc(&st->mtx) != 0)
		return TLY_ENOMEM;
	if (nng_cv_alloc(&st->cv, st->mtx) != 0) {
		nng_mtx_free(st->mtx);
		st->mtx = NULL;
		return TLY_ENOMEM;
	}
	return TLY_OK;
}

static void
station_vevent(struct tly_station *st, const char *fmt, va_list ap)
{
	unsigned slot;

	if (st->event_count == TLY_EVENT_SLOTS) {
		/* Keep the latest: drop the oldest and say so when read. */
		st->event_first = (st->event_first + 1) % TLY_EVENT_SLOTS;
		st->event_count--;
		st->events_lost++;
	}
	slot = (st->event_first + st->event_count) % TLY_EVENT_SLOTS;
	vsnprintf(st->events[slot], TLY_EVENT_LINE_MAX, fmt, ap);
	st->event_count++;
}

void
tly_station_event(struct tly_station *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	station_vevent(st, fmt, ap);
	va_end(ap);
}

tly_err
tly_station_next_event(struct tly_station *st, char *line, size_t len)
{
	tly_err rv = TLY_ETIMEDOUT;

	TLY_REQUIRE(line != NULL && len > 0);
	nng_mtx_lock(st->mtx);
	if (st->events_lost > 0) {
		snprintf(line, len, "%lu earlier transport events dropped", st->events_lost);
		st->events_lost = 0;
		rv = TLY_OK;
	} else if (st->event_count > 0) {
		snprintf(line, len, "%s", st->events[st->event_first]);
		st->event_first = (st->event_first + 1) % TLY_EVENT_SLOTS;
		st->event_count--;
		rv = TLY_OK;
	}
	nng_mtx_unlock(st->mtx);
	return rv;
}

static void
free_frames(struct tly_frame *frame)
{
	while (frame != NULL) {
		struct tly_frame *next = frame->next;
		free(frame);
		frame = next;
	}
}

static void
conn_free(struct tly_conn *c)
{
	nng_stream_close(c->stream);
	nng_aio_stop(c->rx_aio);
	nng_aio_stop(c->tx_aio);
	nng_stream_free(c->stream);
	nng_aio_free(c->rx_aio);
	nng_aio_free(c->tx_aio);
	free_frames(c->tx_head);
	free(c->rx_body);
	free(c);
}

/* One step of the reaper: unlink a connection to free, or pick one whose
 * stream to close. NULL when there is nothing left to do. Lock held. */
static struct tly_conn *
reap_pick(struct tly_station *st, int *free_it)
{
	for (struct tly_conn **pp = &st->conns; *pp != NULL; pp = &(*pp)->next) {
		struct tly_conn *c = *pp;
		if (!c->closing || c->holds > 0)
			continue;
		if (c->posts == 0) {
			*pp = c->next;
			*free_it = 1;
			return c;
		}
		if (!c->stream_closed) {
			c->stream_closed = 1;
			*free_it = 0;
			return c;
		}
	}
	st->reap_wanted = 0;
	return NULL;
}

void
tly_station_reap(struct tly_station *st)
{
	for (;;) {
		struct tly_conn *c;
		int free_it = 0;

		nng_mtx_lock(st->mtx);
		c = st->reap_wanted ? reap_pick(st, &free_it) : NULL;
		nng_mtx_unlock(st->mtx);
		if (c == NULL)
			return;
		if (free_it)
			conn_free(c);
		else
			nng_stream_close(c->stream);
	}
}

/* Sleep on the station's cv (lock held); the result of nng_cv_until. */
static int
station_wait(struct tly_station *st, int forever, nng_time deadline)
{
	int rv = 0;

	st->waiting++;
	if (forever)
		nng_cv_wait(st->cv);
	else
		rv = nng_cv_until(st->cv, deadline);
	st->waiting--;
	return rv;
}

/* Wake the application if it sleeps: a futex call saved per message
 * otherwise. Lock held. */
static void
station_wake(struct tly_station *st)
{
	if (st->waiting > 0)
		nng_cv_wake(st->cv);
}

static void
rx_arm(struct tly_conn *c)
{
	nng_iov iov;
	nng_duration timeout = NNG_DURATION_INFINITE;

	if (c->rx_body == NULL) {
		iov.iov_buf = c->rx_head + c->rx_got;
		iov.iov_len = sizeof c->rx_head - c->rx_got;
	} else {
		iov.iov_buf = c->rx_body + c->rx_got;
		iov.iov_len = c->rx_len - c->rx_got;
	}
	if (c->deadline != 0) {
		nng_time now = nng_clock();
		timeout = c->deadline > now ? (nng_duration)(c->deadline - now) : 1;
	}
	(void)nng_aio_set_iov(c->rx_aio, 1, &iov); /* one entry: cannot fail */
	nng_aio_set_timeout(c->rx_aio, timeout);
	nng_stream_recv(c->stream, c->rx_aio);
}

size_t
tly_station_drop_posts(struct tly_station *st, struct tly_conn *c)
{
	struct tly_post **pp = &st->inbox_head, *last = NULL;
	size_t dropped = 0;

	while (*pp != NULL) {
		struct tly_post *post = *pp;
		if (post->conn != c) {
			last = post;
			pp = &post->next;
			continue;
		}
		*pp = post->next;
		c->posts--;
		c->post_bytes -= post->len;
		free(post->data);
		free(post);
		dropped++;
	}
	st->inbox_tail = last;
	if (c->closing && c->posts == 0)
		st->reap_wanted = 1;
	return dropped;
}

tly_err
tly_station_recv(struct tly_station *st, uint32_t *from, uint8_t **msg, size_t *len, int timeout_ms)
{
	nng_time deadline = nng_clock() + (nng_time)(timeout_ms < 0 ? 0 : timeout_ms);
	struct tly_post *post;
	struct tly_conn *c;
	int resume = 0;

	TLY_REQUIRE(from != NULL && msg != NULL && len != NULL);
	nng_mtx_lock(st->mtx);
	for (;;) {
		if (st->reap_wanted) {
			nng_mtx_unlock(st->mtx);
			tly_station_reap(st);
			nng_mtx_lock(st->mtx);
		}
		if (st->inbox_head != NULL)
			break;
		if (station_wait(st, timeout_ms < 0, deadline) == NNG_ETIMEDOUT &&
		    st->inbox_head == NULL && !st->reap_wanted) {
			nng_mtx_unlock(st->mtx);
			return TLY_ETIMEDOUT;
		}
	}
	post = st->inbox_head;
	st->inbox_head = post->next;
	if (st->inbox_head == NULL)
		st->inbox_tail = NULL;
	c = post->conn;
	c->posts--;
	c->post_bytes -= post->len;
	if (c->paused && !c->closing && c->post_bytes < TLY_RECV_PAUSE_BYTES) {
		c->paused = 0;
		c->rx_last = nng_clock(); /* silence while paused was ours */
		resume = 1;
	}
	if (c->closing && c->posts == 0)
		st->reap_wanted = 1;
	nng_mtx_unlock(st->mtx);
	/* The receive callback stopped when it paused; this thread is the
	 * only reaper, so c stays allocated. */
	if (resume)
		rx_arm(c);
	*from = post->from;
	*msg = post->data;
	*len = post->len;
	free(post);
	return TLY_OK;
}

void
tly_station_fini(struct tly_station *st)
{
	if (st->mtx == NULL)
		return;
	nng_mtx_lock(st->mtx);
	while (st->inbox_head != NULL) {
		struct tly_post *post = st->inbox_head;
		st->inbox_head = post->next;
		post->conn->posts--;
		free(post->data);
		free(post);
	}
	st->inbox_tail = NULL;
	for (struct tly_conn *c = st->conns; c != NULL; c = c->next)
		(void)tly_conn_mark_closing(c);
	nng_mtx_unlock(st->mtx);
	tly_station_reap(st);
	nng_cv_free(st->cv);
	nng_mtx_free(st->mtx);
	memset(st, 0, sizeof *st);
}

/* ---- connections ---- */

tly_err
tly_conn_alloc(struct tly_conn **out, struct tly_station *st, nng_stream *stream,
               size_t first_limit)
{
	struct tly_conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		nng_stream_free(stream);
		return TLY_ENOMEM;
	}
	if (nng_aio_alloc(&c->rx_aio, rx_done, c) != 0 ||
	    nng_aio_alloc(&c->tx_aio, tx_done, c) != 0) {
		if (c->rx_aio != NULL)
			nng_aio_free(c->rx_aio);
		nng_stream_free(stream);
		free(c);
		return TLY_ENOMEM;
	}
	/* Nagle's algorithm with delayed ACKs holds the tail of a message
	 * for ~40 ms (measured: 92 ms per TLS round trip); keepalives find
	 * peers gone silently behind firewalls. Neither exists for ipc. */
	(void)nng_stream_set_bool(stream, NNG_OPT_TCP_NODELAY, true);
	(void)nng_stream_set_bool(stream, NNG_OPT_TCP_KEEPALIVE, true);
	c->station = st;
	c->stream = stream;
	c->rx_limit = first_limit;
	c->deadline = nng_clock() + TLY_HANDSHAKE_MS;
	c->holds = 1;
	peer_name(stream, c->peer, sizeof c->peer);
	nng_mtx_lock(st->mtx);
	c->next = st->conns;
	st->conns = c;
	nng_mtx_unlock(st->mtx);
	*out = c;
	return TLY_OK;
}

void
tly_conn_start(struct tly_conn *c)
{
	rx_arm(c);
}

void
tly_conn_release(struct tly_conn *c)
{
	struct tly_station *st = c->station;

	nng_mtx_lock(st->mtx);
	c->holds--;
	if (c->closing) {
		st->reap_wanted = 1;
		station_wake(st);
	}
	nng_mtx_unlock(st->mtx);
}

int
tly_conn_mark_closing(struct tly_conn *c)
{
	struct tly_station *st = c->station;

	if (c->closing)
		return 0;
	c->closing = 1;
	st->reap_wanted = 1;
	station_wake(st);
	return 1;
}

/* A receive or send failed: this connection is over. Own callback. */
static void
conn_fail(struct tly_conn *c, int err)
{
	struct tly_station *st = c->station;
	int first;

	nng_mtx_lock(st->mtx);
	first = tly_conn_mark_closing(c);
	if (c->silent)
		err = NNG_ETIMEDOUT; /* the heartbeat tick closed it */
	nng_mtx_unlock(st->mtx);
	if (first)
		st->ops->lost(c, err);
	nng_stream_close(c->stream);
}

void
tly_conn_refuse(struct tly_conn *c, const char *fmt, ...)
{
	struct tly_station *st = c->station;
	va_list ap;
	int first;

	nng_mtx_lock(st->mtx);
	first = tly_conn_mark_closing(c);
	if (first) {
		va_start(ap, fmt);
		station_vevent(st, fmt, ap);
		va_end(ap);
	}
	nng_mtx_unlock(st->mtx);
	if (first)
		st->ops->lost(c, 0);
	nng_stream_close(c->stream);
}

int
tly_conn_post(struct tly_conn *c, uint32_t from, uint8_t *data, size_t len)
{
	struct tly_station *st = c->station;
	struct tly_post *post = malloc(sizeof *post);
	int keep;

	if (post == NULL) {
		free(data);
		tly_conn_refuse(c, "%s: out of memory for a received message", c->peer);
		return 0;
	}
	*post = (struct tly_post){.conn = c, .from = from, .data = data, .len = len};
	nng_mtx_lock(st->mtx);
	if (c->closing) {
		nng_mtx_unlock(st->mtx);
		free(data);
		free(post);
		return 0;
	}
	if (st->inbox_tail != NULL)
		st->inbox_tail->next = post;
	else
		st->inbox_head = post;
	st->inbox_tail = post;
	c->posts++;
	c->post_bytes += len;
	keep = c->post_bytes < TLY_RECV_PAUSE_BYTES;
	c->paused = !keep;
	station_wake(st);
	nng_mtx_unlock(st->mtx);
	return keep;
}

/* An empty frame after the handshake: a keepalive (transport.h). Counts
 * it against the peer's rate and reads the next head. */
static int
rx_keepalive(struct tly_conn *c)
{
	nng_time now = nng_clock();

	if (now - c->ka_window >= 1000) {
		c->ka_window = now;
		c->ka_count = 0;
	}
	if (++c->ka_count > TLY_KEEPALIVE_MAX_PER_S) {
		tly_conn_refuse(c, "%s: closed: over %d keepalives within a second", c->peer,
		                TLY_KEEPALIVE_MAX_PER_S);
		return 0;
	}
	c->rx_got = 0;
	return 1;
}

/* A frame's head has arrived: check the length, make room for the body. */
static int
rx_head(struct tly_conn *c)
{
	uint32_t len = tly_be32_get(c->rx_head);

	if (len == 0 && c->deadline == 0)
		return rx_keepalive(c);
	if (len == 0 || len > c->rx_limit) {
		tly_conn_refuse(c, "%s: closed: a %s frame of %" PRIu32 " bytes (at most %zu here)",
		                c->peer, c->deadline != 0 ? "handshake" : "message", len,
		                c->rx_limit);
		return 0;
	}
	if ((c->rx_body = malloc(len)) == NULL) {
		tly_conn_refuse(c, "%s: out of memory for a %" PRIu32 "-byte message", c->peer,
		                len);
		return 0;
	}
	c->rx_len = len;
	c->rx_got = 0;
	return 1;
}

static void
rx_done(void *arg)
{
	struct tly_conn *c = arg;
	int rv = nng_aio_result(c->rx_aio);
	uint8_t *data;
	size_t len, got;

	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	got = nng_aio_count(c->rx_aio);
	if (c->rx_idle_ms > 0) {
		nng_mtx_lock(c->station->mtx);
		c->rx_last = nng_clock();
		nng_mtx_unlock(c->station->mtx);
	}
	c->rx_got += got;
	c->rx_total += got;
	if (c->rx_body == NULL) {
		if (c->rx_got == sizeof c->rx_head && !rx_head(c))
			return;
		rx_arm(c);
		return;
	}
	if (c->rx_got < c->rx_len) {
		rx_arm(c);
		return;
	}
	data = c->rx_body;
	len = c->rx_len;
	c->rx_body = NULL;
	c->rx_len = c->rx_got = 0;
	if (c->station->ops->frame(c, data, len))
		rx_arm(c);
}

struct tly_frame *
tly_frame_alloc(const uint8_t *msg, size_t len)
{
	struct tly_frame *frame;

	TLY_REQUIRE(len > 0 && len <= TLY_MAX_MESSAGE_BYTES);
	if ((frame = malloc(sizeof *frame + TLY_FRAME_HEAD_BYTES + len)) == NULL)
		return NULL;
	frame->next = NULL;
	frame->size = TLY_FRAME_HEAD_BYTES + len;
	tly_be32_put(frame->bytes, (uint32_t)len);
	memcpy(frame->bytes + TLY_FRAME_HEAD_BYTES, msg, len);
	return frame;
}

tly_err
tly_conn_queue(struct tly_conn *c, struct tly_frame *frame, int *kick)
{
	if (c->closing || c->tx_queued + frame->size > TLY_SEND_QUEUE_MAX) {
		free(frame);
		return TLY_EPEER;
	}
	frame->next = NULL;
	if (c->tx_tail != NULL)
		c->tx_tail->next = frame;
	else
		c->tx_head = frame;
	c->tx_tail = frame;
	c->tx_queued += frame->size;
	*kick = !c->tx_busy;
	c->tx_busy = 1;
	return TLY_OK;
}

int
tly_conn_tick(struct tly_conn *c, nng_time now)
{
	struct tly_frame *frame;
	int kick = 0;

	if (c->closing || c->silent)
		return 0;
	/* now may be older than rx_last (read before the lock). */
	if (c->rx_idle_ms > 0 && !c->paused && now > c->rx_last &&
	    now - c->rx_last > (nng_time)c->rx_idle_ms) {
		c->silent = 1;
		c->holds++;
		return TLY_TICK_CLOSE;
	}
	if (c->tx_busy)
		return 0;
	if ((frame = malloc(sizeof *frame + TLY_FRAME_HEAD_BYTES)) == NULL)
		return 0; /* the next tick tries again */
	frame->next = NULL;
	frame->size = TLY_FRAME_HEAD_BYTES;
	tly_be32_put(frame->bytes, 0);
	if (tly_conn_queue(c, frame, &kick) != TLY_OK || !kick)
		return 0;
	c->holds++;
	return TLY_TICK_KICK;
}

void
tly_conn_tick_done(struct tly_conn *c, int action)
{
	if (action == TLY_TICK_CLOSE)
		nng_stream_close(c->stream);
	else if (action == TLY_TICK_KICK)
		tly_conn_kick(c);
	if (action != 0)
		tly_conn_release(c);
}

/* tx_head and tx_off are stable while tx_busy: only tx_done moves them. */
static void
tx_arm(struct tly_conn *c)
{
	nng_iov iov = {
	    .iov_buf = c->tx_head->bytes + c->tx_off,
	    .iov_len = c->tx_head->size - c->tx_off,
	};

	(void)nng_aio_set_iov(c->tx_aio, 1, &iov);
	nng_aio_set_timeout(c->tx_aio, NNG_DURATION_INFINITE);
	nng_stream_send(c->stream, c->tx_aio);
}

void
tly_conn_kick(struct tly_conn *c)
{
	tx_arm(c);
}

static void
tx_done(void *arg)
{
	struct tly_conn *c = arg;
	struct tly_station *st = c->station;
	struct tly_frame *sent = NULL;
	int rv = nng_aio_result(c->tx_aio), more;

	if (rv != 0) {
		conn_fail(c, rv);
		return;
	}
	nng_mtx_lock(st->mtx);
	c->tx_off += nng_aio_count(c->tx_aio);
	if (c->tx_off == c->tx_head->size) {
		sent = c->tx_head;
		c->tx_head = sent->next;
		if (c->tx_head == NULL)
			c->tx_tail = NULL;
		c->tx_queued -= sent->size;
		c->tx_off = 0;
	}
	more = c->tx_head != NULL && !c->closing;
	c->tx_busy = more;
	nng_mtx_unlock(st->mtx);
	free(sent);
	if (more)
		tx_arm(c);
}

void
tly_station_begin_close(struct tly_station *st, int *closing, struct tly_endpoint *ep)
{
	if (st->mtx != NULL) {
		nng_mtx_lock(st->mtx);
		*closing = 1;
		nng_mtx_unlock(st->mtx);
	}
	if (ep->listener != NULL)
		nng_stream_listener_close(ep->listener);
	if (ep->dialer != NULL)
		nng_stream_dialer_close(ep->dialer);
}

static void
endpoint_free(struct tly_endpoint *ep)
{
	if (ep->listener != NULL)
		nng_stream_listener_free(ep->listener);
	if (ep->dialer != NULL)
		nng_stream_dialer_free(ep->dialer);
	if (ep->tls != NULL)
		nng_tls_config_free(ep->tls);
	memset(ep, 0, sizeof *ep);
}

/* A stopped aio stays stopped: each callback may try to start another,
 * which then does nothing. */
void
tly_station_close(struct tly_station *st, struct tly_endpoint *ep, nng_aio *const *aios, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (aios[i] != NULL)
			nng_aio_stop(aios[i]);
	tly_station_fini(st);
	for (size_t i = 0; i < n; i++)
		if (aios[i] != NULL)
			nng_aio_free(aios[i]);
	endpoint_free(ep);
}

void
tly_station_heartbeat(struct tly_station *st, nng_aio *tick, int interval_ms, int dead_ms)
{
	TLY_REQUIRE(interval_ms > 0 && dead_ms > interval_ms);
	nng_mtx_lock(st->mtx);
	st->hb_interval_ms = interval_ms;
	st->hb_dead_ms = dead_ms;
	nng_mtx_unlock(st->mtx);
	/* Tick now, then at the new interval. */
	nng_aio_cancel(tick);
}

tly_err
tly_station_send(struct tly_station *st, uint32_t to, const uint8_t *msg, size_t len)
{
	struct tly_frame *frame = tly_frame_alloc(msg, len);
	struct tly_conn *c;
	tly_err rv = TLY_EPEER;
	int kick = 0;

	if (frame == NULL)
		return TLY_ENOMEM;
	tly_station_reap(st);
	nng_mtx_lock(st->mtx);
	if ((c = st->ops->route(st->owner, to)) == NULL)
		free(frame);
	else if ((rv = tly_conn_queue(c, frame, &kick)) != TLY_OK)
		st->ops->full(c);
	nng_mtx_unlock(st->mtx);
	/* This thread is the only reaper: c stays allocated. */
	if (kick)
		tly_conn_kick(c);
	return rv;
}
