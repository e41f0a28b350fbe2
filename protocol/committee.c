/*
 * committee.c - committee sharing: the query rules every party applies,
 * the node's round 1, and the helpers the member and the coordinator share.
 */
#include "committee.h"

#include <stdlib.h>
#include <string.h>

#include "committee_impl.h"
#include "crypto/prg.h"
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

tly_err
tly_committee_seed_expand(const uint8_t seed[static TLY_SHARE_SEED_BYTES],
                          const uint8_t query_id[static TLY_QUERY_ID_BYTES], uint32_t sender,
                          uint32_t member, uint64_t *share, size_t d)
{
	uint8_t session[TLY_QUERY_ID_BYTES + 4 + 4];
	const struct tly_prg_context ctx = {
	    .purpose = TLY_COMMITTEE_SEED_PURPOSE,
	    .session = session,
	    .session_len = sizeof session,
	    .length = d,
	};
	struct tly_prg *prg = NULL;
	tly_err rv;

	memcpy(session, query_id, TLY_QUERY_ID_BYTES);
	tly_store_be32(session + TLY_QUERY_ID_BYTES, sender);
	tly_store_be32(session + TLY_QUERY_ID_BYTES + 4, member);
	rv = tly_prg_alloc(&prg, TLY_PRG_DEFAULT, seed, &ctx);
	if (rv == TLY_OK)
		rv = tly_prg_field(prg, share, d);
	if (rv != TLY_OK)
		TLY_WIPE(share, d * sizeof *share);
	tly_prg_free(prg);
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

/* Seal `plain` to one member as a SHARE of `form` (messages.h) and append
 * it, signed, addressed to the coordinator for relaying. */
static tly_err
send_share(const struct tly_identity *self, const struct tly_party *member,
           const uint8_t query_id[static TLY_QUERY_ID_BYTES], enum tly_share_form form, size_t d,
           const uint8_t *plain, size_t plain_len, struct tly_outbox *out)
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
	/* The envelope's associated data is the exact header to be sent,
	 * whose body length tells the form. */
	tly_msg_raw_header(raw_header, &header, (uint32_t)tly_share_body_bytes(form, d));
	if (form == TLY_SHARE_SEEDED)
		tly_buf_put_u8(&body, TLY_SHARE_SEEDED);
	rv = tly_envelope_seal(&body, self->kx_sk, self->kx_pk, member->kx_pk, raw_header, plain,
	                       plain_len);
	if (rv == TLY_OK)
		rv = tly_msg_seal_to(out, TLY_PARTY_COORDINATOR, &header, body.data, body.len,
		                     self->sign);
	tly_buf_fini(&body);
	return rv;
}

/* The Lagrange coefficients that take a polynomial's values at 0, 1, ...,
 * t - 1 to its value at x >= t: those at zero for the points m - x, where
 * g(X) = f(X + x) takes the same values (all nonzero, so accepted). */
static tly_err
coeffs_at(uint64_t x, unsigned t, uint64_t *coeffs)
{
	uint64_t xs[TLY_MAX_COMMITTEE];

	for (unsigned m = 0; m < t; m++)
		xs[m] = TLY_FIELD_P - (x - m);
	return tly_shamir_lagrange_at_zero(xs, t, coeffs);
}

/*
 * Share `input` t-of-k from seeds (issue 14 section 4): committee[j] for
 * j < t - 1 gets seeds[j], a fresh 32-byte seed, and f(j + 1) = its
 * expansion (rows[j]); with f(0) = input those t points fix each cell's
 * polynomial of degree t - 1, and rows[j] = f(j + 1) for j >= t - 1 by
 * Lagrange interpolation.
 */
static tly_err
share_seeded(struct tly_rng *rng, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
             uint32_t sender, const struct tly_query *q, const uint64_t *input, size_t d,
             uint8_t (*seeds)[TLY_SHARE_SEED_BYTES], uint64_t *const *rows)
{
	const uint64_t *points[TLY_MAX_COMMITTEE];
	uint64_t coeffs[TLY_MAX_COMMITTEE];
	unsigned t = q->threshold;
	tly_err rv = TLY_OK;

	points[0] = input;
	for (unsigned j = 0; j + 1 < t && rv == TLY_OK; j++) {
		tly_rng_bytes(rng, seeds[j], TLY_SHARE_SEED_BYTES);
		rv = tly_committee_seed_expand(seeds[j], query_id, sender, q->committee.ids[j],
		                               rows[j], d);
		points[j + 1] = rows[j];
	}
	for (size_t j = t - 1; j < q->committee.count && rv == TLY_OK; j++) {
		rv = coeffs_at(j + 1, t, coeffs);
		if (rv == TLY_OK)
			rv = tly_shamir_combine(coeffs, points, t, d, rows[j]);
	}
	return rv;
}

/* Seal and send the k shares, in committee order: the first `seeded` as
 * their seeds, the rest whole (plain: d * 8 bytes of scratch). */
static tly_err
send_shares(const struct tly_identity *self, const struct tly_roster *roster,
            const uint8_t query_id[static TLY_QUERY_ID_BYTES], const struct tly_query *q,
            size_t seeded, uint8_t (*seeds)[TLY_SHARE_SEED_BYTES], uint64_t *const *rows, size_t d,
            uint8_t *plain, struct tly_outbox *out)
{
	tly_err rv = TLY_OK;

	for (size_t j = 0; j < q->committee.count && rv == TLY_OK; j++) {
		const struct tly_party *member = tly_roster_find(roster, q->committee.ids[j]);
		if (j < seeded) {
			rv = send_share(self, member, query_id, TLY_SHARE_SEEDED, d, seeds[j],
			                TLY_SHARE_SEED_BYTES, out);
			continue;
		}
		tly_field_vec_store(plain, rows[j], d);
		rv = send_share(self, member, query_id, TLY_SHARE_WHOLE, d, plain,
		                d * TLY_FIELD_ELEMENT_BYTES, out);
		TLY_WIPE(plain, d * TLY_FIELD_ELEMENT_BYTES);
	}
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
	uint8_t seeds[TLY_MAX_COMMITTEE][TLY_SHARE_SEED_BYTES];
	struct tly_noise_params params;
	uint64_t *input = NULL, *shares = NULL;
	uint8_t *plain = NULL;
	size_t k = 0, seeded = 0, start = out->count;
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
	/* ... shared t-of-k: committee[j] holds f(j + 1), the first t - 1
	 * as seeds ... */
	for (size_t j = 0; j < k; j++)
		rows[j] = shares + j * d;
	seeded = opts->whole_shares ? 0 : q->threshold - 1u;
	if (seeded == 0)
		rv = tly_shamir_share(rng, input, d, q->threshold, (unsigned)k, rows);
	else
		rv = share_seeded(rng, query_id, self->id, q, input, d, seeds, rows);
	if (rv != TLY_OK)
		goto out;
	/* ... each share sealed to its member and signed. */
	rv = send_shares(self, roster, query_id, q, seeded, seeds, rows, d, plain, out);
out:
	if (rv != TLY_OK)
		tly_outbox_truncate(out, start);
	if (input != NULL)
		TLY_WIPE(input, d * sizeof *input);
	if (shares != NULL)
		TLY_WIPE(shares, k * d * sizeof *shares);
	TLY_WIPE(seeds, sizeof seeds);
	free(plain);
	free(shares);
	free(input);
	return rv;
}
