/*
 * secagg.c - the pairwise-masking client: a trust node's side of SecAgg
 * and SecAgg+ (secagg.h has the rounds and the rules).
 */
#include "protocol/secagg.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/field.h"
#include "crypto/kx.h"
#include "crypto/shamir.h"
#include "crypto/wipe.h"
#include "protocol/graph.h"
#include "query/noise.h"
#include "protocol/secagg_impl.h"

/* The coordinator broke the protocol, or we cannot go on: stop for good. */
static tly_err
fail(struct tly_secagg_client *c, tly_err rv)
{
	tly_secagg_client_forget(c);
	c->phase = TLY_SECAGG_CLIENT_ABORTED;
	return rv;
}

/* ---- the query ---- */

/* The rest of alloc, once c->query and c->query_id hold the checked query. */
static tly_err
client_setup(struct tly_secagg_client *c, const struct tly_secagg_client_opts *opts)
{
	tly_err rv = TLY_EPEER;

	if (!tly_idlist_contains(&c->query.participants, c->self->id))
		return rv;
	if (c->query.mechanism == TLY_MECH_NONE && (opts == NULL || !opts->allow_no_noise))
		return rv;
	rv = tly_secagg_graph(&c->graph, &c->query, c->query_id);
	if (rv != TLY_OK)
		return rv;
	c->secrets = sodium_malloc(sizeof *c->secrets);
	if (c->secrets == NULL)
		return TLY_ENOMEM;
	if (opts != NULL && opts->policy != NULL) {
		rv = opts->policy(opts->policy_arg, c->query_id, &c->query);
		if (rv != TLY_OK)
			return rv;
	}
	c->phase = TLY_SECAGG_CLIENT_READY;
	return TLY_OK;
}

tly_err
tly_secagg_client_alloc(struct tly_secagg_client **out, const struct tly_identity *self,
                        const struct tly_roster *roster, struct tly_rng *rng,
                        const struct tly_secagg_client_opts *opts, const uint8_t *query_msg,
                        size_t len)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query q;
	tly_err rv = tly_secagg_read_query(roster, self->id, query_msg, len, query_id, &q);

	if (rv != TLY_OK)
		return rv;
	rv = tly_secagg_client_alloc_query(out, self, roster, rng, opts, query_id, &q);
	tly_query_fini(&q);
	return rv;
}

tly_err
tly_secagg_client_alloc_query(struct tly_secagg_client **out, const struct tly_identity *self,
                              const struct tly_roster *roster, struct tly_rng *rng,
                              const struct tly_secagg_client_opts *opts,
                              const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                              const struct tly_query *q)
{
	struct tly_secagg_client *c;
	tly_err rv = tly_secagg_query_check(q, roster);

	if (rv != TLY_OK)
		return rv;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return TLY_ENOMEM;
	c->self = self;
	c->roster = roster;
	c->rng = rng;
	memcpy(c->query_id, query_id, TLY_QUERY_ID_BYTES);
	rv = tly_query_copy(&c->query, q);
	if (rv == TLY_OK)
		rv = client_setup(c, opts);
	if (rv != TLY_OK) {
		tly_secagg_client_free(c);
		return rv;
	}
	*out = c;
	return TLY_OK;
}

const struct tly_query *
tly_secagg_client_query(const struct tly_secagg_client *c)
{
	return &c->query;
}

const uint8_t *
tly_secagg_client_query_id(const struct tly_secagg_client *c)
{
	return c->query_id;
}

enum tly_secagg_client_phase
tly_secagg_client_phase(const struct tly_secagg_client *c)
{
	return c->phase;
}

void
tly_secagg_client_free(struct tly_secagg_client *c)
{
	if (c == NULL)
		return;
	tly_secagg_client_forget(c);
	free(c->peers);
	tly_idlist_fini(&c->survivors);
	tly_graph_fini(&c->graph);
	tly_query_fini(&c->query);
	free(c);
}

/* ---- Round 0: AdvertiseKeys ---- */

static tly_err
make_input(struct tly_secagg_client *c, const int64_t *cells, size_t d)
{
	struct tly_noise_params params;
	tly_err rv;

	c->input = malloc(d * sizeof *c->input);
	if (c->input == NULL)
		return TLY_ENOMEM;
	if (c->query.mechanism == TLY_MECH_NONE)
		return tly_field_vec_encode_signed(c->input, cells, d, NULL);
	rv = tly_noise_calibrate(&c->query, &params);
	if (rv == TLY_OK)
		rv = tly_noise_apply(c->rng, &params, cells, d, c->input);
	return rv;
}

tly_err
tly_secagg_client_start(struct tly_secagg_client *c, const int64_t *cells, size_t d,
                        struct tly_outbox *out)
{
	struct tly_buf body;
	tly_err rv;

	if (c->phase == TLY_SECAGG_CLIENT_ABORTED)
		return TLY_EABORTED;
	if (c->phase != TLY_SECAGG_CLIENT_READY)
		return TLY_ESTATE;
	if (d != c->query.cells)
		return TLY_EINVAL;
	tly_buf_init(&body);
	rv = make_input(c, cells, d);
	if (rv != TLY_OK)
		goto out;
	tly_kx_keypair(c->keys.mask_pk, c->secrets->mask_sk);
	tly_kx_keypair(c->keys.secret_pk, c->secrets->secret_sk);
	rv = tly_advertise_encode(&body, &c->keys);
	if (rv == TLY_OK)
		rv = tly_secagg_client_send(c, TLY_MSG_ADVERTISE, body.data, body.len, out);
out:
	tly_buf_fini(&body);
	if (rv != TLY_OK)
		return fail(c, rv);
	c->phase = TLY_SECAGG_CLIENT_KEYS;
	return TLY_OK;
}

/* ---- end of Round 0: the key list ---- */

static int
compare_keys(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, TLY_KX_PUBLIC_BYTES);
}

/* No public key occurs twice in the list (nor as both keys of one entry):
 * a client that copied another's key would make masks that never cancel. */
static tly_err
keys_distinct(const struct tly_key_list *list)
{
	size_t count = 2 * (size_t)list->count;
	const uint8_t **keys = malloc(count * sizeof *keys);
	tly_err rv = TLY_OK;

	if (keys == NULL)
		return TLY_ENOMEM;
	for (uint32_t i = 0; i < list->count; i++) {
		keys[2 * i] = list->entries[i].keys.mask_pk;
		keys[2 * i + 1] = list->entries[i].keys.secret_pk;
	}
	qsort(keys, count, sizeof *keys, compare_keys);
	for (size_t i = 1; i < count && rv == TLY_OK; i++)
		if (memcmp(keys[i - 1], keys[i], TLY_KX_PUBLIC_BYTES) == 0)
			rv = TLY_EPEER;
	free(keys);
	return rv;
}

/* One entry: its place in the graph, its keys, its forwarded signature.
 * Our own entry must carry our keys unchanged. A peer's keys are checked
 * for small order by the two agreements made with them in the same step
 * (agree_peers), which fail with TLY_ELOWORDER before anything is sent. */
static tly_err
entry_check(const struct tly_secagg_client *c, const struct tly_key_entry *e)
{
	struct tly_buf body;
	tly_err rv;

	if (e->id == c->self->id)
		return sodium_memcmp(&e->keys, &c->keys, sizeof c->keys) == 0 ? TLY_OK : TLY_EPEER;
	if (!tly_graph_adjacent(&c->graph, c->self->id, e->id))
		return TLY_EPEER;
	tly_buf_init(&body);
	rv = tly_advertise_encode(&body, &e->keys);
	if (rv == TLY_OK)
		rv = tly_secagg_verify_forwarded(c->roster, c->query_id, TLY_MSG_ADVERTISE, e->id,
		                                 body.data, body.len, e->signature);
	tly_buf_fini(&body);
	return rv;
}

static tly_err
key_list_check(const struct tly_secagg_client *c, const struct tly_key_list *list)
{
	int seen_self = 0;

	for (uint32_t i = 0; i < list->count; i++) {
		tly_err rv = entry_check(c, &list->entries[i]);
		if (rv != TLY_OK)
			return rv;
		seen_self |= list->entries[i].id == c->self->id;
	}
	if (!seen_self)
		return TLY_EPEER;
	if (list->count - 1 < c->query.threshold)
		return TLY_ETOOFEW;
	return keys_distinct(list);
}

/*
 * L(u) from the list, and one sodium_malloc block for every secret of the
 * query from here on: the keys and seed (moved in), then per peer the
 * shares it will hold and the secrets agreed with it. One block per
 * client, because each sodium_malloc costs the process memory maps and
 * locked pages (a process simulating 10^4 clients would run out).
 */
static tly_err
adopt_peers(struct tly_secagg_client *c, const struct tly_key_list *list)
{
	uint32_t count = list->count - 1, j = 0;
	size_t held_bytes = (size_t)count * TLY_SECAGG_HELD_BYTES;
	uint8_t *block = sodium_malloc(sizeof *c->secrets + held_bytes +
	                               (size_t)count * TLY_SECAGG_AGREED_BYTES);

	c->peers = calloc(count, sizeof *c->peers);
	if (c->peers == NULL || block == NULL) {
		sodium_free(block);
		return TLY_ENOMEM;
	}
	memcpy(block, c->secrets, sizeof *c->secrets);
	sodium_free(c->secrets); /* wipes */
	c->secrets = (struct tly_secagg_secrets *)(void *)block;
	c->held = block + sizeof *c->secrets;
	c->agreed = c->held + held_bytes;
	for (uint32_t i = 0; i < list->count; i++) {
		if (list->entries[i].id == c->self->id)
			continue;
		c->peers[j].id = list->entries[i].id;
		c->peers[j].keys = list->entries[i].keys;
		j++;
	}
	c->peer_count = count;
	return TLY_OK;
}

static uint8_t *
agreed_of(const struct tly_secagg_client *c, const struct tly_secagg_peer *peer)
{
	return c->agreed + (size_t)(peer - c->peers) * TLY_SECAGG_AGREED_BYTES;
}

/* The two X25519 agreements per peer, each made once: the envelope secret
 * (every KEY_SHARE both ways) and the pairwise mask seed s_{u,v} (Round 2).
 * Both refuse a peer key of small order. */
static tly_err
agree_peers(struct tly_secagg_client *c)
{
	tly_err rv = TLY_OK;

	for (uint32_t j = 0; j < c->peer_count && rv == TLY_OK; j++) {
		const struct tly_secagg_peer *peer = &c->peers[j];
		uint8_t *agreed = agreed_of(c, peer);
		rv = tly_envelope_agree(agreed, c->secrets->mask_sk, c->keys.mask_pk,
		                        peer->keys.mask_pk);
		if (rv == TLY_OK)
			rv = tly_kx_agree(agreed + TLY_KX_SHARED_BYTES, c->secrets->secret_sk,
			                  c->keys.secret_pk, peer->keys.secret_pk,
			                  TLY_SECAGG_PAIRWISE_LABEL);
	}
	return rv;
}

/* ---- Round 1: ShareKeys ---- */

static tly_err
send_key_share(const struct tly_secagg_client *c, const struct tly_secagg_peer *peer,
               const uint8_t *secret_share, const uint8_t *seed_share, struct tly_outbox *out)
{
	struct tly_msg_header header = tly_secagg_client_header(c, TLY_MSG_KEY_SHARE, peer->id);
	uint8_t plain[TLY_KEY_SHARE_PLAIN_BYTES];
	uint8_t raw_header[TLY_HEADER_BYTES];
	struct tly_buf body;
	tly_err rv;

	tly_store_be32(plain, c->self->id);
	tly_store_be32(plain + 4, peer->id);
	memcpy(plain + 8, secret_share, TLY_SECAGG_SHARE_BYTES);
	memcpy(plain + 8 + TLY_SECAGG_SHARE_BYTES, seed_share, TLY_SECAGG_SHARE_BYTES);
	tly_msg_raw_header(raw_header, &header, TLY_KEY_SHARE_CIPHER_BYTES);
	tly_buf_init(&body);
	rv = tly_envelope_seal_agreed(&body, agreed_of(c, peer), raw_header, plain, sizeof plain);
	if (rv == TLY_OK)
		rv = tly_msg_seal_to(out, TLY_PARTY_COORDINATOR, &header, body.data, body.len,
		                     c->self->sign);
	tly_buf_fini(&body);
	TLY_WIPE_OBJ(plain);
	return rv;
}

/* Draw b_u, share s_u^SK and b_u t-of-|L(u)|, one KEY_SHARE per peer. */
static tly_err
share_keys(struct tly_secagg_client *c, struct tly_outbox *out)
{
	uint32_t count = c->peer_count;
	size_t mark = out->count, bytes = 2 * (size_t)count * TLY_SECAGG_SHARE_BYTES;
	uint8_t *shares = malloc(bytes);
	uint8_t **rows = malloc(2 * (size_t)count * sizeof *rows);
	tly_err rv = TLY_ENOMEM;

	if (shares == NULL || rows == NULL)
		goto out;
	for (size_t i = 0; i < 2 * (size_t)count; i++)
		rows[i] = shares + i * TLY_SECAGG_SHARE_BYTES;
	tly_rng_bytes(c->rng, c->secrets->self_seed, sizeof c->secrets->self_seed);
	rv =
	    tly_shamir_secret_share(c->rng, c->secrets->secret_sk, c->query.threshold, count, rows);
	if (rv == TLY_OK)
		rv = tly_shamir_secret_share(c->rng, c->secrets->self_seed, c->query.threshold,
		                             count, rows + count);
	for (uint32_t j = 0; j < count && rv == TLY_OK; j++)
		rv = send_key_share(c, &c->peers[j], rows[j], rows[count + j], out);
out:
	if (shares != NULL) {
		TLY_WIPE(shares, bytes);
		free(shares);
	}
	free(rows);
	if (rv != TLY_OK)
		tly_outbox_truncate(out, mark);
	return rv;
}

static tly_err
on_key_list(struct tly_secagg_client *c, const struct tly_msg *m, struct tly_outbox *out)
{
	struct tly_key_list list;
	tly_err rv = tly_key_list_decode(&list, m->body, m->body_len);

	if (rv != TLY_OK)
		return rv;
	rv = key_list_check(c, &list);
	if (rv == TLY_OK)
		rv = adopt_peers(c, &list);
	if (rv == TLY_OK)
		rv = agree_peers(c);
	if (rv == TLY_OK)
		rv = share_keys(c, out);
	tly_key_list_fini(&list);
	if (rv == TLY_OK)
		c->phase = TLY_SECAGG_CLIENT_SHARES;
	return rv;
}

/* A peer's KEY_SHARE, relayed. Its failures are the peer's: nothing
 * changes, and the caller does not stop. */
static tly_err
on_key_share(struct tly_secagg_client *c, const struct tly_msg *m)
{
	struct tly_secagg_peer *peer = tly_secagg_client_peer(c, m->header.sender);
	uint8_t plain[TLY_KEY_SHARE_PLAIN_BYTES];
	const uint8_t *ct;
	tly_err rv;

	if (peer == NULL || m->header.recipient != c->self->id)
		return TLY_EPEER;
	if (peer->flags & TLY_SECAGG_PEER_HAS_SHARE)
		return TLY_EREPLAY;
	rv = tly_fixed_decode(&ct, TLY_KEY_SHARE_CIPHER_BYTES, m->body, m->body_len);
	if (rv != TLY_OK)
		return rv;
	rv = tly_envelope_open_agreed(plain, agreed_of(c, peer), m->raw_header, ct,
	                              TLY_KEY_SHARE_CIPHER_BYTES);
	if (rv != TLY_OK)
		goto out;
	rv = TLY_EPEER;
	if (tly_load_be32(plain) != peer->id || tly_load_be32(plain + 4) != c->self->id)
		goto out;
	rv = TLY_ERANGE;
	if (!tly_secagg_share_valid(plain + 8) ||
	    !tly_secagg_share_valid(plain + 8 + TLY_SECAGG_SHARE_BYTES))
		goto out;
	memcpy(c->held + (size_t)(peer - c->peers) * TLY_SECAGG_HELD_BYTES, plain + 8,
	       TLY_SECAGG_HELD_BYTES);
	peer->flags |= TLY_SECAGG_PEER_HAS_SHARE;
	rv = TLY_OK;
out:
	TLY_WIPE_OBJ(plain);
	return rv;
}

/* ---- Round 2: MaskedInputCollection ---- */

/* y_u = x_u + PRG(b_u) + sum over v in U2 ∩ N(u) of ±PRG(s_{u,v}), in
 * place of x_u. */
static tly_err
mask_input(struct tly_secagg_client *c)
{
	size_t d = c->query.cells;
	tly_err rv =
	    tly_secagg_mask(c->input, d, c->secrets->self_seed, "self-mask", c->query_id, 1);

	for (uint32_t j = 0; j < c->peer_count && rv == TLY_OK; j++) {
		const struct tly_secagg_peer *peer = &c->peers[j];
		if (!(peer->flags & TLY_SECAGG_PEER_IN_U2))
			continue;
		rv = tly_secagg_mask(c->input, d, agreed_of(c, peer) + TLY_KX_SHARED_BYTES,
		                     "pairwise-mask", c->query_id, c->self->id < peer->id ? 1 : -1);
	}
	return rv;
}

static tly_err
on_share_set(struct tly_secagg_client *c, const struct tly_msg *m, struct tly_outbox *out)
{
	struct tly_idlist set;
	struct tly_buf body;
	tly_err rv = tly_idlist_decode(&set, m->body, m->body_len);

	if (rv != TLY_OK)
		return rv;
	tly_buf_init(&body);
	rv = TLY_EPEER;
	for (uint32_t i = 0; i < set.count; i++)
		if (tly_secagg_client_peer(c, set.ids[i]) == NULL)
			goto out;
	rv = TLY_ETOOFEW;
	if (set.count < c->query.threshold)
		goto out;
	for (uint32_t i = 0; i < set.count; i++)
		tly_secagg_client_peer(c, set.ids[i])->flags |= TLY_SECAGG_PEER_IN_U2;
	rv = mask_input(c);
	if (rv == TLY_OK)
		rv = tly_vector_encode(&body, c->input, c->query.cells);
	if (rv == TLY_OK)
		rv = tly_secagg_client_send(c, TLY_MSG_MASKED_INPUT, body.data, body.len, out);
	if (rv != TLY_OK)
		goto out;
	TLY_WIPE(c->input, c->query.cells * sizeof *c->input);
	free(c->input);
	c->input = NULL;
	/* No KEY_SHARE can come now (its round is over), nor another mask. */
	TLY_WIPE(c->agreed, (size_t)c->peer_count * TLY_SECAGG_AGREED_BYTES);
	c->agreed = NULL;
	c->phase = TLY_SECAGG_CLIENT_SURVIVORS;
out:
	tly_buf_fini(&body);
	tly_idlist_fini(&set);
	return rv;
}

/* ---- dispatch ---- */

/* The rounds the client takes in each phase (earlier ones are over). */
static void
window(enum tly_secagg_client_phase phase, uint32_t *first, uint32_t *last)
{
	switch (phase) {
	case TLY_SECAGG_CLIENT_KEYS:
		*first = *last = TLY_ROUND_KEY_LIST;
		return;
	case TLY_SECAGG_CLIENT_SHARES:
		*first = TLY_ROUND_KEY_SHARE;
		*last = TLY_ROUND_SHARE_SET;
		return;
	case TLY_SECAGG_CLIENT_SURVIVORS:
		*first = *last = TLY_ROUND_SURVIVORS;
		return;
	case TLY_SECAGG_CLIENT_SIGNATURES:
		*first = *last = TLY_ROUND_SIGNATURE_LIST;
		return;
	case TLY_SECAGG_CLIENT_READY:
		*first = TLY_ROUND_QUERY + 1; /* the query is in; nothing else yet */
		*last = TLY_ROUND_QUERY;
		return;
	default:
		*first = TLY_ROUND_UNMASK + 1; /* every round is over */
		*last = TLY_ROUND_UNMASK;
		return;
	}
}

static int
client_takes(enum tly_msg_type type)
{
	switch (type) {
	case TLY_MSG_QUERY:
	case TLY_MSG_ABORT:
	case TLY_MSG_KEY_LIST:
	case TLY_MSG_KEY_SHARE:
	case TLY_MSG_SHARE_SET:
	case TLY_MSG_SURVIVORS:
	case TLY_MSG_SIGNATURE_LIST:
		return 1;
	default:
		return 0;
	}
}

/* Messages the coordinator signs once for everyone. */
static int
broadcast(enum tly_msg_type type)
{
	return type == TLY_MSG_ABORT || type == TLY_MSG_SURVIVORS || type == TLY_MSG_SIGNATURE_LIST;
}

static tly_err
on_abort(struct tly_secagg_client *c, const struct tly_msg *m)
{
	uint32_t reason;
	tly_err rv = tly_abort_decode(&reason, m->body, m->body_len);

	if (rv != TLY_OK)
		return rv;
	return fail(c, TLY_EABORTED);
}

tly_err
tly_secagg_client_receive(struct tly_secagg_client *c, const uint8_t *msg, size_t len,
                          struct tly_outbox *out)
{
	struct tly_msg m;
	uint32_t first, last;
	tly_err rv;

	if (c->phase == TLY_SECAGG_CLIENT_ABORTED)
		return TLY_EABORTED;
	rv = tly_msg_peek_for(msg, len, c->query_id, &m);
	if (rv != TLY_OK)
		return rv;
	if (!client_takes(m.header.type))
		return TLY_ESTATE;
	window(c->phase, &first, &last);
	if (m.header.type != TLY_MSG_ABORT) {
		rv = tly_secagg_round_check(m.round, first, last);
		if (rv != TLY_OK)
			return rv;
	}
	rv = tly_msg_open(msg, len, c->roster, &m);
	if (rv != TLY_OK)
		return rv;
	if (m.header.type == TLY_MSG_KEY_SHARE)
		return on_key_share(c, &m);
	if (m.header.recipient != c->self->id &&
	    !(m.header.recipient == TLY_PARTY_ALL && broadcast(m.header.type)))
		return TLY_EPEER;

	/* Signed by the coordinator, for us, for this round: a failure from
	 * here on is the coordinator's (or ENOMEM), and ends the query. */
	switch (m.header.type) {
	case TLY_MSG_ABORT:
		return on_abort(c, &m);
	case TLY_MSG_KEY_LIST:
		rv = on_key_list(c, &m, out);
		break;
	case TLY_MSG_SHARE_SET:
		rv = on_share_set(c, &m, out);
		break;
	case TLY_MSG_SURVIVORS:
		rv = tly_secagg_on_survivors(c, &m, out);
		break;
	case TLY_MSG_SIGNATURE_LIST:
		rv = tly_secagg_on_signature_list(c, &m, out);
		break;
	default:
		rv = TLY_ESTATE; /* unreachable: the window admits nothing else */
		break;
	}
	return rv == TLY_OK ? TLY_OK : fail(c, rv);
}
