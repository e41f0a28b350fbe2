/*
 * secagg_close.c - the pairwise-masking server's round ends: who is still
 * in (U1..U5), what each survivor is told, and at the end the rebuilding of
 * the secrets and the removal of the masks (secagg.h has the rules).
 */
#include "protocol/secagg.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/field.h"
#include "crypto/kx.h"
#include "crypto/shamir.h"
#include "crypto/wipe.h"
#include "protocol/secagg_impl.h"

/* ---- sets ---- */

static uint32_t
count_flag(const struct tly_secagg_server *s, uint8_t flag)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < s->n; i++)
		count += (s->clients[i].flags & flag) != 0;
	return count;
}

/* An empty list with room for count ids (none allocated for 0). */
static tly_err
list_alloc(struct tly_idlist *out, uint32_t count)
{
	memset(out, 0, sizeof *out);
	if (count == 0)
		return TLY_OK;
	out->ids = malloc(count * sizeof *out->ids);
	return out->ids != NULL ? TLY_OK : TLY_ENOMEM;
}

/* The ids of the clients with `flag`, increasing. */
static tly_err
list_flag(const struct tly_secagg_server *s, uint8_t flag, struct tly_idlist *out)
{
	tly_err rv = list_alloc(out, count_flag(s, flag));

	for (uint32_t i = 0; i < s->n && rv == TLY_OK; i++)
		if (s->clients[i].flags & flag)
			out->ids[out->count++] = s->clients[i].id;
	return rv;
}

/* Holders of x's shares that carry `flag`. */
static uint32_t
holders_with(struct tly_secagg_server *s, const struct tly_secagg_client_rec *x, uint8_t flag)
{
	uint32_t count = 0;

	for (uint32_t j = 0; j < x->holder_count; j++)
		count += (tly_secagg_client_of(s, x->holders[j])->flags & flag) != 0;
	return count;
}

/*
 * Drop from `flag`, repeatedly, every client with fewer than t neighbours
 * that carry it (peeling, as for a k-core): such a client could never have
 * its secrets rebuilt. Each client is stacked at most once. O(n k log k).
 */
static tly_err
prune(struct tly_secagg_server *s, uint8_t flag)
{
	uint32_t t = s->query.threshold, top = 0, count;
	tly_err rv;

	for (uint32_t i = 0; i < s->n; i++) {
		struct tly_secagg_client_rec *cl = &s->clients[i];
		s->counts[i] = 0;
		if (!(cl->flags & flag))
			continue;
		rv = tly_graph_neighbours(&s->graph, cl->id, s->neighbours, &count);
		if (rv != TLY_OK)
			return rv;
		for (uint32_t j = 0; j < count; j++)
			if (tly_secagg_client_of(s, s->neighbours[j])->flags & flag)
				s->counts[i]++;
		if (s->counts[i] < t)
			s->stack[top++] = i;
	}
	while (top > 0) {
		struct tly_secagg_client_rec *cl = &s->clients[s->stack[--top]];
		cl->flags &= (uint8_t)~flag;
		rv = tly_graph_neighbours(&s->graph, cl->id, s->neighbours, &count);
		if (rv != TLY_OK)
			return rv;
		for (uint32_t j = 0; j < count; j++) {
			long k = tly_graph_index(&s->graph, s->neighbours[j]);
			if ((s->clients[k].flags & flag) && s->counts[k]-- == t)
				s->stack[top++] = (uint32_t)k;
		}
	}
	return TLY_OK;
}

/*
 * Every secret the sum will need can still be rebuilt from clients with
 * `flag`: b_u for each u in U3, and s_w^SK for each w in U2 \ U3 next to a
 * client of U3, each from t of its holders.
 */
static int
recoverable(struct tly_secagg_server *s, uint8_t flag)
{
	uint32_t t = s->query.threshold;

	for (uint32_t i = 0; i < s->n; i++) {
		const struct tly_secagg_client_rec *x = &s->clients[i];
		if (!(x->flags & IN_U2))
			continue;
		if (!(x->flags & IN_U3) && holders_with(s, x, IN_U3) == 0)
			continue;
		if (holders_with(s, x, flag) < t)
			return 0;
	}
	return 1;
}

/* ---- Round 0 ends: U1, key lists ---- */

static tly_err
choose_holders(struct tly_secagg_server *s, struct tly_secagg_client_rec *cl)
{
	uint32_t count;
	tly_err rv = tly_graph_neighbours(&s->graph, cl->id, s->neighbours, &count);

	if (rv != TLY_OK)
		return rv;
	cl->holders = malloc(count * sizeof *cl->holders);
	cl->relayed = calloc(count, sizeof *cl->relayed);
	if (cl->holders == NULL || cl->relayed == NULL)
		return TLY_ENOMEM;
	for (uint32_t j = 0; j < count; j++)
		if (tly_secagg_client_of(s, s->neighbours[j])->flags & IN_U1)
			cl->holders[cl->holder_count++] = s->neighbours[j];
	return TLY_OK;
}

static void
key_entry(struct tly_key_entry *e, const struct tly_secagg_client_rec *cl)
{
	e->id = cl->id;
	e->keys = cl->keys;
	memcpy(e->signature, cl->advertise_sig, TLY_SIGNATURE_BYTES);
}

/* KEY_LIST for cl: the entries of {u} ∪ L(u), ids increasing. */
static tly_err
key_list_body(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl,
              struct tly_buf *body)
{
	struct tly_key_list list = {0, NULL};
	tly_err rv;

	list.entries = calloc(cl->holder_count + 1, sizeof *list.entries);
	if (list.entries == NULL)
		return TLY_ENOMEM;
	for (uint32_t j = 0; j <= cl->holder_count; j++) {
		int self_next = j == cl->holder_count || cl->holders[j] > cl->id;
		if (list.count == j && self_next)
			key_entry(&list.entries[list.count++], cl);
		if (j < cl->holder_count)
			key_entry(&list.entries[list.count++],
			          tly_secagg_client_of(s, cl->holders[j]));
	}
	rv = tly_key_list_encode(body, &list);
	tly_key_list_fini(&list);
	return rv;
}

/* The clients with `flag` after pruning (prune): TLY_ETOOFEW when fewer
 * than max(t + 1, min_contributors) stay. */
static tly_err
prune_to_enough(struct tly_secagg_server *s, uint8_t flag)
{
	uint32_t need = tly_secagg_max(s->query.threshold + 1u, s->query.min_contributors);
	tly_err rv = prune(s, flag);

	if (rv == TLY_OK && count_flag(s, flag) < need)
		rv = TLY_ETOOFEW;
	return rv;
}

/* Wait for each client with `flag` in `next`. */
static void
wait_for(struct tly_secagg_server *s, uint8_t flag, enum tly_secagg_phase next)
{
	s->phase = next;
	s->expected = count_flag(s, flag);
}

/* Encodes cl's message of a round end into body. */
typedef tly_err (*body_fn)(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl,
                           struct tly_buf *body);

static tly_err
send_to(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl, enum tly_msg_type type,
        body_fn make, struct tly_outbox *box)
{
	struct tly_msg_header header = tly_secagg_server_header(s, type, cl->id);
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	rv = make(s, cl, &body);
	if (rv == TLY_OK)
		rv = tly_msg_seal_to(box, cl->id, &header, body.data, body.len, s->coord->sign);
	tly_buf_fini(&body);
	return rv;
}

/* Send each client with `flag` its own message of `type`, then wait for
 * all of them in `next`. */
static tly_err
send_each(struct tly_secagg_server *s, uint8_t flag, enum tly_msg_type type, body_fn make,
          enum tly_secagg_phase next, struct tly_outbox *box)
{
	tly_err rv = TLY_OK;

	for (uint32_t i = 0; i < s->n && rv == TLY_OK; i++)
		if (s->clients[i].flags & flag)
			rv = send_to(s, &s->clients[i], type, make, box);
	if (rv == TLY_OK)
		wait_for(s, flag, next);
	return rv;
}

/* Send every client with `flag` the same body (of `type`; rv is its
 * encoder's result), free the body, then wait for them in `next`. */
static tly_err
broadcast_each(struct tly_secagg_server *s, uint8_t flag, enum tly_msg_type type, tly_err rv,
               struct tly_buf *body, enum tly_secagg_phase next, struct tly_outbox *box)
{
	if (rv == TLY_OK)
		rv = tly_secagg_broadcast(s, type, body, flag, box);
	tly_buf_fini(body);
	if (rv == TLY_OK)
		wait_for(s, flag, next);
	return rv;
}

static tly_err
close_advertising(struct tly_secagg_server *s, struct tly_outbox *box)
{
	tly_err rv;

	for (uint32_t i = 0; i < s->n; i++)
		if (s->clients[i].flags & ADVERTISED)
			s->clients[i].flags |= IN_U1;
	rv = prune_to_enough(s, IN_U1);
	for (uint32_t i = 0; i < s->n && rv == TLY_OK; i++)
		if (s->clients[i].flags & IN_U1)
			rv = choose_holders(s, &s->clients[i]);
	if (rv != TLY_OK)
		return rv;
	return send_each(s, IN_U1, TLY_MSG_KEY_LIST, key_list_body, TLY_SECAGG_SHARING, box);
}

/* ---- Round 1 ends: U2, share sets ---- */

/* SHARE_SET for cl: the holders of its shares that are in U2. */
static tly_err
share_set_body(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl,
               struct tly_buf *body)
{
	struct tly_idlist set = {0, NULL};
	tly_err rv;

	set.ids = malloc((cl->holder_count + 1) * sizeof *set.ids);
	if (set.ids == NULL)
		return TLY_ENOMEM;
	for (uint32_t j = 0; j < cl->holder_count; j++)
		if (tly_secagg_client_of(s, cl->holders[j])->flags & IN_U2)
			set.ids[set.count++] = cl->holders[j];
	rv = tly_idlist_encode(body, &set);
	tly_idlist_fini(&set);
	return rv;
}

static tly_err
close_sharing(struct tly_secagg_server *s, struct tly_outbox *box)
{
	tly_err rv;

	for (uint32_t i = 0; i < s->n; i++) {
		struct tly_secagg_client_rec *cl = &s->clients[i];
		if ((cl->flags & IN_U1) && cl->relayed_count == cl->holder_count)
			cl->flags |= IN_U2;
	}
	rv = prune_to_enough(s, IN_U2);
	if (rv != TLY_OK)
		return rv;
	return send_each(s, IN_U2, TLY_MSG_SHARE_SET, share_set_body, TLY_SECAGG_MASKING, box);
}

/* ---- Round 2 ends: U3, survivors ---- */

static tly_err
close_masking(struct tly_secagg_server *s, struct tly_outbox *box)
{
	uint32_t need = tly_secagg_max(tly_secagg_quorum(&s->query), s->query.min_contributors);
	struct tly_buf body;
	tly_err rv;

	if (count_flag(s, IN_U3) < need || !recoverable(s, IN_U3))
		return TLY_ETOOFEW;
	rv = list_flag(s, IN_U3, &s->survivors);
	if (rv != TLY_OK)
		return rv;
	tly_idlist_hash(s->survivors_hash, s->query_id, &s->survivors);
	tly_buf_init(&body);
	rv = tly_idlist_encode(&body, &s->survivors);
	return broadcast_each(s, IN_U3, TLY_MSG_SURVIVORS, rv, &body, TLY_SECAGG_CHECKING, box);
}

/* ---- Round 3 ends: U4, signatures ---- */

/* SIGNATURE_LIST for cl on a sparse graph: the CONSISTENCY signatures of
 * the first t of its neighbours in U4 (ids increasing), which is what it
 * checks (tly_secagg_quorum); prune left it at least t. */
static tly_err
neighbour_signatures(struct tly_secagg_server *s, const struct tly_secagg_client_rec *cl,
                     struct tly_buf *body)
{
	struct tly_signature_list list = {0, NULL};
	uint32_t t = s->query.threshold;
	tly_err rv;

	list.entries = calloc(t, sizeof *list.entries);
	if (list.entries == NULL)
		return TLY_ENOMEM;
	for (uint32_t j = 0; j < cl->holder_count && list.count < t; j++) {
		const struct tly_secagg_client_rec *v = tly_secagg_client_of(s, cl->holders[j]);
		if (!(v->flags & IN_U4))
			continue;
		list.entries[list.count].id = v->id;
		memcpy(list.entries[list.count++].signature, v->consistency_sig,
		       TLY_SIGNATURE_BYTES);
	}
	rv = tly_signature_list_encode(body, &list);
	tly_signature_list_fini(&list);
	return rv;
}

/* Sparse graph: U4 less, repeatedly, any client with fewer than t
 * neighbours in it (it could not unmask); each client then gets its own
 * neighbours' signatures, O(t) of them, not all of U4's. */
static tly_err
close_checking_sparse(struct tly_secagg_server *s, struct tly_outbox *box)
{
	tly_err rv = prune(s, IN_U4);

	if (rv != TLY_OK)
		return rv;
	if (count_flag(s, IN_U4) < tly_secagg_quorum(&s->query) || !recoverable(s, IN_U4))
		return TLY_ETOOFEW;
	return send_each(s, IN_U4, TLY_MSG_SIGNATURE_LIST, neighbour_signatures,
	                 TLY_SECAGG_UNMASKING, box);
}

/* Complete graph: every client gets every signature (at least Q), signed
 * once. */
static tly_err
close_checking(struct tly_secagg_server *s, struct tly_outbox *box)
{
	struct tly_signature_list list = {0, NULL};
	uint32_t count = count_flag(s, IN_U4);
	struct tly_buf body;
	tly_err rv;

	if (!tly_secagg_complete(&s->query))
		return close_checking_sparse(s, box);
	if (count < tly_secagg_quorum(&s->query) || !recoverable(s, IN_U4))
		return TLY_ETOOFEW;
	list.entries = calloc(count, sizeof *list.entries);
	if (list.entries == NULL)
		return TLY_ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct tly_secagg_client_rec *cl = &s->clients[i];
		if (!(cl->flags & IN_U4))
			continue;
		list.entries[list.count].id = cl->id;
		memcpy(list.entries[list.count++].signature, cl->consistency_sig,
		       TLY_SIGNATURE_BYTES);
	}
	tly_buf_init(&body);
	rv = tly_signature_list_encode(&body, &list);
	tly_signature_list_fini(&list);
	return broadcast_each(s, IN_U4, TLY_MSG_SIGNATURE_LIST, rv, &body, TLY_SECAGG_UNMASKING,
	                      box);
}

/* ---- Round 4 ends: rebuild the secrets, remove the masks ---- */

/* The shares of x's secret of `kind` that its holders sent: xs[i] is the
 * Shamir index (1 + the holder's rank in L(x)). */
static uint32_t
gather(struct tly_secagg_server *s, const struct tly_secagg_client_rec *x, uint8_t kind)
{
	uint32_t count = 0;

	for (uint32_t j = 0; j < x->holder_count; j++) {
		const struct tly_secagg_client_rec *holder = tly_secagg_client_of(s, x->holders[j]);
		const struct tly_unmask *u = &holder->unmask;
		if (!(holder->flags & IN_U5))
			continue;
		size_t lo = 0, hi = u->count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (u->entries[mid].id < x->id)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < u->count && u->entries[lo].id == x->id && u->entries[lo].kind == kind) {
			s->xs[count] = j + 1;
			s->shares[count++] = u->entries[lo].share;
		}
	}
	return count;
}

/*
 * Rebuild a 32-byte secret from the gathered shares. With more than t, the
 * first t and the last t are two different sets: they must agree, or some
 * share is wrong (TLY_EAUTH). Shamir alone would give a wrong secret
 * silently.
 */
static tly_err
rebuild(struct tly_secagg_server *s, uint32_t count, uint8_t out[static TLY_SHAMIR_SECRET_BYTES])
{
	unsigned t = s->query.threshold;
	uint8_t check[TLY_SHAMIR_SECRET_BYTES];
	tly_err rv = tly_shamir_secret_reconstruct(s->xs, s->shares, count, t, out);

	if (rv == TLY_OK && count > t) {
		rv = tly_shamir_secret_reconstruct(s->xs + (count - t), s->shares + (count - t), t,
		                                   t, check);
		if (rv == TLY_OK && sodium_memcmp(out, check, sizeof check) != 0)
			rv = TLY_EAUTH;
	}
	TLY_WIPE_OBJ(check);
	if (rv != TLY_OK)
		TLY_WIPE(out, TLY_SHAMIR_SECRET_BYTES);
	return rv;
}

/* u survived: sum -= PRG(b_u). */
static tly_err
remove_self_mask(struct tly_secagg_server *s, const struct tly_secagg_client_rec *u)
{
	uint8_t seed[TLY_SHAMIR_SECRET_BYTES];
	uint32_t count = gather(s, u, TLY_UNMASK_SELF_SEED);
	tly_err rv = TLY_ETOOFEW;

	if (count >= s->query.threshold)
		rv = rebuild(s, count, seed);
	if (rv == TLY_OK)
		rv = tly_secagg_mask(s->sum, s->query.cells, seed, "self-mask", s->query_id, -1);
	TLY_WIPE_OBJ(seed);
	return rv;
}

/* w dropped after sharing its keys: rebuild s_w^SK, check it against
 * s_w^PK, and take back each survivor u's ±PRG(s_{u,w}) (u added it when
 * u < w, subtracted it otherwise). */
static tly_err
remove_pair_masks(struct tly_secagg_server *s, const struct tly_secagg_client_rec *w)
{
	uint8_t secret[TLY_KX_SECRET_BYTES], pk[TLY_KX_PUBLIC_BYTES], seed[TLY_KX_SHARED_BYTES];
	uint32_t count = gather(s, w, TLY_UNMASK_MASK_KEY);
	tly_err rv = TLY_ETOOFEW;

	if (count >= s->query.threshold)
		rv = rebuild(s, count, secret);
	if (rv == TLY_OK)
		rv = tly_kx_public(pk, secret);
	if (rv == TLY_OK && sodium_memcmp(pk, w->keys.secret_pk, sizeof pk) != 0)
		rv = TLY_EAUTH;
	for (uint32_t j = 0; j < w->holder_count && rv == TLY_OK; j++) {
		const struct tly_secagg_client_rec *u = tly_secagg_client_of(s, w->holders[j]);
		if (!(u->flags & IN_U3))
			continue;
		rv = tly_kx_agree(seed, secret, w->keys.secret_pk, u->keys.secret_pk,
		                  TLY_SECAGG_PAIRWISE_LABEL);
		if (rv == TLY_OK)
			rv = tly_secagg_mask(s->sum, s->query.cells, seed, "pairwise-mask",
			                     s->query_id, u->id < w->id ? -1 : 1);
	}
	TLY_WIPE_OBJ(secret);
	TLY_WIPE_OBJ(seed);
	return rv;
}

/* Round 4 ends: nothing goes out, whatever box is given. */
static tly_err
close_unmasking(struct tly_secagg_server *s, struct tly_outbox *box)
{
	struct tly_idlist recovered = {0, NULL};
	tly_err rv = TLY_ETOOFEW;

	(void)box;
	if (count_flag(s, IN_U5) < s->query.threshold)
		return rv;
	recovered.ids = malloc(s->n * sizeof *recovered.ids);
	if (recovered.ids == NULL)
		return TLY_ENOMEM;
	rv = TLY_OK;
	for (uint32_t i = 0; i < s->n && rv == TLY_OK; i++) {
		const struct tly_secagg_client_rec *x = &s->clients[i];
		if (x->flags & IN_U3) {
			rv = remove_self_mask(s, x);
		} else if ((x->flags & IN_U2) && holders_with(s, x, IN_U3) > 0) {
			rv = remove_pair_masks(s, x);
			recovered.ids[recovered.count++] = x->id;
		}
	}
	if (rv != TLY_OK) {
		tly_idlist_fini(&recovered);
		return rv;
	}
	s->recovered = recovered;
	s->phase = TLY_SECAGG_DONE;
	return TLY_OK;
}

/* ---- closing, aborting, the result ---- */

static tly_err
send_abort(struct tly_secagg_server *s, uint32_t reason, struct tly_outbox *box)
{
	struct tly_buf body;
	tly_err rv;

	s->phase = TLY_SECAGG_ABORTED;
	s->abort_reason = reason;
	tly_buf_init(&body);
	rv = tly_abort_encode(&body, reason);
	if (rv == TLY_OK)
		rv = tly_secagg_broadcast(s, TLY_MSG_ABORT, &body, 0, box);
	tly_buf_fini(&body);
	TLY_WIPE(s->sum, s->query.cells * sizeof *s->sum);
	return rv;
}

typedef tly_err (*close_fn)(struct tly_secagg_server *s, struct tly_outbox *box);

/* What ends each collecting phase; none for DONE and ABORTED. */
static const close_fn closers[] = {
    [TLY_SECAGG_ADVERTISING] = close_advertising, [TLY_SECAGG_SHARING] = close_sharing,
    [TLY_SECAGG_MASKING] = close_masking,         [TLY_SECAGG_CHECKING] = close_checking,
    [TLY_SECAGG_UNMASKING] = close_unmasking,
};

tly_err
tly_secagg_server_close_round(struct tly_secagg_server *s, struct tly_outbox *box)
{
	size_t mark = box->count;
	tly_err rv;

	if ((size_t)s->phase >= sizeof closers / sizeof closers[0] || closers[s->phase] == NULL)
		return TLY_ESTATE;
	rv = closers[s->phase](s, box);
	s->complete = 0;
	if (rv == TLY_OK)
		return TLY_OK;
	tly_outbox_truncate(box, mark);
	uint32_t reason = rv == TLY_ETOOFEW  ? TLY_ABORT_TOO_FEW
	                  : rv == TLY_ENOMEM ? TLY_ABORT_INTERNAL
	                                     : TLY_ABORT_INCONSISTENT;
	(void)send_abort(s, reason, box); /* the query is over either way */
	return rv;
}

tly_err
tly_secagg_server_abort(struct tly_secagg_server *s, uint32_t reason, struct tly_outbox *box)
{
	if (s->phase == TLY_SECAGG_DONE || s->phase == TLY_SECAGG_ABORTED)
		return TLY_ESTATE;
	return send_abort(s, reason, box);
}

static tly_err
copy_list(struct tly_idlist *out, const uint32_t *ids, uint32_t count)
{
	tly_err rv = list_alloc(out, count);

	if (rv == TLY_OK && count > 0) {
		memcpy(out->ids, ids, count * sizeof *ids);
		out->count = count;
	}
	return rv;
}

tly_err
tly_secagg_server_result(const struct tly_secagg_server *s, struct tly_secagg_result *out)
{
	struct tly_secagg_result r;
	size_t d = s->query.cells;
	tly_err rv;

	if (s->phase != TLY_SECAGG_DONE)
		return TLY_ESTATE;
	memset(&r, 0, sizeof r);
	r.d = d;
	rv = TLY_ENOMEM;
	r.cells = malloc(d * sizeof *r.cells);
	r.dropped.ids = malloc(s->n * sizeof *r.dropped.ids);
	if (r.cells == NULL || r.dropped.ids == NULL)
		goto out;
	rv = tly_field_vec_decode_signed(r.cells, s->sum, d, NULL);
	if (rv == TLY_OK)
		rv = copy_list(&r.contributors, s->survivors.ids, s->survivors.count);
	if (rv == TLY_OK)
		rv = copy_list(&r.recovered, s->recovered.ids, s->recovered.count);
	if (rv != TLY_OK)
		goto out;
	for (uint32_t i = 0; i < s->n; i++)
		if (!(s->clients[i].flags & IN_U3))
			r.dropped.ids[r.dropped.count++] = s->clients[i].id;
	*out = r;
	return TLY_OK;
out:
	tly_secagg_result_fini(&r);
	return rv;
}

void
tly_secagg_result_fini(struct tly_secagg_result *r)
{
	if (r == NULL)
		return;
	free(r->cells);
	tly_idlist_fini(&r->contributors);
	tly_idlist_fini(&r->recovered);
	tly_idlist_fini(&r->dropped);
	memset(r, 0, sizeof *r);
}
