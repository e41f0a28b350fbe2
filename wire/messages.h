/*
 * messages.h - every wire constant of tally: message types and rounds,
 * layouts, size caps and timeouts. docs/PROTOCOL.md is the prose version
 * of this file; the two are kept in step.
 *
 * A message on the wire:
 *
 *   header (TLY_HEADER_BYTES = 36, all integers big-endian)
 *     version     u8    TLY_WIRE_VERSION
 *     type        u8    enum tly_msg_type
 *     reserved    u16   0
 *     query_id    16 bytes
 *     round       u32   the round of this type (tly_msg_round)
 *     sender      u32   party id (TLY_PARTY_COORDINATOR for the coordinator)
 *     recipient   u32   party id, or TLY_PARTY_COORDINATOR, or TLY_PARTY_ALL
 *     body_len    u32   exact length of the body
 *   body (body_len bytes, layout per type below)
 *   signature (64 bytes): Ed25519 by the sender over the 32-byte digest
 *     SHA-256(u8 len(D) || D || header || body), D =
 *     TLY_MSG_SIGNATURE_DOMAIN (wire/codec.h tly_msg_digest)
 *
 * Encodings are canonical: one byte string per value. Decoders reject
 * unknown versions and types, nonzero reserved fields, a round that does
 * not belong to the type, any length other than the exact one, counts over
 * the caps, id lists that are not strictly increasing, field elements >= p,
 * and trailing bytes.
 */
#ifndef TLY_MESSAGES_H
#define TLY_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/field.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/shamir.h"
#include "crypto/sign.h"

enum { TLY_WIRE_VERSION = 1 };

/* The domain of the digest every message signature covers: it names what
 * is signed and its version, and differs from every other domain tally
 * hashes under before signing with the same keys (docs/PROTOCOL.md).
 * Hashed with SHA-256, the other domains with BLAKE2b-256 (tly_hash). */
#define TLY_MSG_SIGNATURE_DOMAIN "tally/message-signature/v1"

enum tly_msg_type {
	/* Both protocols */
	TLY_MSG_QUERY = 1, /* coordinator -> participants: the question */
	TLY_MSG_ABORT = 2, /* coordinator -> all: the query is over, reason */

	/* Committee sharing (default) */
	TLY_MSG_SHARE = 10,     /* node -> member, relayed: one encrypted Shamir share */
	TLY_MSG_ANNOUNCE = 11,  /* coordinator -> member: the contributor set */
	TLY_MSG_SHARE_SUM = 12, /* member -> coordinator: sum of the set's shares */
	TLY_MSG_COMPLAINT = 13, /* member -> coordinator: announced shares it lacks */
	TLY_MSG_RECEIPT = 14,   /* node -> coordinator: its signed ledger receipt */
	TLY_MSG_REFUSAL = 15,   /* node -> coordinator: why it will not answer */
	TLY_MSG_SET_SIGN = 16,  /* member -> coordinator: its one vote for a set */
	TLY_MSG_SET_CERT = 17,  /* coordinator -> member: >= q votes for that set */

	/* Pairwise masking: SecAgg (Bonawitz et al. CCS'17) and SecAgg+ */
	TLY_MSG_ADVERTISE = 20,      /* Round 0: client -> server: its two public keys */
	TLY_MSG_KEY_LIST = 21,       /* Round 0: server -> clients: everyone's keys */
	TLY_MSG_KEY_SHARE = 22,      /* Round 1: client -> client, relayed: encrypted shares */
	TLY_MSG_SHARE_SET = 23,      /* Round 1: server -> client: who shared keys (U2) */
	TLY_MSG_MASKED_INPUT = 24,   /* Round 2: client -> server: the masked vector */
	TLY_MSG_SURVIVORS = 25,      /* Round 3: server -> clients: U3 */
	TLY_MSG_CONSISTENCY = 26,    /* Round 3: client -> server: signs U3 */
	TLY_MSG_SIGNATURE_LIST = 27, /* Round 4: server -> clients: U4 and their signatures */
	TLY_MSG_UNMASK = 28,         /* Round 4: client -> server: shares for unmasking */
};

/* The round each type belongs to. Committee: 0 query, 1 share, 2 announce,
 * 3 share-sum/complaint, and the agreement that runs between 2 and 3 (a
 * member answers ANNOUNCE with SET_SIGN or COMPLAINT, and sends SHARE_SUM
 * only on SET_CERT): 4 set-sign, 5 set-cert, numbered after the older
 * rounds so that their numbers stay as they were. Masking: 0 query, then 1..9 in the order of the
 * enum above (the paper's rounds 0-4 span two of ours each). Abort: 0xff. */
enum {
	TLY_ROUND_QUERY = 0,
	TLY_ROUND_SHARE = 1,
	TLY_ROUND_ANNOUNCE = 2,
	TLY_ROUND_SHARE_SUM = 3,
	TLY_ROUND_SET_SIGN = 4,
	TLY_ROUND_SET_CERT = 5,
	TLY_ROUND_RECEIPT = 1,
	TLY_ROUND_REFUSAL = 1,
	TLY_ROUND_ADVERTISE = 1,
	TLY_ROUND_KEY_LIST = 2,
	TLY_ROUND_KEY_SHARE = 3,
	TLY_ROUND_SHARE_SET = 4,
	TLY_ROUND_MASKED_INPUT = 5,
	TLY_ROUND_SURVIVORS = 6,
	TLY_ROUND_CONSISTENCY = 7,
	TLY_ROUND_SIGNATURE_LIST = 8,
	TLY_ROUND_UNMASK = 9,
	TLY_ROUND_ABORT = 0xff,
};

/* Party ids. Nodes (and aggregators) are 1..TLY_MAX_PARTY_ID. */
#define TLY_PARTY_COORDINATOR UINT32_C(0)
#define TLY_PARTY_ALL         UINT32_C(0xffffffff)
#define TLY_MAX_PARTY_ID      UINT32_C(0x7fffffff)

enum tly_protocol {
	TLY_PROTOCOL_COMMITTEE = 1,
	TLY_PROTOCOL_SECAGG = 2,      /* complete graph */
	TLY_PROTOCOL_SECAGG_PLUS = 3, /* Harary graph of degree `degree` */
};

enum tly_mechanism {
	TLY_MECH_NONE = 0,    /* no noise: tests and benchmarks only; nodes refuse it */
	TLY_MECH_LAPLACE = 1, /* distributed discrete Laplace, epsilon = privacy_num/den */
	TLY_MECH_SKELLAM = 2, /* distributed Skellam, rho-zCDP, rho = privacy_num/den */
};

enum tly_abort_reason {
	TLY_ABORT_TOO_FEW = 1,      /* fewer contributors or committee answers than needed */
	TLY_ABORT_DEADLINE = 2,     /* a round's deadline passed below its threshold */
	TLY_ABORT_INCONSISTENT = 3, /* a party's view disagrees (consistency check) */
	TLY_ABORT_REFUSED = 4,      /* refused by policy or budget */
	TLY_ABORT_INTERNAL = 5,
};

/* Sizes and caps. */
enum {
	TLY_QUERY_ID_BYTES = 16,
	TLY_HASH_BYTES = 32,       /* BLAKE2b-256 of canonical bytes */
	TLY_MSG_DIGEST_BYTES = 32, /* what a message signature signs */
	TLY_HEADER_BYTES = 1 + 1 + 2 + TLY_QUERY_ID_BYTES + 4 + 4 + 4 + 4,
	TLY_SIGNATURE_BYTES = TLY_SIGN_BYTES,

	/* Participants in one query, as the wire, the codec and the round
	 * state machines take them. Nothing allocates by this limit: every
	 * table is sized by the query's own count. */
	TLY_MAX_PARTIES = 100000,
	/* What the daemons hold in fixed tables today (the coordinator's
	 * receipts per query and its config, the key registry): a federation
	 * served end to end has at most this many nodes. */
	TLY_MAX_SERVED_PARTIES = 1000,
	/* A masking client's neighbourhood: the SecAgg+ degree, and so the
	 * per-client lists (KEY_LIST, SHARE_SET, SIGNATURE_LIST, UNMASK). */
	TLY_MAX_NEIGHBOURS = 1024,
	/* SecAgg on the complete graph: every list is O(n) per client, so n is
	 * kept where it was (degree n - 1 <= TLY_MAX_NEIGHBOURS). */
	TLY_MAX_COMPLETE_PARTIES = 1000,
	TLY_MAX_COMMITTEE = 64,  /* committee members */
	TLY_MAX_CELLS = 1000000, /* d: cells in one query's vector */
	TLY_MAX_ANNOUNCE_ATTEMPTS = 4,
	TLY_RECEIPT_BODY_MAX = 512,
	TLY_REFUSAL_TEXT_MAX = 512,

	/* A committee share: d field elements, AEAD-sealed. */
	TLY_SHARE_PLAIN_MAX = TLY_MAX_CELLS * TLY_FIELD_ELEMENT_BYTES,
	/* A SecAgg key share: sender u32, recipient u32, then the shares of
	 * the sender's mask-key secret and self-mask seed. */
	TLY_KEY_SHARE_PLAIN_BYTES = 4 + 4 + 2 * TLY_SHAMIR_SECRET_SHARE_BYTES,
	TLY_KEY_SHARE_CIPHER_BYTES = TLY_KEY_SHARE_PLAIN_BYTES + TLY_AEAD_TAG_BYTES,
	/* A seeded committee share: the form byte, then the sealed seed. */
	TLY_SHARE_SEED_BYTES = TLY_PRG_SEED_BYTES,
	TLY_SHARE_SEEDED_BODY_BYTES = 1 + TLY_SHARE_SEED_BYTES + TLY_AEAD_TAG_BYTES,

	/* Largest body of any type (a share or a vector of TLY_MAX_CELLS), and
	 * so of any message: decoders refuse anything longer before reading. */
	TLY_MAX_BODY_BYTES =
	    4 + TLY_QUERY_ID_BYTES + TLY_HASH_BYTES + TLY_SHARE_PLAIN_MAX + TLY_AEAD_TAG_BYTES,
	TLY_MAX_MESSAGE_BYTES = TLY_HEADER_BYTES + TLY_MAX_BODY_BYTES + TLY_SIGNATURE_BYTES,
};

_Static_assert(TLY_HEADER_BYTES == 36, "header layout");
_Static_assert(TLY_MAX_COMPLETE_PARTIES - 1 <= TLY_MAX_NEIGHBOURS,
               "a complete graph's lists fit the neighbourhood caps");
_Static_assert(TLY_MAX_SERVED_PARTIES <= TLY_MAX_PARTIES, "the daemons serve within the wire");
_Static_assert(TLY_KEY_SHARE_PLAIN_BYTES == 88, "key share layout");
_Static_assert(TLY_SHARE_SEEDED_BODY_BYTES % TLY_FIELD_ELEMENT_BYTES !=
                   TLY_AEAD_TAG_BYTES % TLY_FIELD_ELEMENT_BYTES,
               "a seeded share's length is never a whole share's");
_Static_assert((uint64_t)TLY_MAX_MESSAGE_BYTES < UINT32_MAX, "lengths fit u32");

/* Default round deadline; the coordinator's config may change it. */
enum { TLY_DEFAULT_DEADLINE_MS = 10000 };

/*
 * Bodies (after the header), big-endian:
 *
 * QUERY (coordinator -> each participant and committee member)
 *   query_hash[32]       hash of the planner's canonical query (upper layers)
 *   protocol u8, mechanism u8
 *   quorum u16           committee: q, the distinct member votes (SET_SIGN)
 *                        a set needs before any member sums it; t <= q <=
 *                        k and 2q >= k + t (tly_committee_query_check).
 *                        Masking: 0. (Was a reserved u16 = 0.)
 *   cells u32            d, 1..TLY_MAX_CELLS
 *   privacy_num u64, privacy_den u64   epsilon or rho; den > 0; 0 for NONE
 *   sensitivity_l1 u64   L1 sensitivity of the whole vector to one person
 *   sensitivity_l2sq u64 squared L2 sensitivity (Skellam)
 *   min_honest u32       h: noise holds while h contributors are honest
 *   min_contributors u32 the query aborts below this
 *   threshold u16        committee: t; masking: Shamir threshold of clients
 *   degree u16           committee: k; SecAgg+: neighbours per client
 *   deadline_ms u32
 *   participant_count u32, participants[count] u32 (strictly increasing)
 *   committee_count u32, committee[count] u32 (strictly increasing;
 *                        = k for committee, 0 for masking)
 *   spec_len u32, spec[spec_len]  the planner's query as canonical JSON
 *                        (query/spec.h), 0..TLY_SPEC_JSON_MAX bytes;
 *                        query_hash must equal its hash. Nodes recompute
 *                        cells, sensitivity and the privacy charge from
 *                        it, never trusting the numbers above, and refuse
 *                        a QUERY without one. (Protocol-level tests that
 *                        aggregate bare vectors send spec_len 0.)
 *   log_len u32, log[log_len]  trailing section: the transparency log's
 *                        commitment to this query (store/head.h: signed
 *                        tree head, inclusion proof of the query's
 *                        "committed" entry, consistency proofs), 0..
 *                        TLY_QUERY_LOG_MAX bytes. Nodes refuse a QUERY
 *                        without one (length 0: protocol-level tests).
 *
 * ABORT:        reason u32
 * RECEIPT:      the node's ledger receipt (node/ledger.h layout), sent with
 *               its shares; the coordinator logs it with the release
 * REFUSAL:      reason u32 (enum tly_abort_reason: 4 policy or budget),
 *               text_len u16, text (UTF-8, <= TLY_REFUSAL_TEXT_MAX): the
 *               node's one-line reason, for the planner
 * SHARE:        one of two forms, told apart by the exact length (and the
 *               seeded form's first byte); the envelope is tly_envelope_seal's
 *               (nonce 0, ad = the 36-byte header, which holds body_len):
 *               whole:  ciphertext[d * 8 + 16] (AEAD of the d share elements)
 *               seeded: form u8 = TLY_SHARE_SEEDED, ciphertext[32 + 16] (AEAD
 *                       of a 32-byte seed; the share is its PRG expansion to
 *                       d elements, protocol/committee.h). 49 bytes: odd, so
 *                       never the length of a whole share.
 * ANNOUNCE:     attempt u32, count u32, contributors[count] u32 increasing
 * SHARE_SUM:    attempt u32, set_hash[32], elements[d] u64 (each < p)
 * COMPLAINT:    attempt u32, count u32, missing[count] u32 increasing
 * SET_SIGN:     attempt u32, set_hash[32] (tly_idlist_hash of the announced
 *               set). The message's own signature (sender = the member,
 *               recipient = TLY_PARTY_COORDINATOR) is the vote; a member
 *               sends at most one per query, whatever the attempt.
 * SET_CERT:     attempt u32, count u32, contributors[count] u32 increasing,
 *               vote_count u32 (1..TLY_MAX_COMMITTEE), then vote_count x
 *               (id u32, signature[64] of that member's SET_SIGN for this
 *               attempt and set), ids increasing
 *
 * ADVERTISE:    mask_pk[32] (c_u^PK), secret_pk[32] (s_u^PK)
 * KEY_LIST:     count u32, then count x (id u32, mask_pk[32], secret_pk[32],
 *               signature[64] of that client's ADVERTISE), ids increasing
 * KEY_SHARE:    ciphertext[TLY_KEY_SHARE_CIPHER_BYTES]
 * SHARE_SET:    count u32, senders[count] u32 increasing (U2)
 * MASKED_INPUT: elements[d] u64 (each < p)
 * SURVIVORS:    count u32, ids[count] u32 increasing (U3)
 * CONSISTENCY:  set_hash[32] of the SURVIVORS list
 * SIGNATURE_LIST: count u32, then count x (id u32, signature[64] of that
 *               client's CONSISTENCY), ids increasing (U4)
 * UNMASK:       count u32, then count x (id u32, kind u8, reserved u8[3] = 0,
 *               share[40]) ids increasing; kind 1 = self-mask seed b_v
 *               share (v survived), 2 = mask-key secret s_v^SK share (v
 *               dropped)
 */
/* The form of a committee SHARE (the seeded form's first body byte). */
enum tly_share_form {
	TLY_SHARE_WHOLE = 1,  /* the d elements, sealed */
	TLY_SHARE_SEEDED = 2, /* a PRG seed, sealed */
};

enum tly_unmask_kind {
	TLY_UNMASK_SELF_SEED = 1,
	TLY_UNMASK_MASK_KEY = 2,
};

/* Fixed body sizes and entry sizes, for the decoders' exact checks. */
enum {
	TLY_QUERY_FIXED_BYTES = TLY_HASH_BYTES + 4 + 4 + 8 * 4 + 4 + 4 + 2 + 2 + 4 + 4 + 4 + 4,
	TLY_QUERY_SPEC_MAX = 65536, /* = TLY_SPEC_JSON_MAX */
	TLY_QUERY_LOG_MAX = 72000,  /* >= TLY_COMMIT_MAX_BYTES (store/head.h) */
	TLY_KEY_ENTRY_BYTES = 4 + TLY_KX_PUBLIC_BYTES * 2 + TLY_SIGNATURE_BYTES,
	TLY_SIGNATURE_ENTRY_BYTES = 4 + TLY_SIGNATURE_BYTES,
	TLY_SET_SIGN_BYTES = 4 + TLY_HASH_BYTES,
	TLY_UNMASK_ENTRY_BYTES = 4 + 1 + 3 + TLY_SHAMIR_SECRET_SHARE_BYTES,
};

#endif
