/* audit_dp_impl.h - what the files of `tally audit dp` share (audit_dp.h):
 * audit_dp_world.c sets up the two datasets, the query and its noise;
 * audit_dp.c draws and counts; audit_dp_cli.c is the command line. */
#ifndef TLY_CLI_AUDIT_DP_IMPL_H
#define TLY_CLI_AUDIT_DP_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "audit_dp.h"
#include "query/noise.h"
#include "query/spec.h"
#include "wire/codec.h"

enum audit_measure { AUDIT_COUNT, AUDIT_SUM, AUDIT_MEAN, AUDIT_HISTOGRAM, AUDIT_RATE };

/* Everything the draws read; set up once, then read-only (shared by the
 * worker threads). */
struct dp_world {
	enum audit_measure measure;
	int skellam;
	struct tly_catalogue cat;
	struct tly_spec spec;            /* the claimed query, for the release */
	struct tly_noise_params claimed; /* its noise */
	struct tly_noise_params drawn;   /* the noise the trusts draw (calibrate) */
	size_t d;                        /* cells */
	int64_t *cells[2];               /* the node's exact answer on D, D' */
	size_t figure;                   /* the release's cell audited */
	size_t key_cells;                /* cells the figure is made of: 1 or 2 */
	size_t key_first;                /* the first of them */
	uint32_t nodes, honest_drawing;  /* trusts; honest ones whose shares are in */
	struct tly_idlist contributors;  /* 1..nodes */
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	const struct tly_audit_dp_sampler *sampler;
	int64_t truth_cell[2]; /* the audited cell's noise-free total */
};

/* Set up w for mechanism index `m` (tly_audit_dp_mechanisms) and the
 * options: the data in a temporary folder (removed again), the node's
 * evaluation, the calibration; fills the claim's fields of *out. Errors
 * with why naming the option. dp_world_fini frees it (also after a
 * failure). */
tly_err dp_world_init(struct dp_world *w, size_t m, const struct tly_audit_dp_options *o,
                      struct tly_audit_dp_result *out, char *why, size_t why_len);
void dp_world_fini(struct dp_world *w);

/* The release's value of the audited cell from the decoded noisy total
 * (all d cells): tly_release_build's "value", -INFINITY for null. */
tly_err dp_world_release(const struct dp_world *w, const int64_t *noisy, double *value);

#endif
