#include "node.h"
#include "node/node_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include "crypto/frac.h"
#include "crypto/wipe.h"
#include "protocol/committee.h"
#include "protocol/secagg.h"
#include "store/keys.h"
#include "query/noise.h"
#include "crypto/dp.h"

tly_err
tly_node_open(struct tly_node *node, const char *config_path, char *why, size_t why_len)
{
	struct tly_field_error cerr;
	tly_err rv;

	memset(node, 0, sizeof *node);
	rv = tly_node_config_load(&node->config, config_path, &cerr);
	if (rv != TLY_OK) {
		tly_field_error_format(&cerr, why, why_len);
		return rv;
	}
	rv = tly_identity_from_files(&node->identity, node->config.id, node->config.sign_key,
	                             node->config.kx_key, why, why_len);
	if (rv != TLY_OK)
		goto fail;
	if (node->config.registry[0] == '\0') {
		tly_say(why, why_len, "%s: [node] registry is required to answer queries",
		        node->config.file);
		rv = TLY_EINVAL;
		goto fail;
	}
	rv = tly_registry_load(&node->roster, node->config.registry, why, why_len);
	if (rv != TLY_OK)
		goto fail;
	/* The registry must pin this node's own keys: otherwise others would
	 * seal its shares to someone else. */
	const struct tly_party *me = tly_roster_find(&node->roster, node->config.id);
	struct tly_party mine;
	tly_identity_public(&node->identity, &mine);
	if (me == NULL || memcmp(me->sign_pk, mine.sign_pk, sizeof mine.sign_pk) != 0 ||
	    memcmp(me->kx_pk, mine.kx_pk, sizeof mine.kx_pk) != 0) {
		tly_say(why, why_len,
		        "%s: the registry does not list node %u with this node's keys",
		        node->config.registry, node->config.id);
		rv = TLY_EAUTH;
		goto fail;
	}
	rv = tly_node_config_catalogue(&node->config, &node->catalogue);
	if (rv != TLY_OK)
		goto fail;
	/* The ledger's folder is the node's own state: make it on first run. */
	char state[TLY_CONFIG_PATH_MAX];
	snprintf(state, sizeof state, "%s", node->config.ledger);
	char *slash = strrchr(state, '/');
	if (slash != NULL && slash != state) {
		*slash = '\0';
		if (mkdir(state, 0700) != 0 && errno != EEXIST) {
			tly_say(why, why_len, "%s: %s", state, strerror(errno));
			rv = TLY_EIO;
			goto fail;
		}
	}
	rv = tly_ledger_open(&node->ledger, node->config.ledger, node->config.id,
	                     node->identity.sign, why, why_len);
	if (rv != TLY_OK)
		goto fail;
	/* Issue 12 section 6: a broken chain is noticed at start, not at the
	 * next audit. */
	struct tly_ledger_report report;
	rv = tly_ledger_verify(node->ledger, mine.sign_pk, &report);
	if (rv != TLY_OK) {
		tly_say(why, why_len,
		        "%s: the ledger does not verify, at entry %llu: %s; refusing to start",
		        node->config.ledger, (unsigned long long)report.bad_seq, report.reason);
		goto fail;
	}
	tly_rng_init(&node->rng);
	return TLY_OK;
fail:
	tly_node_close(node);
	return rv;
}

void
tly_node_close(struct tly_node *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < TLY_SPEC_DATASETS_MAX; i++)
		tly_store_close(node->stores[i]);
	tly_ledger_close(node->ledger);
	tly_catalogue_fini(&node->catalogue);
	tly_roster_fini(&node->roster);
	tly_identity_fini(&node->identity);
	tly_node_config_fini(&node->config);
	tly_rng_fini(&node->rng);
	memset(node, 0, sizeof *node);
}

tly_err
tly_node_store(struct tly_node *node, const char *dataset, struct tly_store **out, char *why,
               size_t why_len)
{
	for (size_t i = 0; i < node->config.dataset_count; i++) {
		if (strcmp(node->config.datasets[i].schema.name, dataset) != 0)
			continue;
		if (node->stores[i] == NULL) {
			tly_err rv = tly_store_open(&node->stores[i], &node->config.datasets[i],
			                            why, why_len);
			if (rv != TLY_OK)
				return rv;
		}
		*out = node->stores[i];
		return TLY_OK;
	}
	tly_say(why, why_len, "no dataset \"%s\"", dataset);
	return TLY_EINVAL;
}

/*
 * Step 3, last: everything that could make step 5 fail for the query's own
 * sake runs here, before the charge (issue 12 section 2). The noise must be
 * within the samplers' caps (tly_noise_calibrate, which step 5 repeats) and
 * its work (query/noise.h) within max_query_work; both refusals charge
 * nothing and name the limit.
 */
static tly_err
check_cost(struct tly_node *node, const struct tly_query *q, char *why, size_t why_len)
{
	char what[TLY_NOISE_WHY_BYTES];
	uint64_t work;

	if (tly_noise_cost_why(q, &work, what, sizeof what) != TLY_OK)
		return tly_fail(why, why_len, TLY_EINVAL, "refused: %s; nothing was charged", what);
	if (work > node->config.max_query_work)
		return tly_fail(
		    why, why_len, TLY_EPEER,
		    "refused by local policy: the query's noise would cost %llu work units, above "
		    "this node's max_query_work %llu; nothing was charged",
		    (unsigned long long)work, (unsigned long long)node->config.max_query_work);
	return TLY_OK;
}

/* Steps 2 and 3: the spec against the node's catalogue, the QUERY's
 * numbers against the spec, then local policy. */
static tly_err
check_query(struct tly_node *node, const struct tly_query *q, struct tly_spec *spec, char *why,
            size_t why_len)
{
	struct tly_field_error serr;
	uint64_t l1, l2sq;
	tly_err rv;

	if (q->spec_len == 0) {
		tly_say(why, why_len, "refused: the QUERY carries no spec");
		return TLY_EPEER;
	}
	rv = tly_spec_parse(spec, &node->catalogue, q->spec_json, q->spec_len, &serr);
	if (rv != TLY_OK) {
		tly_say(why, why_len, "refused: spec %s: %s", serr.field, serr.reason);
		return rv;
	}
	struct tly_fraction privacy =
	    tly_frac_reduce((struct tly_fraction){q->privacy_num, q->privacy_den});
	rv = tly_spec_sensitivity(spec, &node->catalogue, &l1, &l2sq);
	if (rv != TLY_OK || spec->protocol != q->protocol || spec->mechanism != q->mechanism ||
	    spec->privacy_num != privacy.num || spec->privacy_den != privacy.den ||
	    tly_spec_cells(spec, &node->catalogue) != q->cells || l1 != q->sensitivity_l1 ||
	    l2sq != q->sensitivity_l2sq) {
		tly_say(why, why_len,
		        "refused: the QUERY's protocol, mechanism, privacy, cells or sensitivity "
		        "do not match its spec as this node computes them");
		rv = TLY_EINVAL;
		goto fail;
	}
	if (!(node->config.measures & (1u << spec->measure))) {
		tly_say(why, why_len, "refused by local policy: this measure is not allowed");
		rv = TLY_EPEER;
		goto fail;
	}
	if (q->min_contributors < node->config.min_contributors) {
		tly_say(why, why_len,
		        "refused by local policy: the query needs only %u contributors, this node "
		        "requires at least %u",
		        q->min_contributors, node->config.min_contributors);
		rv = TLY_EPEER;
		goto fail;
	}
	/* The node's share is calibrated to 1/h of the target noise: a
	 * coordinator that raised h would shrink it. */
	if (q->min_honest > node->config.max_min_honest) {
		tly_say(why, why_len,
		        "refused by local policy: the query assumes min_honest %u honest "
		        "contributors, this node allows at most max_min_honest %u (its noise share "
		        "would be below 1/%u of the target)",
		        q->min_honest, node->config.max_min_honest, node->config.max_min_honest);
		rv = TLY_EPEER;
		goto fail;
	}
	if (q->mechanism == TLY_MECH_NONE && !node->config.allow_noise_free) {
		tly_say(why, why_len,
		        "refused by local policy: noise-free answers are not allowed");
		rv = TLY_EPEER;
		goto fail;
	}
	rv = check_cost(node, q, why, why_len);
	if (rv != TLY_OK)
		goto fail;
	return TLY_OK;
fail:
	tly_spec_fini(spec);
	return rv;
}

/* Between steps 3 and 4: the dataset's store, opened on first use, with
 * its checks run again if the file changed, and held still until
 * tly_store_end. What the checks found stays in the local note: the text
 * that may be sent is fixed. */
static tly_err
open_data(struct tly_node *node, const struct tly_spec *spec, struct tly_store **store, char *why,
          size_t why_len)
{
	tly_err rv = tly_node_store(node, node->config.datasets[spec->dataset].schema.name, store,
	                            node->local_note, sizeof node->local_note);
	if (rv == TLY_OK)
		rv = tly_store_begin(*store, node->local_note, sizeof node->local_note);
	if (rv != TLY_OK)
		tly_say(why, why_len, "%s", TLY_NODE_DATA_REFUSED);
	return rv;
}

/* Step 4: the durable charge. */
static tly_err
reserve(struct tly_node *node, const uint8_t query_id[TLY_QUERY_ID_BYTES],
        const struct tly_query *q, const struct tly_spec *spec,
        const struct tly_log_head_field *log_head, struct tly_ledger_receipt *receipt, char *why,
        size_t why_len)
{
	const struct tly_node_dataset *ds = &node->config.datasets[spec->dataset];
	struct tly_ledger_budget budget = {.epsilon_total = ds->epsilon_total,
	                                   .epsilon_per_query = ds->epsilon_per_query,
	                                   .rho_per_query = ds->rho_per_query,
	                                   .delta_total = ds->delta_total,
	                                   .sites = ds->schema.max_sites_per_person};
	struct tly_ledger_charge charge = {.dataset = ds->schema.name,
	                                   .population = ds->population,
	                                   .mechanism = q->mechanism,
	                                   .amount = {spec->privacy_num, spec->privacy_den},
	                                   .spec_json = q->spec_json,
	                                   .spec_len = q->spec_len,
	                                   .log_head = *log_head};

	memcpy(charge.query_id, query_id, TLY_QUERY_ID_BYTES);
	memcpy(charge.query_hash, q->query_hash, TLY_HASH_BYTES);
	if (q->mechanism == TLY_MECH_NONE) {
		tly_say(why, why_len, "noise-free test query: no privacy is claimed or charged");
		memset(receipt, 0, sizeof *receipt);
		return TLY_OK;
	}
	return tly_ledger_reserve(node->ledger, &charge, &budget, receipt, why, why_len);
}

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Asked between cells while the noise is drawn. */
static int
should_stop(void *arg)
{
	const struct tly_node *node = arg;
	if (node->stopping != NULL && *node->stopping)
		return 1;
	return monotonic_ms() >= node->deadline;
}

/* Step 5's last part: the noisy cells leave the node, secret-shared to the
 * committee, or (client not NULL) masked: the client state is made here,
 * its keys advertised, and it is the caller's for the rounds to come. */
static tly_err
share_cells(struct tly_node *node, const uint8_t query_id[TLY_QUERY_ID_BYTES],
            const struct tly_query *q, const int64_t *cells, size_t d,
            struct tly_secagg_client **client, struct tly_outbox *out)
{
	if (client == NULL) {
		struct tly_committee_node_opts opts = {.allow_no_noise =
		                                           node->config.allow_noise_free,
		                                       .stop = should_stop,
		                                       .stop_arg = node};
		return tly_committee_node_answer(&node->identity, &node->roster, &node->rng, &opts,
		                                 query_id, q, cells, d, out);
	}
	struct tly_secagg_client_opts opts = {.allow_no_noise = node->config.allow_noise_free};
	tly_err rv = tly_secagg_client_alloc_query(client, &node->identity, &node->roster,
	                                           &node->rng, &opts, query_id, q);
	if (rv == TLY_OK && (rv = tly_secagg_client_start(*client, cells, d, out)) != TLY_OK) {
		tly_secagg_client_free(*client);
		*client = NULL;
	}
	return rv;
}

/* Step 5: read the data (held still since open_data), add the noise share
 * and share the vector. The exact cells are the trust's secret: wiped. */
static tly_err
answer_from_data(struct tly_node *node, const uint8_t query_id[TLY_QUERY_ID_BYTES],
                 const struct tly_query *q, const struct tly_spec *spec, struct tly_store *store,
                 size_t d, struct tly_secagg_client **client, struct tly_outbox *out, char *why,
                 size_t why_len)
{
	struct tly_eval_stats stats;
	int64_t *cells = calloc(d, sizeof *cells);
	tly_err rv;

	if (cells == NULL) {
		tly_say(why, why_len, "out of memory");
		return TLY_ENOMEM;
	}
	rv = tly_eval(store, spec, &node->catalogue, cells, d, &stats, node->local_note,
	              sizeof node->local_note);
	if (rv != TLY_OK) {
		/* ERANGE (a cell overflowed) would say something about the
		 * data: every failure here reads the same. */
		rv = TLY_EINVAL;
		tly_say(why, why_len, "%s", TLY_NODE_EVAL_FAILED);
		goto out;
	}
	rv = share_cells(node, query_id, q, cells, d, client, out);
	if (rv == TLY_ETIMEDOUT) {
		tly_say(why, why_len, "abandoned while drawing the noise: %s; the charge stands",
		        node->stopping != NULL && *node->stopping ? "the node is stopping"
		                                                  : "the round's deadline passed");
		goto out;
	}
	if (rv != TLY_OK) {
		tly_say(why, why_len, "cannot share the answer: %s", tly_strerror(rv));
		goto out;
	}
	if (client != NULL)
		tly_say(why, why_len, "answered: %zu cells, masked (%s), keys advertised", d,
		        tly_spec_protocol_name(q->protocol));
	else
		tly_say(why, why_len, "answered: %zu cells, %zu shares", d, out->count);
	tly_say(node->local_note, sizeof node->local_note,
	        "the answer read %llu rows (%llu left out)", (unsigned long long)stats.rows_matched,
	        (unsigned long long)stats.rows_unmatched);
out:
	TLY_WIPE(cells, d * sizeof *cells);
	free(cells);
	return rv;
}

tly_err
tly_node_query_check(const struct tly_query *q, const struct tly_roster *roster)
{
	if (q->protocol == TLY_PROTOCOL_COMMITTEE)
		return tly_committee_query_check(q, roster);
	return tly_secagg_query_check(q, roster);
}

tly_err
tly_node_read_query(struct tly_node *node, const uint8_t *msg, size_t len,
                    uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_query *q, char *why,
                    size_t why_len)
{
	/* Step 1. */
	tly_err rv = tly_query_read_checked(&node->roster, node->config.id, msg, len,
	                                    tly_node_query_check, query_id, q);

	if (rv != TLY_OK)
		tly_say(why, why_len, "refused: not a valid QUERY for this node: %s",
		        tly_strerror(rv));
	return rv;
}

/* Steps 1b to 5 for either protocol (client NULL: committee). */
static tly_err
answer(struct tly_node *node, const uint8_t query_id[TLY_QUERY_ID_BYTES], const struct tly_query *q,
       struct tly_secagg_client **client, struct tly_outbox *out,
       struct tly_ledger_receipt *receipt, char *why, size_t why_len)
{
	struct tly_log_head_field log_head;
	struct tly_spec spec;
	struct tly_store *store;
	tly_err rv;

	node->local_note[0] = '\0';
	node->deadline = UINT64_MAX;
	if (!tly_idlist_contains(&q->participants, node->config.id)) {
		tly_say(why, why_len, "refused: this node is not a participant of the query");
		return TLY_EPEER;
	}
	node->deadline = monotonic_ms() + q->deadline_ms;
	/* Step 1b: no query outside the transparency log (node_log.h). */
	rv = tly_node_check_log(node, query_id, q, &log_head, why, why_len);
	if (rv != TLY_OK)
		return rv;
	/* Steps 2 and 3. */
	rv = check_query(node, q, &spec, why, why_len);
	if (rv != TLY_OK)
		return rv;
	rv = open_data(node, &spec, &store, why, why_len);
	if (rv != TLY_OK)
		goto out_spec;
	/* Step 4: the data passed its checks; nothing else has been read. */
	rv = reserve(node, query_id, q, &spec, &log_head, receipt, why, why_len);
	if (rv != TLY_OK)
		goto out_read;
	/* Step 5. */
	rv = answer_from_data(node, query_id, q, &spec, store, q->cells, client, out, why, why_len);
out_read:
	tly_store_end(store);
out_spec:
	tly_spec_fini(&spec);
	return rv;
}

/* The entry point must be the protocol's, before anything is charged. */
static tly_err
wrong_entry(char *why, size_t why_len)
{
	return tly_fail(why, why_len, TLY_EINVAL,
	                "refused: the QUERY's protocol is not the one this answer runs");
}

tly_err
tly_node_answer(struct tly_node *node, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                const struct tly_query *q, struct tly_outbox *out,
                struct tly_ledger_receipt *receipt, char *why, size_t why_len)
{
	if (q->protocol != TLY_PROTOCOL_COMMITTEE)
		return wrong_entry(why, why_len);
	return answer(node, query_id, q, NULL, out, receipt, why, why_len);
}

tly_err
tly_node_answer_masked(struct tly_node *node, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                       const struct tly_query *q, struct tly_secagg_client **client,
                       struct tly_outbox *out, struct tly_ledger_receipt *receipt, char *why,
                       size_t why_len)
{
	*client = NULL;
	if (q->protocol != TLY_PROTOCOL_SECAGG && q->protocol != TLY_PROTOCOL_SECAGG_PLUS)
		return wrong_entry(why, why_len);
	return answer(node, query_id, q, client, out, receipt, why, why_len);
}
