/*
 * committee.h - committee secret sharing: the default protocol of tally
 * (DESIGN.md section 4), as three pure state machines.
 *
 * Parties. n participants (nodes) each hold a d-cell vector; a committee of
 * k members (nodes or independent aggregators, committee[j] holds Shamir
 * index j + 1) sums shares; the coordinator relays and reconstructs. Nothing
 * here touches a socket, a clock or a log: every function takes messages
 * and appends what it would send to a struct tly_outbox. Deadlines are the
 * caller's, who calls tly_committee_coord_close_round when one passes.
 *
 * Rounds (messages.h):
 *   Round 0 QUERY      coordinator -> every participant and member, one
 *                      message signed once, recipient TLY_PARTY_ALL.
 *   Round 1 SHARE      node -> member, relayed verbatim by the coordinator:
 *                      the node's cells plus its noise share (noise.h), split
 *                      t-of-k, one share per member sealed end to end
 *                      (tly_envelope_seal, long-term kx keys), signed. The
 *                      first t - 1 members in committee order get a fresh
 *                      32-byte seed instead of their share (the share is the
 *                      seed's PRG expansion, tly_committee_seed_expand); the
 *                      others get f(j + 1) interpolated through f(0) = the
 *                      input and those t - 1 points (docs/PROTOCOL.md 6.1).
 *   Round 2 ANNOUNCE   coordinator -> each member: attempt number and the
 *                      sorted set of nodes that delivered all k shares.
 *           SET_SIGN   member -> coordinator: its one vote for the set
 *                      (attempt, tly_idlist_hash), when it holds a good
 *                      share from every contributor; or
 *           COMPLAINT  member -> coordinator: the announced contributors
 *                      whose share it lacks or could not open (no vote).
 *                      The coordinator re-announces without them to the
 *                      members that have not voted (attempt + 1, at most
 *                      TLY_MAX_ANNOUNCE_ATTEMPTS announcements, numbered
 *                      0, 1, ...).
 *   Round 3 SET_CERT   coordinator -> each voter of a set, once q members
 *                      voted for it: the set and the q (or more) votes.
 *           SHARE_SUM  member -> coordinator: the sum of exactly the
 *                      certified set's shares, with the attempt and
 *                      tly_idlist_hash of the set.
 * The coordinator reconstructs the total from any t share-sums of one
 * attempt and decodes the centred field values into int64 cells.
 *
 * Why the coordinator cannot isolate one input. Two share-sums for sets S
 * and S \ {v}, from t members each, would let the coordinator subtract the
 * totals and recover v's input with only its own noise share. t > k/2 alone
 * does not stop it: with c >= 2t - k members colluding (k = 3, t = 2: one)
 * the coordinator shows S to some honest members and S \ {v} to others, and
 * the colluders answer both. So members agree first: a member votes for at
 * most one set per query (whatever the attempt) and sends its one share-sum
 * only for the set it voted for, and only with a certificate of at least q
 * valid votes on that set from distinct committee members. Two different
 * certified sets need q - c honest voters each, disjoint, so 2(q - c) <=
 * k - c, impossible when 2q > k + c. Every party requires 2q >= k + t
 * (tly_committee_query_check), so for up to c = t - 1 colluding members at
 * most one set is ever certified; any other set has at most c < t
 * share-sums (the colluders'), fewer points than a polynomial of degree t - 1
 * needs, and a node left out of the certified set stays hidden.
 * Privacy holds while fewer than t members collude with the coordinator
 * (any t - 1 shares of a node are uniform, or with seeded shares
 * pseudorandom: the PRG's security is the added assumption); t = 1 gives
 * none. The set also has at least min_contributors >= min_honest members,
 * so the total carries the query's noise.
 *
 * Availability. Up to k - q members may vanish (a set needs q votes from
 * members holding every contributor's share, then t of those voters must
 * answer) and nodes that never send are left out. A voter is spent for the
 * query: a node whose shares fail at between k - q + 1 and q - 1 members
 * aborts the query instead of being left out. Below a threshold (fewer than min_contributors
 * complete nodes, fewer than t share-sums by the last deadline, attempts exhausted) the coordinator
 * aborts with TLY_ETOOFEW and sends ABORT (TLY_ABORT_TOO_FEW): never a wrong answer from honest
 * parties. Not covered: Shamir has no integrity, so a member that lies in its share-sum (with the
 * right set hash) shifts the total undetected when only t share-sums come in, and a member that
 * complains about honest nodes gets them dropped. Both are integrity and availability attacks by a
 * committee member, not privacy ones.
 *
 * Consistency check. Once t share-sums of an attempt are in, the
 * coordinator waits for the other members still due (up to the round's
 * deadline) and checks that every share-sum beyond the first t lies on
 * the polynomial of degree t - 1 through the first t. A contributor that
 * sent shares off one polynomial (equivocation: different secrets to
 * different members) or a member that lied in its share-sum then breaks
 * the check, and the query is aborted (TLY_ABORT_INCONSISTENT) instead of
 * released. With exactly t share-sums there is nothing to check, and the
 * check does not say who cheated: a contributor or a member.
 *
 * The total is correct only while it fits the centred field range
 * (tly_field_sum_fits); the layers above refuse queries that could wrap.
 *
 * Errors for peer messages, common to the receive functions: TLY_EFORMAT
 * malformed (codec.h); TLY_EAUTH bad signature or envelope; TLY_EREPLAY a
 * message for another query id, a second message of its kind from the same
 * sender, or one for an attempt that is over; TLY_EPEER a sender or
 * recipient that may not take part in this exchange, or content that breaks
 * the protocol (a set that is not the announced one, a non-participant in a
 * set); TLY_ESTATE a type not valid in the current phase. A rejected
 * message changes no state unless its entry says so, and the caller logs it
 * and carries on. TLY_ENOMEM is the only local failure.
 *
 * Ownership: identities and rosters are borrowed and must outlive the
 * objects that hold them; messages are read, never kept. Appended outbox
 * items are the caller's; on failure a function appends nothing.
 *
 * Thread safety: no global state. One object is used by one thread at a
 * time; tly_committee_node_answer may run concurrently with distinct rngs.
 */
#ifndef TLY_COMMITTEE_H
#define TLY_COMMITTEE_H

#include <stddef.h>
#include <stdint.h>

#include "wire/codec.h"
#include "crypto/rng.h"
#include "wire/messages.h"
#include "wire/outbox.h"
#include "wire/party.h"

/*
 * The rules every party applies to a committee query, beyond those of
 * tly_query_decode: protocol TLY_PROTOCOL_COMMITTEE; t <= q <= k and
 * 2 * quorum >= degree + threshold (k = degree, the committee size); 1 <= min_honest <=
 * min_contributors <= participants; every participant and member in the roster. TLY_EINVAL for a
 * broken rule, TLY_EPEER for an id missing from the roster.
 */
TLY_MUST tly_err tly_committee_query_check(const struct tly_query *q,
                                           const struct tly_roster *roster);

/*
 * Open a QUERY message addressed to party `self` (or to all), check the
 * coordinator's signature against the roster, decode it and apply
 * tly_committee_query_check. For a node that must see the question before
 * it evaluates its data. On success *q (fini it with tly_query_fini) and
 * query_id are written. Errors: those of tly_msg_open and the checks;
 * TLY_ESTATE when the message is not a QUERY; TLY_EPEER when it is
 * addressed to another party.
 */
TLY_MUST tly_err tly_committee_read_query(const struct tly_roster *roster, uint32_t self,
                                          const uint8_t *msg, size_t len,
                                          uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                          struct tly_query *q);

/* ---- Node (contributor) ---- */

/*
 * The node's say over what it answers. policy, when not NULL, runs after
 * every check and before any byte derived from the cells exists: this is
 * where the trust node enforces its policy and records the privacy spend
 * durably. A non-OK return refuses the query and is returned as is.
 */
struct tly_committee_node_opts {
	/* TESTS AND BENCHMARKS ONLY. Nonzero lets the node answer a query with
	 * mechanism TLY_MECH_NONE; production nodes leave it 0, so that a
	 * coordinator cannot ask for noise-free answers. */
	int allow_no_noise;
	/* TESTS AND BENCHMARKS ONLY. Nonzero sends all k shares whole, as
	 * before issue 14 section 4 (no seeded shares): the baseline that the
	 * seeded sharing is measured and tested against. Members accept both. */
	int whole_shares;
	tly_err (*policy)(void *arg, const uint8_t query_id[TLY_QUERY_ID_BYTES],
	                  const struct tly_query *q);
	void *policy_arg;
	/* Asked between cells while the noise is drawn
	 * (tly_noise_apply_until): nonzero abandons the answer with
	 * TLY_ETIMEDOUT (the round's deadline passed, or the node is
	 * stopping). NULL: never. */
	int (*stop)(void *arg);
	void *stop_arg;
};

/*
 * Round 1: answer a QUERY with this node's d cells. q and query_id are the
 * QUERY as tly_committee_read_query returned them (it verified and decoded
 * the message once; this function does not read it again). Checks that
 * self is a participant (TLY_EPEER), that
 * the mechanism is not TLY_MECH_NONE unless opts allows it (TLY_EPEER: the
 * coordinator may not ask that), that d equals the query's cells
 * (TLY_EINVAL), and runs the policy hook. Then adds this node's noise share
 * (TLY_ERANGE when a noisy cell leaves the signed field range, and the
 * errors of tly_noise_calibrate), shares the vector t-of-k and appends k
 * SHARE messages addressed to TLY_PARTY_COORDINATOR for relaying, in
 * committee order: t - 1 seeded, then k - t + 1 whole (messages.h), unless
 * opts->whole_shares. TLY_ECRYPTO when the PRG fails.
 *
 * The function keeps no state, so answering the same query twice is the
 * caller's to prevent (members accept only the first). self needs its kx
 * keys (misuse otherwise); opts may be NULL (all defaults). The noisy input
 * and its shares are wiped before return.
 */
TLY_MUST tly_err tly_committee_node_answer(const struct tly_identity *self,
                                           const struct tly_roster *roster, struct tly_rng *rng,
                                           const struct tly_committee_node_opts *opts,
                                           const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                           const struct tly_query *q, const int64_t *cells,
                                           size_t d, struct tly_outbox *out);

/* ---- Committee member ---- */

struct tly_committee_member;

/*
 * A member's state for one query. q and query_id are the QUERY as
 * tly_committee_read_query returned them (verified and decoded once, by
 * the caller; not read again here). The member keeps its own copy of q
 * (tly_query_copy): the caller still owns q and finis it. TLY_EPEER when
 * self is not in the committee; TLY_ENOMEM. self needs its kx keys (misuse
 * otherwise). *out owns heap memory: tly_committee_member_free.
 */
TLY_MUST tly_err tly_committee_member_alloc(struct tly_committee_member **out,
                                            const struct tly_identity *self,
                                            const struct tly_roster *roster,
                                            const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                            const struct tly_query *q);

/*
 * Take one message for this member.
 *
 * SHARE (round 1, from a participant, addressed to this member, accepted
 * until the member has sent its share-sum): the first SHARE from each
 * sender that carries a valid signature and the exact length of either
 * form (tly_share_form_decode, else TLY_EFORMAT) is that sender's one
 * share: a second gives TLY_EREPLAY, whatever the first held. The envelope
 * is opened (TLY_EAUTH); a whole share's elements are checked < p
 * (TLY_ERANGE), a seeded share's seed expanded (tly_committee_seed_expand,
 * every element < p). A share that fails is remembered as bad and
 * complained about. Nothing is sent.
 *
 * ANNOUNCE (round 2, from the coordinator, addressed to this member): the
 * attempt must be below TLY_MAX_ANNOUNCE_ATTEMPTS (TLY_EFORMAT) and no lower
 * than any earlier one (TLY_EREPLAY), every id a participant (TLY_EPEER) and the set
 * at least min_contributors large (TLY_ETOOFEW). With a good share from
 * every contributor, appends this member's one vote for the set (SET_SIGN)
 * and accepts no further SHARE (TLY_ESTATE). Otherwise appends a COMPLAINT
 * naming the contributors whose share is missing or bad, and has not voted.
 * Once it has voted, the same (attempt, set) again gives TLY_EREPLAY and any
 * other set TLY_EPEER: a member votes for one set per query, whatever the
 * attempt, and the caller logs the refusal.
 *
 * SET_CERT (round 3, from the coordinator, addressed to this member, after
 * it voted): the certificate must name the attempt and set it voted for
 * (TLY_EPEER), carry at least q votes (TLY_ETOOFEW), each by a committee
 * member (TLY_EPEER) with a valid signature over that member's SET_SIGN for
 * this query, attempt and set, checked against the roster's pinned keys
 * (TLY_EAUTH). Then appends the one SHARE_SUM of that set and forgets every
 * share; after that any SHARE, ANNOUNCE or SET_CERT gives TLY_ESTATE.
 *
 * ABORT (from the coordinator): wipes every share and returns TLY_EABORTED;
 * the member accepts nothing more (TLY_ESTATE).
 *
 * Any other type: TLY_ESTATE. A message for another query: TLY_EREPLAY.
 */
TLY_MUST tly_err tly_committee_member_receive(struct tly_committee_member *m, const uint8_t *msg,
                                              size_t len, struct tly_outbox *out);

/* Wipe the shares and free. Accepts NULL. */
void tly_committee_member_free(struct tly_committee_member *m);

/*
 * TESTS AND BENCHMARKS ONLY: the protocol before the agreement. The member
 * answers a complete ANNOUNCE with its share-sum at once, without a vote or
 * a certificate, so that a test can show what the agreement prevents (the
 * negative control of the two-set attack). Production code never calls it.
 */
void tly_committee_member_skip_agreement(struct tly_committee_member *m);

/* ---- Coordinator ---- */

struct tly_committee_coord;

enum tly_committee_phase {
	TLY_COMMITTEE_SHARING = 1, /* round 1: relaying shares */
	TLY_COMMITTEE_SUMMING = 2, /* rounds 2-3: announced, collecting share-sums */
	TLY_COMMITTEE_DONE = 3,    /* the total is reconstructed */
	TLY_COMMITTEE_ABORTED = 4,
};

/*
 * Start a query: check q (tly_committee_query_check, which also needs q to
 * encode), sign it once and append one QUERY per participant and member
 * (each party once), addressed to that party. coord is the coordinator's
 * identity (id TLY_PARTY_COORDINATOR, misuse otherwise). q is copied.
 * *out owns heap memory: tly_committee_coord_free. Phase: SHARING.
 */
TLY_MUST tly_err tly_committee_coord_alloc(struct tly_committee_coord **out,
                                           const struct tly_identity *coord,
                                           const struct tly_roster *roster,
                                           const struct tly_query *q,
                                           const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                           struct tly_outbox *box);

/*
 * Take one message for the coordinator.
 *
 * SHARE (phase SHARING): from a participant to a member, exact length of
 * either form (8d + 16 whole, TLY_SHARE_SEEDED_BODY_BYTES seeded:
 * tly_share_form_decode), valid signature; appends the same bytes
 * addressed to the member. One per (sender, member): a second gives
 * TLY_EREPLAY and is not relayed. The coordinator cannot read it.
 *
 * SET_SIGN (phase SUMMING, from a member, one per member and query, else
 * TLY_EREPLAY): attempt at most the current one, set hash equal to that
 * attempt's announced set, and no complaint by that member on it; else the
 * member is marked faulty (TLY_EPEER). Once q members (not faulty) voted for
 * one attempt's set, SET_CERT (the set and every vote for it, ids
 * increasing) is appended to each of them that may still answer, and to
 * every later voter for that set.
 *
 * SHARE_SUM (phase SUMMING, from a member): attempt at most the current
 * one, from a member whose vote is for that attempt and whose set is
 * certified, set hash equal to that attempt's announced set, d elements < p.
 * A share-sum for another set, an attempt never announced or a complaint
 * naming nodes outside the set marks the member faulty (TLY_EPEER, or a
 * decoder's error): it is ignored from then on, and if the current attempt
 * needed its answer the query moves on as after a complaint. A member's
 * second share-sum gives TLY_EREPLAY. Once t share-sums of one attempt
 * are in and no other member may still send one for it (each has summed,
 * complained or been marked faulty), the total is reconstructed after the
 * consistency check (phase DONE, nothing sent); if the check fails: ABORT
 * (TLY_ABORT_INCONSISTENT) appended, phase ABORTED, TLY_EAUTH.
 *
 * COMPLAINT (phase SUMMING, from a member, current attempt, one per member
 * and attempt, else TLY_EREPLAY): the named contributors are left out of
 * the next attempt. When the current attempt can no longer gather t
 * share-sums, the next ANNOUNCE is appended at once (if no attempt, too few
 * contributors or too few unspent members remain, and no earlier attempt
 * can still finish: ABORT appended, phase ABORTED, TLY_ETOOFEW, although
 * the message itself was accepted).
 *
 * Anything else, or anything in phase DONE or ABORTED: TLY_ESTATE.
 */
TLY_MUST tly_err tly_committee_coord_receive(struct tly_committee_coord *c, const uint8_t *msg,
                                             size_t len, struct tly_outbox *box);

/*
 * The deadline of the current round has passed.
 * SHARING: announce (attempt 0) the sorted set of participants that
 * delivered all k shares to every member that may still answer; phase
 * SUMMING. With fewer than min_contributors of them: ABORT appended, phase
 * ABORTED, TLY_ETOOFEW.
 * SUMMING: if some attempt has t share-sums, reconstruct it from them
 * after the consistency check (phase DONE, or as in
 * tly_committee_coord_receive when the check fails); otherwise,
 * if complaints came in for the current attempt and another
 * attempt is possible, re-announce without the named contributors (TLY_OK,
 * still SUMMING, the caller starts a new deadline); otherwise ABORT,
 * TLY_ETOOFEW.
 * DONE or ABORTED: TLY_ESTATE.
 */
TLY_MUST tly_err tly_committee_coord_close_round(struct tly_committee_coord *c,
                                                 struct tly_outbox *box);

/* The phase, and why the query was aborted (enum tly_abort_reason), 0
 * unless the phase is ABORTED. */
enum tly_committee_phase tly_committee_coord_phase(const struct tly_committee_coord *c);
uint32_t tly_committee_coord_abort_reason(const struct tly_committee_coord *c);

/* Abort from outside (a refusal, shutdown): append ABORT with `reason`
 * (enum tly_abort_reason) to every party; phase ABORTED. TLY_ESTATE once
 * DONE or ABORTED. */
TLY_MUST tly_err tly_committee_coord_abort(struct tly_committee_coord *c, uint32_t reason,
                                           struct tly_outbox *box);

/* The released total and who made it. Every member is owned; fini it. */
struct tly_committee_result {
	size_t d;
	int64_t *cells;                 /* the noisy total per cell, decoded signed */
	uint32_t attempt;               /* the announcement that completed */
	struct tly_idlist contributors; /* whose inputs are in the total */
	struct tly_idlist dropped;      /* participants left out */
	struct tly_idlist unresponsive; /* members that sent nothing accepted in
	                                 * round 3 before the total was known */
	struct tly_idlist faulty;       /* members rejected for breaking the protocol */
};

/* Copy out the result. TLY_ESTATE unless the phase is DONE; TLY_ENOMEM. */
TLY_MUST tly_err tly_committee_coord_result(const struct tly_committee_coord *c,
                                            struct tly_committee_result *out);
void tly_committee_result_fini(struct tly_committee_result *r);

/* Free. Accepts NULL. */
void tly_committee_coord_free(struct tly_committee_coord *c);

#endif
