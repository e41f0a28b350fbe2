/*
 * transport_link.c - a node's connection to the coordinator: dials, answers
 * the hub's challenge with a signed HELLO, waits for WELCOME, and redials
 * with backoff whenever the connection fails or drops (transport.h).
 */
#include "net/transport_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

enum link_state {
	LINK_WAIT_CHALLENGE = 1,
	LINK_WAIT_WELCOME = 2,
	LINK_READY = 3,
};

struct tly_link {
	struct tly_station st;
	const struct tly_identity *self;
	struct tly_endpoint ep;
	nng_aio *dial_aio, *wait_aio, *tick_aio;
	char url[256];
	/* Under the lock. */
	struct tly_conn *current;
	nng_duration backoff;
	int last_dial_err; /* log a run of equal failures once */
	int closing;
};

static int link_frame(struct tly_conn *c, uint8_t *data, size_t len);
static void link_lost(struct tly_conn *c, int err);
static struct tly_conn *ready_conn(struct tly_link *link);
static struct tly_conn *link_route(void *owner, uint32_t to);
static void link_full(struct tly_conn *c);

static const struct tly_conn_ops link_ops = {
    .frame = link_frame,
    .lost = link_lost,
    .route = link_route,
    .full = link_full,
};

/* Every heartbeat interval: a keepalive to the coordinator when the
 * link is ready and idle, or the end of a link gone silent (transport.h). */
static void
tick_done(void *arg)
{
	struct tly_link *link = arg;
	struct tly_conn *c;
	nng_duration every;
	int action = 0;

	nng_mtx_lock(link->st.mtx);
	if (link->closing) {
		nng_mtx_unlock(link->st.mtx);
		return;
	}
	if ((c = ready_conn(link)) != NULL)
		action = tly_conn_tick(c, nng_clock());
	every = link->st.hb_interval_ms;
	nng_mtx_unlock(link->st.mtx);
	if (action != 0)
		tly_conn_tick_done(c, action);
	nng_sleep_aio(every, link->tick_aio);
}

/* Wait out the backoff, then dial again (wait_done). */
static void
redial_later(struct tly_link *link)
{
	nng_duration delay;

	nng_mtx_lock(link->st.mtx);
	delay = link->backoff;
	link->backoff =
	    link->backoff * 2 > TLY_REDIAL_MAX_MS ? TLY_REDIAL_MAX_MS : link->backoff * 2;
	nng_mtx_unlock(link->st.mtx);
	nng_sleep_aio(delay, link->wait_aio);
}

static void
wait_done(void *arg)
{
	struct tly_link *link = arg;
	int closing;

	nng_mtx_lock(link->st.mtx);
	closing = link->closing;
	nng_mtx_unlock(link->st.mtx);
	if (!closing)
		nng_stream_dialer_dial(link->ep.dialer, link->dial_aio);
}

static void
dial_done(void *arg)
{
	struct tly_link *link = arg;
	int rv = nng_aio_result(link->dial_aio), closing;
	struct tly_conn *c;

	nng_mtx_lock(link->st.mtx);
	closing = link->closing;
	if (!closing && rv != 0 && rv != link->last_dial_err)
		tly_station_event(&link->st, "cannot connect to the coordinator at %s: %s",
		                  link->url, nng_strerror(rv));
	if (rv != 0)
		link->last_dial_err = rv;
	nng_mtx_unlock(link->st.mtx);
	if (rv != 0) {
		if (!closing && rv != NNG_ECLOSED)
			redial_later(link);
		return;
	}
	if (closing) {
		nng_stream_free(nng_aio_get_output(link->dial_aio, 0));
		return;
	}
	if (tly_conn_alloc(&c, &link->st, nng_aio_get_output(link->dial_aio, 0),
	                   TLY_HELLO_CHALLENGE_BYTES) != TLY_OK) {
		redial_later(link);
		return;
	}
	nng_mtx_lock(link->st.mtx);
	c->state = LINK_WAIT_CHALLENGE;
	link->current = c;
	nng_mtx_unlock(link->st.mtx);
	tly_conn_start(c);
	tly_conn_release(c);
}

/* Challenge received: answer with HELLO = id || signature. */
static int
link_answer(struct tly_link *link, struct tly_conn *c, uint8_t *data, size_t len)
{
	uint8_t signed_bytes[TLY_HELLO_SIGNED_BYTES], hello[TLY_HELLO_BYTES];
	struct tly_frame *frame;
	int kick = 0, ok;

	if (len != TLY_HELLO_CHALLENGE_BYTES) {
		free(data);
		tly_conn_refuse(c,
		                "%s: closed: %zu bytes where the coordinator's challenge was due",
		                c->peer, len);
		return 0;
	}
	tly_hello_message(signed_bytes, data, link->self->id);
	free(data);
	tly_be32_put(hello, link->self->id);
	if (tly_sign(hello + 4, link->self->sign, signed_bytes, sizeof signed_bytes) != TLY_OK ||
	    (frame = tly_frame_alloc(hello, sizeof hello)) == NULL) {
		tly_conn_refuse(c, "%s: cannot sign or queue HELLO", c->peer);
		return 0;
	}
	nng_mtx_lock(link->st.mtx);
	ok = tly_conn_queue(c, frame, &kick) == TLY_OK;
	c->state = LINK_WAIT_WELCOME;
	nng_mtx_unlock(link->st.mtx);
	c->rx_limit = TLY_WELCOME_BYTES;
	if (kick)
		tly_conn_kick(c);
	return ok;
}

static int
link_welcomed(struct tly_link *link, struct tly_conn *c, uint8_t *data, size_t len)
{
	uint32_t id = len == TLY_WELCOME_BYTES ? tly_be32_get(data) : 0;

	free(data);
	if (len != TLY_WELCOME_BYTES || id != link->self->id) {
		tly_conn_refuse(c, "%s: closed: the coordinator's WELCOME is malformed", c->peer);
		return 0;
	}
	nng_mtx_lock(link->st.mtx);
	c->state = LINK_READY;
	c->rx_idle_ms = link->st.hb_dead_ms;
	c->rx_last = nng_clock();
	link->backoff = TLY_REDIAL_MIN_MS;
	link->last_dial_err = 0;
	tly_station_event(&link->st, "connected to the coordinator at %s (%s) as node %" PRIu32,
	                  link->url, c->peer, id);
	nng_mtx_unlock(link->st.mtx);
	c->rx_limit = TLY_MAX_MESSAGE_BYTES;
	c->deadline = 0;
	return 1;
}

static int
link_frame(struct tly_conn *c, uint8_t *data, size_t len)
{
	struct tly_link *link = c->station->owner;

	switch (c->state) {
	case LINK_READY:
		return tly_conn_post(c, TLY_PARTY_COORDINATOR, data, len);
	case LINK_WAIT_CHALLENGE:
		return link_answer(link, c, data, len);
	default:
		return link_welcomed(link, c, data, len);
	}
}

static void
link_lost(struct tly_conn *c, int err)
{
	struct tly_link *link = c->station->owner;
	int redial;

	nng_mtx_lock(link->st.mtx);
	redial = !link->closing && link->current == c;
	if (redial)
		link->current = NULL;
	if (redial && err == NNG_ETIMEDOUT && c->state == LINK_READY)
		tly_station_event(
		    &link->st,
		    "connection to the coordinator lost: nothing from it for %d ms (no "
		    "heartbeat): redialling",
		    c->rx_idle_ms);
	else if (redial && err != 0 && c->state == LINK_READY)
		tly_station_event(&link->st, "connection to the coordinator lost: %s",
		                  nng_strerror(err));
	else if (redial && err != 0)
		tly_station_event(
		    &link->st,
		    "the coordinator at %s ended the handshake (%s): is this node's key in "
		    "its roster, its certificate from node-ca, tls_ca coordinator-ca, and the "
		    "coordinator's certificate for the host dialled?",
		    link->url, nng_strerror(err));
	nng_mtx_unlock(link->st.mtx);
	if (redial)
		redial_later(link);
}

/* ---- the API ---- */

static tly_err
link_dialer(struct tly_link *link, const char *url, const struct tly_tls_files *tls, char *why,
            size_t why_len)
{
	tly_err rv;
	int nrv;

	if ((rv = tly_endpoint_open(&link->ep, url, tls, 0, why, why_len)) != TLY_OK)
		return rv;
	if ((nrv = nng_aio_alloc(&link->dial_aio, dial_done, link)) != 0 ||
	    (nrv = nng_aio_alloc(&link->wait_aio, wait_done, link)) != 0 ||
	    (nrv = nng_aio_alloc(&link->tick_aio, tick_done, link)) != 0)
		return tly_nng_err(nrv, "link", why, why_len);
	return TLY_OK;
}

tly_err
tly_link_open(struct tly_link **out, const char *url, const struct tly_tls_files *tls,
              const struct tly_identity *self, char *why, size_t why_len)
{
	struct tly_link *link;
	tly_err rv;

	TLY_REQUIRE(out != NULL && url != NULL && self != NULL && self->sign != NULL);
	if ((link = calloc(1, sizeof *link)) == NULL)
		return TLY_ENOMEM;
	link->self = self;
	link->backoff = TLY_REDIAL_MIN_MS;
	snprintf(link->url, sizeof link->url, "%s", url);
	if (tly_station_init(&link->st, &link_ops, link) != TLY_OK) {
		tly_link_close(link);
		return TLY_ENOMEM;
	}
	if ((rv = link_dialer(link, url, tls, why, why_len)) != TLY_OK) {
		tly_link_close(link);
		return rv;
	}
	nng_stream_dialer_dial(link->ep.dialer, link->dial_aio);
	nng_sleep_aio(link->st.hb_interval_ms, link->tick_aio);
	*out = link;
	return TLY_OK;
}

void
tly_link_close(struct tly_link *link)
{
	if (link == NULL)
		return;
	tly_station_begin_close(&link->st, &link->closing, &link->ep);
	nng_aio *const aios[] = {link->wait_aio, link->tick_aio, link->dial_aio};
	tly_station_close(&link->st, &link->ep, aios, sizeof aios / sizeof aios[0]);
	free(link);
}

void
tly_link_heartbeat(struct tly_link *link, int interval_ms, int dead_ms)
{
	tly_station_heartbeat(&link->st, link->tick_aio, interval_ms, dead_ms);
}

tly_err
tly_link_recv(struct tly_link *link, uint8_t **msg, size_t *len, int timeout_ms)
{
	uint32_t from;

	return tly_station_recv(&link->st, &from, msg, len, timeout_ms);
}

static struct tly_conn *
ready_conn(struct tly_link *link)
{
	struct tly_conn *c = link->current;

	return c != NULL && c->state == LINK_READY && !c->closing ? c : NULL;
}

static struct tly_conn *
link_route(void *owner, uint32_t to)
{
	(void)to; /* the coordinator, the one party a link reaches */
	return ready_conn(owner);
}

static void
link_full(struct tly_conn *c)
{
	tly_station_event(c->station, "over %d bytes queued for the coordinator, not sending",
	                  TLY_SEND_QUEUE_MAX);
}

tly_err
tly_link_send(struct tly_link *link, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > TLY_MAX_MESSAGE_BYTES || msg == NULL)
		return TLY_EINVAL;
	if (!tly_link_ready(link))
		return TLY_EPEER;
	return tly_station_send(&link->st, TLY_PARTY_COORDINATOR, msg, len);
}

int
tly_link_ready(struct tly_link *link)
{
	int ready;

	nng_mtx_lock(link->st.mtx);
	ready = ready_conn(link) != NULL;
	nng_mtx_unlock(link->st.mtx);
	return ready;
}

tly_err
tly_link_event(struct tly_link *link, char *line, size_t len)
{
	tly_station_reap(&link->st);
	return tly_station_next_event(&link->st, line, len);
}
