/* Reading the ledger back: chain verification, the human listing and the
 * usage list. None of these write. */
#include "ledger_impl.h"

#include <gmp.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/sqlog.h"
#include "wire/hex.h"

/* ---- verify ---- */

/* The totals of one population, recomputed from the chain. */
struct dataset_spent {
	char name[TLY_SPEC_NAME_MAX + 1];
	struct tly_budget_spent spent;
};

/* The last cap whose rho_total was computed, so that a long chain under
 * one config computes it once. */
struct cap_cache {
	int valid;
	struct tly_budget_cap cap;
	struct tly_fraction rho_total;
};

struct walk {
	struct tly_ledger *ledger;
	const uint8_t *pk;                    /* must be in force at the end */
	uint8_t key[TLY_SIGN_PUBLIC_BYTES];   /* in force for the next entry */
	struct tly_sqlog_handover *handovers; /* all, in order */
	size_t handover_count, next_handover;
	sqlite3_stmt *earlier_charge; /* seq of an earlier charge of a query id */
	struct dataset_spent *sets;
	size_t count;
	struct cap_cache cache;
	uint8_t prev_hash[TLY_HASH_BYTES];
	struct tly_ledger_report *report;
};

static tly_err
bad(struct walk *w, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	w->report->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(w->report->reason, sizeof w->report->reason, fmt, ap);
	va_end(ap);
	return TLY_EAUTH;
}

static struct dataset_spent *
spent_of(struct walk *w, const char *name)
{
	struct dataset_spent *grown;

	for (size_t i = 0; i < w->count; i++)
		if (strcmp(w->sets[i].name, name) == 0)
			return &w->sets[i];
	grown = realloc(w->sets, (w->count + 1) * sizeof *grown);
	if (grown == NULL)
		return NULL;
	w->sets = grown;
	memset(&grown[w->count], 0, sizeof *grown);
	memcpy(grown[w->count].name, name, strlen(name) + 1);
	grown[w->count].spent = tly_budget_none();
	return &grown[w->count++];
}

/* Hash, signature and link to the previous entry. */
static tly_err
check_seal(struct walk *w, const struct tly_ledger_entry *e)
{
	uint8_t hash[TLY_HASH_BYTES];

	if (tly_ledger_entry_hash(e, hash) != TLY_OK)
		return bad(w, e->seq, "entry %" PRIu64 " has a field of impossible length", e->seq);
	switch (tly_sqlog_check_seal(hash, e->entry_hash, e->signature, w->key)) {
	case TLY_SQLOG_BAD_HASH:
		return bad(w, e->seq, "entry %" PRIu64 ": entry_hash does not match its contents",
		           e->seq);
	case TLY_SQLOG_BAD_SIGNATURE:
		return bad(w, e->seq,
		           "entry %" PRIu64
		           ": signature does not verify under the node key in force",
		           e->seq);
	case TLY_SQLOG_SEALED:
		break;
	}
	if (sodium_memcmp(e->prev_hash, w->prev_hash, sizeof hash) != 0)
		return bad(w, e->seq,
		           "entry %" PRIu64 ": prev_hash is not the hash of entry %" PRIu64, e->seq,
		           e->seq - 1);
	return TLY_OK;
}

/* Fields in range and consistent with the kind. */
static tly_err
check_form(struct walk *w, const struct tly_ledger_entry *e)
{
	struct tly_fraction fractions[TLY_LEDGER_SPEND_FRACTIONS];
	const struct tly_budget_cap cap = {e->budget.epsilon_total, e->budget.delta_total,
	                                   e->budget.sites};

	tly_ledger_spend_fractions(&e->spend, fractions);
	if (!tly_ledger_name_valid(e->dataset, strlen(e->dataset)))
		return bad(w, e->seq, "entry %" PRIu64 ": bad dataset name", e->seq);
	if (!tly_ledger_name_valid(e->population, strlen(e->population)))
		return bad(w, e->seq, "entry %" PRIu64 ": bad population name", e->seq);
	if (e->mechanism != TLY_MECH_LAPLACE && e->mechanism != TLY_MECH_SKELLAM)
		return bad(w, e->seq, "entry %" PRIu64 ": unknown mechanism %u", e->seq,
		           e->mechanism);
	for (size_t i = 0; i < TLY_LEDGER_SPEND_FRACTIONS; i++)
		if (!tly_ledger_fraction_valid(fractions[i]))
			return bad(w, e->seq,
			           "entry %" PRIu64 ": a fraction is not reduced or has "
			           "a zero denominator",
			           e->seq);
	if (e->amount.num == 0)
		return bad(w, e->seq, "entry %" PRIu64 ": zero amount", e->seq);
	if (!tly_budget_cap_valid(&cap))
		return bad(w, e->seq, "entry %" PRIu64 ": delta_total or sites out of range",
		           e->seq);
	if (!(e->kind == TLY_LEDGER_CHARGE && e->refusal == TLY_LEDGER_REFUSED_NONE) &&
	    !(e->kind == TLY_LEDGER_REFUSAL && e->refusal >= TLY_LEDGER_REFUSED_PER_QUERY &&
	      e->refusal <= TLY_LEDGER_REFUSED_OVERFLOW))
		return bad(w, e->seq, "entry %" PRIu64 ": kind %u with refusal %u", e->seq, e->kind,
		           e->refusal);
	return TLY_OK;
}

static tly_err
check_unique(struct walk *w, const struct tly_ledger_entry *e)
{
	sqlite3_stmt *st = w->earlier_charge;
	int rc;

	sqlite3_reset(st);
	if (sqlite3_bind_blob(st, 1, e->query_id, TLY_QUERY_ID_BYTES, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->seq) != SQLITE_OK)
		return TLY_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return bad(w, e->seq, "entry %" PRIu64 ": query already charged in entry %lld",
		           e->seq, (long long)sqlite3_column_int64(st, 0));
	return rc == SQLITE_DONE ? TLY_OK : TLY_EIO;
}

/* rho_total as tly_budget_rho_cap computes it for e's cap. */
static tly_err
rho_total_of(struct walk *w, const struct tly_ledger_entry *e, struct tly_fraction *out)
{
	struct cap_cache *c = &w->cache;
	const struct tly_budget_cap cap = {e->budget.epsilon_total, e->budget.delta_total,
	                                   e->budget.sites};

	if (!c->valid || c->cap.sites != cap.sites ||
	    tly_ledger_fraction_cmp(c->cap.epsilon_total, cap.epsilon_total) != 0 ||
	    tly_ledger_fraction_cmp(c->cap.delta_total, cap.delta_total) != 0) {
		c->valid = 0;
		if (tly_budget_rho_cap(&cap, &c->rho_total) != TLY_OK)
			return TLY_EINVAL;
		c->cap = cap;
		c->valid = 1;
	}
	*out = c->rho_total;
	return TLY_OK;
}

static int
same_spent(const struct tly_budget_spent *a, const struct tly_budget_spent *b)
{
	return tly_ledger_fraction_cmp(a->epsilon, b->epsilon) == 0 &&
	       tly_ledger_fraction_cmp(a->epsilon_rho, b->epsilon_rho) == 0 &&
	       tly_ledger_fraction_cmp(a->rho, b->rho) == 0;
}

/* The population's totals: recomputed exactly (query/budget.h), within
 * the entry's cap, whose rho_total is recomputed too. */
static tly_err
check_spend(struct walk *w, const struct tly_ledger_entry *e)
{
	struct dataset_spent *had = spent_of(w, e->population);
	const struct tly_budget_cap cap = {e->budget.epsilon_total, e->budget.delta_total,
	                                   e->budget.sites};
	const struct tly_budget_spent recorded = {e->epsilon_spent, e->epsilon_rho_spent,
	                                          e->rho_spent};
	struct tly_budget_spent want;
	struct tly_fraction rho_total;
	int eps = e->mechanism == TLY_MECH_LAPLACE;
	tly_err rv;

	if (had == NULL)
		return TLY_ENOMEM;
	if (rho_total_of(w, e, &rho_total) != TLY_OK ||
	    tly_ledger_fraction_cmp(rho_total, e->budget.rho_total) != 0)
		return bad(w, e->seq,
		           "entry %" PRIu64
		           ": rho_total is not the zCDP cap of its (epsilon_total, "
		           "delta_total, sites)",
		           e->seq);
	want = had->spent;
	if (e->kind == TLY_LEDGER_CHARGE) {
		struct tly_fraction cap_one =
		    eps ? e->budget.epsilon_per_query : e->budget.rho_per_query;
		if (tly_ledger_fraction_cmp(e->amount, cap_one) > 0)
			return bad(w, e->seq, "entry %" PRIu64 ": amount over the per-query cap",
			           e->seq);
		if (tly_budget_add(&had->spent, e->mechanism, e->amount, &want) != TLY_OK)
			return bad(w, e->seq, "entry %" PRIu64 ": spent total overflows", e->seq);
		if (tly_budget_within(&want, &cap, rho_total) == TLY_BUDGET_OVER)
			return bad(w, e->seq,
			           "entry %" PRIu64 ": population \"%s\" spent over its cap",
			           e->seq, e->population);
		if ((rv = check_unique(w, e)) != TLY_OK)
			return rv;
	}
	if (!same_spent(&want, &recorded))
		return bad(w, e->seq,
		           "entry %" PRIu64 ": recorded spent totals are not the sum of "
		           "the charges",
		           e->seq);
	had->spent = want;
	return TLY_OK;
}

/* ---- key handovers ---- */

/* Apply every handover that comes before entry seq (whose predecessor's
 * hash is w->prev_hash): each checked where it stands, then its new key
 * is in force. */
static tly_err
apply_handovers(struct walk *w, uint64_t seq)
{
	struct tly_ledger_report *r = w->report;

	while (w->next_handover < w->handover_count &&
	       w->handovers[w->next_handover].from_seq <= seq) {
		const struct tly_sqlog_handover *h = &w->handovers[w->next_handover];
		const char *wrong =
		    tly_sqlog_handover_check(h, &tly_ledger_format, seq, w->prev_hash, w->key);
		if (wrong != NULL)
			return bad(w, seq,
			           "key handover %zu (to take effect at entry %" PRIu64 "): %s",
			           w->next_handover + 1, h->from_seq, wrong);
		if (r->key_count == TLY_LEDGER_KEYS_MAX)
			return bad(w, seq, "more than %d key handovers",
			           (int)TLY_LEDGER_KEYS_MAX - 1);
		memcpy(w->key, h->new_pk, sizeof w->key);
		r->keys[r->key_count].from_seq = seq;
		memcpy(r->keys[r->key_count++].pk, h->new_pk, sizeof w->key);
		w->next_handover++;
	}
	return TLY_OK;
}

/* In the walk's snapshot: the handovers, and the key they end on, which
 * must be pk (otherwise the first entry is named: the ledger is another
 * key's). */
static tly_err
load_handovers(void *ctx, sqlite3 *db)
{
	struct walk *w = ctx;
	const uint8_t *last = w->ledger->first_pk;
	tly_err rv = tly_sqlog_handovers(db, &w->handovers, &w->handover_count);

	if (rv == TLY_EFORMAT)
		return bad(w, 1, "a key handover is malformed");
	if (rv != TLY_OK)
		return rv;
	if (w->handover_count > 0)
		last = w->handovers[w->handover_count - 1].new_pk;
	if (sodium_memcmp(last, w->pk, TLY_SIGN_PUBLIC_BYTES) != 0)
		return bad(w, 1,
		           "the ledger's node key in force (after %zu key handovers) is not this "
		           "node key",
		           w->handover_count);
	memcpy(w->key, w->ledger->first_pk, sizeof w->key);
	w->report->key_count = 1;
	w->report->keys[0].from_seq = 1;
	memcpy(w->report->keys[0].pk, w->key, sizeof w->key);
	return TLY_OK;
}

static tly_err
check_row(struct walk *w, sqlite3_stmt *st, uint64_t expected)
{
	struct tly_ledger_entry e;
	char why[96];
	tly_err form = tly_ledger_row_read(st, &e, why, sizeof why);
	tly_err rv;

	if (e.seq != expected)
		return e.seq > expected
		           ? bad(w, expected,
		                 "entry %" PRIu64 " is missing (the next is %" PRIu64 ")", expected,
		                 e.seq)
		           : bad(w, expected, "entry %" PRIu64 " is out of sequence", e.seq);
	if (form != TLY_OK)
		return bad(w, expected, "entry %" PRIu64 ": %s", expected, why);
	if ((rv = apply_handovers(w, e.seq)) != TLY_OK || (rv = check_seal(w, &e)) != TLY_OK ||
	    (rv = check_form(w, &e)) != TLY_OK || (rv = check_spend(w, &e)) != TLY_OK)
		return rv;
	memcpy(w->prev_hash, e.entry_hash, sizeof w->prev_hash);
	w->report->entries++;
	if (e.kind == TLY_LEDGER_CHARGE)
		w->report->charges++;
	else
		w->report->refusals++;
	memcpy(w->report->head_hash, e.entry_hash, sizeof e.entry_hash);
	return TLY_OK;
}

static tly_err
visit(void *w, sqlite3_stmt *st, uint64_t seq)
{
	return check_row(w, st, seq);
}

tly_err
tly_ledger_verify(struct tly_ledger *l, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                  struct tly_ledger_report *report)
{
	struct walk w = {.ledger = l, .pk = pk, .report = report};
	const struct tly_sqlog_walk walk = {
	    .rows_sql = "SELECT " TLY_LEDGER_COLUMNS " FROM entries ORDER BY seq",
	    .earlier_sql = "SELECT seq FROM entries WHERE query_id = ? AND kind = 1 AND seq < ?"
	                   " ORDER BY seq LIMIT 1",
	    .earlier = &w.earlier_charge,
	    .row = visit,
	    .ctx = &w,
	    .start = load_handovers,
	};
	tly_err rv;

	TLY_REQUIRE(l != NULL && report != NULL);
	memset(report, 0, sizeof *report);
	rv = tly_sqlog_walk(l->db, &walk, "ledger", report->reason, sizeof report->reason);
	/* Handovers after the last entry: the next entry's key. */
	if (rv == TLY_OK && (rv = apply_handovers(&w, report->entries + 1)) == TLY_OK &&
	    w.next_handover < w.handover_count)
		rv = bad(&w, w.handovers[w.next_handover].from_seq,
		         "key handover %zu names entry %" PRIu64 ", past the ledger's end",
		         w.next_handover + 1, w.handovers[w.next_handover].from_seq);
	free(w.handovers);
	free(w.sets);
	return rv;
}

tly_err
tly_ledger_verify_file(const char *path, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                       struct tly_ledger_report *report)
{
	struct tly_ledger *l = NULL;
	tly_err rv;

	TLY_REQUIRE(report != NULL);
	memset(report, 0, sizeof *report);
	if ((rv = tly_ledger_open_readonly(&l, path, report->reason, sizeof report->reason)) ==
	    TLY_OK)
		rv = tly_ledger_verify(l, pk, report);
	tly_ledger_close(l);
	return rv;
}

tly_err
tly_ledger_entry_get(struct tly_ledger *l, uint64_t seq, struct tly_ledger_entry *out)
{
	struct tly_ledger_entry e;
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EIO;
	int rc;

	TLY_REQUIRE(l != NULL && out != NULL);
	if (seq < 1 || seq > INT64_MAX)
		return TLY_EINVAL;
	if (sqlite3_prepare_v2(l->db, "SELECT " TLY_LEDGER_COLUMNS " FROM entries WHERE seq = ?",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	rv = rc == SQLITE_DONE ? TLY_EINVAL : TLY_EIO;
	if (rc != SQLITE_ROW)
		goto out;
	if ((rv = tly_ledger_row_read(st, &e, NULL, 0)) != TLY_OK)
		goto out;
	e.spec_json = NULL; /* borrowed from the statement, which dies here */
	e.spec_len = 0;
	*out = e;
out:
	sqlite3_finalize(st);
	return rv;
}

/* ---- show ---- */

static const char *
mechanism_name(uint8_t mechanism)
{
	switch (mechanism) {
	case TLY_MECH_LAPLACE:
		return "laplace";
	case TLY_MECH_SKELLAM:
		return "skellam";
	default:
		return "?";
	}
}

/* RFC 4180 field: quoted, quotes doubled. */
static void
csv_text(FILE *out, const char *text)
{
	fputc('"', out);
	for (; *text != '\0'; text++) {
		if (*text == '"')
			fputc('"', out);
		fputc(*text, out);
	}
	fputc('"', out);
}

/* f rounded up to 4 decimals, exactly (GMP). */
static void
decimal_up(char *out, size_t len, struct tly_fraction f)
{
	mpz_t x, den;
	char *text;

	mpz_inits(x, den, NULL);
	mpz_import(x, 1, 1, sizeof f.num, 0, 0, &f.num);
	mpz_import(den, 1, 1, sizeof f.den, 0, 0, &f.den);
	mpz_mul_ui(x, x, 10000);
	mpz_cdiv_q(x, x, den);
	mpz_fdiv_qr_ui(den, x, x, 10000); /* whole part, then 4 decimals */
	text = mpz_get_str(NULL, 10, den);
	snprintf(out, len, "%s.%04lu", text != NULL ? text : "?", mpz_get_ui(x));
	free(text);
	mpz_clears(x, den, NULL);
}

/* The (epsilon, delta) the population's totals guarantee at this site,
 * rounded up (query/budget.h, the same arithmetic as reserve): E
 * exactly when basic composition is the tighter, else cdp2adp, a double
 * already rounded up, shown to 4 decimals, never below it. */
static void
guarantee_text(char *out, size_t len, const struct tly_ledger_entry *e)
{
	const struct tly_budget_spent spent = {e->epsilon_spent, e->epsilon_rho_spent,
	                                       e->rho_spent};
	const struct tly_budget_cap cap = {e->budget.epsilon_total, e->budget.delta_total,
	                                   e->budget.sites};
	double eps, delta, shown;
	char text[48];

	if (tly_budget_guarantee(&spent, &cap, &eps, &delta) != TLY_OK) {
		snprintf(out, len, "?");
		return;
	}
	if (delta == 0) {
		decimal_up(text, sizeof text, e->epsilon_spent);
		snprintf(out, len, "(%s, 0)", text);
		return;
	}
	shown = ceil(eps * 1e4);
	if (shown / 1e4 < eps)
		shown += 1;
	snprintf(out, len, "(%.4f, %g)", shown / 1e4, delta);
}

static void
show_entry(FILE *out, const struct tly_ledger_entry *e, enum tly_ledger_format format)
{
	char when[TLY_SQLOG_TIME_BYTES], id[2 * TLY_QUERY_ID_BYTES + 1], amount[48], eps[48],
	    rho[48];
	char eps_rho[48], cap[48], guarantee[64], root[17], head[48];
	const char *kind = e->kind == TLY_LEDGER_CHARGE ? "charge" : "refused";

	tly_sqlog_iso_time(when, e->time);
	tly_hex(id, e->query_id, sizeof e->query_id);
	if (format == TLY_LEDGER_CSV) { /* exact, for tools */
		tly_ledger_fraction_format(amount, sizeof amount, e->amount);
		tly_ledger_fraction_format(eps, sizeof eps, e->epsilon_spent);
		tly_ledger_fraction_format(rho, sizeof rho, e->rho_spent);
		tly_ledger_fraction_format(eps_rho, sizeof eps_rho, e->epsilon_rho_spent);
	} else { /* decimals for people, what was spent rounded up */
		tly_frac_decimal(amount, sizeof amount, e->amount, TLY_FRAC_PLACES, TLY_FRAC_UP);
		tly_frac_decimal(eps, sizeof eps, e->epsilon_spent, TLY_FRAC_PLACES, TLY_FRAC_UP);
		tly_frac_decimal(rho, sizeof rho, e->rho_spent, TLY_FRAC_PLACES, TLY_FRAC_UP);
		tly_frac_decimal(eps_rho, sizeof eps_rho, e->epsilon_rho_spent, TLY_FRAC_PLACES,
		                 TLY_FRAC_UP);
	}
	tly_ledger_fraction_format(cap, sizeof cap, e->budget.rho_total);
	guarantee_text(guarantee, sizeof guarantee, e);
	/* The log head verified for the query: size and the root's first 8
	 * bytes ("-" for none). */
	tly_hex(root, e->log_head.root, 8);
	if (e->log_head.size == 0)
		snprintf(head, sizeof head, "-");
	else
		snprintf(head, sizeof head, "%" PRIu64 ":%s", e->log_head.size, root);
	if (format == TLY_LEDGER_CSV) {
		fprintf(out, "%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,\"%s\",%s,", e->seq,
		        when, kind, e->dataset, id, mechanism_name(e->mechanism), amount, eps, rho,
		        e->population, eps_rho, cap, guarantee, head);
		csv_text(out, e->reason);
		fputc('\n', out);
		return;
	}
	fprintf(out,
	        "%6" PRIu64 "  %-20s  %-7s  %-16s  %s  %-7s  %-12s  %-12s  %-12s  %-16s  %-12s  "
	        "%-22s  %-26s  %s\n",
	        e->seq, when, kind, e->dataset, id, mechanism_name(e->mechanism), amount, eps, rho,
	        e->population, eps_rho, guarantee, head, e->reason);
}

tly_err
tly_ledger_show(struct tly_ledger *l, FILE *out, enum tly_ledger_format format)
{
	struct tly_ledger_entry e;
	sqlite3_stmt *st = NULL;
	char why[96];
	int rc;

	TLY_REQUIRE(l != NULL && out != NULL);
	TLY_REQUIRE(format == TLY_LEDGER_TABLE || format == TLY_LEDGER_CSV);
	if (sqlite3_prepare_v2(l->db, "SELECT " TLY_LEDGER_COLUMNS " FROM entries ORDER BY seq", -1,
	                       &st, NULL) != SQLITE_OK)
		return TLY_EIO;
	if (format == TLY_LEDGER_CSV)
		fprintf(out, "seq,time,kind,dataset,query_id,mechanism,amount,epsilon_spent,"
		             "rho_spent,population,epsilon_sq_half_spent,rho_cap,guarantee,"
		             "log_head,reason\n");
	else
		fprintf(out,
		        "%6s  %-20s  %-7s  %-16s  %-32s  %-7s  %-12s  %-12s  %-12s  %-16s  %-12s  "
		        "%-22s  %-26s  %s\n",
		        "seq", "time (UTC)", "kind", "dataset", "query id", "mech", "amount",
		        "epsilon spent", "rho spent", "population", "eps^2/2 spent",
		        "(epsilon, delta) so far", "log head (size:root)", "reason");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (tly_ledger_row_read(st, &e, why, sizeof why) != TLY_OK)
			fprintf(out, "%6" PRIu64 "  malformed row: %s\n", e.seq, why);
		else
			show_entry(out, &e, format);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || fflush(out) != 0 || ferror(out))
		return TLY_EIO;
	return TLY_OK;
}

/* ---- usage ---- */

void
tly_ledger_usage_fini(struct tly_ledger_usage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->count; i++)
		free(u->uses[i].spec_json);
	free(u->uses);
	memset(u, 0, sizeof *u);
}

static tly_err
add_use(struct tly_ledger_usage *u, const struct tly_ledger_entry *e)
{
	struct tly_ledger_use *grown = realloc(u->uses, (u->count + 1) * sizeof *grown);
	struct tly_ledger_use *use;

	if (grown == NULL)
		return TLY_ENOMEM;
	u->uses = grown;
	use = &grown[u->count];
	memset(use, 0, sizeof *use);
	use->spec_json = malloc(e->spec_len + 1);
	if (use->spec_json == NULL)
		return TLY_ENOMEM;
	memcpy(use->spec_json, e->spec_json, e->spec_len);
	use->spec_json[e->spec_len] = '\0';
	use->entry = *e;
	use->entry.spec_json = use->spec_json;
	u->count++;
	return TLY_OK;
}

tly_err
tly_ledger_usage(struct tly_ledger *l, const char *dataset, struct tly_ledger_usage *out)
{
	struct tly_ledger_usage list = {0, NULL};
	struct tly_ledger_entry e;
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_EINVAL;
	int rc;

	TLY_REQUIRE(l != NULL && out != NULL);
	if (dataset != NULL && !tly_ledger_name_valid(dataset, strlen(dataset)))
		goto out;
	rv = TLY_EIO;
	if (sqlite3_prepare_v2(l->db,
	                       "SELECT " TLY_LEDGER_COLUMNS " FROM entries WHERE kind = 1"
	                       " AND (?1 IS NULL OR dataset = ?1) ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, dataset, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rv = tly_ledger_row_read(st, &e, NULL, 0)) != TLY_OK ||
		    (rv = add_use(&list, &e)) != TLY_OK)
			goto out;
	}
	rv = TLY_EIO;
	if (rc != SQLITE_DONE)
		goto out;
	*out = list;
	list = (struct tly_ledger_usage){0, NULL};
	rv = TLY_OK;
out:
	sqlite3_finalize(st);
	tly_ledger_usage_fini(&list);
	return rv;
}
