/*
 * committee.c - committee sharing: the query rules every party applies,
 * the node's round 1, and the helpers the member and the coordinator share.
 */
#include "committee.h"

#include <stdlib.h>
#include <string.h>

#include "committee_impl.h"
#include "crypto/shamir.h"
#include "crypto/wipe.h"
#include "query/noise.h"

_Static_assert(TLY_MAX_COMMITTEE <= 64, "a node's deliveries fit one 64-bit mask");
_Static_assert(TLY_MAX_ANNOUNCE_ATTEMPTS <= 32, "a member's complaints fit one 32-bit mask");
_Static_assert((uint64_t)TLY_MAX_CELLS *TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES < UINT32_MAX,
               "a share's body length fits the header's u32");

/* ---- helpers shared by the three parties ---- */

tly_err
tly_committee_vote_verify(const struct tly_roster *roster,
                          const uint8_t query_id[static TLY_QUERY_ID_BYTES], uint32_t voter,
                          uint32_t attempt, const uint8_t set_hash[static TLY_HASH_BYTES],
                          const uint8_t signature[static TLY_SIGNATURE_BYTES])
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_SET_SIGN,
	    .sender = voter,
	    .recipient = TLY_PARTY_COORDINATOR,
	};
	const uint8_t *pk = tly_roster_sign_pk(roster, voter);
	struct tly_buf body;
	tly_err rv;

	if (pk == NULL)
		return TLY_EPEER;
	tly_buf_init(&body);
	memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
	rv = tly_set_sign_encode(&body, attempt, set_hash);
	if (rv == TLY_OK)
		rv = tly_msg_verify_header(&header, body.data, body.len, signature, pk);
	tly_buf_fini(&body);
	return rv;
}

/* ---- the query ---- */

static int
increasing(const struct tly_idlist *list)
{
	for (uint32_t i = 1; i < list->count; i++)
		if (list->ids[i] <= list->ids[i - 1])
			return 0;
	return 1;
}

tly_err
tly_committee_query_check(const struct tly_query *q, const struct tly_roster *roster)
{
	uint32_t n = q->participants.count;

	if (q->protocol != TLY_PROTOCOL_COMMITTEE)
		return TLY_EINVAL;
	if (q->cells == 0 || q->cells > TLY_MAX_CELLS)
		return TLY_EINVAL;
	if (n == 0 || n > TLY_MAX_PARTIES || !increasing(&q->participants))
		return TLY_EINVAL;
	if (q->committee.count == 0 || q->committee.count > TLY_MAX_COMMITTEE ||
	    q->committee.count != q->degree || !increasing(&q->committee))
		return TLY_EINVAL;
	/* t <= q <= k and 2q >= k + t: two different sets cannot each gather
	 * q votes while at most t - 1 members collude (committee.h). */
	if (q->threshold == 0 || q->quorum < q->threshold || q->quorum > q->degree ||
	    2u * q->quorum < (unsigned)q->degree + q->threshold)
		return TLY_EINVAL;
	/* Every announced set is large enough to carry the target noise. */
	if (q->min_honest == 0 || q->min_honest > q->min_contributors || q->min_contributors > n)
		return TLY_EINVAL;
	if (!tly_idlist_in_roster(&q->participants, roster) ||
	    !tly_idlist_in_roster(&q->committee, roster))
		return TLY_EPEER;
	return TLY_OK;
}

tly_err
tly_committee_read_query(const struct tly_roster *roster, uint32_t self, const uint8_t *msg,
                         size_t len, uint8_t query_id[static TLY_QUERY_ID_BYTES],
                         struct tly_query *q)
{
	return tly_query_read_checked(roster, self, msg, len, tly_committee_query_check, query_id,
	                              q);
}

/* ---- Node: Round 1, shares ---- */

/* Seal this node's share for one member (plain: d * 8 bytes of scratch)
 * and append the signed SHARE, addressed to the coordinator for relaying. */
static tly_err
send_share(const struct tly_identity *self, const struct tly_party *member,
           const uint8_t query_id[static TLY_QUERY_ID_BYTES], const uint64_t *share, size_t d,
           uint8_t *plain, struct tly_outbox *out)
{
	struct tly_msg_header header = {
	    .type = TLY_MSG_SHARE,
	    .sender = self->id,
	    .recipient = member->id,
	};
	uint8_t raw_header[TLY_HEADER_BYTES];
	struct tly_buf body;
	tly_err rv;

	tly_buf_init(&body);
	memcpy(header.query_id, query_id, TLY_QUERY_ID_BYTES);
	/* The envelope's associated data is the exact header to be sent. */
	tly_msg_raw_header(raw_header, &header, (uint32_t)tly_committee_share_bytes(d));
	tly_field_vec_store(plain, share, d);
	rv = tly_envelope_seal(&body, self->kx_sk, self->kx_pk, member->kx_pk, raw_header, plain,
	                       d * TLY_FIELD_ELEMENT_BYTES);
	if (rv == TLY_OK)
		rv = tly_msg_seal_to(out, TLY_PARTY_COORDINATOR, &header, body.data, body.len,
		                     self->sign);
	TLY_WIPE(plain, d * TLY_FIELD_ELEMENT_BYTES);
	tly_buf_fini(&body);
	return rv;
}

/* The checks before any data-derived byte: role, mechanism, shape, policy. */
static tly_err
node_accept(const struct tly_identity *self, const struct tly_committee_node_opts *opts,
            const uint8_t query_id[static TLY_QUERY_ID_BYTES], const struct tly_query *q, size_t d)
{
	if (!tly_idlist_contains(&q->participants, self->id))
		return TLY_EPEER;
	if (q->mechanism == TLY_MECH_NONE && !opts->allow_no_noise)
		return TLY_EPEER;
	if (d != q->cells)
		return TLY_EINVAL;
	if (opts->policy != NULL)
		return opts->policy(opts->policy_arg, query_id, q);
	return TLY_OK;
}

tly_err
tly_committee_node_answer(const struct tly_identity *self, const struct tly_roster *roster,
                          struct tly_rng *rng, const struct tly_committee_node_opts *opts,
                          const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                          const struct tly_query *q, const int64_t *cells, size_t d,
                          struct tly_outbox *out)
{
	static const struct tly_committee_node_opts defaults;
	uint64_t *rows[TLY_MAX_COMMITTEE];
	struct tly_noise_params params;
	uint64_t *input = NULL, *shares = NULL;
	uint8_t *plain = NULL;
	size_t k = 0, start = out->count;
	tly_err rv;

	TLY_REQUIRE(self->sign != NULL && self->kx_sk != NULL);
	if (opts == NULL)
		opts = &defaults;
	rv = node_accept(self, opts, query_id, q, d);
	if (rv != TLY_OK)
		goto out;
	rv = tly_noise_calibrate(q, &params);
	if (rv != TLY_OK)
		goto out;

	rv = TLY_ENOMEM;
	k = q->committee.count;
	input = malloc(d * sizeof *input);
	shares = malloc(k * d * sizeof *shares);
	plain = malloc(d * TLY_FIELD_ELEMENT_BYTES);
	if (input == NULL || shares == NULL || plain == NULL)
		goto out;

	/* Round 1: the noisy input x_u = cells + noise share, in F_p ... */
	rv = tly_noise_apply_until(rng, &params, cells, d, input, opts->stop, opts->stop_arg);
	if (rv != TLY_OK)
		goto out;
	/* ... shared t-of-k: committee[j] holds f(j + 1) ... */
	for (size_t j = 0; j < k; j++)
		rows[j] = shares + j * d;
	rv = tly_shamir_share(rng, input, d, q->threshold, (unsigned)k, rows);
	if (rv != TLY_OK)
		goto out;
	/* ... each share sealed to its member and signed. */
	for (size_t j = 0; j < k && rv == TLY_OK; j++)
		rv = send_share(self, tly_roster_find(roster, q->committee.ids[j]), query_id,
		                rows[j], d, plain, out);
out:
	if (rv != TLY_OK)
		tly_outbox_truncate(out, start);
	if (input != NULL)
		TLY_WIPE(input, d * sizeof *input);
	if (shares != NULL)
		TLY_WIPE(shares, k * d * sizeof *shares);
	free(plain);
	free(shares);
	free(input);
	return rv;
}
