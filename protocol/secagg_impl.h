/*
 * secagg_impl.h - helpers shared by the pairwise-masking client
 * (secagg.c) and server (secagg_server.c). Not for other folders.
 *
 * The file group calls only downwards (no file calls one that calls it):
 *   client: secagg.c -> secagg_unmask.c -> secagg_client_state.c
 *   server: secagg_server.c -> secagg_close.c -> secagg_server_state.c
 *   both -> secagg_common.c -> graph.c
 */
#ifndef TLY_SECAGG_IMPL_H
#define TLY_SECAGG_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kx.h"
#include "crypto/shamir.h"
#include "protocol/graph.h"
#include "protocol/secagg.h"

/* Append a copy of raw message bytes addressed to `to`. */
TLY_MUST tly_err tly_secagg_forward(struct tly_outbox *box, uint32_t to, const uint8_t *msg,
                                    size_t len);

/* A message's round against the rounds [first, last] the party takes now:
 * earlier is TLY_EREPLAY (that round is over), later TLY_ESTATE. */
TLY_MUST tly_err tly_secagg_round_check(uint32_t round, uint32_t first, uint32_t last);

/* The graph of a checked query. */
TLY_MUST tly_err tly_secagg_graph(struct tly_graph *g, const struct tly_query *q,
                                  const uint8_t query_id[static TLY_QUERY_ID_BYTES]);

/* TLY_OK when pk is an X25519 public key of full order, else
 * TLY_ELOWORDER. */
TLY_MUST tly_err tly_secagg_key_check(const uint8_t pk[static TLY_KX_PUBLIC_BYTES]);

/*
 * Verify a signature that `sender` made over a message of `type` for this
 * query addressed to the coordinator with this body, as forwarded in
 * KEY_LIST (ADVERTISE) and SIGNATURE_LIST (CONSISTENCY). TLY_EAUTH, or
 * TLY_EPEER for a sender missing from the roster.
 */
TLY_MUST tly_err tly_secagg_verify_forwarded(const struct tly_roster *roster,
                                             const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                             enum tly_msg_type type, uint32_t sender,
                                             const uint8_t *body, size_t body_len,
                                             const uint8_t signature[static TLY_SIGNATURE_BYTES]);

/*
 * acc += PRG(seed) (sign > 0) or acc -= PRG(seed) (sign < 0) over d
 * elements, for purpose "self-mask" or "pairwise-mask" (secagg.h: session
 * query_id || be32(TLY_ROUND_MASKED_INPUT), length d).
 */
TLY_MUST tly_err tly_secagg_mask(uint64_t *acc, size_t d, const uint8_t seed[static 32],
                                 const char *purpose,
                                 const uint8_t query_id[static TLY_QUERY_ID_BYTES], int sign);

/* The largest of two counts. */
static inline uint32_t
tly_secagg_max(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* The query's graph is complete (SecAgg, or SecAgg+ with degree n - 1). */
static inline int
tly_secagg_complete(const struct tly_query *q)
{
	return q->degree >= q->participants.count - 1u;
}

/*
 * The consistency quorum: how many CONSISTENCY signatures on its own U3 a
 * client needs before it unmasks, and so the least |U3| and |U4|.
 *
 * Complete graph: Q = ceil((n + t) / 2), the smallest with 2Q >= n + t, from
 * any clients of U3 (the client itself may be one). An honest client signs
 * one U3, so two different U3 each with Q signatures need 2(Q - c) <= n - c
 * honest signers: impossible for c <= t - 1 corrupt clients. Only one U3 is
 * ever unmasked, and the other kind of secret of any honest client has at
 * most c < t shares out (secagg.h). Q >= t since n >= t.
 *
 * Sparse graph (SecAgg+): t + 1, that is the client and t of its
 * neighbours, the signatures checked being the neighbours' only (Bell et
 * al.'s neighbourhood check). With 2t > k + a(w) for every honest w (a(w)
 * its corrupt neighbours: tly_graph_params), an honest client that
 * unmasks had t neighbours sign a U3 that holds it, so at most k - t of its
 * honest neighbours can reveal its mask key, and with a(w) corrupt ones
 * that is fewer than t: the mask key of a client that revealed anything is
 * never rebuilt, and no split of views teaches the coordinator more than
 * one survivor set would (docs/PRIVACY.md, "What each signature proves").
 */
static inline uint32_t
tly_secagg_quorum(const struct tly_query *q)
{
	if (!tly_secagg_complete(q))
		return q->threshold + 1u;
	return (q->participants.count + q->threshold + 1u) / 2u;
}

/* Every 8-byte big-endian word of a 40-byte secret share is < p. */
int tly_secagg_share_valid(const uint8_t share[static TLY_SHAMIR_SECRET_SHARE_BYTES]);

/* ---- the client's state, shared by secagg.c (rounds 0-2, dispatch) and
 * secagg_unmask.c (rounds 3-4) ---- */

enum {
	TLY_SECAGG_PEER_HAS_SHARE = 1, /* its KEY_SHARE opened: we hold its shares */
	TLY_SECAGG_PEER_IN_U2 = 2,     /* named in our SHARE_SET: we masked with it */
	TLY_SECAGG_SHARE_BYTES = TLY_SHAMIR_SECRET_SHARE_BYTES,
	/* per peer: its share of s^SK, then its share of b */
	TLY_SECAGG_HELD_BYTES = 2 * TLY_SECAGG_SHARE_BYTES,
	/* per peer, agreed once at KEY_LIST: the envelope secret (c_u, c_v),
	 * then the pairwise mask seed s_{u,v} */
	TLY_SECAGG_AGREED_BYTES = 2 * TLY_KX_SHARED_BYTES,
	TLY_SECAGG_KEY_HASH_KEY_BYTES = 16, /* crypto_shorthash (SipHash-2-4) */
};

_Static_assert(TLY_KEY_SHARE_PLAIN_BYTES == 8 + TLY_SECAGG_HELD_BYTES,
               "a key share carries both shares");

/* The query's long-lived secrets, in one sodium_malloc block. */
struct tly_secagg_secrets {
	uint8_t mask_sk[TLY_KX_SECRET_BYTES];       /* c_u^SK: envelopes */
	uint8_t secret_sk[TLY_KX_SECRET_BYTES];     /* s_u^SK: pairwise masks */
	uint8_t self_seed[TLY_SHAMIR_SECRET_BYTES]; /* b_u: the self mask */
};

/* A client of L(u) = N(u) ∩ U1. */
struct tly_secagg_peer {
	uint32_t id;
	uint8_t flags;
	struct tly_advertise keys;
};

struct tly_secagg_client {
	enum tly_secagg_client_phase phase;
	const struct tly_identity *self;
	const struct tly_roster *roster;
	struct tly_rng *rng;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query query;
	struct tly_graph graph;
	struct tly_advertise keys;          /* c_u^PK, s_u^PK */
	struct tly_secagg_secrets *secrets; /* sodium_malloc; from KEY_LIST on, one block with: */
	uint64_t *input;                    /* x_u (query.cells elements, < p) until masked */
	struct tly_secagg_peer *peers;      /* L(u), ids increasing */
	uint32_t peer_count;
	uint8_t *held;   /* in secrets' block: peer_count x TLY_SECAGG_HELD_BYTES */
	uint8_t *agreed; /* in secrets' block: peer_count x TLY_SECAGG_AGREED_BYTES, until masked */
	struct tly_idlist survivors; /* U3 */
	uint8_t survivors_hash[TLY_HASH_BYTES];
};

/* Wipe and free every secret (x_u, keys, seed, held shares). */
void tly_secagg_client_forget(struct tly_secagg_client *c);

/* The peer with this id in L(u), or NULL. O(log |L(u)|). */
struct tly_secagg_peer *tly_secagg_client_peer(const struct tly_secagg_client *c, uint32_t id);

/* A header from this client for this query. */
struct tly_msg_header tly_secagg_client_header(const struct tly_secagg_client *c,
                                               enum tly_msg_type type, uint32_t recipient);

/* Sign a message of `type` with this body and append it for the
 * coordinator (tly_msg_seal_to). */
TLY_MUST tly_err tly_secagg_client_send(const struct tly_secagg_client *c, enum tly_msg_type type,
                                        const uint8_t *body, size_t len, struct tly_outbox *out);

/* Round 3 (SURVIVORS in, CONSISTENCY out) and round 4 (SIGNATURE_LIST in,
 * UNMASK out), as secagg.h describes; a failure ends the query (the caller
 * stops the client). */
TLY_MUST tly_err tly_secagg_on_survivors(struct tly_secagg_client *c, const struct tly_msg *m,
                                         struct tly_outbox *out);
TLY_MUST tly_err tly_secagg_on_signature_list(struct tly_secagg_client *c, const struct tly_msg *m,
                                              struct tly_outbox *out);

/* ---- the server's state, shared by secagg_server.c (messages in) and
 * secagg_close.c (round ends) ---- */

/* How far each client got; each set is a subset of the one before. */
enum {
	ADVERTISED = 1 << 0,
	IN_U1 = 1 << 1, /* got a KEY_LIST */
	IN_U2 = 1 << 2, /* all its key shares relayed; got a SHARE_SET */
	IN_U3 = 1 << 3, /* its masked input is in the sum */
	IN_U4 = 1 << 4, /* signed U3 */
	IN_U5 = 1 << 5, /* sent its unmask shares */
};

struct tly_secagg_client_rec {
	uint32_t id;
	uint8_t flags;
	struct tly_advertise keys;
	uint8_t advertise_sig[TLY_SIGNATURE_BYTES];
	uint8_t consistency_sig[TLY_SIGNATURE_BYTES];
	uint32_t *holders; /* L(u) = N(u) ∩ U1, increasing: share j + 1 went to holders[j] */
	uint32_t holder_count;
	uint8_t *relayed; /* relayed[j]: u's KEY_SHARE for holders[j] went out */
	uint32_t relayed_count;
	struct tly_unmask unmask;
};

struct tly_secagg_server {
	enum tly_secagg_phase phase;
	uint32_t abort_reason; /* enum tly_abort_reason once ABORTED, else 0 */
	const struct tly_identity *coord;
	const struct tly_roster *roster;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	struct tly_query query;
	struct tly_graph graph;
	struct tly_secagg_client_rec *clients; /* in participant order, as graph.ids */
	uint32_t n;
	uint32_t expected;    /* clients that may still complete the current round */
	uint32_t complete;    /* clients that have */
	uint32_t *neighbours; /* scratch: degree ids */
	uint32_t *counts;     /* scratch: n counts, and n stack slots */
	uint32_t *stack;
	uint64_t *xs;                /* scratch: degree share indices */
	const uint8_t **shares;      /* scratch: degree share pointers */
	uint64_t *sum;               /* the masked inputs' sum, then the total */
	uint64_t *vector;            /* scratch: one masked input */
	struct tly_idlist survivors; /* U3 */
	uint8_t survivors_hash[TLY_HASH_BYTES];
	struct tly_idlist recovered;
	/* The public keys accepted so far, as an open-addressing set: slot 0
	 * empty, else 1 + 2 (client index) + (0 c^PK, 1 s^PK). Keyed hash, so
	 * that no client can choose keys that collide. */
	uint32_t *key_slots;
	uint32_t key_mask; /* slots - 1, slots a power of two >= 4n */
	uint8_t key_hash_key[TLY_SECAGG_KEY_HASH_KEY_BYTES];
};

/* The record of participant id, or NULL. */
struct tly_secagg_client_rec *tly_secagg_client_of(struct tly_secagg_server *s, uint32_t id);

/* A header from the coordinator for this query. */
struct tly_msg_header tly_secagg_server_header(const struct tly_secagg_server *s,
                                               enum tly_msg_type type, uint32_t recipient);

/* Sign one message (recipient TLY_PARTY_ALL) and append a copy to each
 * client with `flag` (0: every participant). All or nothing. */
TLY_MUST tly_err tly_secagg_broadcast(struct tly_secagg_server *s, enum tly_msg_type type,
                                      const struct tly_buf *body, uint8_t flag,
                                      struct tly_outbox *box);

#endif
