/* The ledger file (open, schema, format checks) and the one write path:
 * reserve. See ledger.h for the contract and the signed layout. */
#include "ledger_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/frac.h"
#include "crypto/wipe.h"
#include "store/sqlog.h"
#include "wire/hex.h"

/* Append-only by construction: store/sqlog.c adds the triggers that
 * refuse UPDATE and DELETE. The CHECKs catch honest corruption early;
 * verification does not rely on them. */
static const char schema_sql[] =
    "CREATE TABLE ledger_meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE entries ("
    " seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " time INTEGER NOT NULL,"
    " dataset TEXT NOT NULL,"
    " query_id BLOB NOT NULL CHECK (length(query_id) = 16),"
    " query_hash BLOB NOT NULL CHECK (length(query_hash) = 32),"
    " mechanism INTEGER NOT NULL,"
    " amount_num INTEGER NOT NULL, amount_den INTEGER NOT NULL,"
    " epsilon_spent_num INTEGER NOT NULL, epsilon_spent_den INTEGER NOT NULL,"
    " rho_spent_num INTEGER NOT NULL, rho_spent_den INTEGER NOT NULL,"
    " epsilon_total_num INTEGER NOT NULL, epsilon_total_den INTEGER NOT NULL,"
    " epsilon_per_query_num INTEGER NOT NULL, epsilon_per_query_den INTEGER NOT NULL,"
    " rho_total_num INTEGER NOT NULL, rho_total_den INTEGER NOT NULL,"
    " rho_per_query_num INTEGER NOT NULL, rho_per_query_den INTEGER NOT NULL,"
    " refusal INTEGER NOT NULL,"
    " reason TEXT NOT NULL,"
    " spec_json TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32),"
    " signature BLOB NOT NULL CHECK (length(signature) = 64),"
    " population TEXT NOT NULL,"
    " epsilon_rho_spent_num INTEGER NOT NULL, epsilon_rho_spent_den INTEGER NOT NULL,"
    " delta_total_num INTEGER NOT NULL, delta_total_den INTEGER NOT NULL,"
    " sites INTEGER NOT NULL,"
    " log_size INTEGER NOT NULL,"
    " log_root BLOB NOT NULL CHECK (length(log_root) = 32),"
    " log_signature BLOB NOT NULL CHECK (length(log_signature) = 64)"
    ") STRICT;"
    "CREATE UNIQUE INDEX entries_charged_query ON entries (query_id) WHERE kind = 1;"
    "CREATE INDEX entries_dataset ON entries (dataset, seq);"
    "CREATE INDEX entries_population ON entries (population, seq);";

const struct tly_sqlog_format tly_ledger_format = {
    .noun = "ledger",
    .wrong_key = "the ledger was written with another node signing key",
    .schema_sql = schema_sql,
    .meta_table = "ledger_meta",
    .columns = TLY_LEDGER_COLUMNS,
    .application_id = TLY_LEDGER_APPLICATION_ID,
    .format_version = TLY_LEDGER_FORMAT_VERSION,
    .busy_ms = TLY_LEDGER_BUSY_MS,
    .foreign_keys = 1,
    .handovers = 1,
};

static tly_err
open_db(struct tly_ledger **out, const char *path, uint32_t node_id, const struct tly_sign_key *key,
        char *why, size_t why_len)
{
	struct tly_ledger *l = calloc(1, sizeof *l);
	tly_err rv = TLY_ENOMEM;

	if (l == NULL) {
		tly_say(why, why_len, "%s: out of memory", path);
		goto out;
	}
	if ((rv = tly_sqlog_open_handovers(&l->db, l->first_pk, l->pk, path, &tly_ledger_format,
	                                   key, why, why_len)) != TLY_OK)
		goto out;
	l->key = key;
	l->node_id = node_id;
	*out = l;
	l = NULL;
out:
	tly_ledger_close(l);
	return rv;
}

tly_err
tly_ledger_open(struct tly_ledger **out, const char *path, uint32_t node_id,
                const struct tly_sign_key *key, char *why, size_t why_len)
{
	TLY_REQUIRE(out != NULL && path != NULL && key != NULL);
	TLY_REQUIRE(node_id >= 1 && node_id <= TLY_MAX_PARTY_ID);
	return open_db(out, path, node_id, key, why, why_len);
}

tly_err
tly_ledger_open_readonly(struct tly_ledger **out, const char *path, char *why, size_t why_len)
{
	TLY_REQUIRE(out != NULL && path != NULL);
	return open_db(out, path, 0, NULL, why, why_len);
}

void
tly_ledger_close(struct tly_ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_close_v2(l->db);
	free(l);
}

void
tly_ledger_public_key(const struct tly_ledger *l, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	memcpy(pk, l->pk, TLY_SIGN_PUBLIC_BYTES);
}

/* ---- reading the current state ---- */

static const char *
unit(uint8_t mechanism)
{
	return mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho";
}

/* The sums in the newest row of st (none when it has no row). */
static tly_err
read_spent(sqlite3_stmt *st, struct tly_budget_spent *spent)
{
	struct tly_budget_spent s = tly_budget_none();
	struct tly_fraction *sums[] = {&s.epsilon, &s.epsilon_rho, &s.rho};
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return TLY_EIO;
	for (int i = 0; rc == SQLITE_ROW && i < 3; i++) {
		sums[i]->num = (uint64_t)sqlite3_column_int64(st, 2 * i);
		sums[i]->den = (uint64_t)sqlite3_column_int64(st, 2 * i + 1);
		if (!tly_ledger_fraction_valid(*sums[i]))
			return TLY_EFORMAT;
	}
	*spent = s;
	return TLY_OK;
}

tly_err
tly_ledger_spent(struct tly_ledger *l, const char *population, struct tly_budget_spent *spent)
{
	static const char sql[] =
	    "SELECT epsilon_spent_num, epsilon_spent_den, epsilon_rho_spent_num,"
	    " epsilon_rho_spent_den, rho_spent_num, rho_spent_den"
	    " FROM entries WHERE population = ? ORDER BY seq DESC LIMIT 1";
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;

	if (!tly_ledger_name_valid(population, strlen(population)))
		return TLY_EINVAL;
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, population, -1, SQLITE_STATIC) == SQLITE_OK)
		rv = read_spent(st, spent);
	sqlite3_finalize(st);
	return rv;
}

/* Next seq and prev_hash. */
static tly_err
load_head(struct tly_ledger *l, struct tly_ledger_entry *e)
{
	return tly_sqlog_head(l->db, &e->seq, e->prev_hash);
}

/* The seq of an earlier charge of this query id, 0 for none, -1 on error. */
static sqlite3_int64
charged_before(struct tly_ledger *l, const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 seq = -1;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT seq FROM entries WHERE query_id = ? AND kind = 1", -1,
	                       &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 1, query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) == SQLITE_OK) {
		rc = sqlite3_step(st);
		seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(st);
	return seq;
}

/* ---- the decision ---- */

/* Fill e's request fields from the charge; TLY_EINVAL with why. */
static tly_err
take_charge(struct tly_ledger_entry *e, const struct tly_ledger_charge *c,
            const struct tly_ledger_budget *b, char *why, size_t why_len)
{
	const struct tly_fraction caps[] = {b->epsilon_total, b->epsilon_per_query,
	                                    b->rho_per_query};
	const char *problem = NULL;
	size_t dataset_len = c->dataset != NULL ? strnlen(c->dataset, TLY_SPEC_NAME_MAX + 1) : 0;
	size_t population_len =
	    c->population != NULL ? strnlen(c->population, TLY_SPEC_NAME_MAX + 1) : 0;
	struct tly_budget_cap cap = {b->epsilon_total, b->delta_total, b->sites};

	if (!tly_ledger_name_valid(c->dataset, dataset_len))
		problem = "dataset name is not [a-z0-9_]{1,63}";
	else if (!tly_ledger_name_valid(c->population, population_len))
		problem = "population name is not [a-z0-9_]{1,63}";
	else if (c->mechanism != TLY_MECH_LAPLACE && c->mechanism != TLY_MECH_SKELLAM)
		problem = "mechanism is neither laplace (epsilon) nor skellam (rho)";
	else if (c->amount.num == 0 || c->amount.den == 0)
		problem = "privacy amount is zero or has a zero denominator";
	else if (c->spec_json == NULL || c->spec_len < 1 || c->spec_len > TLY_LEDGER_SPEC_MAX ||
	         memchr(c->spec_json, '\0', c->spec_len) != NULL)
		problem = "query JSON is empty, too long, or holds a NUL byte";
	else if (!tly_ledger_log_head_valid(&c->log_head))
		problem = "log head of size 0 with a nonzero root or signature";
	for (size_t i = 0; problem == NULL && i < sizeof caps / sizeof caps[0]; i++)
		if (caps[i].den == 0)
			problem = "a budget cap has a zero denominator";
	if (problem == NULL) {
		cap.epsilon_total = tly_frac_reduce(cap.epsilon_total);
		cap.delta_total = tly_frac_reduce(cap.delta_total);
		if (!tly_budget_cap_valid(&cap))
			problem = "delta_total is not in (0, 1) or sites is not in 1..1000";
	}
	if (problem != NULL) {
		if (why_len > 0)
			snprintf(why, why_len, "malformed charge: %s", problem);
		return TLY_EINVAL;
	}
	memset(e, 0, sizeof *e);
	memcpy(e->dataset, c->dataset, dataset_len);
	memcpy(e->query_id, c->query_id, sizeof e->query_id);
	memcpy(e->query_hash, c->query_hash, sizeof e->query_hash);
	e->mechanism = c->mechanism;
	e->amount = tly_frac_reduce(c->amount);
	memcpy(e->population, c->population, population_len);
	e->budget.epsilon_total = cap.epsilon_total;
	e->budget.epsilon_per_query = tly_frac_reduce(b->epsilon_per_query);
	e->budget.rho_per_query = tly_frac_reduce(b->rho_per_query);
	e->budget.delta_total = cap.delta_total;
	e->budget.sites = cap.sites;
	if (tly_budget_rho_cap(&cap, &e->budget.rho_total) != TLY_OK)
		return TLY_EINVAL; /* cap checked above */
	e->spec_json = c->spec_json;
	e->spec_len = c->spec_len;
	e->log_head = c->log_head;
	return TLY_OK;
}

static struct tly_budget_spent
spent_of(const struct tly_ledger_entry *e)
{
	struct tly_budget_spent s = {e->epsilon_spent, e->epsilon_rho_spent, e->rho_spent};
	return s;
}

static void
set_spent(struct tly_ledger_entry *e, const struct tly_budget_spent *s)
{
	e->epsilon_spent = s->epsilon;
	e->epsilon_rho_spent = s->epsilon_rho;
	e->rho_spent = s->rho;
}

/* A figure for people (crypto/frac.h): what is spent or asked rounded up,
 * a cap rounded down, so that no reason overstates what remains. The
 * exact fractions are the entry's own fields. */
static void
spent_figure(char *out, size_t len, struct tly_fraction f)
{
	tly_frac_decimal(out, len, f, TLY_FRAC_PLACES, TLY_FRAC_UP);
}

static void
cap_figure(char *out, size_t len, struct tly_fraction f)
{
	tly_frac_decimal(out, len, f, TLY_FRAC_PLACES, TLY_FRAC_DOWN);
}

/* The population's totals in words, for reasons and the outcome line:
 * decimals, delta (far below 10^-6) exact. */
static void
spent_text(char *out, size_t len, const struct tly_ledger_entry *e,
           const struct tly_budget_spent *s)
{
	char eps[42], eps_rho[42], rho[42], total[42], delta[42], cap[42];

	spent_figure(eps, sizeof eps, s->epsilon);
	spent_figure(eps_rho, sizeof eps_rho, s->epsilon_rho);
	spent_figure(rho, sizeof rho, s->rho);
	cap_figure(total, sizeof total, e->budget.epsilon_total);
	tly_ledger_fraction_format(delta, sizeof delta, e->budget.delta_total);
	cap_figure(cap, sizeof cap, e->budget.rho_total);
	snprintf(out, len, "epsilon %s, epsilon^2/2 %s, rho %s; cap (%s, %s)/%u, zCDP %s", eps,
	         eps_rho, rho, total, delta, (unsigned)e->budget.sites, cap);
}

/*
 * With e's spent totals loaded, decide: *verdict = TLY_OK (charge: the
 * population's totals grow as tly_budget_add says) or the refusal (e
 * becomes a refusal entry with its reason). Returns TLY_EIO when the
 * replay lookup fails.
 */
static tly_err
decide(struct tly_ledger *l, struct tly_ledger_entry *e, tly_err *verdict)
{
	int eps = e->mechanism == TLY_MECH_LAPLACE;
	struct tly_fraction cap = eps ? e->budget.epsilon_per_query : e->budget.rho_per_query;
	struct tly_budget_cap total = {e->budget.epsilon_total, e->budget.delta_total,
	                               e->budget.sites};
	struct tly_budget_spent had = spent_of(e), next;
	char amount[42], limit[42], words[300], id[2 * TLY_QUERY_ID_BYTES + 1];
	sqlite3_int64 earlier = charged_before(l, e->query_id);

	if (earlier < 0)
		return TLY_EIO;
	spent_figure(amount, sizeof amount, e->amount);
	tly_hex(id, e->query_id, sizeof e->query_id);
	e->kind = TLY_LEDGER_REFUSAL;
	if (earlier > 0) {
		e->refusal = TLY_LEDGER_REFUSED_REPLAY;
		*verdict = TLY_EREPLAY;
		snprintf(
		    e->reason, sizeof e->reason,
		    "query %s was already charged in ledger entry %lld: never charged or answered "
		    "twice",
		    id, (long long)earlier);
	} else if (tly_ledger_fraction_cmp(e->amount, cap) > 0) {
		e->refusal = TLY_LEDGER_REFUSED_PER_QUERY;
		*verdict = TLY_EBUDGET;
		cap_figure(limit, sizeof limit, cap);
		snprintf(e->reason, sizeof e->reason,
		         "dataset \"%s\": %s request %s is over the per-query cap %s", e->dataset,
		         unit(e->mechanism), amount, limit);
	} else if (tly_budget_add(&had, e->mechanism, e->amount, &next) != TLY_OK) {
		e->refusal = TLY_LEDGER_REFUSED_OVERFLOW;
		*verdict = TLY_ERANGE;
		spent_text(words, sizeof words, e, &had);
		snprintf(e->reason, sizeof e->reason,
		         "population \"%s\": %s; plus %s %s does not fit exact 64-bit fractions",
		         e->population, words, unit(e->mechanism), amount);
	} else if (tly_budget_within(&next, &total, e->budget.rho_total) == TLY_BUDGET_OVER) {
		e->refusal = TLY_LEDGER_REFUSED_BUDGET;
		*verdict = TLY_EBUDGET;
		spent_text(words, sizeof words, e, &had);
		snprintf(e->reason, sizeof e->reason,
		         "population \"%s\": budget exhausted: spent %s; %s %s more would pass "
		         "the cap",
		         e->population, words, unit(e->mechanism), amount);
	} else {
		e->kind = TLY_LEDGER_CHARGE;
		e->refusal = TLY_LEDGER_REFUSED_NONE;
		set_spent(e, &next);
		*verdict = TLY_OK;
	}
	return TLY_OK;
}

/* Hash, sign and insert e (inside the caller's transaction). */
static tly_err
append(struct tly_ledger *l, struct tly_ledger_entry *e)
{
	sqlite3_stmt *st = NULL;
	time_t now = time(NULL);
	tly_err rv;

	e->time = now > 0 ? (uint64_t)now : 0;
	if ((rv = tly_ledger_entry_hash(e, e->entry_hash)) != TLY_OK)
		return rv;
	if ((rv = tly_sign(e->signature, l->key, e->entry_hash, sizeof e->entry_hash)) != TLY_OK)
		return rv;
	rv = TLY_EIO;
	if (sqlite3_prepare_v2(l->db,
	                       "INSERT INTO entries (" TLY_LEDGER_COLUMNS
	                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	                       "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	                       "?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                       -1, &st, NULL) == SQLITE_OK &&
	    tly_ledger_row_bind(st, e) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rv = TLY_OK;
	sqlite3_finalize(st);
	return rv;
}

static void
describe(const struct tly_ledger_entry *e, tly_err verdict, char *why, size_t why_len)
{
	struct tly_budget_spent now = spent_of(e);
	char amount[42], words[300];

	if (why_len == 0)
		return;
	if (verdict != TLY_OK) {
		snprintf(why, why_len, "%s", e->reason);
		return;
	}
	spent_figure(amount, sizeof amount, e->amount);
	spent_text(words, sizeof words, e, &now);
	snprintf(why, why_len,
	         "dataset \"%s\": charged %s %s to population \"%s\", spent now %s (ledger entry "
	         "%" PRIu64 ")",
	         e->dataset, unit(e->mechanism), amount, e->population, words, e->seq);
}

/* Inside the write transaction: the handle's key is still the one in
 * force (a handover since it was opened retires it). */
static tly_err
still_in_force(struct tly_ledger *l, char *why, size_t why_len)
{
	uint8_t current[TLY_SIGN_PUBLIC_BYTES];
	tly_err rv = tly_sqlog_current_key(l->db, l->first_pk, current);

	if (rv != TLY_OK) {
		tly_say(why, why_len,
		        "ledger failure (%s): unreadable key handovers: the query "
		        "must not be answered",
		        tly_strerror(rv));
		return rv;
	}
	if (sodium_memcmp(current, l->pk, sizeof current) != 0) {
		tly_say(why, why_len,
		        "the ledger's node key was handed over to another key: this process "
		        "signs with a retired key (restart it with the new sign_key); the query "
		        "must not be answered");
		return TLY_EAUTH;
	}
	return TLY_OK;
}

tly_err
tly_ledger_handover(struct tly_ledger *l, const struct tly_sign_key *new_key,
                    struct tly_ledger_key *out, char *why, size_t why_len)
{
	struct tly_sqlog_handover h;
	time_t now = time(NULL);
	tly_err rv;

	TLY_REQUIRE(l != NULL && l->key != NULL && new_key != NULL && out != NULL);
	rv = tly_sqlog_handover_write(l->db, &tly_ledger_format, l->first_pk, l->key, new_key,
	                              now > 0 ? (uint64_t)now : 0, &h, why, why_len);
	if (rv != TLY_OK)
		return rv;
	out->from_seq = h.from_seq;
	memcpy(out->pk, h.new_pk, sizeof out->pk);
	return TLY_OK;
}

tly_err
tly_ledger_reserve(struct tly_ledger *l, const struct tly_ledger_charge *c,
                   const struct tly_ledger_budget *b, struct tly_ledger_receipt *receipt, char *why,
                   size_t why_len)
{
	struct tly_ledger_entry e;
	struct tly_ledger_receipt made;
	struct tly_budget_spent spent;
	tly_err rv, verdict = TLY_EIO;
	int in_transaction = 0, decided = 0;

	TLY_REQUIRE(l != NULL && l->key != NULL && c != NULL && b != NULL && receipt != NULL);
	TLY_REQUIRE(why != NULL || why_len == 0);
	if (why_len > 0)
		why[0] = '\0';
	if ((rv = take_charge(&e, c, b, why, why_len)) != TLY_OK)
		return rv;
	rv = TLY_EIO;
	if (tly_sqlog_exec(l->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto out;
	in_transaction = 1;
	if ((rv = still_in_force(l, why, why_len)) != TLY_OK) {
		decided = 1; /* why says it */
		goto out;
	}
	if ((rv = load_head(l, &e)) != TLY_OK ||
	    (rv = tly_ledger_spent(l, e.population, &spent)) != TLY_OK ||
	    (set_spent(&e, &spent), 0) || (rv = decide(l, &e, &verdict)) != TLY_OK ||
	    (rv = append(l, &e)) != TLY_OK)
		goto out;
	if (verdict == TLY_OK &&
	    (rv = tly_ledger_receipt_make(&made, &e, l->node_id, l->key)) != TLY_OK)
		goto out;
	rv = TLY_EIO;
	/* synchronous = FULL in WAL mode: the commit returns after the WAL
	 * is fsynced. Only then may anything derived from data leave. */
	if (tly_sqlog_exec(l->db, "COMMIT") != SQLITE_OK)
		goto out;
	in_transaction = 0;
	decided = 1;
	rv = verdict;
	describe(&e, verdict, why, why_len);
	if (verdict == TLY_OK)
		*receipt = made;
out:
	if (!decided && why_len > 0)
		snprintf(why, why_len, "ledger failure (%s: %s): the query must not be answered",
		         tly_strerror(rv), sqlite3_errmsg(l->db));
	if (in_transaction)
		tly_sqlog_exec(l->db, "ROLLBACK");
	return rv;
}
