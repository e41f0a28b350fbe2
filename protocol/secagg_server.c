/*
 * secagg_server.c - the pairwise-masking server: the coordinator's side of
 * SecAgg and SecAgg+ (secagg.h has the rounds and the rules).
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
#include "protocol/secagg_impl.h"

static size_t
cells_of(const struct tly_secagg_server *s)
{
	return s->query.cells;
}

/* ---- lifetime ---- */

/* A deep copy of q, through the canonical codec. */
static tly_err
copy_query(struct tly_query *out, const struct tly_query *q)
{
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	rv = tly_query_encode(&body, q);
	if (rv == TLY_OK)
		rv = tly_query_decode(out, body.data, body.len);
	tly_buf_fini(&body);
	return rv;
}

static tly_err
allocate(struct tly_secagg_server *s)
{
	uint32_t n = s->n, degree = s->graph.degree;
	size_t d = cells_of(s);

	s->clients = calloc(n, sizeof *s->clients);
	s->neighbours = calloc(degree, sizeof *s->neighbours);
	s->counts = calloc(n, sizeof *s->counts);
	s->stack = calloc(n, sizeof *s->stack);
	s->xs = calloc(degree, sizeof *s->xs);
	s->shares = calloc(degree, sizeof *s->shares);
	s->sum = calloc(d, sizeof *s->sum);
	s->vector = calloc(d, sizeof *s->vector);
	s->key_mask = 15;
	while (s->key_mask < 4u * n - 1u)
		s->key_mask = 2u * s->key_mask + 1u;
	s->key_slots = calloc((size_t)s->key_mask + 1u, sizeof *s->key_slots);
	randombytes_buf(s->key_hash_key, sizeof s->key_hash_key);
	if (s->clients == NULL || s->neighbours == NULL || s->counts == NULL || s->stack == NULL ||
	    s->xs == NULL || s->shares == NULL || s->sum == NULL || s->vector == NULL ||
	    s->key_slots == NULL)
		return TLY_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		s->clients[i].id = s->graph.ids[i];
	return TLY_OK;
}

tly_err
tly_secagg_server_alloc(struct tly_secagg_server **out, const struct tly_identity *coord,
                        const struct tly_roster *roster, const struct tly_query *q,
                        const uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_outbox *box)
{
	struct tly_secagg_server *s = NULL;
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	rv = tly_secagg_query_check(q, roster);
	if (rv != TLY_OK)
		goto out;
	rv = TLY_ENOMEM;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		goto out;
	s->coord = coord;
	s->roster = roster;
	memcpy(s->query_id, query_id, TLY_QUERY_ID_BYTES);
	rv = copy_query(&s->query, q);
	if (rv == TLY_OK)
		rv = tly_secagg_graph(&s->graph, &s->query, s->query_id);
	if (rv != TLY_OK)
		goto out;
	s->n = s->graph.count;
	rv = allocate(s);
	if (rv == TLY_OK)
		rv = tly_query_encode(&body, &s->query);
	if (rv == TLY_OK)
		rv = tly_secagg_broadcast(s, TLY_MSG_QUERY, &body, 0, box);
	if (rv != TLY_OK)
		goto out;
	s->phase = TLY_SECAGG_ADVERTISING;
	s->expected = s->n;
	*out = s;
	s = NULL;
out:
	tly_buf_fini(&body);
	tly_secagg_server_free(s);
	return rv;
}

void
tly_secagg_server_free(struct tly_secagg_server *s)
{
	if (s == NULL)
		return;
	if (s->clients != NULL) {
		for (uint32_t i = 0; i < s->n; i++) {
			free(s->clients[i].holders);
			free(s->clients[i].relayed);
			tly_unmask_fini(&s->clients[i].unmask);
		}
	}
	if (s->sum != NULL)
		TLY_WIPE(s->sum, cells_of(s) * sizeof *s->sum);
	if (s->vector != NULL)
		TLY_WIPE(s->vector, cells_of(s) * sizeof *s->vector);
	free(s->clients);
	free(s->neighbours);
	free(s->counts);
	free(s->stack);
	free(s->xs);
	free(s->shares);
	free(s->sum);
	free(s->vector);
	free(s->key_slots);
	tly_idlist_fini(&s->survivors);
	tly_idlist_fini(&s->recovered);
	tly_graph_fini(&s->graph);
	tly_query_fini(&s->query);
	free(s);
}

enum tly_secagg_phase
tly_secagg_server_phase(const struct tly_secagg_server *s)
{
	return s->phase;
}

uint32_t
tly_secagg_server_abort_reason(const struct tly_secagg_server *s)
{
	return s->abort_reason;
}

/* ---- receiving ---- */

/* ---- the public keys accepted so far (struct tly_secagg_server) ---- */

_Static_assert(TLY_SECAGG_KEY_HASH_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key");
_Static_assert(4u * (uint64_t)TLY_MAX_PARTIES < UINT32_MAX / 2, "key slots fit u32");

static const uint8_t *
slot_key(const struct tly_secagg_server *s, uint32_t slot)
{
	const struct tly_secagg_client_rec *cl = &s->clients[(slot - 1u) / 2u];
	return (slot - 1u) % 2u == 0 ? cl->keys.mask_pk : cl->keys.secret_pk;
}

/* The slot holding pk, or the empty slot where it would go. O(1) expected:
 * the table is at most half full. */
static uint32_t
key_find(const struct tly_secagg_server *s, const uint8_t pk[static TLY_KX_PUBLIC_BYTES])
{
	uint8_t hash[crypto_shorthash_BYTES];
	uint32_t i;

	crypto_shorthash(hash, pk, TLY_KX_PUBLIC_BYTES, s->key_hash_key);
	i = tly_load_be32(hash) & s->key_mask;
	while (s->key_slots[i] != 0 &&
	       memcmp(slot_key(s, s->key_slots[i]), pk, TLY_KX_PUBLIC_BYTES) != 0)
		i = (i + 1u) & s->key_mask;
	return i;
}

/* Round 0: AdvertiseKeys. */
static tly_err
on_advertise(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl, const struct tly_msg *m)
{
	uint32_t index = (uint32_t)(cl - s->clients);
	struct tly_advertise keys;
	tly_err rv;

	if (cl->flags & ADVERTISED)
		return TLY_EREPLAY;
	rv = tly_advertise_decode(&keys, m->body, m->body_len);
	if (rv == TLY_OK)
		rv = tly_secagg_key_check(keys.mask_pk);
	if (rv == TLY_OK)
		rv = tly_secagg_key_check(keys.secret_pk);
	if (rv != TLY_OK)
		return rv;
	if (memcmp(keys.mask_pk, keys.secret_pk, TLY_KX_PUBLIC_BYTES) == 0 ||
	    s->key_slots[key_find(s, keys.mask_pk)] != 0 ||
	    s->key_slots[key_find(s, keys.secret_pk)] != 0)
		return TLY_EPEER;
	cl->keys = keys;
	s->key_slots[key_find(s, cl->keys.mask_pk)] = 2u * index + 1u;
	s->key_slots[key_find(s, cl->keys.secret_pk)] = 2u * index + 2u;
	memcpy(cl->advertise_sig, m->signature, TLY_SIGNATURE_BYTES);
	cl->flags |= ADVERTISED;
	s->complete++;
	return TLY_OK;
}

/* Round 1: ShareKeys. Relayed at once, unread. */
static tly_err
on_key_share(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl, const struct tly_msg *m,
             const uint8_t *msg, size_t len, struct tly_outbox *box)
{
	const uint8_t *ct;
	long j;
	tly_err rv;

	if (!(cl->flags & IN_U1))
		return TLY_EPEER;
	j = tly_ids_find(cl->holders, cl->holder_count, m->header.recipient);
	if (j < 0)
		return TLY_EPEER;
	if (cl->relayed[j])
		return TLY_EREPLAY;
	rv = tly_fixed_decode(&ct, TLY_KEY_SHARE_CIPHER_BYTES, m->body, m->body_len);
	if (rv == TLY_OK)
		rv = tly_secagg_forward(box, m->header.recipient, msg, len);
	if (rv != TLY_OK)
		return rv;
	cl->relayed[j] = 1;
	if (++cl->relayed_count == cl->holder_count)
		s->complete++;
	return TLY_OK;
}

/* Round 2: MaskedInputCollection. */
static tly_err
on_masked_input(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl,
                const struct tly_msg *m)
{
	tly_err rv;

	if (!(cl->flags & IN_U2))
		return TLY_EPEER;
	if (cl->flags & IN_U3)
		return TLY_EREPLAY;
	rv = tly_vector_decode(s->vector, cells_of(s), m->body, m->body_len);
	if (rv != TLY_OK)
		return rv;
	tly_field_vec_add(s->sum, s->vector, cells_of(s));
	cl->flags |= IN_U3;
	s->complete++;
	return TLY_OK;
}

/* Round 3: ConsistencyCheck. */
static tly_err
on_consistency(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl,
               const struct tly_msg *m)
{
	const uint8_t *hash;
	tly_err rv;

	if (!(cl->flags & IN_U3))
		return TLY_EPEER;
	if (cl->flags & IN_U4)
		return TLY_EREPLAY;
	rv = tly_fixed_decode(&hash, TLY_HASH_BYTES, m->body, m->body_len);
	if (rv != TLY_OK)
		return rv;
	if (sodium_memcmp(hash, s->survivors_hash, TLY_HASH_BYTES) != 0)
		return TLY_EPEER;
	memcpy(cl->consistency_sig, m->signature, TLY_SIGNATURE_BYTES);
	cl->flags |= IN_U4;
	s->complete++;
	return TLY_OK;
}

/* Round 4: Unmasking. Entries only for the sender's SHARE_SET (L(u) ∩ U2),
 * of the kind that U3 says. */
static tly_err
unmask_check(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl,
             const struct tly_unmask *u)
{
	for (uint32_t i = 0; i < u->count; i++) {
		const struct tly_unmask_entry *e = &u->entries[i];
		const struct tly_secagg_client_rec *peer = tly_secagg_client_of(s, e->id);
		if (peer == NULL || !(peer->flags & IN_U2) ||
		    tly_ids_find(cl->holders, cl->holder_count, e->id) < 0)
			return TLY_EPEER;
		uint8_t kind = (peer->flags & IN_U3) ? TLY_UNMASK_SELF_SEED : TLY_UNMASK_MASK_KEY;
		if (e->kind != kind)
			return TLY_EPEER;
		if (!tly_secagg_share_valid(e->share))
			return TLY_ERANGE;
	}
	return TLY_OK;
}

static tly_err
on_unmask(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl, const struct tly_msg *m)
{
	struct tly_unmask unmask;
	tly_err rv;

	if (!(cl->flags & IN_U4))
		return TLY_EPEER;
	if (cl->flags & IN_U5)
		return TLY_EREPLAY;
	rv = tly_unmask_decode(&unmask, m->body, m->body_len);
	if (rv != TLY_OK)
		return rv;
	rv = unmask_check(s, cl, &unmask);
	if (rv != TLY_OK) {
		tly_unmask_fini(&unmask);
		return rv;
	}
	cl->unmask = unmask;
	cl->flags |= IN_U5;
	s->complete++;
	return TLY_OK;
}

static int
server_takes(enum tly_msg_type type)
{
	return type == TLY_MSG_ADVERTISE || type == TLY_MSG_KEY_SHARE ||
	       type == TLY_MSG_MASKED_INPUT || type == TLY_MSG_CONSISTENCY ||
	       type == TLY_MSG_UNMASK;
}

tly_err
tly_secagg_server_receive(struct tly_secagg_server *s, const uint8_t *msg, size_t len,
                          struct tly_outbox *box)
{
	struct tly_secagg_client_rec *cl;
	struct tly_msg m;
	tly_err rv = tly_msg_peek_for(msg, len, s->query_id, &m);

	if (rv != TLY_OK)
		return rv;
	if (!server_takes(m.header.type))
		return TLY_ESTATE;
	/* The phase is the one round it takes; DONE and ABORTED are past all. */
	rv = tly_secagg_round_check(m.round, (uint32_t)s->phase, (uint32_t)s->phase);
	if (rv != TLY_OK)
		return rv;
	cl = tly_secagg_client_of(s, m.header.sender);
	if (cl == NULL)
		return TLY_EPEER;
	rv = tly_msg_open(msg, len, s->roster, &m);
	if (rv != TLY_OK)
		return rv;
	if (m.header.type == TLY_MSG_KEY_SHARE) {
		rv = on_key_share(s, cl, &m, msg, len, box);
	} else if (m.header.recipient != TLY_PARTY_COORDINATOR) {
		rv = TLY_EPEER;
	} else if (m.header.type == TLY_MSG_ADVERTISE) {
		rv = on_advertise(s, cl, &m);
	} else if (m.header.type == TLY_MSG_MASKED_INPUT) {
		rv = on_masked_input(s, cl, &m);
	} else if (m.header.type == TLY_MSG_CONSISTENCY) {
		rv = on_consistency(s, cl, &m);
	} else {
		rv = on_unmask(s, cl, &m);
	}
	if (rv == TLY_OK && s->complete == s->expected)
		rv = tly_secagg_server_close_round(s, box);
	return rv;
}
