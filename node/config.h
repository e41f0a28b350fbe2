/*
 * config.h - a trust node's configuration file (INI).
 *
 *   [node]
 *   id = 3                                  ; 1..2^31-1, as in the coordinator's registry
 *   coordinator = tls+tcp://127.0.0.1:7400  ; the node dials out; nothing listens
 *   tls_cert = pki/node3.crt                ; paths are relative to this file;
 *   tls_key = pki/node3.key                 ; from the nodes' CA (node-ca)
 *   tls_ca = pki/coordinator-ca.crt         ; the coordinator's CA, the only one trusted
 *   sign_key = keys/node3.sign              ; 32-byte Ed25519 seed, hex
 *   kx_key = keys/node3.kx                  ; 32-byte X25519 secret, hex
 *   registry = registry.ini                 ; pinned public keys of the coordinator
 *                                           ; and every node (see wire/party.h)
 *   ledger = state/ledger.db                ; the privacy-budget ledger (written)
 *   committee = yes                         ; may serve on a committee
 *   heartbeat_interval_ms = 2000            ; keepalive to the coordinator,
 *                                           ; 100..60000
 *   heartbeat_dead_ms = 6000                ; nothing from it this long: the
 *                                           ; link is dead and redialled;
 *                                           ; 2 x heartbeat_interval_ms..600000
 *
 *   [policy]
 *   measures = count, sum, mean, histogram  ; allowed measures (default: these,
 *                                           ; rate and dsr)
 *   min_contributors = 3                    ; refuse queries with fewer sites
 *   max_min_honest = 10                     ; refuse queries whose min_honest h is
 *                                           ; larger: this node's noise share is
 *                                           ; 1/h of the target, never below 1/10
 *   allow_noise_free = no                   ; only test federations say yes
 *   max_query_work = 1000000000             ; refuse, before any charge, a query
 *                                           ; whose noise costs more work units
 *                                           ; (query/noise.h, tly_noise_work)
 *
 *   [dataset patients]
 *   source = sqlite                         ; or postgresql (default: sqlite)
 *   path = data/site3.db                    ; sqlite: the file, opened read-only
 *   ; conninfo = service=tally_trust3       ; postgresql: libpq's connection string
 *   ;                                       ; (a service file, PG* variables, or
 *   ;                                       ; key=value; put a password in
 *   ;                                       ; ~/.pgpass, not here: node/pg.h)
 *   ; schema = public                       ; postgresql: the table's schema
 *   table = patients
 *   person_id = person_id
 *   opt_out = opted_out                     ; rows with a nonzero value are never used
 *   max_sites_per_person = 1
 *   population = patients                   ; datasets naming the same population
 *                                           ; describe the same people and share
 *                                           ; one accountant (default: the
 *                                           ; dataset's own name)
 *   epsilon_total = 20                      ; the population's one cap, as
 *   delta_total = 0.000001                  ; (epsilon, delta)-DP; exact decimals
 *   epsilon_per_query = 2                   ; per-query caps: pure epsilon
 *   rho_per_query = 0.5                     ; and zCDP rho
 *   column.age = integer 0 110
 *   column.sex = categorical F,M
 *   column.age_band = categorical 0-17,18-39,40-64,65-79,80+
 *   columns = age, sex                      ; optional: which declared columns
 *                                           ; queries may use (default: all)
 *
 * Defaults (DESIGN.md section 7.1): per-query epsilon 2 (rho 0.5), one cap
 * (epsilon 20, delta 10^-6) per population, each dataset its own
 * population, minimum 3 contributors, max_min_honest 10, committee yes.
 * Every charge, pure epsilon or rho, counts against that one cap
 * (query/budget.h, docs/PRIVACY.md); with max_sites_per_person m each
 * site admits 1/m of it in zCDP terms. The datasets of one population
 * must agree on epsilon_total, delta_total and max_sites_per_person.
 *
 * rho_total was removed (issue 10): a config that still sets it is refused
 * with an error saying so, rather than silently ignored, because the
 * operator who wrote it expected a separate rho budget.
 *
 * A postgresql dataset needs conninfo (it may be empty: libpq's PG*
 * environment and service file then say everything) and refuses path; a
 * sqlite one needs path and refuses conninfo and schema. conninfo must
 * parse (libpq's PQconninfoParse); an error about it never quotes it. The
 * node's role must be granted SELECT only: tly_store_open refuses one that
 * can write the table, owns it or is a superuser (docs/OPERATIONS.md,
 * "Reading from PostgreSQL").
 *
 * Every error names the file, the line and the key (or section), and why:
 * unknown sections and keys, bad numbers, missing required keys, names
 * that are not [a-z][a-z0-9_]*, duplicate columns or datasets.
 */
#ifndef TLY_NODE_CONFIG_H
#define TLY_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "query/receipt.h"
#include "query/spec.h"

enum { TLY_CONFIG_PATH_MAX = 4096, TLY_CONFIG_URL_MAX = 256, TLY_CONFIG_CONNINFO_MAX = 1024 };

/* Where a dataset's rows are read from. */
enum tly_node_source {
	TLY_SOURCE_SQLITE = 0, /* `path`, a SQLite file (the default) */
	TLY_SOURCE_POSTGRESQL, /* `conninfo`, a PostgreSQL database through libpq */
};

/* Parse an exact non-negative decimal ("20", "0.5", "1e-3" is refused:
 * plain decimals only, at most 18 significant digits) into a reduced
 * fraction. TLY_EINVAL. */
TLY_MUST tly_err tly_fraction_parse(const char *text, struct tly_fraction *out);

struct tly_node_dataset {
	int source;                     /* enum tly_node_source */
	char path[TLY_CONFIG_PATH_MAX]; /* sqlite: absolute, resolved against the config's
	                                   folder; "" for postgresql */
	/* postgresql: libpq's connection string, "" for libpq's environment. It
	 * may hold a password: never print it, show tly_pg_conninfo_display's
	 * rebuild (node/pg.h). Wiped by tly_node_config_fini. */
	char conninfo[TLY_CONFIG_CONNINFO_MAX];
	char pg_schema[TLY_SPEC_NAME_MAX + 1]; /* postgresql: the table's schema (`schema`,
	                                          default public) */
	char table[TLY_SPEC_NAME_MAX + 1];
	char person_id[TLY_SPEC_NAME_MAX + 1];
	char opt_out[TLY_SPEC_NAME_MAX + 1];            /* "" when there is no opt-out column */
	char population[TLY_SPEC_NAME_MAX + 1];         /* default: the dataset's name */
	struct tly_fraction epsilon_total, delta_total; /* the population's cap */
	struct tly_fraction epsilon_per_query, rho_per_query;
	/* The public schema: name, max_sites_per_person and the columns queries
	 * may use (allowed ones only), in declared order. */
	struct tly_dataset schema;
};

enum tly_measure_mask {
	TLY_ALLOW_COUNT = 1 << TLY_MEASURE_COUNT,
	TLY_ALLOW_SUM = 1 << TLY_MEASURE_SUM,
	TLY_ALLOW_MEAN = 1 << TLY_MEASURE_MEAN,
	TLY_ALLOW_HISTOGRAM = 1 << TLY_MEASURE_HISTOGRAM,
	TLY_ALLOW_RATE = 1 << TLY_MEASURE_RATE,
	TLY_ALLOW_DSR = 1 << TLY_MEASURE_DSR,
};

struct tly_node_config {
	char file[TLY_CONFIG_PATH_MAX];
	uint32_t id;
	char coordinator[TLY_CONFIG_URL_MAX];
	char tls_cert[TLY_CONFIG_PATH_MAX];
	char tls_key[TLY_CONFIG_PATH_MAX];
	char tls_ca[TLY_CONFIG_PATH_MAX];
	char sign_key[TLY_CONFIG_PATH_MAX];
	char kx_key[TLY_CONFIG_PATH_MAX];
	char registry[TLY_CONFIG_PATH_MAX]; /* "" when not given (needed by the daemon) */
	char ledger[TLY_CONFIG_PATH_MAX];
	int committee;
	uint32_t heartbeat_interval_ms; /* default TLY_HEARTBEAT_INTERVAL_MS */
	uint32_t heartbeat_dead_ms;     /* default TLY_HEARTBEAT_DEAD_MS */
	unsigned measures;              /* enum tly_measure_mask bits */
	uint32_t min_contributors;
	uint32_t max_min_honest; /* refuse a QUERY whose min_honest is larger */
	int allow_noise_free;
	uint64_t max_query_work; /* refuse a QUERY whose noise costs more (noise.h) */
	size_t dataset_count;
	struct tly_node_dataset *datasets;
};

/* Load and validate. On failure *err (crypto/error.h: the file, the line,
 * "section.key" or "[section]", the reason) says where and why, and out is left
 * empty (nothing to free). TLY_EINVAL, TLY_ENOMEM. */
TLY_MUST tly_err tly_node_config_load(struct tly_node_config *out, const char *path,
                                      struct tly_field_error *err);

/* The same from text in memory (for tests and fuzzing); `name` is used in
 * error messages and `dir` to resolve relative paths. */
TLY_MUST tly_err tly_node_config_parse(struct tly_node_config *out, const char *text,
                                       const char *name, const char *dir,
                                       struct tly_field_error *err);

void tly_node_config_fini(struct tly_node_config *cfg);

const struct tly_node_dataset *tly_node_config_dataset(const struct tly_node_config *cfg,
                                                       const char *name);

/* The public catalogue of this node's datasets (copies; free with
 * tly_catalogue_fini). TLY_ENOMEM. */
TLY_MUST tly_err tly_node_config_catalogue(const struct tly_node_config *cfg,
                                           struct tly_catalogue *out);

#endif
