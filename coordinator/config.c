/* The coordinator's INI config: see config.h for the keys and the rules. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/shares.h"
#include "query/noise.h"

#include "wire/messages.h"
#include "net/transport.h"
#include "store/ini.h"

enum section_id {
	SECTION_COORDINATOR,
	SECTION_ROUNDS,
	SECTION_POLICY,
	SECTION_API,
	SECTION_LIMITS,
	SECTION_COUNT
};

static const char *const section_names[SECTION_COUNT] = {"coordinator", "rounds", "policy", "api",
                                                         "limits"};

struct parse;

/* One key: where it lives and how its value is read. A reader returns NULL
 * or why the value is bad. */
struct key {
	enum section_id section;
	const char *name;
	const char *(*read)(struct parse *p, const char *value, size_t offset);
	size_t offset; /* of the field in struct tly_coord_config */
	bool required;
};

/*
 * inih never calls the handler for a section without keys: the reader
 * (store/ini.h, which counts the lines) shows every line to check_header,
 * so that an empty unknown or repeated section is still caught.
 */
struct parse {
	struct tly_coord_config *cfg;
	struct tly_field_error *err;
	const char *dir;
	struct tly_ini_source src;       /* calls check_header with each line */
	int section_line[SECTION_COUNT]; /* header line of each section, 0 if not yet */
	int key_line[48];                /* line of each key of `keys`, 0 if not given */
};

static void
fail(struct parse *p, int line, const char *key, const char *fmt, ...)
{
	char reason[sizeof p->err->reason];
	va_list ap;

	if (p->err->reason[0] != '\0')
		return; /* keep the first error */
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	(void)tly_field_fail(p->err, line, key, "%s", reason);
}

/* ---- values ---- */

static char *
field(struct parse *p, size_t offset)
{
	return (char *)p->cfg + offset;
}

static bool
has_space(const char *text)
{
	for (; *text != '\0'; text++)
		if (isspace((unsigned char)*text))
			return true;
	return false;
}

/* A URL with one of the schemes, something after it, no spaces. */
static bool
url_ok(const char *value, const char *const *schemes)
{
	if (strlen(value) >= TLY_COORD_URL_MAX || has_space(value))
		return false;
	for (; *schemes != NULL; schemes++) {
		size_t n = strlen(*schemes);
		if (strncmp(value, *schemes, n) == 0 && value[n] != '\0')
			return true;
	}
	return false;
}

static const char *
read_listen(struct parse *p, const char *value, size_t offset)
{
	static const char *const schemes[] = {"tls+tcp://", "tcp://", "ipc://", "inproc://", NULL};

	if (!url_ok(value, schemes))
		return "must be a URL such as tls+tcp://127.0.0.1:7400 (tls+tcp, tcp, ipc, "
		       "inproc)";
	snprintf(field(p, offset), TLY_COORD_URL_MAX, "%s", value);
	return NULL;
}

static const char *
read_api(struct parse *p, const char *value, size_t offset)
{
	static const char *const schemes[] = {"https://", "http://", NULL};

	if (!url_ok(value, schemes))
		return "must be a URL such as https://127.0.0.1:7443";
	snprintf(field(p, offset), TLY_COORD_URL_MAX, "%s", value);
	return NULL;
}

/* [api] public_feed: plain http only (the feed is signed; it needs no
 * TLS to be checked, and a campaigner needs no certificate to fetch it). */
static const char *
read_public_feed(struct parse *p, const char *value, size_t offset)
{
	static const char *const schemes[] = {"http://", NULL};

	if (!url_ok(value, schemes))
		return "must be an http:// URL such as http://0.0.0.0:7480 (the feed is signed; "
		       "put a TLS proxy in front for https)";
	snprintf(field(p, offset), TLY_COORD_URL_MAX, "%s", value);
	return NULL;
}

static const char *
read_path(struct parse *p, const char *value, size_t offset)
{
	if (value[0] == '\0')
		return "must be a path";
	if (!tly_ini_path(field(p, offset), TLY_COORD_PATH_MAX, p->dir, value))
		return "path too long";
	return NULL;
}

static const char *
read_protocol(struct parse *p, const char *value, size_t offset)
{
	(void)offset;
	if (strcmp(value, "auto") == 0)
		p->cfg->protocol = TLY_COORD_PROTOCOL_AUTO;
	else if (strcmp(value, "committee") == 0)
		p->cfg->protocol = TLY_PROTOCOL_COMMITTEE;
	else if (strcmp(value, "secagg") == 0)
		p->cfg->protocol = TLY_PROTOCOL_SECAGG;
	else if (strcmp(value, "secagg+") == 0)
		p->cfg->protocol = TLY_PROTOCOL_SECAGG_PLUS;
	else
		return "must be auto, committee, secagg or secagg+";
	return NULL;
}

static const char *
read_masking_from(struct parse *p, const char *value, size_t offset)
{
	(void)offset;
	if (!tly_ini_u32(value, 3, TLY_MAX_PARTIES, &p->cfg->masking_from))
		return "must be an integer from 3 to 100000";
	return NULL;
}

static const char *
read_percent(struct parse *p, const char *value, size_t offset)
{
	uint32_t v;

	if (!tly_ini_u32(value, 0, TLY_COORD_MASKING_PERCENT_MAX, &v))
		return "must be an integer from 0 to 49 (percent)";
	*((uint8_t *)p->cfg + offset) = (uint8_t)v;
	return NULL;
}

static const char *
read_committee_size(struct parse *p, const char *value, size_t offset)
{
	uint32_t v;

	(void)offset;
	if (!tly_ini_u32(value, 1, TLY_MAX_COMMITTEE, &v))
		return "must be an integer from 1 to 64";
	p->cfg->committee_size = (uint16_t)v;
	return NULL;
}

static const char *
read_threshold(struct parse *p, const char *value, size_t offset)
{
	uint32_t v;

	(void)offset;
	if (!tly_ini_u32(value, 1, TLY_MAX_COMMITTEE, &v))
		return "must be an integer from 1 to 64";
	p->cfg->threshold = (uint16_t)v;
	return NULL;
}

static const char *
read_quorum(struct parse *p, const char *value, size_t offset)
{
	uint32_t v;

	(void)offset;
	if (!tly_ini_u32(value, 1, TLY_MAX_COMMITTEE, &v))
		return "must be an integer from 1 to 64";
	p->cfg->quorum = (uint16_t)v;
	return NULL;
}

static const char *
read_deadline(struct parse *p, const char *value, size_t offset)
{
	(void)offset;
	if (!tly_ini_u32(value, TLY_COORD_DEADLINE_MIN_MS, TLY_COORD_DEADLINE_MAX_MS,
	                 &p->cfg->deadline_ms))
		return "must be an integer from 100 to 600000 (milliseconds)";
	return NULL;
}

static const char *
read_heartbeat(struct parse *p, const char *value, size_t offset)
{
	uint32_t *dst = (uint32_t *)(void *)field(p, offset);

	if (!tly_ini_u32(value, TLY_COORD_HEARTBEAT_MIN_MS, TLY_COORD_HEARTBEAT_MAX_MS, dst))
		return "must be an integer from 100 to 60000 (milliseconds)";
	return NULL;
}

static const char *
read_dead(struct parse *p, const char *value, size_t offset)
{
	uint32_t *dst = (uint32_t *)(void *)field(p, offset);

	if (!tly_ini_u32(value, 2 * TLY_COORD_HEARTBEAT_MIN_MS, TLY_COORD_DEAD_MAX_MS, dst))
		return "must be an integer from 200 to 600000 (milliseconds)";
	return NULL;
}

static const char *
read_parties(struct parse *p, const char *value, size_t offset)
{
	uint32_t *dst = (uint32_t *)(void *)field(p, offset);

	if (!tly_ini_u32(value, 1, TLY_MAX_SERVED_PARTIES, dst))
		return "must be an integer from 1 to 1000";
	return NULL;
}

static const char *
read_count(struct parse *p, const char *value, size_t offset)
{
	uint32_t *dst = (uint32_t *)(void *)field(p, offset);

	if (!tly_ini_u32(value, 0, 1000000000, dst))
		return "must be an integer from 0 to 1000000000";
	return NULL;
}

/* [api]: the planner API's limits (config.h). */
static const char *
read_planner_rate(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, 0, TLY_COORD_RATE_MAX, (uint32_t *)(void *)field(p, offset)))
		return "must be an integer from 0 (no limit) to 60000 queries a minute";
	return NULL;
}

static const char *
read_planner_burst(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, 1, TLY_COORD_BURST_MAX, (uint32_t *)(void *)field(p, offset)))
		return "must be an integer from 1 to 10000";
	return NULL;
}

static const char *
read_queue(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, 1, TLY_COORD_QUEUE_MAX, (uint32_t *)(void *)field(p, offset)))
		return "must be an integer from 1 to 4096";
	return NULL;
}

/* [api] planner_share: "a/b" or a decimal, 0 < share <= 1 (shares.h). */
static const char *
read_planner_share(struct parse *p, const char *value, size_t offset)
{
	struct tly_fraction share;

	(void)offset;
	if (tly_shares_parse(value, &share) != TLY_OK)
		return "must be a fraction a/b or a decimal, above 0 and at most 1 (1: no "
		       "per-planner share), such as 1/4 or 0.25";
	p->cfg->planner_share_num = share.num;
	p->cfg->planner_share_den = share.den;
	return NULL;
}

static const char *
read_work(struct parse *p, const char *value, size_t offset)
{
	(void)offset;
	if (!tly_ini_u64(value, 1, &p->cfg->max_query_work))
		return "must be an integer from 1 to 18446744073709551615 (work units)";
	return NULL;
}

static bool
add_mechanism(void *arg, const char *item)
{
	unsigned *mask = arg;

	if (strcmp(item, "laplace") == 0)
		*mask |= TLY_COORD_ALLOW_LAPLACE;
	else if (strcmp(item, "gaussian") == 0 || strcmp(item, "skellam") == 0)
		*mask |= TLY_COORD_ALLOW_SKELLAM;
	else
		return false;
	return true;
}

static const char *
read_mechanisms(struct parse *p, const char *value, size_t offset)
{
	char list[512];
	unsigned mask = 0;

	(void)offset;
	if (snprintf(list, sizeof list, "%s", value) >= (int)sizeof list)
		return "list too long";
	if (!tly_ini_each_item(list, add_mechanism, &mask))
		return "each mechanism must be laplace, gaussian or skellam";
	if (mask == 0)
		return "name at least one mechanism (laplace, gaussian)";
	p->cfg->mechanisms = mask;
	return NULL;
}

/* One CA per role (docs/OPERATIONS.md): the single tls_ca of before would
 * let any role's certificate in on either listener. */
static const char *
read_retired(struct parse *p, const char *value, size_t offset)
{
	(void)p;
	(void)value;
	(void)offset;
	return "replaced by tls_node_ca (the CA the node listener trusts) and tls_planner_ca "
	       "(the CA the API trusts): one CA per role, see docs/OPERATIONS.md";
}

/* [limits]: each key's range is in config.h (TLY_COORD_*_MIN/MAX). */
static const char *
read_api_max_conns(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, TLY_COORD_API_CONNS_MIN, TLY_COORD_API_CONNS_MAX,
	                 (void *)field(p, offset)))
		return "must be a whole number from 1 to 100000";
	return NULL;
}

static const char *
read_handshake_ms(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, TLY_COORD_HANDSHAKE_MIN_MS, TLY_COORD_HANDSHAKE_MAX_MS,
	                 (void *)field(p, offset)))
		return "must be milliseconds from 100 to 600000";
	return NULL;
}

static const char *
read_idle_ms(struct parse *p, const char *value, size_t offset)
{
	if (!tly_ini_u32(value, TLY_COORD_IDLE_MIN_MS, TLY_COORD_IDLE_MAX_MS,
	                 (void *)field(p, offset)))
		return "must be milliseconds from 1000 to 86400000";
	return NULL;
}

#define AT(member) offsetof(struct tly_coord_config, member)

static const struct key keys[] = {
    {SECTION_COORDINATOR, "listen", read_listen, AT(listen), true},
    {SECTION_COORDINATOR, "api", read_api, AT(api), true},
    {SECTION_COORDINATOR, "tls_cert", read_path, AT(tls_cert), false},
    {SECTION_COORDINATOR, "tls_key", read_path, AT(tls_key), false},
    {SECTION_COORDINATOR, "tls_ca", read_retired, 0, false},
    {SECTION_COORDINATOR, "tls_node_ca", read_path, AT(tls_node_ca), false},
    {SECTION_COORDINATOR, "tls_planner_ca", read_path, AT(tls_planner_ca), false},
    {SECTION_COORDINATOR, "planners", read_path, AT(planners), true},
    {SECTION_COORDINATOR, "sign_key", read_path, AT(sign_key), true},
    {SECTION_COORDINATOR, "registry", read_path, AT(registry), true},
    {SECTION_COORDINATOR, "catalogue", read_path, AT(catalogue), true},
    {SECTION_COORDINATOR, "web_root", read_path, AT(web_root), false},
    {SECTION_COORDINATOR, "log", read_path, AT(log), true},
    {SECTION_COORDINATOR, "heartbeat_interval_ms", read_heartbeat, AT(heartbeat_interval_ms),
     false},
    {SECTION_COORDINATOR, "heartbeat_dead_ms", read_dead, AT(heartbeat_dead_ms), false},
    {SECTION_ROUNDS, "protocol", read_protocol, 0, false},
    {SECTION_ROUNDS, "masking_from", read_masking_from, 0, false},
    {SECTION_ROUNDS, "masking_corrupt_percent", read_percent, AT(masking_corrupt_percent), false},
    {SECTION_ROUNDS, "masking_dropout_percent", read_percent, AT(masking_dropout_percent), false},
    {SECTION_ROUNDS, "committee_size", read_committee_size, 0, false},
    {SECTION_ROUNDS, "threshold", read_threshold, 0, false},
    {SECTION_ROUNDS, "quorum", read_quorum, 0, false},
    {SECTION_ROUNDS, "deadline_ms", read_deadline, 0, false},
    {SECTION_POLICY, "min_contributors", read_parties, AT(min_contributors), false},
    {SECTION_POLICY, "min_honest", read_parties, AT(min_honest), false},
    {SECTION_POLICY, "mechanisms", read_mechanisms, 0, false},
    {SECTION_POLICY, "suppress_below", read_count, AT(suppress_below), false},
    {SECTION_POLICY, "round_to", read_count, AT(round_to), false},
    {SECTION_API, "planner_rate", read_planner_rate, AT(planner_rate), false},
    {SECTION_API, "planner_burst", read_planner_burst, AT(planner_burst), false},
    {SECTION_API, "queue_max", read_queue, AT(queue_max), false},
    {SECTION_API, "planner_queue_max", read_queue, AT(planner_queue_max), false},
    {SECTION_API, "planner_share", read_planner_share, 0, false},
    {SECTION_API, "public_feed", read_public_feed, AT(public_feed), false},
    {SECTION_LIMITS, "api_max_conns", read_api_max_conns, AT(api_max_conns), false},
    {SECTION_LIMITS, "handshake_timeout_ms", read_handshake_ms, AT(handshake_timeout_ms), false},
    {SECTION_LIMITS, "idle_timeout_ms", read_idle_ms, AT(idle_timeout_ms), false},
    {SECTION_POLICY, "max_query_work", read_work, 0, false},
};

enum { KEY_COUNT = sizeof keys / sizeof keys[0] };
_Static_assert(KEY_COUNT <= 48, "key_line has room for every key");

/* ---- reading ---- */

/* A section header line: known, and not seen before. */
static void
check_header(void *arg, const char *line)
{
	struct parse *p = arg;
	char name[96];
	size_t n = 0;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line++ != '[')
		return;
	while (*line != '\0' && *line != ']' && n < sizeof name - 1)
		name[n++] = *line++;
	if (*line != ']')
		return; /* inih reports the syntax error */
	name[n] = '\0';
	for (int s = 0; s < SECTION_COUNT; s++) {
		if (strcmp(name, section_names[s]) != 0)
			continue;
		if (p->section_line[s] != 0)
			fail(p, p->src.line, "[section]", "[%s] appears twice (first on line %d)",
			     name, p->section_line[s]);
		p->section_line[s] = p->src.line;
		return;
	}
	fail(p, p->src.line, "[section]",
	     "unknown section [%.60s] (expected [coordinator], [rounds], [policy], [api] or "
	     "[limits])",
	     name);
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char where[96];
	const char *bad;

	if (p->err->reason[0] != '\0')
		return 1;
	snprintf(where, sizeof where, "%s.%s", section[0] != '\0' ? section : "(top)", name);
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (strcmp(section, section_names[keys[i].section]) != 0 ||
		    strcmp(name, keys[i].name) != 0)
			continue;
		if (p->key_line[i] != 0) {
			fail(p, p->src.line, where, "given twice (first on line %d)",
			     p->key_line[i]);
			return 1;
		}
		p->key_line[i] = p->src.line;
		if ((bad = keys[i].read(p, value, keys[i].offset)) != NULL)
			fail(p, p->src.line, where, "%s", bad);
		return 1;
	}
	if (section[0] == '\0')
		fail(p, p->src.line, where, "key outside any section");
	else
		fail(p, p->src.line, where, "unknown key");
	return 1;
}

/* ---- after reading ---- */

/* "section.key" of keys[i], as errors name it. */
static void
key_where(char *where, size_t len, size_t i)
{
	snprintf(where, len, "%s.%s", section_names[keys[i].section], keys[i].name);
}

/* The later of two keys, for a rule between them. */
static void
fail_pair(struct parse *p, const char *a, const char *b, const char *reason)
{
	size_t later = KEY_COUNT;
	char where[96];

	for (size_t i = 0; i < KEY_COUNT; i++)
		if ((strcmp(keys[i].name, a) == 0 || strcmp(keys[i].name, b) == 0) &&
		    (later == KEY_COUNT || p->key_line[i] > p->key_line[later]))
			later = i;
	TLY_REQUIRE(later < KEY_COUNT);
	key_where(where, sizeof where, later);
	fail(p, p->key_line[later], where, "%s", reason);
}

/* Every required key given, and the TLS files when listen or api uses TLS. */
static bool
check_required(struct parse *p)
{
	const struct tly_coord_config *cfg = p->cfg;
	bool tls = strncmp(cfg->listen, "tls+", 4) == 0 || strncmp(cfg->api, "https://", 8) == 0;
	char where[96];

	for (size_t i = 0; i < KEY_COUNT; i++) {
		bool tls_file =
		    strncmp(keys[i].name, "tls_", 4) == 0 && strcmp(keys[i].name, "tls_ca") != 0;
		if (p->key_line[i] == 0 && (keys[i].required || (tls && tls_file))) {
			key_where(where, sizeof where, i);
			fail(p, 0, where, "required key is missing%s",
			     tls_file ? " (listen or api uses TLS)" : "");
			return false;
		}
	}
	return true;
}

static void
check_rules(struct parse *p)
{
	const struct tly_coord_config *cfg = p->cfg;

	if (!check_required(p))
		return;
	if (cfg->threshold > cfg->committee_size)
		fail_pair(p, "threshold", "committee_size",
		          "threshold t must be at most committee_size k");
	else if (cfg->quorum < cfg->threshold || cfg->quorum > cfg->committee_size)
		fail_pair(p, "quorum",
		          cfg->quorum < cfg->threshold ? "threshold" : "committee_size",
		          "quorum q must be from threshold t to committee_size k");
	else if (2u * cfg->quorum < (unsigned)cfg->committee_size + cfg->threshold)
		fail_pair(p, "quorum", "committee_size",
		          "quorum q must satisfy 2q >= committee_size k + threshold t, so that "
		          "no two contributor sets can both be agreed while fewer than t members "
		          "collude");
	else if (cfg->heartbeat_dead_ms < 2u * cfg->heartbeat_interval_ms)
		fail_pair(p, "heartbeat_dead_ms", "heartbeat_interval_ms",
		          "heartbeat_dead_ms must be at least twice heartbeat_interval_ms, so that "
		          "one late keepalive does not drop a healthy node");
	else if (cfg->min_honest > cfg->min_contributors)
		fail_pair(p, "min_honest", "min_contributors",
		          "min_honest h must be at most min_contributors");
	else if (cfg->masking_corrupt_percent + 2u * cfg->masking_dropout_percent >= 100)
		fail_pair(p, "masking_corrupt_percent", "masking_dropout_percent",
		          "masking_corrupt_percent + 2 x masking_dropout_percent must be below 100 "
		          "(no graph keeps masking private and live beyond it)");
	else if (cfg->planner_queue_max > cfg->queue_max)
		fail_pair(p, "planner_queue_max", "queue_max",
		          "planner_queue_max must be at most queue_max");
}

static void
set_defaults(struct tly_coord_config *cfg, const char *name)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->file, sizeof cfg->file, "%s", name);
	cfg->protocol = TLY_COORD_PROTOCOL_AUTO;
	cfg->masking_from = 0; /* unset: derived (rounds.c) */
	cfg->masking_corrupt_percent = 5;
	cfg->masking_dropout_percent = 5;
	cfg->committee_size = 4;
	cfg->threshold = 2;
	cfg->quorum = 0; /* unset: the smallest valid, ceil((k + t) / 2) */
	cfg->deadline_ms = TLY_DEFAULT_DEADLINE_MS;
	cfg->max_query_work = TLY_NOISE_DEFAULT_MAX_WORK;
	cfg->heartbeat_interval_ms = TLY_HEARTBEAT_INTERVAL_MS;
	cfg->heartbeat_dead_ms = TLY_HEARTBEAT_DEAD_MS;
	cfg->min_contributors = 3;
	cfg->min_honest = 2;
	cfg->mechanisms = TLY_COORD_ALLOW_LAPLACE | TLY_COORD_ALLOW_SKELLAM;
	cfg->planner_rate = 0;
	cfg->planner_burst = 10;
	cfg->queue_max = 64;
	cfg->planner_queue_max = 0;                          /* unset: queue_max */
	cfg->planner_share_num = cfg->planner_share_den = 1; /* no share beyond the cap */
	cfg->api_max_conns = TLY_COORD_API_CONNS_DEFAULT;
	cfg->handshake_timeout_ms = TLY_COORD_HANDSHAKE_DEFAULT_MS;
	cfg->idle_timeout_ms = TLY_COORD_IDLE_DEFAULT_MS;
}

static tly_err
parse_source(struct tly_coord_config *out, struct parse *p, const char *name,
             struct tly_field_error *err)
{
	struct tly_coord_config *cfg = malloc(sizeof *cfg);
	int line;

	tly_field_error_init(err, name);
	if (cfg == NULL)
		return tly_field_fail(err, 0, "(file)", "out of memory");
	set_defaults(cfg, name);
	p->cfg = cfg;
	p->err = err;

	p->src.on_line = check_header;
	p->src.arg = p;
	line = tly_ini_parse(&p->src, handler, p);
	/* inih reports a syntax error only at the end: it wins over a later
	 * error that the handler saw first. */
	if (line != 0 && (err->reason[0] == '\0' || line < 0 || line < err->line))
		tly_ini_syntax(err, line);
	if (cfg->quorum == 0) /* unset: the smallest q with 2q >= k + t */
		cfg->quorum = (uint16_t)((cfg->committee_size + cfg->threshold + 1u) / 2u);
	if (err->reason[0] == '\0')
		check_rules(p);
	if (cfg->planner_queue_max == 0) /* unset: as many as the queue */
		cfg->planner_queue_max = cfg->queue_max;
	if (cfg->round_to == 1)
		cfg->round_to = 0;
	if (err->reason[0] == '\0')
		*out = *cfg;
	free(cfg);
	return err->reason[0] == '\0' ? TLY_OK : TLY_EINVAL;
}

tly_err
tly_coord_config_parse(struct tly_coord_config *out, const char *text, const char *name,
                       const char *dir, struct tly_field_error *err)
{
	struct parse p = {.dir = dir, .src.text = text};

	TLY_REQUIRE(out != NULL && text != NULL && name != NULL && dir != NULL && err != NULL);
	return parse_source(out, &p, name, err);
}

tly_err
tly_coord_config_load(struct tly_coord_config *out, const char *path, struct tly_field_error *err)
{
	struct parse p = {0};
	char dir[TLY_COORD_PATH_MAX];
	tly_err rv;

	TLY_REQUIRE(out != NULL && path != NULL && err != NULL);
	if (tly_ini_open(&p.src, path, dir, sizeof dir, err) != TLY_OK)
		return TLY_EINVAL;
	p.dir = dir;
	rv = parse_source(out, &p, path, err);
	fclose(p.src.file);
	return rv;
}

int
tly_coord_config_allows(const struct tly_coord_config *cfg, uint8_t mechanism)
{
	return (mechanism == TLY_MECH_LAPLACE && (cfg->mechanisms & TLY_COORD_ALLOW_LAPLACE)) ||
	       (mechanism == TLY_MECH_SKELLAM && (cfg->mechanisms & TLY_COORD_ALLOW_SKELLAM));
}
