/*
 * node.h - a trust node's whole answer to one question, without the
 * network: the part of tally-node that keeps the promise to patients.
 *
 * A QUERY message as it arrived is read once (tly_node_read_query, or
 * tly_committee_read_query by a caller that logs its own words), and
 * tly_node_answer answers from the decoded query. In this order:
 *   1. the reader checks the coordinator's signature and the committee
 *      rules (protocol/committee.h) against the pinned registry;
 *      tly_node_answer then checks that this node is a participant and
 *      that the query is in the transparency log (node_log.h);
 *   2. parses the spec the QUERY carries against the node's own catalogue
 *      and recomputes cells, sensitivity, mechanism and privacy amount,
 *      refusing when the coordinator's numbers differ;
 *   3. applies local policy: allowed measures, minimum contributors,
 *      no noise-free answers unless the config allows them (tests);
 *   4. records the privacy spend in the ledger, durably, or refuses
 *      (budget, per-query cap, a query id seen before);
 *   5. only then reads the data (read-only), adds its noise share and
 *      secret-shares the result to the committee.
 * Nothing derived from data exists before step 4 has committed, except the
 * verdict of the data's own checks (one row per person, the declared
 * columns), which run again between steps 3 and 4 whenever the data file
 * changed (tly_store_begin) and hold the file still until step 5 is done.
 * That verdict does not depend on the query; a failing check refuses with
 * the fixed text TLY_NODE_DATA_REFUSED and charges nothing.
 *
 * What may leave the node: `why` never carries a figure read from the data
 * (it may be sent to the coordinator as a REFUSAL's text, which the
 * transparency log keeps). What the trust's operator needs beyond it (the
 * duplicate count, the rows matched, SQLite's own words) goes to
 * node->local_note, for the node's own log only.
 *
 * Thread safety: one struct tly_node per thread.
 */
#ifndef TLY_NODE_NODE_H
#define TLY_NODE_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "crypto/rng.h"
#include "eval.h"
#include "ledger.h"
#include "wire/codec.h"
#include "wire/outbox.h"
#include "wire/party.h"

enum { TLY_NODE_NOTE_MAX = 600 };

/* The texts a refusal carries when the data is at fault: fixed, whatever
 * the data holds. */
#define TLY_NODE_DATA_REFUSED                                                                      \
	"refused: this trust's data does not pass the node's checks (one row per person, the "     \
	"declared columns; the trust's own log says more); nothing was charged"
#define TLY_NODE_EVAL_FAILED                                                                       \
	"cannot evaluate the query on this trust's data (the trust's own log says why)"

struct tly_node {
	struct tly_node_config config;
	struct tly_identity identity;
	struct tly_roster roster;
	struct tly_catalogue catalogue;
	struct tly_ledger *ledger;
	struct tly_store *stores[TLY_SPEC_DATASETS_MAX]; /* per config dataset, opened lazily */
	struct tly_rng rng;
	/* For the node's own log only, never sent: what tly_node_answer
	 * learnt from the data (see above). Empty when there is nothing. */
	char local_note[TLY_NODE_NOTE_MAX];
	/* Issue 12 section 2. The caller's stop flag (its SIGTERM handler sets
	 * it), or NULL. Step 5 stops drawing noise when it is set or when the
	 * QUERY's round deadline (deadline_ms after it arrived) has passed:
	 * tly_node_answer then fails with TLY_ETIMEDOUT, the charge standing
	 * (a charged query abandoned stays charged and in the ledger). */
	const volatile sig_atomic_t *stopping;
	uint64_t deadline; /* CLOCK_MONOTONIC ms; set by tly_node_answer */
};

/* Load the config, keys, registry and ledger. TLY_EINVAL (config,
 * registry), TLY_EIO, TLY_EAUTH (key file permissions, ledger written by
 * another key), TLY_EFORMAT; why says which file and what. */
TLY_MUST tly_err tly_node_open(struct tly_node *node, const char *config_path, char *why,
                               size_t why_len);
void tly_node_close(struct tly_node *node);

/* The data store of a dataset, opened on first use. */
TLY_MUST tly_err tly_node_store(struct tly_node *node, const char *dataset, struct tly_store **out,
                                char *why, size_t why_len);

/* The rules of the query's own protocol: tly_committee_query_check or
 * tly_secagg_query_check (a tly_query_check_fn, wire/codec.h). */
TLY_MUST tly_err tly_node_query_check(const struct tly_query *q, const struct tly_roster *roster);

/*
 * Step 1: open a QUERY message, check its signature and its protocol's
 * rules (tly_node_query_check) and decode it, once. On TLY_OK, *q (fini
 * it with tly_query_fini) and query_id are written for tly_node_answer or
 * tly_node_answer_masked. Errors: those of tly_query_read_checked; why
 * says so in one line.
 */
TLY_MUST tly_err tly_node_read_query(struct tly_node *node, const uint8_t *msg, size_t len,
                                     uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                     struct tly_query *q, char *why, size_t why_len);

/*
 * Answer one QUERY (committee protocol), steps 1 (participant, log) to 5.
 * A QUERY of another protocol: TLY_EINVAL, nothing charged.
 * q and query_id are as tly_node_read_query or tly_committee_read_query
 * returned them: the message is not read again; q stays the caller's.
 * On TLY_OK, out holds the
 * k SHARE messages for the coordinator to relay and *receipt the signed
 * ledger receipt. Refusals: TLY_EBUDGET, TLY_EREPLAY (the ledger's);
 * TLY_EPEER for a query this node does not take part in or that breaks
 * local policy; TLY_EINVAL for a spec that does not parse or does not
 * match the QUERY's numbers.
 * why always says what happened, in one line fit for the node's log and
 * for the coordinator: no figure read from the data (node->local_note adds
 * those, for the log only). A data file that fails its checks: TLY_EINVAL
 * with TLY_NODE_DATA_REFUSED, nothing charged; a failure to evaluate after
 * the charge: TLY_EINVAL with TLY_NODE_EVAL_FAILED (the charge stands).
 * Stopped (node->stopping) or past the round's deadline while drawing the
 * noise: TLY_ETIMEDOUT (the charge stands).
 */
TLY_MUST tly_err tly_node_answer(struct tly_node *node,
                                 const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                 const struct tly_query *q, struct tly_outbox *out,
                                 struct tly_ledger_receipt *receipt, char *why, size_t why_len);

/*
 * The same for a pairwise-masking QUERY (protocol SECAGG or SECAGG_PLUS,
 * protocol/secagg.h), steps 1b to 5 unchanged up to the data: the same
 * checks, the same durable charge, the same refusals, before the data is
 * read. Step 5 then makes the node's client state for the query
 * (tly_secagg_client_alloc_query, borrowing node's identity, roster and
 * rng), adds the noise share and appends its ADVERTISE to out. On TLY_OK
 * *client is the caller's, for the rounds to come
 * (tly_secagg_client_receive; free it with tly_secagg_client_free); on
 * failure it is NULL. The noise is drawn in one go (no stop flag).
 * A QUERY of another protocol: TLY_EINVAL, nothing charged
 * (tly_node_answer refuses a masking QUERY the same way).
 */
struct tly_secagg_client;
TLY_MUST tly_err tly_node_answer_masked(struct tly_node *node,
                                        const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                        const struct tly_query *q,
                                        struct tly_secagg_client **client, struct tly_outbox *out,
                                        struct tly_ledger_receipt *receipt, char *why,
                                        size_t why_len);

#endif
