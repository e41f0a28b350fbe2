/*
 * site.h - one synthetic trust for the node benchmarks (bench_node,
 * bench_pg): `tally synth` of one site into a fresh folder under /tmp,
 * its node config loaded and its catalogue built.
 */
#ifndef TLY_BENCH_SITE_H
#define TLY_BENCH_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "node/config.h"

struct bench_site {
	char dir[64]; /* the folder; the caller removes it */
	char db[128]; /* site-1/patients.db */
	struct tly_node_config cfg;
	struct tly_catalogue cat;
};

/* Make `people` people (seed 42) in a new folder named after `name`.
 * NULL on success, else what failed (for the caller's die()). */
const char *bench_site_make(struct bench_site *s, const char *name, uint64_t people);
void bench_site_fini(struct bench_site *s);

#endif
