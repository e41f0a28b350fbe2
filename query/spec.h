/*
 * spec.h - the planner's question (DESIGN.md section 7.2), the catalogue it
 * is checked against, and the shape of its answer: which cells the vector
 * has, what one person can change (sensitivity), and the canonical bytes
 * whose hash the QUERY message carries.
 *
 * The coordinator and every node parse the same JSON with the same code, so
 * they agree on cells, sensitivity and hash. Nothing from a query ever
 * becomes SQL text: a query names columns, and the spec refers to them by
 * index into the catalogue, whose names come from the node's own config.
 *
 * Numbers: JSON numbers are read by jansson as double. Privacy parameters
 * are turned into exact fractions through their shortest decimal form
 * (0.1 -> 1/10; at most 15 significant digits), and that fraction is what is
 * charged and signed; a JSON integer (2) or a "num/den" string ("1/3", the
 * canonical form) is taken exactly. Integer values must be JSON integers
 * (no 2.5, nor 2.0, for a bound or an edge).
 *
 * Errors: every parser reports the field at fault as a JSON-pointer-like
 * path ("where[1].value", "privacy.epsilon", "foo" for an unknown top-level
 * key, "$" for the document as a whole: too long, not JSON, not an object)
 * and a reason, in a struct tly_field_error (crypto/error.h: line 0, the
 * file left as the caller set it), and returns TLY_EINVAL
 * (TLY_ENOMEM on allocation). Reasons echo at most ~44 bytes of a bad
 * value, as printable ASCII (other bytes as \xNN). err may be NULL.
 *
 * Thread safety: no shared state.
 */
#ifndef TLY_SPEC_H
#define TLY_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "wire/messages.h"
#include "query/planner.h"

/* Caps: a query is refused (with the field named) past these. */
enum {
	TLY_SPEC_NAME_MAX = 63,    /* dataset and column names: [a-z0-9_], 1..63 */
	TLY_SPEC_VALUE_MAX = 63,   /* categorical values: 1..63 bytes of UTF-8,
	                              no control characters */
	TLY_SPEC_DOMAIN_MAX = 256, /* values in one categorical domain */
	TLY_SPEC_COLUMNS_MAX = 64, /* columns in one dataset */
	TLY_SPEC_DATASETS_MAX = 16,
	TLY_SPEC_WHERE_MAX = 16,               /* conditions in one query */
	TLY_SPEC_IN_MAX = 64,                  /* values in one `in` list */
	TLY_SPEC_GROUP_BY_MAX = 4,             /* grouping columns */
	TLY_SPEC_EDGES_MAX = 101,              /* histogram edges (so 100 bins) */
	TLY_SPEC_CELLS_MAX = 100000,           /* cells of one answer (<= TLY_MAX_CELLS) */
	TLY_SPEC_JSON_MAX = 65536,             /* bytes of query JSON, and of its canonical form */
	TLY_SPEC_CATALOGUE_JSON_MAX = 1 << 26, /* bytes of catalogue JSON (above any dump) */
	TLY_SPEC_SITES_MAX = TLY_MAX_PARTIES,  /* max_sites_per_person */
	TLY_SPEC_PRIVACY_MAX = 1000,           /* epsilon and rho are at most this */
	TLY_SPEC_PRIVACY_DIGITS = 15, /* significant digits of a JSON real epsilon or rho */
};

_Static_assert((long)TLY_SPEC_CELLS_MAX <= (long)TLY_MAX_CELLS, "a spec's cells fit a QUERY");

/* ---- catalogue: what a dataset exposes (from node configs) ---- */

enum tly_column_kind {
	TLY_COLUMN_CATEGORICAL = 1, /* public domain of string values */
	TLY_COLUMN_INTEGER = 2,     /* integer with inclusive bounds */
};

struct tly_column {
	char name[TLY_SPEC_NAME_MAX + 1];
	enum tly_column_kind kind;
	size_t domain_count;                    /* categorical */
	char (*domain)[TLY_SPEC_VALUE_MAX + 1]; /* categorical, in declared order */
	int64_t min, max;                       /* integer, min <= max */
};

struct tly_dataset {
	char name[TLY_SPEC_NAME_MAX + 1];
	uint32_t max_sites_per_person; /* >= 1: sensitivity is scaled by it */
	size_t column_count;
	struct tly_column *columns;
};

struct tly_catalogue {
	size_t dataset_count;
	struct tly_dataset *datasets;
};

/* Frees the datasets array, each dataset's columns and each column's
 * domain (all malloc'd: catalogues built elsewhere, e.g. from a node's
 * config, follow the same ownership). Accepts an empty catalogue. */
void tly_catalogue_fini(struct tly_catalogue *cat);

/* Parse the catalogue JSON a coordinator serves (GET /v1/catalogue):
 *   {"datasets": [{"name": "patients", "max_sites_per_person": 1,
 *     "columns": [{"name": "sex", "type": "categorical", "domain": ["F","M"]},
 *                 {"name": "age", "type": "integer", "min": 0, "max": 110}]}]}
 * Names are unique ([a-z][a-z0-9_]*); max_sites_per_person is optional
 * (default 1, at most TLY_SPEC_SITES_MAX); a domain is 1..TLY_SPEC_DOMAIN_MAX
 * unique values, each a string or an integer (kept as its decimal string);
 * integer columns have min <= max; unknown keys are refused. No datasets, or
 * a dataset without columns, is allowed. On success *out owns everything
 * (free with tly_catalogue_fini); on failure *out is untouched. */
TLY_MUST tly_err tly_catalogue_parse(struct tly_catalogue *out, const char *json, size_t len,
                                     struct tly_field_error *err);
/* Serialise (canonical: keys sorted, compact, max_sites_per_person always
 * present, domains in declared order). *json is malloc'd, NUL-terminated.
 * TLY_ENOMEM. */
TLY_MUST tly_err tly_catalogue_dump(const struct tly_catalogue *cat, char **json);

const struct tly_dataset *tly_catalogue_find(const struct tly_catalogue *cat, const char *name);
/* Index of a column, or -1. */
int tly_dataset_column(const struct tly_dataset *ds, const char *name);
/* Index of a value in a categorical column's domain, or -1. */
int tly_column_value(const struct tly_column *col, const char *value);

/* ---- the query ---- */

enum tly_measure {
	TLY_MEASURE_COUNT = 1,
	TLY_MEASURE_SUM = 2,       /* clipped to the column's bounds */
	TLY_MEASURE_MEAN = 3,      /* clipped sum and count per group */
	TLY_MEASURE_HISTOGRAM = 4, /* counts per bin of `edges` */
	TLY_MEASURE_RATE = 5,      /* numerator over denominator per group */
	TLY_MEASURE_DSR = 6,       /* rate directly age-standardised (ESP 2013) */
};

/* The European Standard Population 2013 (Eurostat, "Revision of the
 * European Standard Population", 2013 edition; the esp2013 vector of
 * OHID's PHEindicatormethods): 19 bands of five years, 0-4 ... 85-89, then
 * 90+, weights summing to 100,000 (spec_shape.c). */
enum {
	TLY_STANDARD_ESP2013 = 1,
	TLY_ESP2013_BANDS = 19,
	TLY_ESP2013_BAND_YEARS = 5,
	TLY_ESP2013_TOTAL = 100000,
};
extern const uint32_t tly_esp2013_weights[TLY_ESP2013_BANDS];

/* "compare" in a rate or dsr query: each group against a reference group. */
enum tly_compare {
	TLY_COMPARE_NONE = 0,
	TLY_COMPARE_RATIO = 1,
	TLY_COMPARE_DIFFERENCE = 2,
};

enum tly_where_op {
	TLY_WHERE_EQ = 1,
	TLY_WHERE_NE,
	TLY_WHERE_LT,
	TLY_WHERE_LE,
	TLY_WHERE_GT,
	TLY_WHERE_GE,
	TLY_WHERE_IN,
};

/* After parsing, a clause is normalised: `in` values sorted (domain order
 * or numerically) without repeats, and an `in` of one value is TLY_WHERE_EQ.
 * Categorical columns take EQ, NE and IN only. */
struct tly_where {
	int column; /* index into the dataset's columns */
	enum tly_where_op op;
	size_t value_count;  /* 1, or the `in` list's length (1..TLY_SPEC_IN_MAX) */
	int64_t *int_values; /* integer columns: each within [min, max] */
	int *domain_values;  /* categorical columns: indices into the domain */
};

struct tly_spec {
	int dataset; /* index into the catalogue */
	enum tly_measure measure;
	int measure_column; /* sum, mean, histogram: an integer column; dsr: the
	                       age column (integer, min >= 0); -1 for count and rate */
	size_t edge_count;  /* histogram: >= 2, strictly increasing, within the column's bounds */
	int64_t *edges;     /* bins [e0,e1), [e1,e2), ..., [e(b-1), e(b)]; values outside
	                       the edges fall in the first or last bin */
	size_t where_count; /* a conjunction, sorted by (column name, op, values),
	                       no repeats */
	struct tly_where *where;
	/* rate, dsr: who counts in the numerator, among the rows `where`
	 * keeps (1..TLY_SPEC_WHERE_MAX clauses, normalised and sorted as
	 * `where`); per: the multiplier, one of 1, 100, 1000, 10000, 100000;
	 * standard: dsr's TLY_STANDARD_ESP2013 */
	size_t numerator_count;
	struct tly_where *numerator;
	uint32_t per;
	uint8_t standard;
	/* rate, dsr: enum tly_compare, and the reference group's domain index
	 * for each grouping column */
	uint8_t compare;
	int compare_to[TLY_SPEC_GROUP_BY_MAX];
	size_t group_by_count;
	int group_by[TLY_SPEC_GROUP_BY_MAX]; /* categorical columns, no repeats */
	uint8_t mechanism;                   /* enum tly_mechanism: LAPLACE or SKELLAM */
	uint64_t privacy_num, privacy_den;   /* epsilon or rho, in lowest terms,
	                                        0 < num/den <= TLY_SPEC_PRIVACY_MAX */
	uint32_t suppress_below;             /* sdc; 0 = off */
	uint32_t round_to;                   /* sdc; 0 = off (a query's 1 reads as 0) */
	uint8_t protocol;                    /* enum tly_protocol; optional "protocol" field,
	                                        default TLY_PROTOCOL_COMMITTEE */
	uint8_t protocol_given;              /* 1 when the JSON named the protocol: a
	                                        coordinator may choose it otherwise */
	/* Who asked: the authenticated planner's name (query/planner.h),
	 * which the coordinator sets from the request's signature; "" when
	 * the JSON has no "planner" field. */
	char planner[TLY_PLANNER_NAME_MAX + 1];
};

/* Frees the where clauses and edges. Accepts NULL or a zeroed spec. */
void tly_spec_fini(struct tly_spec *spec);

/*
 * Parse and validate query JSON against the catalogue. Every rule failure
 * names its field: unknown dataset, column or key; wrong JSON type; a value
 * outside a categorical domain or an integer column's bounds; an operator
 * that does not fit the column (<, <=, >, >= need an integer column);
 * group_by on a non-categorical column or repeated; epsilon/rho <= 0, NaN,
 * infinite, or above 1000; edges not increasing; more cells than
 * TLY_SPEC_CELLS_MAX; unknown top-level keys. JSON longer than
 * TLY_SPEC_JSON_MAX is refused unread.
 *
 * Fields: "dataset" and "measure" {"op", "column", "edges"} and "privacy"
 * are required; "where" (at most TLY_SPEC_WHERE_MAX clauses {"column",
 * "op", "value"}, op one of = != < <= > >= in), "group_by", "sdc"
 * {"suppress_below", "round_to"}, "protocol" ("committee", "secagg",
 * "secagg+") and "planner" (a name, tly_planner_name_valid) are optional. A categorical value may
 * be a string or an integer, which matches its decimal string (1 matches "1"); an integer column
 * takes JSON integers only.
 *
 * Rates: "measure" {"op": "rate", "numerator": [clauses as in "where"],
 * "per": 1000} counts, per group, the rows `where` keeps (denominator) and
 * those of them that also match every numerator clause (numerator).
 * {"op": "dsr", "numerator", "per", "age_column": an integer column with
 * min >= 0, "standard": "esp2013"} does so per ESP 2013 age band, for a
 * directly age-standardised rate. "per" defaults to 1000 (rate) and
 * 100000 (dsr); "standard" to "esp2013". With a rate or dsr, "compare"
 * {"to": {each grouping column: a value}, "as": "ratio" or "difference"}
 * asks for each group's figure against the reference group's; it needs
 * group_by. Post-processing only: it changes no cell.
 *
 * privacy: {"mechanism": "laplace", "epsilon": E} gives TLY_MECH_LAPLACE
 * (pure epsilon-DP, distributed discrete Laplace). {"mechanism":
 * "gaussian" or "skellam", "rho": R} gives TLY_MECH_SKELLAM: rho-zCDP, as
 * DESIGN.md's "gaussian" asks, but the noise actually added is Skellam
 * (each contributor a Skellam share, see query/noise.h), not a discrete
 * Gaussian, and the canonical form says "skellam".
 *
 * On success *out owns its arrays (tly_spec_fini) and refers to cat by
 * index, so cat must outlive it; on failure *out is untouched. Every spec
 * accepted has a canonical form that is itself at most TLY_SPEC_JSON_MAX
 * bytes and parses back to the same spec.
 */
TLY_MUST tly_err tly_spec_parse(struct tly_spec *out, const struct tly_catalogue *cat,
                                const char *json, size_t len, struct tly_field_error *err);

/* The canonical JSON of a parsed spec (sorted keys, compact, values
 * normalised: epsilon as "num/den" string, `in` lists in domain order).
 * Two queries that mean the same thing have the same canonical form.
 * Every field is present (where [], group_by [], sdc {0, 0}, protocol,
 * and "domains": each grouping column's values in cell-layout order, {}
 * without grouping, so that a catalogue that orders a domain otherwise
 * refuses the query instead of misreading its cells; "planner" is the
 * one exception: present exactly when spec->planner is not "", and so is
 * "compare", present exactly when asked),
 * categorical values are strings, and the mechanism is "laplace" or
 * "skellam". It is a valid query: parsing it gives the same spec.
 * *json is malloc'd and NUL-terminated. TLY_ENOMEM. */
TLY_MUST tly_err tly_spec_canonical(const struct tly_spec *spec, const struct tly_catalogue *cat,
                                    char **json);

/* BLAKE2b-256("tally/query/v1", canonical JSON): the QUERY's query_hash. */
TLY_MUST tly_err tly_spec_hash(const struct tly_spec *spec, const struct tly_catalogue *cat,
                               uint8_t out[static TLY_HASH_BYTES]);

/* ---- the answer's shape ---- */

/*
 * Cells: groups in row-major order over group_by (the first grouping
 * column varies slowest, values in domain order), then per group:
 *   count      1 cell: the count
 *   sum        1 cell: the clipped sum
 *   mean       2 cells: the centred clipped sum, then the weighted count
 *              (tly_spec_mean_encoding)
 *   histogram  edge_count - 1 cells: the bins
 *   rate       2 cells: the rows in the numerator, then the other rows
 *              (denominator = the two together)
 *   dsr        2 cells per ESP 2013 band, band by band (0-4 first): the
 *              band's rows in the numerator, then its other rows; the
 *              band is min(age / 5, 18), rows with no age left out
 * With no group_by there is one group.
 */
size_t tly_spec_groups(const struct tly_spec *spec, const struct tly_catalogue *cat);
size_t tly_spec_cells_per_group(const struct tly_spec *spec);
size_t tly_spec_cells(const struct tly_spec *spec, const struct tly_catalogue *cat);

/* The domain index of each grouping column for group g (0 <= g < groups;
 * misuse aborts); entries from group_by_count on are set to -1. */
void tly_spec_group_values(const struct tly_spec *spec, const struct tly_catalogue *cat, size_t g,
                           int values[static TLY_SPEC_GROUP_BY_MAX]);

/*
 * What one person can change, across every site holding them
 * (max_sites_per_person m): L1 and squared L2 sensitivity of the whole cell
 * vector. count and histogram: one cell by 1 per site: L1 = m, L2^2 = m^2.
 * sum: one cell by at most B = max(|min|, |max|): L1 = mB, L2^2 = m^2 B^2.
 * mean (tly_spec_mean_encoding): the centred sum cell by at most B', the
 * count cell by w: L1 = m(B' + w), L2^2 = m^2 (B'^2 + w^2).
 * rate, dsr: each row is in exactly one cell (numerator or not, one band),
 * as in a histogram: L1 = m, L2^2 = m^2.
 * TLY_ERANGE on overflow.
 */
TLY_MUST tly_err tly_spec_sensitivity(const struct tly_spec *spec, const struct tly_catalogue *cat,
                                      uint64_t *l1, uint64_t *l2sq);

/* The largest absolute value one site's cell can take before noise (so the
 * coordinator can refuse a query whose total could leave the field's signed
 * range, with tly_field_sum_fits): count/histogram: rows_cap; sum:
 * rows_cap * B; mean: rows_cap * max(B', w); rate, dsr: rows_cap.
 * Saturates at UINT64_MAX. */
uint64_t tly_spec_cell_bound(const struct tly_spec *spec, const struct tly_catalogue *cat,
                             uint64_t rows_cap);

/*
 * A mean's cells (docs/PRIVACY.md "Means"). With the column's bounds
 * [lo, hi], the centre c = floor((lo + hi) / 2) and the half-range
 * B' = max(hi - c, c - lo) = ceil((hi - lo) / 2); a site's first cell is
 * S' = sum over its rows of (clip(x) - c), each row within [-B', B'], and
 * its second is w * C for its row count C. The weight w >= 1 splits the
 * privacy figure between the two cells so as to minimise the expected
 * variance of c + S'/C (tly_mean_weight). The node that encodes and the
 * coordinator that decodes both call this, so they agree. The spec must
 * be a mean (misuse aborts).
 */
struct tly_mean_encoding {
	int64_t centre;      /* c, within [lo, hi] */
	uint64_t half_range; /* B', <= 2^63 */
	uint64_t weight;     /* w >= 1 */
};
void tly_spec_mean_encoding(const struct tly_spec *spec, const struct tly_catalogue *cat,
                            struct tly_mean_encoding *out);
/* The same from the measure column itself and the spec's mechanism (for
 * a node, which holds its dataset's schema). */
void tly_mean_encoding_of(const struct tly_column *col, uint8_t mechanism,
                          struct tly_mean_encoding *out);

/*
 * The count cell's weight for half-range B' and mechanism (TLY_MECH_LAPLACE
 * or TLY_MECH_SKELLAM; others abort): the integer w >= 1 that minimises
 * Laplace (B' + w)^2 (1 + B'^2/(3w^2)), or Skellam (B'^2 + w^2)(1 +
 * B'^2/(3w^2)), compared exactly in integers for B' <= 2^20 (ties to the
 * smaller w); above that, floor(B' * floor(2^32 / 3^(1/3) or 3^(1/4)) /
 * 2^32), the real optimum rounded down, where the loss is flat. B' = 0
 * gives 1. Examples: Laplace 35 -> 24, 52 -> 36; Skellam 35 -> 27, 52 -> 40.
 */
uint64_t tly_mean_weight(uint64_t half_range, uint8_t mechanism);

/* Names as the canonical form writes them: "laplace", "skellam", "none";
 * "committee", "secagg", "secagg+"; "count", "sum", "mean", "histogram",
 * "rate", "dsr";
 * "=", "!=", "<", "<=", ">", ">=", "in". "?" for a value outside the enum. */
const char *tly_spec_mechanism_name(uint8_t mechanism);
const char *tly_spec_protocol_name(uint8_t protocol);
const char *tly_spec_measure_name(enum tly_measure measure);
const char *tly_spec_op_name(enum tly_where_op op);

#endif
