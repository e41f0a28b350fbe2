/*
 * rng_audit.h - the seeded streams of the empirical DP auditor (`tally
 * audit dp --seed S`, cli/audit_dp.h), so that a researcher can rerun an
 * audit and get the same draws.
 *
 * A seeded rng is predictable, which is the point here and would be a
 * disaster anywhere else: it exists only to drive the samplers on the
 * auditor's own synthetic data, never a key, a share or a real answer.
 * It lives in its own object file (rng_audit.c); only `tally` calls it (the
 * audit), and `make check-no-test-rng` proves with nm that tally-node and
 * tally-coordinator do not link it, as it proves that no program links the
 * tests' rng_test.h. Without --seed the auditor keys its streams from the
 * operating system (tly_rng_init).
 */
#ifndef TLY_RNG_AUDIT_H
#define TLY_RNG_AUDIT_H

#include <stdint.h>

#include "rng.h"

/* Start rng on the stream `stream` of seed `seed`: keyed with
 * BLAKE2b-256("tally/audit-dp/rng/v1" || be64(seed) || be64(stream)), so
 * streams are independent and the same (seed, stream) gives the same
 * output. */
void tly_rng_init_audit(struct tly_rng *rng, uint64_t seed, uint64_t stream);

#endif
