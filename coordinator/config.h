/*
 * config.h - the coordinator's configuration file (INI).
 *
 *   [coordinator]
 *   listen = tls+tcp://127.0.0.1:7400   ; nodes dial here
 *   api = https://127.0.0.1:7443        ; planners
 *   tls_cert = pki/coordinator.crt      ; paths are relative to this file
 *   tls_key = pki/coordinator.key       ; (signed by the coordinator CA)
 *   tls_node_ca = pki/node-ca.crt       ; the only CA the node listener trusts
 *   tls_planner_ca = pki/planner-ca.crt ; the only CA the API trusts
 *   planners = planners.ini             ; planners' keys (planners.h)
 *   sign_key = keys/coordinator.sign    ; 32-byte Ed25519 seed, hex
 *   registry = registry.ini             ; pinned public keys (store/keys.h)
 *   catalogue = catalogue.json          ; what nodes publish (query/spec.h)
 *   log = state/transparency.db         ; the transparency log (translog.h)
 *   web_root = /usr/local/share/tally/web ; the dashboard's files (web.h);
 *                                       ; unset: BINDIR/../share/tally/web
 *                                       ; when it exists, else no dashboard
 *   heartbeat_interval_ms = 2000        ; keepalive to each node, 100..60000
 *   heartbeat_dead_ms = 6000            ; a node silent this long is dropped,
 *                                       ; 2 x heartbeat_interval_ms..600000
 *
 *   [rounds]
 *   protocol = auto                     ; auto | committee | secagg | secagg+:
 *                                       ; for a spec that names none; auto:
 *                                       ; committee below masking_from trusts,
 *                                       ; secagg+ from it on
 *   masking_from = 40                   ; n at which auto picks secagg+, 3..
 *                                       ; TLY_MAX_PARTIES; default (unset):
 *                                       ; ceil(100 t / masking_corrupt_percent),
 *                                       ; where the trusts assumed corrupt reach
 *                                       ; the committee's threshold t (never
 *                                       ; when that percent is 0; README says why)
 *   masking_corrupt_percent = 5         ; masking: trusts assumed to collude
 *   masking_dropout_percent = 5         ; with the coordinator, and dropping
 *                                       ; out, 0..49 each, corrupt + 2 dropout
 *                                       ; < 100 (protocol/graph.h's gamma and
 *                                       ; delta: degree and threshold)
 *   committee_size = 4                  ; k, 1..TLY_MAX_COMMITTEE
 *   threshold = 2                       ; t, 1 <= t <= k
 *   quorum = 3                          ; q, t <= q <= k, 2q >= k + t; default
 *                                       ; (unset) ceil((k + t) / 2)
 *   deadline_ms = 10000                 ; per round, 100..600000
 *
 *   [policy]
 *   min_contributors = 3                ; abort below this many nodes
 *   min_honest = 2                      ; h, 1..min_contributors
 *   mechanisms = laplace, gaussian      ; which a query may ask for
 *   suppress_below = 0                  ; default disclosure control: a
 *   round_to = 0                        ; query's own "sdc" overrides it
 *   max_query_work = 1000000000         ; refuse (400) before sending a query
 *                                       ; whose noise costs more work units
 *                                       ; (query/noise.h, tly_noise_work)
 *
 *   [api]
 *   planner_rate = 0                    ; POST /v1/queries per planner per
 *                                       ; minute, 0..60000; 0: no limit
 *   planner_burst = 10                  ; at once, past the rate, 1..10000
 *   queue_max = 64                      ; queries waiting, 1..4096
 *   planner_queue_max = 64              ; of them one planner's, 1..queue_max;
 *                                       ; default (unset) queue_max
 *   planner_share = 1                   ; of each population's cap one planner
 *                                       ; may spend (coordinator/shares.h):
 *                                       ; "a/b" or a decimal, 0 < share <= 1;
 *                                       ; 1: no limit beyond the cap
 *   public_feed = http://0.0.0.0:7480   ; serve GET /public/feed.json (the
 *                                       ; public release feed, feed.h) there,
 *                                       ; unauthenticated and read-only, behind
 *                                       ; the [limits] guard; unset (default):
 *                                       ; no feed is served
 *
 *   [limits]                            ; the API listener (net/guard.h)
 *   api_max_conns = 256                 ; connections at once, 1..100000
 *   handshake_timeout_ms = 5000         ; accept to TLS handshake, 100..600000
 *   idle_timeout_ms = 300000            ; no byte either way, 1000..86400000
 *
 * Required: listen, api, sign_key, registry, catalogue, log, planners;
 * tls_cert, tls_key, tls_node_ca and tls_planner_ca whenever listen is
 * tls+tcp:// or api is https://. The single tls_ca of old configs is
 * refused with a message naming its replacements (one CA per role).
 * Everything else has the default shown. "gaussian" and "skellam" both name
 * the zCDP mechanism (TLY_MECH_SKELLAM, see query/spec.h).
 *
 * Every error names the file, the line and the key (or [section]), and
 * why: unknown sections and keys, a section or key given twice, bad
 * numbers, URLs or paths, missing required keys, and rules between keys
 * (threshold against committee_size, quorum against both, the masking
 * percents against each other, min_honest against
 * min_contributors, planner_queue_max against queue_max), which name the line of the later key.
 * Errors found after reading (a missing key) have line 0.
 *
 * Thread safety: inih's settings are process globals, set on every parse:
 * do not parse configs from two threads at once.
 */
#ifndef TLY_COORDINATOR_CONFIG_H
#define TLY_COORDINATOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

enum {
	TLY_COORD_PATH_MAX = 4096,
	TLY_COORD_URL_MAX = 256,
	TLY_COORD_DEADLINE_MIN_MS = 100,
	TLY_COORD_DEADLINE_MAX_MS = 600000,
	TLY_COORD_RATE_MAX = 60000,
	TLY_COORD_BURST_MAX = 10000,
	TLY_COORD_QUEUE_MAX = 4096,
	/* [limits]: the API listener (net/guard.h) */
	TLY_COORD_API_CONNS_MIN = 1,
	TLY_COORD_API_CONNS_MAX = 100000,
	TLY_COORD_API_CONNS_DEFAULT = 256,
	TLY_COORD_HANDSHAKE_MIN_MS = 100,
	TLY_COORD_HANDSHAKE_MAX_MS = 600000,
	TLY_COORD_HANDSHAKE_DEFAULT_MS = 5000,
	TLY_COORD_IDLE_MIN_MS = 1000,
	TLY_COORD_IDLE_MAX_MS = 86400000,
	TLY_COORD_IDLE_DEFAULT_MS = 300000,
	TLY_COORD_HEARTBEAT_MIN_MS = 100,
	TLY_COORD_HEARTBEAT_MAX_MS = 60000,
	TLY_COORD_DEAD_MAX_MS = 600000,
	/* [rounds] protocol = auto: not a wire protocol (enum tly_protocol
	 * starts at 1). */
	TLY_COORD_PROTOCOL_AUTO = 0,
	TLY_COORD_MASKING_PERCENT_MAX = 49,
};

/* enum tly_mechanism bits of struct tly_coord_config.mechanisms. */
enum tly_coord_mechanism_mask {
	TLY_COORD_ALLOW_LAPLACE = 1u << 1, /* 1 << TLY_MECH_LAPLACE */
	TLY_COORD_ALLOW_SKELLAM = 1u << 2, /* 1 << TLY_MECH_SKELLAM */
};

struct tly_coord_config {
	char file[TLY_COORD_PATH_MAX];
	char listen[TLY_COORD_URL_MAX];
	char api[TLY_COORD_URL_MAX];
	/* Paths: absolute, or joined to the config file's folder; "" when
	 * absent (only the TLS files may be). */
	char tls_cert[TLY_COORD_PATH_MAX];
	char tls_key[TLY_COORD_PATH_MAX];
	char tls_node_ca[TLY_COORD_PATH_MAX];    /* the node listener trusts only it */
	char tls_planner_ca[TLY_COORD_PATH_MAX]; /* the API trusts only it */
	char planners[TLY_COORD_PATH_MAX];       /* planners' keys (planners.h) */
	char sign_key[TLY_COORD_PATH_MAX];
	char registry[TLY_COORD_PATH_MAX];
	char catalogue[TLY_COORD_PATH_MAX];
	char log[TLY_COORD_PATH_MAX];
	char public_feed[TLY_COORD_URL_MAX]; /* [api] public_feed; "" = off */
	uint32_t heartbeat_interval_ms;      /* default TLY_HEARTBEAT_INTERVAL_MS */
	uint32_t heartbeat_dead_ms;          /* default TLY_HEARTBEAT_DEAD_MS */

	uint8_t protocol;      /* enum tly_protocol, or TLY_COORD_PROTOCOL_AUTO (default) */
	uint32_t masking_from; /* auto: secagg+ from this many trusts */
	uint8_t masking_corrupt_percent, masking_dropout_percent;
	uint16_t committee_size; /* k; default 4 */
	uint16_t threshold;      /* t; default 2 */
	uint16_t quorum;         /* q; default ceil((k + t) / 2) = 3 */
	uint32_t deadline_ms;    /* default TLY_DEFAULT_DEADLINE_MS */

	uint32_t min_contributors; /* default 3 */
	uint32_t min_honest;       /* h; default 2 */
	unsigned mechanisms;       /* enum tly_coord_mechanism_mask; default both */
	uint32_t suppress_below;   /* default 0: off */
	uint32_t round_to;         /* default 0: off (1 reads as 0) */

	uint32_t planner_rate;      /* queries a minute per planner; default 0: no limit */
	uint32_t planner_burst;     /* default 10 */
	uint32_t queue_max;         /* default 64 */
	uint32_t planner_queue_max; /* default queue_max */
	/* planner_share = num/den, reduced, 0 < num <= den; default 1/1 (off) */
	uint64_t planner_share_num, planner_share_den;
	/* The dashboard's static files (coordinator/web.h); "" when unset:
	 * then BINDIR/../share/tally/web when it exists, else no dashboard. */
	char web_root[TLY_COORD_PATH_MAX];
	uint32_t api_max_conns;        /* API connections at once; default 256 */
	uint32_t handshake_timeout_ms; /* accept to TLS handshake done; default 5000 */
	uint32_t idle_timeout_ms;      /* no byte either way; default 300000 */
	uint64_t max_query_work;       /* default TLY_NOISE_DEFAULT_MAX_WORK */
};

/* Load and validate. Holds no heap memory: nothing to free. On failure
 * *out is untouched and *err (crypto/error.h: the file, the line,
 * "section.key", "[section]" or "(syntax)", the reason) says where and why.
 * TLY_EINVAL. */
TLY_MUST tly_err tly_coord_config_load(struct tly_coord_config *out, const char *path,
                                       struct tly_field_error *err);

/* The same from text in memory (tests, fuzzing); `name` is used in error
 * messages and `dir` to resolve relative paths. */
TLY_MUST tly_err tly_coord_config_parse(struct tly_coord_config *out, const char *text,
                                        const char *name, const char *dir,
                                        struct tly_field_error *err);

/* Nonzero when the config allows queries with this mechanism. */
int tly_coord_config_allows(const struct tly_coord_config *cfg, uint8_t mechanism);

#endif
