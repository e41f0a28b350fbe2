/*
 * transport_hub.c - the coordinator's listener: accepts connections,
 * challenges each one, binds it to a node id on a valid HELLO, and routes
 * messages by id (transport.h).
 */
#include "net/transport_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng.h"

enum { ACCEPT_RETRY_MS = 100 };

enum hub_state {
	HUB_CHALLENGED = 1, /* challenge sent, waiting for HELLO */
	HUB_BOUND = 2,      /* authenticated as conn->id */
};

struct tly_hub {
	struct tly_station st;
	const struct tly_roster *roster;
	struct tly_conn **bound; /* by roster index; under the lock */
	nng_time *held_until;    /* by roster index: HELLO refused before; lock */
	struct tly_endpoint ep;
	nng_aio *accept_aio;
	nng_aio *tick_aio;      /* heartbeat */
	struct tly_conn **kick; /* by roster index: tick_done's own */
	int *kick_action;       /* the same */
	int accept_sleeping;    /* accept_aio is a back-off sleep */
	int closing;
	struct tly_rng rng; /* challenges; under the lock */
	int port;
};

static int hub_frame(struct tly_conn *c, uint8_t *data, size_t len);
static void hub_lost(struct tly_conn *c, int err);
static struct tly_conn *hub_route(void *owner, uint32_t to);
static void hub_full(struct tly_conn *c);

static const struct tly_conn_ops hub_ops = {
    .frame = hub_frame,
    .lost = hub_lost,
    .route = hub_route,
    .full = hub_full,
};

static size_t
slot_of(const struct tly_hub *hub, const struct tly_party *party)
{
	return (size_t)(party - hub->roster->parties);
}

/* ---- handshake ---- */

/* Bind c to party after a valid HELLO: WELCOME first, then traffic. */
static int
hub_bind(struct tly_hub *hub, struct tly_conn *c, const struct tly_party *party,
         struct tly_frame *welcome)
{
	size_t slot = slot_of(hub, party);
	struct tly_conn *old;
	int kick = 0;

	nng_mtx_lock(hub->st.mtx);
	if (c->closing || tly_conn_queue(c, welcome, &kick) != TLY_OK) {
		nng_mtx_unlock(hub->st.mtx);
		return 0;
	}
	if ((old = hub->bound[slot]) != NULL) {
		(void)tly_conn_mark_closing(old);
		tly_station_event(&hub->st,
		                  "node %" PRIu32
		                  " reconnected from %s: closing its connection from %s",
		                  party->id, c->peer, old->peer);
	} else {
		tly_station_event(&hub->st, "node %" PRIu32 " connected from %s", party->id,
		                  c->peer);
	}
	hub->bound[slot] = c;
	c->id = party->id;
	c->state = HUB_BOUND;
	c->rx_idle_ms = hub->st.hb_dead_ms;
	c->rx_last = nng_clock();
	nng_mtx_unlock(hub->st.mtx);
	/* Receive state is this callback's own. */
	c->rx_limit = TLY_MAX_MESSAGE_BYTES;
	c->deadline = 0;
	if (kick)
		tly_conn_kick(c);
	return 1;
}

static int
hub_hello(struct tly_hub *hub, struct tly_conn *c, uint8_t *data, size_t len)
{
	uint8_t signed_bytes[TLY_HELLO_SIGNED_BYTES], id_bytes[4];
	const struct tly_party *party;
	struct tly_frame *welcome;
	uint32_t id;
	tly_err rv;

	/* The length was capped at TLY_HELLO_BYTES before reading. */
	if (len != TLY_HELLO_BYTES) {
		free(data);
		tly_conn_refuse(c, "%s: refused: first message of %zu bytes is not a HELLO",
		                c->peer, len);
		return 0;
	}
	id = tly_be32_get(data);
	if ((party = tly_roster_find(hub->roster, id)) == NULL) {
		free(data);
		tly_conn_refuse(c, "%s: refused: HELLO from node %" PRIu32 ", not in the roster",
		                c->peer, id);
		return 0;
	}
	nng_mtx_lock(hub->st.mtx);
	nng_time held = hub->held_until[slot_of(hub, party)];
	nng_mtx_unlock(hub->st.mtx);
	if (held > nng_clock()) {
		free(data);
		tly_conn_refuse(c, "%s: refused: node %" PRIu32 " was disconnected and is held off",
		                c->peer, id);
		return 0;
	}
	tly_hello_message(signed_bytes, c->challenge, id);
	rv = tly_sign_verify(data + 4, signed_bytes, sizeof signed_bytes, party->sign_pk);
	free(data);
	if (rv != TLY_OK) {
		tly_conn_refuse(c,
		                "%s: refused: HELLO signature for node %" PRIu32 " does not verify",
		                c->peer, id);
		return 0;
	}
	tly_be32_put(id_bytes, id);
	if ((welcome = tly_frame_alloc(id_bytes, sizeof id_bytes)) == NULL) {
		tly_conn_refuse(c, "%s: out of memory", c->peer);
		return 0;
	}
	return hub_bind(hub, c, party, welcome);
}

static int
hub_frame(struct tly_conn *c, uint8_t *data, size_t len)
{
	struct tly_hub *hub = c->station->owner;

	if (c->state == HUB_BOUND)
		return tly_conn_post(c, c->id, data, len);
	return hub_hello(hub, c, data, len);
}

static void
hub_lost(struct tly_conn *c, int err)
{
	struct tly_hub *hub = c->station->owner;
	const struct tly_party *party;

	nng_mtx_lock(hub->st.mtx);
	if (c->state == HUB_BOUND) {
		party = tly_roster_find(hub->roster, c->id);
		if (hub->bound[slot_of(hub, party)] == c)
			hub->bound[slot_of(hub, party)] = NULL;
		if (err == NNG_ETIMEDOUT)
			tly_station_event(&hub->st,
			                  "node %" PRIu32
			                  " disconnected (%s): nothing from it for %d ms (no "
			                  "heartbeat)",
			                  c->id, c->peer, c->rx_idle_ms);
		else if (err != 0)
			tly_station_event(&hub->st, "node %" PRIu32 " disconnected (%s): %s", c->id,
			                  c->peer, nng_strerror(err));
	} else if (err == NNG_ETIMEDOUT) {
		tly_station_event(&hub->st, "%s: closed: no HELLO within %d ms", c->peer,
		                  TLY_HANDSHAKE_MS);
	} else if (err != 0) {
		/* TLS refusals (no certificate, another CA) end up here. */
		tly_station_event(&hub->st, "%s: closed before HELLO: %s", c->peer,
		                  nng_strerror(err));
	}
	nng_mtx_unlock(hub->st.mtx);
}

/* A new connection: send the challenge and wait for HELLO. */
static void
hub_greet(struct tly_hub *hub, nng_stream *stream)
{
	struct tly_frame *frame = NULL;
	struct tly_conn *c;
	unsigned pending = 0;
	int kick = 0, ok = 1;

	nng_mtx_lock(hub->st.mtx);
	for (c = hub->st.conns; c != NULL; c = c->next)
		pending += c->state == HUB_CHALLENGED && !c->closing;
	if (pending >= TLY_PENDING_MAX)
		tly_station_event(&hub->st, "refused a connection: %u awaiting HELLO already",
		                  pending);
	nng_mtx_unlock(hub->st.mtx);
	if (pending >= TLY_PENDING_MAX) {
		nng_stream_free(stream);
		return;
	}
	if (tly_conn_alloc(&c, &hub->st, stream, TLY_HELLO_BYTES) != TLY_OK)
		return;
	nng_mtx_lock(hub->st.mtx);
	c->state = HUB_CHALLENGED;
	tly_rng_bytes(&hub->rng, c->challenge, sizeof c->challenge);
	if ((frame = tly_frame_alloc(c->challenge, sizeof c->challenge)) == NULL ||
	    tly_conn_queue(c, frame, &kick) != TLY_OK) {
		tly_station_event(&hub->st, "%s: out of memory", c->peer);
		(void)tly_conn_mark_closing(c);
		ok = 0;
	}
	nng_mtx_unlock(hub->st.mtx);
	if (kick)
		tly_conn_kick(c);
	if (ok)
		tly_conn_start(c);
	tly_conn_release(c);
}

static void
accept_done(void *arg)
{
	struct tly_hub *hub = arg;
	int rv = nng_aio_result(hub->accept_aio), closing, slept;

	nng_mtx_lock(hub->st.mtx);
	closing = hub->closing;
	slept = hub->accept_sleeping;
	hub->accept_sleeping = 0;
	nng_mtx_unlock(hub->st.mtx);
	if (!slept && rv == 0) {
		nng_stream *stream = nng_aio_get_output(hub->accept_aio, 0);
		if (closing) {
			nng_stream_free(stream);
			return;
		}
		hub_greet(hub, stream);
	} else if (closing || rv == NNG_ECLOSED) {
		return;
	} else if (!slept) {
		/* Out of descriptors, say: retry later rather than spin. */
		nng_mtx_lock(hub->st.mtx);
		tly_station_event(&hub->st, "accepting a connection failed: %s", nng_strerror(rv));
		hub->accept_sleeping = 1;
		nng_mtx_unlock(hub->st.mtx);
		nng_sleep_aio(ACCEPT_RETRY_MS, hub->accept_aio);
		return;
	}
	nng_stream_listener_accept(hub->ep.listener, hub->accept_aio);
}

/* Every heartbeat interval: a keepalive to each bound node with nothing
 * else going out, and the end of any gone silent (transport.h). */
static void
tick_done(void *arg)
{
	struct tly_hub *hub = arg;
	size_t n = 0;
	nng_duration every;
	nng_time now = nng_clock();

	nng_mtx_lock(hub->st.mtx);
	if (hub->closing) {
		nng_mtx_unlock(hub->st.mtx);
		return;
	}
	for (size_t i = 0; i < hub->roster->count; i++) {
		struct tly_conn *c = hub->bound[i];
		int action = c != NULL ? tly_conn_tick(c, now) : 0;
		if (action != 0) {
			hub->kick[n] = c;
			hub->kick_action[n++] = action;
		}
	}
	every = hub->st.hb_interval_ms;
	nng_mtx_unlock(hub->st.mtx);
	for (size_t i = 0; i < n; i++)
		tly_conn_tick_done(hub->kick[i], hub->kick_action[i]);
	nng_sleep_aio(every, hub->tick_aio);
}

/* ---- the API ---- */

static tly_err
hub_listen(struct tly_hub *hub, const char *url, const struct tly_tls_files *tls, char *why,
           size_t why_len)
{
	tly_err rv;
	int nrv;

	if ((rv = tly_endpoint_open(&hub->ep, url, tls, 1, why, why_len)) != TLY_OK)
		return rv;
	if ((nrv = nng_aio_alloc(&hub->accept_aio, accept_done, hub)) != 0 ||
	    (nrv = nng_aio_alloc(&hub->tick_aio, tick_done, hub)) != 0)
		return tly_nng_err(nrv, "hub", why, why_len);
	if ((nrv = nng_stream_listener_listen(hub->ep.listener)) != 0) {
		tly_say(why, why_len, "cannot listen on %s: %s", url, nng_strerror(nrv));
		return nrv == NNG_ENOMEM ? TLY_ENOMEM : TLY_EIO;
	}
	if (nng_stream_listener_get_int(hub->ep.listener, NNG_OPT_TCP_BOUND_PORT, &hub->port) != 0)
		hub->port = -1;
	nng_stream_listener_accept(hub->ep.listener, hub->accept_aio);
	nng_sleep_aio(hub->st.hb_interval_ms, hub->tick_aio);
	return TLY_OK;
}

tly_err
tly_hub_open(struct tly_hub **out, const char *url, const struct tly_tls_files *tls,
             const struct tly_roster *roster, char *why, size_t why_len)
{
	struct tly_hub *hub;
	tly_err rv;

	TLY_REQUIRE(out != NULL && url != NULL && roster != NULL);
	if ((hub = calloc(1, sizeof *hub)) == NULL)
		return TLY_ENOMEM;
	hub->roster = roster;
	tly_rng_init(&hub->rng);
	if ((hub->bound = calloc(roster->count + 1, sizeof *hub->bound)) == NULL ||
	    (hub->held_until = calloc(roster->count + 1, sizeof *hub->held_until)) == NULL ||
	    (hub->kick = calloc(roster->count + 1, sizeof *hub->kick)) == NULL ||
	    (hub->kick_action = calloc(roster->count + 1, sizeof *hub->kick_action)) == NULL ||
	    tly_station_init(&hub->st, &hub_ops, hub) != TLY_OK) {
		tly_hub_close(hub);
		return TLY_ENOMEM;
	}
	if ((rv = hub_listen(hub, url, tls, why, why_len)) != TLY_OK) {
		tly_hub_close(hub);
		return rv;
	}
	*out = hub;
	return TLY_OK;
}

void
tly_hub_close(struct tly_hub *hub)
{
	if (hub == NULL)
		return;
	tly_station_begin_close(&hub->st, &hub->closing, &hub->ep);
	nng_aio *const aios[] = {hub->accept_aio, hub->tick_aio};
	tly_station_close(&hub->st, &hub->ep, aios, sizeof aios / sizeof aios[0]);
	tly_rng_fini(&hub->rng);
	free(hub->bound);
	free(hub->held_until);
	free(hub->kick);
	free(hub->kick_action);
	free(hub);
}

void
tly_hub_heartbeat(struct tly_hub *hub, int interval_ms, int dead_ms)
{
	tly_station_heartbeat(&hub->st, hub->tick_aio, interval_ms, dead_ms);
}

int
tly_hub_port(struct tly_hub *hub)
{
	return hub->port;
}

tly_err
tly_hub_recv(struct tly_hub *hub, uint32_t *from, uint8_t **msg, size_t *len, int timeout_ms)
{
	return tly_station_recv(&hub->st, from, msg, len, timeout_ms);
}

static struct tly_conn *
bound_conn(struct tly_hub *hub, const struct tly_party *party)
{
	struct tly_conn *c = hub->bound[slot_of(hub, party)];

	return c != NULL && !c->closing ? c : NULL;
}

static struct tly_conn *
hub_route(void *owner, uint32_t to)
{
	struct tly_hub *hub = owner;
	const struct tly_party *party = tly_roster_find(hub->roster, to);

	return party != NULL ? bound_conn(hub, party) : NULL;
}

static void
hub_full(struct tly_conn *c)
{
	tly_station_event(c->station, "node %" PRIu32 ": over %d bytes queued, not sending", c->id,
	                  TLY_SEND_QUEUE_MAX);
}

tly_err
tly_hub_send(struct tly_hub *hub, uint32_t to, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > TLY_MAX_MESSAGE_BYTES || msg == NULL)
		return TLY_EINVAL;
	if (!tly_hub_connected(hub, to))
		return TLY_EPEER;
	return tly_station_send(&hub->st, to, msg, len);
}

size_t
tly_hub_disconnect(struct tly_hub *hub, uint32_t id, int hold_ms, const char *why)
{
	const struct tly_party *party = tly_roster_find(hub->roster, id);
	struct tly_conn *c;
	size_t dropped = 0;

	if (party == NULL)
		return 0;
	nng_mtx_lock(hub->st.mtx);
	hub->held_until[slot_of(hub, party)] = nng_clock() + (nng_time)(hold_ms > 0 ? hold_ms : 0);
	if ((c = bound_conn(hub, party)) != NULL) {
		hub->bound[slot_of(hub, party)] = NULL;
		(void)tly_conn_mark_closing(c);
		dropped = tly_station_drop_posts(&hub->st, c);
		tly_station_event(&hub->st,
		                  "node %" PRIu32
		                  " disconnected (%s) and held off for %d ms: %s; %zu of its "
		                  "messages dropped unread",
		                  id, c->peer, hold_ms, why, dropped);
	}
	nng_mtx_unlock(hub->st.mtx);
	tly_station_reap(&hub->st);
	return dropped;
}

int
tly_hub_connected(struct tly_hub *hub, uint32_t id)
{
	const struct tly_party *party = tly_roster_find(hub->roster, id);
	int connected;

	if (party == NULL)
		return 0;
	nng_mtx_lock(hub->st.mtx);
	connected = bound_conn(hub, party) != NULL;
	nng_mtx_unlock(hub->st.mtx);
	return connected;
}

tly_err
tly_hub_event(struct tly_hub *hub, char *line, size_t len)
{
	tly_station_reap(&hub->st);
	return tly_station_next_event(&hub->st, line, len);
}
