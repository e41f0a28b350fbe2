/*
 * secagg_unmask.c - the pairwise-masking client's last two rounds: it
 * checks and signs the survivors set, then checks the signatures and
 * reveals its shares, once (secagg.h has the rules).
 */
#include "protocol/secagg.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/wipe.h"
#include "protocol/secagg_impl.h"

/* ---- Round 3: ConsistencyCheck ---- */

/* U3 ⊆ participants: both lists increasing, one merge pass. O(n). */
static int
within_participants(const struct tly_secagg_client *c, const struct tly_idlist *u3)
{
	const struct tly_idlist *all = &c->query.participants;
	uint32_t j = 0;

	for (uint32_t i = 0; i < u3->count; i++) {
		while (j < all->count && all->ids[j] < u3->ids[i])
			j++;
		if (j == all->count || all->ids[j] != u3->ids[i])
			return 0;
	}
	return 1;
}

/* U3 ∩ N(u) ⊆ SHARE_SET(u): each graph neighbour looked up in U3.
 * O(k log n). */
static tly_err
neighbours_check(const struct tly_secagg_client *c, const struct tly_idlist *u3)
{
	uint32_t *neighbours = malloc((size_t)c->graph.degree * sizeof *neighbours), count;
	tly_err rv = TLY_ENOMEM;

	if (neighbours == NULL)
		return rv;
	rv = tly_graph_neighbours(&c->graph, c->self->id, neighbours, &count);
	for (uint32_t i = 0; i < count && rv == TLY_OK; i++) {
		if (!tly_idlist_contains(u3, neighbours[i]))
			continue;
		const struct tly_secagg_peer *peer = tly_secagg_client_peer(c, neighbours[i]);
		if (peer == NULL || !(peer->flags & TLY_SECAGG_PEER_IN_U2))
			rv = TLY_EPEER;
	}
	free(neighbours);
	return rv;
}

/* U3 as this client can check it: it is in, every id is a participant,
 * enough of them, and U3 ∩ N(u) ⊆ U2 ∩ N(u) (its SHARE_SET). */
static tly_err
survivors_check(const struct tly_secagg_client *c, const struct tly_idlist *u3)
{
	if (!tly_idlist_contains(u3, c->self->id) || !within_participants(c, u3))
		return TLY_EPEER;
	tly_err rv = neighbours_check(c, u3);
	if (rv != TLY_OK)
		return rv;
	if (u3->count < tly_secagg_max(tly_secagg_quorum(&c->query), c->query.min_contributors))
		return TLY_ETOOFEW;
	return TLY_OK;
}

tly_err
tly_secagg_on_survivors(struct tly_secagg_client *c, const struct tly_msg *m,
                        struct tly_outbox *out)
{
	struct tly_idlist u3;
	tly_err rv = tly_idlist_decode(&u3, m->body, m->body_len);

	if (rv != TLY_OK)
		return rv;
	rv = survivors_check(c, &u3);
	if (rv != TLY_OK) {
		tly_idlist_fini(&u3);
		return rv;
	}
	c->survivors = u3;
	tly_idlist_hash(c->survivors_hash, c->query_id, &c->survivors);
	rv = tly_secagg_client_send(c, TLY_MSG_CONSISTENCY, c->survivors_hash,
	                            sizeof c->survivors_hash, out);
	if (rv == TLY_OK)
		c->phase = TLY_SECAGG_CLIENT_SIGNATURES;
	return rv;
}

/* ---- Round 4: Unmasking ---- */

/*
 * Complete graph: at least Q signatures (tly_secagg_quorum), all by clients
 * of U3. Sparse graph: at least t, all by neighbours in U3 (the client's
 * own does not count: it knows what it signed). Every signature over our
 * U3's hash: a neighbour shown another U3 signed another hash.
 */
static tly_err
signatures_check(const struct tly_secagg_client *c, const struct tly_signature_list *list)
{
	int complete = tly_secagg_complete(&c->query);
	uint32_t needed = complete ? tly_secagg_quorum(&c->query) : c->query.threshold;

	if (list->count < needed)
		return TLY_ETOOFEW;
	for (uint32_t i = 0; i < list->count; i++) {
		const struct tly_signature_entry *e = &list->entries[i];
		if (!tly_idlist_contains(&c->survivors, e->id) ||
		    (!complete && !tly_graph_adjacent(&c->graph, c->self->id, e->id)))
			return TLY_EPEER;
		tly_err rv = tly_secagg_verify_forwarded(
		    c->roster, c->query_id, TLY_MSG_CONSISTENCY, e->id, c->survivors_hash,
		    sizeof c->survivors_hash, e->signature);
		if (rv != TLY_OK)
			return rv;
	}
	return TLY_OK;
}

/*
 * For each v of our SHARE_SET whose shares we hold: the share of b_v if v
 * is in U3, else the share of s_v^SK. The kind is a function of the one U3
 * we accepted, and this runs once per query (the phase moves to DONE), so
 * no peer ever gets both kinds from us.
 */
static int
revealable(const struct tly_secagg_peer *peer)
{
	const uint8_t both = TLY_SECAGG_PEER_IN_U2 | TLY_SECAGG_PEER_HAS_SHARE;
	return (peer->flags & both) == both;
}

static tly_err
build_unmask(const struct tly_secagg_client *c, struct tly_unmask *u)
{
	uint32_t count = 0;

	memset(u, 0, sizeof *u);
	for (uint32_t j = 0; j < c->peer_count; j++)
		count += (uint32_t)revealable(&c->peers[j]);
	if (count == 0)
		return TLY_OK;
	u->entries = calloc(count, sizeof *u->entries);
	if (u->entries == NULL)
		return TLY_ENOMEM;
	for (uint32_t j = 0; j < c->peer_count; j++) {
		const struct tly_secagg_peer *peer = &c->peers[j];
		if (!revealable(peer))
			continue;
		struct tly_unmask_entry *e = &u->entries[u->count++];
		const uint8_t *held = c->held + (size_t)j * TLY_SECAGG_HELD_BYTES;
		e->id = peer->id;
		if (tly_idlist_contains(&c->survivors, peer->id)) {
			e->kind = TLY_UNMASK_SELF_SEED;
			memcpy(e->share, held + TLY_SECAGG_SHARE_BYTES, TLY_SECAGG_SHARE_BYTES);
		} else {
			e->kind = TLY_UNMASK_MASK_KEY;
			memcpy(e->share, held, TLY_SECAGG_SHARE_BYTES);
		}
	}
	return TLY_OK;
}

tly_err
tly_secagg_on_signature_list(struct tly_secagg_client *c, const struct tly_msg *m,
                             struct tly_outbox *out)
{
	struct tly_signature_list list;
	struct tly_unmask unmask;
	struct tly_buf body;
	tly_err rv = tly_signature_list_decode(&list, m->body, m->body_len);

	if (rv != TLY_OK)
		return rv;
	memset(&unmask, 0, sizeof unmask);
	tly_buf_init(&body);
	rv = signatures_check(c, &list);
	if (rv == TLY_OK)
		rv = build_unmask(c, &unmask);
	if (rv == TLY_OK)
		rv = tly_unmask_encode(&body, &unmask);
	if (rv == TLY_OK)
		rv = tly_secagg_client_send(c, TLY_MSG_UNMASK, body.data, body.len, out);
	if (rv == TLY_OK) {
		tly_secagg_client_forget(c);
		c->phase = TLY_SECAGG_CLIENT_DONE;
	}
	tly_buf_fini(&body);
	tly_unmask_fini(&unmask);
	tly_signature_list_fini(&list);
	return rv;
}
