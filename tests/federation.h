/*
 * federation.h - a small signed federation on disk for the transparency
 * log and audit tests, laid out as `tally demo --dir` lays it out:
 *
 *   DIR/registry.ini                      coordinator and node public keys
 *   DIR/coordinator/state/transparency.db the transparency log
 *   DIR/site-N/state/ledger.db            node N's ledger, N = 1..nodes
 *
 * Queries are real (catalogue, spec, canonical JSON and hash), charges go
 * through each node's real ledger (node/ledger.h), releases through
 * coordinator/release.h, and entries through tly_translog_append. Every
 * helper asserts (Criterion) instead of returning errors.
 */
#ifndef TLY_TESTS_FEDERATION_H
#define TLY_TESTS_FEDERATION_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator/translog.h"
#include "node/ledger.h"
#include "wire/party.h"
#include "query/spec.h"

enum { FED_MAX_NODES = 6 };

struct fed {
	char dir[64];
	char log_path[128];
	char registry_path[128];
	char ledger_path[FED_MAX_NODES + 1][128]; /* [N] for node N */
	unsigned nodes;
	struct tly_identity coordinator;
	struct tly_identity node[FED_MAX_NODES + 1]; /* [N] for node N */
	struct tly_roster roster;
	struct tly_catalogue cat;
	struct tly_ledger *ledger[FED_MAX_NODES + 1];
	struct tly_translog *log;
	uint64_t last_seq; /* of the last entry fed_append logged */
	/* What fed_append logs as the round's protocol, t and k; 0: committee,
	 * t = 2, k = 3. */
	uint8_t protocol;
	uint16_t threshold, degree;
};

struct fed_query {
	uint8_t id[TLY_QUERY_ID_BYTES];
	uint8_t hash[TLY_HASH_BYTES];
	struct tly_spec spec;
	char *canonical;
	size_t canonical_len;
};

/* Keys, registry, ledgers and log in a fresh temporary folder. */
void fed_init(struct fed *f, unsigned nodes);
/* Close everything and remove the folder. */
void fed_fini(struct fed *f);
/* Close the log and the ledgers (so that raw SQL may edit the files). */
void fed_close(struct fed *f);

/* A count by sex of dataset "patients" at this epsilon ("0.5", "1", ...),
 * asked by planner "alice" (as the coordinator writes it into the spec). */
void fed_query(struct fed *f, struct fed_query *q, const char *epsilon);
void fed_query_fini(struct fed_query *q);

/* Node n charges q in its ledger; the receipt bytes are appended to out. */
void fed_charge(struct fed *f, uint32_t n, const struct fed_query *q, struct tly_buf *out);
/* The same, with the log head the node verified (NULL: none). */
void fed_charge_with_head(struct fed *f, uint32_t n, const struct fed_query *q,
                          const struct tly_log_head_field *head, struct tly_buf *out);

/* Charge every contributor and dropped node, build the release (zero
 * cells, h = 2) and log it. Returns the entry's seq. */
uint64_t fed_release(struct fed *f, const struct fed_query *q, const uint32_t *contributors,
                     uint32_t contributor_count, const uint32_t *dropped, uint32_t dropped_count);

/* Log one entry (protocol committee, t = 2, k = 3) with the given
 * receipts (each a tly_buf); returns tly_translog_append's result. */
tly_err fed_append(struct fed *f, const struct fed_query *q, uint8_t outcome,
                   const char *release_json, const uint32_t *contributors,
                   uint32_t contributor_count, const uint32_t *dropped, uint32_t dropped_count,
                   struct tly_buf *receipts, size_t receipt_count, char *why, size_t why_len);

/* A release JSON for q with these contributors and dropped nodes (zero
 * cells, h = 2); malloc'd. */
char *fed_release_json(struct fed *f, const struct fed_query *q, const uint32_t *contributors,
                       uint32_t contributor_count, const uint32_t *dropped, uint32_t dropped_count);

/* Sign r (as node key would) and encode it, with its signature, into out. */
void fed_forge_receipt(struct tly_ledger_receipt *r, const struct tly_sign_key *key,
                       struct tly_buf *out);

/* Run SQL on a file directly (tampering); asserts success. */
void fed_sql(const char *path, const char *sql);

#endif
