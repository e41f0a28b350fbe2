/*
 * secagg_common.c - pairwise masking: the query rules every party applies,
 * and the helpers the client and the server share (masks, forwarded
 * signatures, message plumbing).
 */
#include "protocol/secagg.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/wipe.h"
#include "protocol/secagg_impl.h"

_Static_assert((int)TLY_KX_SHARED_BYTES == (int)TLY_PRG_SEED_BYTES, "an agreed key seeds a mask");
_Static_assert((int)TLY_SHAMIR_SECRET_BYTES == (int)TLY_KX_SECRET_BYTES,
               "a mask key is a Shamir secret");
_Static_assert((int)TLY_SHAMIR_SECRET_BYTES == (int)TLY_PRG_SEED_BYTES,
               "a self-mask seed is a Shamir secret");
_Static_assert((uint64_t)TLY_MAX_CELLS *TLY_FIELD_ELEMENT_BYTES < UINT32_MAX,
               "a masked input's body length fits the header's u32");

/* ---- plumbing ---- */

tly_err
tly_secagg_forward(struct tly_outbox *box, uint32_t to, const uint8_t *msg, size_t len)
{
	struct tly_buf copy;

	tly_buf_init(&copy);
	tly_buf_put_bytes(&copy, msg, len);
	return tly_outbox_push(box, to, &copy); /* takes copy's storage, even on failure */
}

tly_err
tly_secagg_round_check(uint32_t round, uint32_t first, uint32_t last)
{
	if (round < first)
		return TLY_EREPLAY;
	if (round > last)
		return TLY_ESTATE;
	return TLY_OK;
}

/* ---- the query ---- */

static int
degree_valid(const struct tly_query *q)
{
	uint32_t n = q->participants.count;

	/* The complete graph's lists are O(n) per client: its own cap. */
	if (q->degree == n - 1)
		return n <= TLY_MAX_COMPLETE_PARTIES;
	return q->protocol == TLY_PROTOCOL_SECAGG_PLUS && q->degree >= 2 && q->degree % 2 == 0 &&
	       q->degree < n - 1 && q->degree <= TLY_MAX_NEIGHBOURS;
}

tly_err
tly_secagg_query_check(const struct tly_query *q, const struct tly_roster *roster)
{
	uint32_t n = q->participants.count;

	if (q->protocol != TLY_PROTOCOL_SECAGG && q->protocol != TLY_PROTOCOL_SECAGG_PLUS)
		return TLY_EINVAL;
	if (q->cells == 0 || q->cells > TLY_MAX_CELLS || q->committee.count != 0)
		return TLY_EINVAL;
	if (n < 3 || n > TLY_MAX_PARTIES)
		return TLY_EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (q->participants.ids[i] == 0 ||
		    (i > 0 && q->participants.ids[i] <= q->participants.ids[i - 1]))
			return TLY_EINVAL;
	if (!degree_valid(q))
		return TLY_EINVAL;
	/* 2t > k: no split view gives both secrets of a client (secagg.h). */
	if (q->threshold < 2 || q->threshold > q->degree || 2u * q->threshold <= q->degree)
		return TLY_EINVAL;
	if (q->min_honest == 0 || q->min_honest > q->min_contributors || q->min_contributors > n)
		return TLY_EINVAL;
	if (!tly_idlist_in_roster(&q->participants, roster))
		return TLY_EPEER;
	return TLY_OK;
}

tly_err
tly_secagg_read_query(const struct tly_roster *roster, uint32_t self, const uint8_t *msg,
                      size_t len, uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_query *q)
{
	return tly_query_read_checked(roster, self, msg, len, tly_secagg_query_check, query_id, q);
}

tly_err
tly_secagg_graph(struct tly_graph *g, const struct tly_query *q,
                 const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	return tly_graph_init(g, query_id, q->participants.ids, q->participants.count, q->degree);
}

/* ---- keys and signatures ---- */

tly_err
tly_secagg_key_check(const uint8_t pk[static TLY_KX_PUBLIC_BYTES])
{
	/* Any scalar will do: X25519 clamps it to a multiple of the cofactor,
	 * so the product is the identity (all zero) exactly for points of
	 * small order. The scalar and the product are public. */
	static const uint8_t scalar[TLY_KX_SECRET_BYTES] = {9};
	uint8_t product[TLY_KX_SHARED_BYTES];

	return tly_kx_x25519(product, scalar, pk);
}

tly_err
tly_secagg_verify_forwarded(const struct tly_roster *roster,
                            const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                            enum tly_msg_type type, uint32_t sender, const uint8_t *body,
                            size_t body_len, const uint8_t signature[static TLY_SIGNATURE_BYTES])
{
	const uint8_t *pk = tly_roster_sign_pk(roster, sender);
	struct tly_msg_header header = {
	    .type = type,
	    .sender = sender,
	    .recipient = TLY_PARTY_COORDINATOR,
	};

	if (pk == NULL || sender == TLY_PARTY_COORDINATOR)
		return TLY_EPEER;
	memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
	return tly_msg_verify_header(&header, body, body_len, signature, pk);
}

int
tly_secagg_share_valid(const uint8_t share[static TLY_SHAMIR_SECRET_SHARE_BYTES])
{
	uint64_t bad = 0;

	for (size_t i = 0; i < TLY_SHAMIR_SECRET_CHUNKS; i++)
		bad |=
		    (uint64_t)(tly_load_be64(share + i * TLY_FIELD_ELEMENT_BYTES) >= TLY_FIELD_P);
	/* Whether a share is well formed is public: a bad one is reported as
	 * its sender's fault. The words themselves are secret. */
	return tly_ct_public(bad) == 0;
}

/* ---- masks ---- */

tly_err
tly_secagg_mask(uint64_t *acc, size_t d, const uint8_t seed[static 32], const char *purpose,
                const uint8_t query_id[static TLY_QUERY_ID_BYTES], int sign)
{
	uint8_t session[TLY_QUERY_ID_BYTES + 4];
	struct tly_prg *prg = NULL;
	tly_err rv;

	memcpy(session, query_id, TLY_QUERY_ID_BYTES);
	tly_store_be32(session + TLY_QUERY_ID_BYTES, TLY_ROUND_MASKED_INPUT);
	struct tly_prg_context ctx = {
	    .purpose = purpose,
	    .session = session,
	    .session_len = sizeof session,
	    .length = d,
	};
	rv = tly_prg_alloc(&prg, TLY_SECAGG_PRG, seed, &ctx);
	if (rv != TLY_OK)
		return rv;
	rv = sign > 0 ? tly_prg_field_add(prg, acc, d) : tly_prg_field_sub(prg, acc, d);
	tly_prg_free(prg);
	return rv;
}
