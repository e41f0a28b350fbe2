/*
 * secagg.h - pairwise masking: SecAgg (Bonawitz et al., "Practical Secure
 * Aggregation for Privacy-Preserving Machine Learning", CCS'17, Figure 4:
 * the variant for a malicious server, with signatures and the consistency
 * check) and SecAgg+ (Bell et al., CCS'20: the same rounds over a sparse
 * random Harary graph, graph.h), as pure state machines for the client (a
 * trust node) and the server (the coordinator).
 *
 * Nothing here touches a socket, a clock or a log: every function takes
 * messages and appends what it would send to a struct tly_outbox. Nodes
 * address everything to TLY_PARTY_COORDINATOR (KEY_SHARE too: the header
 * names the peer, the coordinator relays); the coordinator addresses each
 * message to one node. Deadlines are the caller's: when one passes it calls
 * tly_secagg_server_close_round.
 *
 * Notation: N(u) is u's neighbourhood in the query's graph (every other
 * participant for SecAgg), t the query's threshold, d its cells. U1 ⊇ U2 ⊇
 * U3 ⊇ U4 ⊇ U5 are the clients still present at each round, as in the paper.
 * L(u) = N(u) ∩ U1, sorted: the holders of u's shares; v holds share
 * number 1 + (v's rank in L(u)).
 *
 * Rounds (messages.h; round numbers of the wire in brackets):
 *   QUERY [0]            coordinator -> all: the question, signed once.
 *   Round 0 AdvertiseKeys
 *     ADVERTISE [1]      u -> server: c_u^PK (envelope key) and s_u^PK (mask
 *                        key), fresh X25519 pairs for this query.
 *     KEY_LIST [2]       server -> u: the entries of {u} ∪ L(u), each with
 *                        that client's signature over its ADVERTISE. u checks
 *                        every signature (rebuilding the ADVERTISE bytes),
 *                        that every id is u or a neighbour, that its own
 *                        keys are there unchanged, that no public key occurs
 *                        twice or has low order, and |L(u)| >= t.
 *   Round 1 ShareKeys
 *     KEY_SHARE [3]      u -> v for each v in L(u), relayed: an envelope
 *                        (tly_envelope_seal with c_u^SK, c_v^PK) of u, v and
 *                        u's t-of-|L(u)| shares of s_u^SK and of a fresh
 *                        32-byte self-mask seed b_u (tly_shamir_secret_share).
 *     SHARE_SET [4]      server -> v: U2 ∩ L(v), the senders whose shares it
 *                        relayed to v (U2: the clients that sent all theirs).
 *   Round 2 MaskedInputCollection
 *     MASKED_INPUT [5]   u -> server: y_u = x_u + PRG(b_u)
 *                          + sum over v in U2 ∩ N(u) of ±PRG(s_{u,v}),
 *                        + when u < v, - otherwise, where x_u is u's cells
 *                        plus its noise share (noise.h) in F_p, s_{u,v} =
 *                        tly_kx_agree(s_u^SK, s_u^PK, s_v^PK,
 *                        TLY_SECAGG_PAIRWISE_LABEL), and PRG is tly_prg
 *                        (TLY_SECAGG_PRG, AES-128-CTR) with purpose
 *                        "self-mask" or "pairwise-mask", session query_id
 *                        || be32(TLY_ROUND_MASKED_INPUT), length d.
 *   Round 3 ConsistencyCheck
 *     SURVIVORS [6]      server -> U3: U3, the clients whose masked input
 *                        arrived. u checks u ∈ U3, |U3| >= max(Q,
 *                        min_contributors) (Q = t + 1 on a sparse graph),
 *                        and U3 ∩ N(u) ⊆ its SHARE_SET.
 *     CONSISTENCY [7]    u -> server: tly_idlist_hash(U3), signed.
 *   Round 4 Unmasking
 *     SIGNATURE_LIST [8] server -> U4. Complete graph: every CONSISTENCY
 *                        signature it got, signed once; u refuses (and
 *                        stops) unless there are >= Q (below), all from U3.
 *                        Sparse graph: per client, those of t of u's
 *                        neighbours in U4 (U4 pruned first so that each
 *                        has t); u refuses unless there are >= t, each by a
 *                        neighbour in U3. Either way every signature must
 *                        verify over the CONSISTENCY bytes u rebuilds from
 *                        its own U3: a coordinator that shows clients
 *                        different survivor sets is caught.
 *     UNMASK [9]         u -> server: for each v in its SHARE_SET, its share
 *                        of b_v if v ∈ U3, else of s_v^SK; one kind per v,
 *                        and one UNMASK per query.
 *   The server rebuilds b_u for u ∈ U3 and s_w^SK for w ∈ U2 \ U3 (checking
 *   it against s_w^PK) from t shares held by their neighbours, removes the
 *   masks and outputs z = sum of x_u over U3 in F_p, decoded to int64 cells.
 *
 * Privacy. The server sees each y_u masked by PRG(b_u) and learns b_u only
 * for clients in U3 and s_w^SK only for clients outside it; an honest client
 * reveals one kind of share per peer, once, for the one U3 it signed, and
 * only with signatures on that U3 from Q = ceil((n + t) / 2) clients
 * (tly_secagg_quorum; 2Q >= n + t). A server that shows different U3 to
 * different clients, with c corrupt clients signing every view, needs
 * Q - c honest signers per view, disjoint: 2(Q - c) <= n - c, impossible
 * for c <= t - 1. So one U3 at most is ever unmasked, and the other secret
 * of any honest client has at most c < t shares out. This is Bonawitz et
 * al.'s consistency check with the signature count raised from t (which
 * fails for c >= 2t - n + 1, e.g. n = 4, t = 2, c = 1) to Q. Bell et al.
 * (CCS'20) argue per neighbourhood instead: 2t > k + (corrupt neighbours),
 * which graph.h's parameters give with high probability; Q makes the bound
 * deterministic for c <= t - 1 and costs liveness: Q clients must sign U3.
 * That is the complete graph's rule. On a sparse graph a client checks t of
 * its neighbours' signatures instead (O(log n), not O(n)): with 2t > k +
 * a(w) for every honest w (graph.h), an honest client that revealed shares
 * never has its mask key rebuilt, and a split of views gives the
 * coordinator no more than claiming those clients dropped in one view
 * (docs/PRIVACY.md, "Pairwise masking: what each signature proves").
 * Every party requires 2 <= t <= k and 2t > k; the complete graph n <=
 * TLY_MAX_COMPLETE_PARTIES, a sparse degree <= TLY_MAX_NEIGHBOURS.
 *
 * Key agreements: a client runs X25519 twice per neighbour, both at
 * KEY_LIST (the envelope secret for every KEY_SHARE both ways, and the mask
 * seed s_{u,v}), kept until its masked input is sent.
 *
 * What is not covered: a malicious client can send a wrong share and make
 * the query abort (s_w^SK is checked against s_w^PK and b_u is rebuilt
 * from two different sets of t shares when more than t arrived, so a wrong
 * share is detected whenever that is possible, but not attributed); a
 * client can always lie about its own input. The coordinator picks the
 * query id and so the SecAgg+ graph (graph.h): it could try many ids.
 *
 * Errors for peer messages, common to the receive functions: TLY_EFORMAT
 * malformed (codec.h); TLY_EAUTH bad signature, envelope or forwarded
 * signature; TLY_EREPLAY a message for another query id, a second message
 * of its kind from the same sender, or one for a round that is over;
 * TLY_ESTATE a type this party does not take now (a later round, or a type
 * it never receives); TLY_EPEER a sender or recipient not allowed here, or
 * content that breaks the protocol (a set that is not a subset it must be,
 * keys that repeat); TLY_ERANGE a field element >= p; TLY_ETOOFEW below a
 * threshold. Which rejections end the query for the party is said per
 * function. TLY_ENOMEM is the only local failure.
 *
 * Ownership: identities, rosters and rngs are borrowed and must outlive the
 * objects that hold them; messages are read, never kept. Appended outbox
 * items are the caller's; on failure a function appends nothing.
 * Thread safety: no global state; one object is used by one thread at a
 * time.
 */
#ifndef TLY_SECAGG_H
#define TLY_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "wire/codec.h"
#include "crypto/prg.h"
#include "crypto/rng.h"
#include "wire/messages.h"
#include "wire/outbox.h"
#include "wire/party.h"

#define TLY_SECAGG_PAIRWISE_LABEL "tally/secagg/pairwise-mask"
/* The mask generator is part of the protocol (every party must expand the
 * same masks), so it is named here rather than taken from TLY_PRG_DEFAULT. */
#define TLY_SECAGG_PRG TLY_PRG_AES128CTR

/*
 * The rules every party applies to a masking query beyond those of
 * tly_query_decode: protocol SECAGG (degree = n - 1) or SECAGG_PLUS (degree
 * = n - 1, or even with 2 <= degree < n - 1); n >= 3 participants; 2 <=
 * threshold <= degree and 2 * threshold > degree; 1 <= min_honest <=
 * min_contributors <= n; every participant in the roster. TLY_EINVAL for a
 * broken rule, TLY_EPEER for an id missing from the roster.
 */
TLY_MUST tly_err tly_secagg_query_check(const struct tly_query *q, const struct tly_roster *roster);

/*
 * Open a QUERY addressed to `self` (or to all), check the coordinator's
 * signature, decode it and apply tly_secagg_query_check. For a node that
 * must see the question before it evaluates its data. On success *q (fini
 * with tly_query_fini) and query_id are written. Errors: those of
 * tly_msg_open and the checks; TLY_ESTATE when the message is not a QUERY;
 * TLY_EPEER when it is addressed to another party.
 */
TLY_MUST tly_err tly_secagg_read_query(const struct tly_roster *roster, uint32_t self,
                                       const uint8_t *msg, size_t len,
                                       uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                       struct tly_query *q);

/* ---- Client (a trust node) ---- */

struct tly_secagg_client;

struct tly_secagg_client_opts {
	/* TESTS AND BENCHMARKS ONLY. Nonzero lets the client answer a query
	 * with mechanism TLY_MECH_NONE; production nodes leave it 0, so that a
	 * coordinator cannot ask for noise-free inputs. */
	int allow_no_noise;
	/* Runs after every check of the query, before the client exists: the
	 * trust node's policy and durable budget spend. A non-OK return refuses
	 * the query and is returned as is. May be NULL. */
	tly_err (*policy)(void *arg, const uint8_t query_id[TLY_QUERY_ID_BYTES],
	                  const struct tly_query *q);
	void *policy_arg;
};

enum tly_secagg_client_phase {
	TLY_SECAGG_CLIENT_READY = 0,      /* query accepted: start() next */
	TLY_SECAGG_CLIENT_KEYS = 2,       /* advertised; awaiting KEY_LIST */
	TLY_SECAGG_CLIENT_SHARES = 3,     /* key shares sent; KEY_SHARE until SHARE_SET */
	TLY_SECAGG_CLIENT_SURVIVORS = 6,  /* masked input sent; awaiting SURVIVORS */
	TLY_SECAGG_CLIENT_SIGNATURES = 8, /* consistency signed; awaiting SIGNATURE_LIST */
	TLY_SECAGG_CLIENT_DONE = 10,      /* unmask shares sent; nothing more to do */
	TLY_SECAGG_CLIENT_ABORTED = 11,   /* stopped; every secret wiped */
};

/*
 * A client's state for one query, from the QUERY message (checked as by
 * tly_secagg_read_query). TLY_EPEER when self is not a participant or the
 * mechanism is TLY_MECH_NONE without opts->allow_no_noise; the policy's
 * error; TLY_ENOMEM. self needs no kx keys (the query's keys are fresh).
 * rng is borrowed: the client draws its noise, self-mask seed and Shamir
 * coefficients from it. opts may be NULL (defaults). *out owns heap and
 * sodium_malloc memory: tly_secagg_client_free. Phase READY.
 */
TLY_MUST tly_err tly_secagg_client_alloc(struct tly_secagg_client **out,
                                         const struct tly_identity *self,
                                         const struct tly_roster *roster, struct tly_rng *rng,
                                         const struct tly_secagg_client_opts *opts,
                                         const uint8_t *query_msg, size_t len);

/*
 * The same from a QUERY already opened and decoded (tly_query_read_checked,
 * as a node that read it once to check its spec and charge its ledger
 * does): q must be what that read returned for query_id; it is checked
 * again (tly_secagg_query_check) and copied. Errors as above, without
 * those of tly_msg_open.
 */
TLY_MUST tly_err tly_secagg_client_alloc_query(struct tly_secagg_client **out,
                                               const struct tly_identity *self,
                                               const struct tly_roster *roster, struct tly_rng *rng,
                                               const struct tly_secagg_client_opts *opts,
                                               const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                               const struct tly_query *q);

/* The accepted query (valid while c lives), and its id. */
const struct tly_query *tly_secagg_client_query(const struct tly_secagg_client *c);
const uint8_t *tly_secagg_client_query_id(const struct tly_secagg_client *c);

/*
 * Round 0 AdvertiseKeys: x_u = cells + this node's noise share (noise.h; or
 * the cells alone for TLY_MECH_NONE), two fresh key pairs, and one
 * ADVERTISE appended. TLY_ESTATE unless the phase is READY; TLY_EINVAL when
 * d is not the query's cell count; TLY_ERANGE when a noisy cell leaves the
 * signed field range, and the errors of tly_noise_calibrate: each of these
 * ends the query for the client (phase ABORTED). Phase KEYS.
 */
TLY_MUST tly_err tly_secagg_client_start(struct tly_secagg_client *c, const int64_t *cells,
                                         size_t d, struct tly_outbox *out);

/*
 * Take one message for this client.
 *
 * KEY_LIST (phase KEYS): checked as in the round list above (TLY_EAUTH for
 * a bad forwarded signature, TLY_ELOWORDER for a low-order key, TLY_EPEER
 * for ids or keys that break the rules, TLY_ETOOFEW for |L(u)| < t); then
 * appends |L(u)| KEY_SHAREs. Phase SHARES.
 * KEY_SHARE (phase SHARES, from a client of L(u), to u): the envelope must
 * open (TLY_EAUTH), name its sender and u (TLY_EPEER) and hold share words
 * < p (TLY_ERANGE). One per sender (TLY_EREPLAY). A rejected KEY_SHARE is
 * that peer's fault and changes nothing: the peer's share is then missing,
 * and u leaves it out of its UNMASK.
 * SHARE_SET (phase SHARES): ids in L(u) (TLY_EPEER), at least t of them
 * (TLY_ETOOFEW). Appends MASKED_INPUT and wipes x_u. Phase SURVIVORS.
 * SURVIVORS (phase SURVIVORS): checked as above (TLY_EPEER, TLY_ETOOFEW).
 * Appends CONSISTENCY. Phase SIGNATURES.
 * SIGNATURE_LIST (phase SIGNATURES): checked as above (TLY_ETOOFEW,
 * TLY_EPEER, TLY_EAUTH). Appends UNMASK and wipes every secret. Phase DONE:
 * any later SURVIVORS or SIGNATURE_LIST is TLY_EREPLAY, so shares are
 * revealed once.
 * ABORT (any phase): wipes every secret, phase ABORTED, TLY_EABORTED.
 *
 * A failure of tly_msg_open, a message for another query or round, or a
 * rejected KEY_SHARE changes nothing (it may come from anyone). Any other
 * failure on a message signed by the coordinator means the coordinator
 * broke the protocol (or memory ran out): the client wipes its secrets and
 * stops (phase ABORTED), and from then on returns TLY_EABORTED.
 */
TLY_MUST tly_err tly_secagg_client_receive(struct tly_secagg_client *c, const uint8_t *msg,
                                           size_t len, struct tly_outbox *out);

enum tly_secagg_client_phase tly_secagg_client_phase(const struct tly_secagg_client *c);

/* Wipe every secret and free. Accepts NULL. */
void tly_secagg_client_free(struct tly_secagg_client *c);

/* ---- Server (the coordinator) ---- */

struct tly_secagg_server;

enum tly_secagg_phase {
	TLY_SECAGG_ADVERTISING = 1, /* Round 0: collecting ADVERTISE */
	TLY_SECAGG_SHARING = 3,     /* Round 1: relaying KEY_SHARE */
	TLY_SECAGG_MASKING = 5,     /* Round 2: collecting MASKED_INPUT */
	TLY_SECAGG_CHECKING = 7,    /* Round 3: collecting CONSISTENCY */
	TLY_SECAGG_UNMASKING = 9,   /* Round 4: collecting UNMASK */
	TLY_SECAGG_DONE = 10,       /* the total is known */
	TLY_SECAGG_ABORTED = 11,
};

/*
 * Start a query: check q (tly_secagg_query_check), sign the QUERY once
 * (recipient TLY_PARTY_ALL) and append it to each participant. coord is
 * the coordinator's identity. q is copied. *out owns heap memory:
 * tly_secagg_server_free. Phase ADVERTISING.
 */
TLY_MUST tly_err tly_secagg_server_alloc(struct tly_secagg_server **out,
                                         const struct tly_identity *coord,
                                         const struct tly_roster *roster, const struct tly_query *q,
                                         const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                         struct tly_outbox *box);

/*
 * Take one message for the server. Each is accepted only in its phase,
 * once per sender, from a client still in the running (U1 for KEY_SHARE,
 * U2 for MASKED_INPUT, U3 for CONSISTENCY, U4 for UNMASK: TLY_EPEER
 * otherwise).
 *
 * ADVERTISE: two public keys of full order (TLY_ELOWORDER), distinct from
 * each other and from every key accepted so far (TLY_EPEER).
 * KEY_SHARE: from u ∈ U1 to v ∈ L(u), exact length; the same bytes are
 * appended for v at once (the server cannot read them).
 * MASKED_INPUT: d elements < p (TLY_EFORMAT, TLY_ERANGE), added to the sum.
 * CONSISTENCY: the hash of the U3 that was sent (TLY_EPEER otherwise).
 * UNMASK: entries only for ids of the sender's SHARE_SET, of the kind U3
 * says (TLY_EPEER), share words < p (TLY_ERANGE).
 *
 * When the last client expected in a round has sent, the round closes as
 * with tly_secagg_server_close_round, and that function's result is
 * returned. A rejected message changes nothing.
 */
TLY_MUST tly_err tly_secagg_server_receive(struct tly_secagg_server *s, const uint8_t *msg,
                                           size_t len, struct tly_outbox *box);

/*
 * Close the current round (its deadline passed, or everyone sent):
 * ADVERTISING: U1 = the advertisers, less (repeatedly) any with fewer than
 *   t neighbours left; needs |U1| >= max(t + 1, min_contributors). Appends
 *   KEY_LIST to each client of U1.
 * SHARING: U2 = the clients of U1 whose shares all arrived, pruned the same
 *   way, same bound. Appends SHARE_SET to each client of U2.
 * MASKING: U3 = the clients whose masked input arrived; needs |U3| >=
 *   max(t, min_contributors), every u ∈ U3 with t neighbours in U3 and
 *   every w ∈ U2 \ U3 next to U3 with t neighbours in U3 (else its masks
 *   could never be removed). Appends SURVIVORS to each client of U3.
 * CHECKING: U4 = the clients whose CONSISTENCY arrived; needs |U4| >= t and
 *   the same neighbour counts within U4. Appends SIGNATURE_LIST to U4.
 * UNMASKING: rebuilds the secrets from the UNMASK shares (t per secret,
 *   needs them: TLY_ETOOFEW), removes the masks; phase DONE.
 * Below a bound: appends ABORT (TLY_ABORT_TOO_FEW) to every participant,
 * phase ABORTED, TLY_ETOOFEW. A share set that rebuilds to an inconsistent
 * secret: ABORT (TLY_ABORT_INCONSISTENT), phase ABORTED, TLY_EAUTH (or the
 * TLY_EFORMAT of tly_shamir_secret_reconstruct). DONE or ABORTED:
 * TLY_ESTATE.
 */
TLY_MUST tly_err tly_secagg_server_close_round(struct tly_secagg_server *s, struct tly_outbox *box);

/* Abort from outside: as tly_committee_coord_abort (committee.h). */
TLY_MUST tly_err tly_secagg_server_abort(struct tly_secagg_server *s, uint32_t reason,
                                         struct tly_outbox *box);

enum tly_secagg_phase tly_secagg_server_phase(const struct tly_secagg_server *s);
/* Why the query was aborted (enum tly_abort_reason), 0 unless ABORTED. */
uint32_t tly_secagg_server_abort_reason(const struct tly_secagg_server *s);

/* The released total and who made it. Every member is owned; fini it. */
struct tly_secagg_result {
	size_t d;
	int64_t *cells;                 /* the noisy total per cell, decoded signed */
	struct tly_idlist contributors; /* U3: whose inputs are in the total */
	struct tly_idlist recovered;    /* U2 \ U3 next to U3: mask keys rebuilt */
	struct tly_idlist dropped;      /* participants not in U3 */
};

/* Copy out the result. TLY_ESTATE unless the phase is DONE; TLY_ENOMEM. */
TLY_MUST tly_err tly_secagg_server_result(const struct tly_secagg_server *s,
                                          struct tly_secagg_result *out);
void tly_secagg_result_fini(struct tly_secagg_result *r);

/* Free (the running sum is wiped). Accepts NULL. */
void tly_secagg_server_free(struct tly_secagg_server *s);

#endif
