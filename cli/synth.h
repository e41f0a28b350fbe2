/*
 * synth.h - seeded synthetic trusts for the demo, tests and benchmarks
 * (`tally synth`, DESIGN.md section 7.4).
 *
 * One SQLite file per site with one table `patients`, one row per person:
 * person_id, age, age_band, sex, imd_decile, ethnicity, has_diabetes,
 * has_copd, has_hypertension, bmi, specialty, wait_weeks,
 * ae_attendances_12m, opted_out. Figures are plausible for England, not
 * real: an ONS-like age/sex pyramid, IMD deciles skewed per site, diabetes
 * about 7%, COPD about 2%, hypertension about 14% (all rising with age and
 * deprivation), about 12% on an elective waiting list with a long tail of
 * waits (capped at 104 weeks), overdispersed A&E attendances, about 5%
 * opted out (national data opt-out). Sites differ in size.
 *
 * The same (sites, people, seed) always gives the same files, byte for
 * byte in their contents. The generator is a statistical PRNG
 * (xoshiro256**): this is test data, never a secret.
 *
 * Under DIR it writes:
 *   site-N/patients.db        the data (N = 1..sites); with --postgres
 *                             (opt->postgres) the same rows go instead into
 *                             table siteN_patients at that server, all sites
 *                             in one transaction, an existing table refused;
 *                             typed as `tally-node import --postgres` types
 *                             the declared dataset (integer columns bigint,
 *                             categorical ones text)
 *   site-N/node.conf          a node config for it: keys under site-N/keys/,
 *                             certificate site-N/pki/node-N.{crt,key}, CA
 *                             DIR/pki/coordinator-ca.crt (the only CA a
 *                             node trusts), registry DIR/registry.ini,
 *                             ledger site-N/state/ledger.db, coordinator on
 *                             loopback (what `tally demo` lays out); with
 *                             --postgres its dataset names source =
 *                             postgresql, conninfo and table (the file is
 *                             0600 when the conninfo holds a password)
 *   catalogue.json            the public catalogue of `patients`
 *   queries/NAME.json         the demo queries
 *   truth.json                their exact answers over all sites, opt-outs
 *                             excluded (for tests and the demo only: no
 *                             daemon reads it)
 */
#ifndef TLY_CLI_SYNTH_H
#define TLY_CLI_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

struct tly_synth_options {
	unsigned sites;  /* 1..1000 */
	uint64_t people; /* total across sites, >= sites */
	uint64_t seed;
	const char *out_dir;     /* created if missing; must not hold site-1 already */
	const char *coordinator; /* URL written into node configs */
	int quiet;               /* no progress lines on stderr */
	const char *postgres;    /* NULL, or a libpq connection string: each site's
	                          * rows go to table siteN_patients there instead of
	                          * site-N/patients.db (node/pg_load.h) */
};

/* TLY_EINVAL for bad options (message in why), TLY_EIO for file errors. */
TLY_MUST tly_err tly_synth(const struct tly_synth_options *opt, char *why, size_t why_len);

/* The catalogue JSON of the synthetic `patients` dataset. Static string. */
const char *tly_synth_catalogue(void);

#endif
