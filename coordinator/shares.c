#include "shares.h"

#include <stdlib.h>
#include <string.h>

#include "coordinator/api.h"
#include "coordinator/translog.h"
#include "crypto/frac.h"
#include "query/budget.h"
#include "query/planner.h"

/* A planner's finished spend on one dataset. */
struct spend {
	char planner[TLY_PLANNER_NAME_MAX + 1];
	char dataset[TLY_SPEC_NAME_MAX + 1];
	struct tly_budget_spent spent;
};

/* A query committed, its outcome not yet seen. */
struct flight {
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	char planner[TLY_PLANNER_NAME_MAX + 1];
	char dataset[TLY_SPEC_NAME_MAX + 1];
	uint8_t mechanism;
	struct tly_fraction amount;
};

/* What a node's newest receipt for a dataset says. */
struct known_cap {
	uint32_t node;
	char dataset[TLY_SPEC_NAME_MAX + 1];
	char population[TLY_SPEC_NAME_MAX + 1];
	struct tly_budget_cap cap;
	struct tly_fraction rho_cap; /* the receipt's rho_total */
};

struct tly_shares {
	struct tly_fraction share; /* a/b, 0 < a <= b */
	struct spend *spends;
	size_t spend_count, spend_room;
	struct flight *flights;
	size_t flight_count, flight_room;
	struct known_cap *caps;
	size_t cap_count, cap_room;
};

int
tly_shares_valid(struct tly_fraction share)
{
	return share.den > 0 && share.num > 0 && share.num <= share.den &&
	       tly_frac_gcd(share.num, share.den) == 1;
}

enum { SHARE_PART_MAX = 1000000000, SHARE_DECIMALS_MAX = 9 };

tly_err
tly_shares_parse(const char *text, struct tly_fraction *out)
{
	const char *slash = strchr(text, '/'), *point = strchr(text, '.');
	size_t len = strlen(text);
	uint64_t num, den = 1, frac = 0;

	if (slash != NULL) {
		if (!tly_api_digits(text, (size_t)(slash - text), SHARE_PART_MAX, &num) ||
		    !tly_api_digits(slash + 1, strlen(slash + 1), SHARE_PART_MAX, &den))
			return TLY_EINVAL;
	} else if (point != NULL) {
		size_t places = strlen(point + 1);
		if (places > SHARE_DECIMALS_MAX ||
		    !tly_api_digits(text, (size_t)(point - text), 1, &num) ||
		    !tly_api_digits(point + 1, places, SHARE_PART_MAX, &frac))
			return TLY_EINVAL;
		for (size_t i = 0; i < places; i++)
			den *= 10;
		num = num * den + frac;
	} else if (!tly_api_digits(text, len, 1, &num)) {
		return TLY_EINVAL;
	}
	if (den == 0)
		return TLY_EINVAL;
	uint64_t g = tly_frac_gcd(num, den);
	struct tly_fraction f = {g ? num / g : 0, g ? den / g : den};
	if (!tly_shares_valid(f))
		return TLY_EINVAL;
	*out = f;
	return TLY_OK;
}

tly_err
tly_shares_alloc(struct tly_shares **out, struct tly_fraction share)
{
	if (!tly_shares_valid(share))
		return TLY_EINVAL;
	struct tly_shares *sh = calloc(1, sizeof *sh);
	if (sh == NULL)
		return TLY_ENOMEM;
	sh->share = share;
	*out = sh;
	return TLY_OK;
}

void
tly_shares_free(struct tly_shares *sh)
{
	if (sh == NULL)
		return;
	free(sh->spends);
	free(sh->flights);
	free(sh->caps);
	free(sh);
}

/* Room for one more of size bytes in *items (count, room). */
static int
grow(void **items, size_t count, size_t *room, size_t size)
{
	if (count < *room)
		return 1;
	size_t more = *room ? 2 * *room : 8;
	void *p = realloc(*items, more * size);
	if (p == NULL)
		return 0;
	*items = p;
	*room = more;
	return 1;
}

static int
ask_valid(const struct tly_share_ask *ask)
{
	return ask->planner != NULL && strlen(ask->planner) <= TLY_PLANNER_NAME_MAX &&
	       ask->dataset != NULL && tly_ledger_name_valid(ask->dataset, strlen(ask->dataset)) &&
	       (ask->mechanism == TLY_MECH_LAPLACE || ask->mechanism == TLY_MECH_SKELLAM) &&
	       ask->amount.num > 0 && tly_ledger_fraction_valid(ask->amount);
}

tly_err
tly_shares_commit(struct tly_shares *sh, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                  const struct tly_share_ask *ask)
{
	if (!ask_valid(ask))
		return TLY_EINVAL;
	if (!grow((void **)&sh->flights, sh->flight_count, &sh->flight_room, sizeof *sh->flights))
		return TLY_ENOMEM;
	struct flight *f = &sh->flights[sh->flight_count++];
	memset(f, 0, sizeof *f);
	memcpy(f->query_id, query_id, TLY_QUERY_ID_BYTES);
	strcpy(f->planner, ask->planner);
	strcpy(f->dataset, ask->dataset);
	f->mechanism = ask->mechanism;
	f->amount = ask->amount;
	return TLY_OK;
}

static struct known_cap *
find_cap(const struct tly_shares *sh, uint32_t node, const char *dataset)
{
	for (size_t i = 0; i < sh->cap_count; i++)
		if (sh->caps[i].node == node && strcmp(sh->caps[i].dataset, dataset) == 0)
			return &sh->caps[i];
	return NULL;
}

static tly_err
learn_cap(struct tly_shares *sh, const struct tly_ledger_receipt *r)
{
	struct known_cap *c = find_cap(sh, r->node_id, r->dataset);

	if (c == NULL) {
		if (!grow((void **)&sh->caps, sh->cap_count, &sh->cap_room, sizeof *sh->caps))
			return TLY_ENOMEM;
		c = &sh->caps[sh->cap_count++];
		memset(c, 0, sizeof *c);
		c->node = r->node_id;
		strcpy(c->dataset, r->dataset);
	}
	strcpy(c->population, r->population);
	c->cap = (struct tly_budget_cap){r->budget.epsilon_total, r->budget.delta_total,
	                                 r->budget.sites};
	c->rho_cap = r->budget.rho_total;
	return TLY_OK;
}

/* *into += the state from (E, Q, R each added). */
static tly_err
merge(struct tly_budget_spent *into, const struct tly_budget_spent *from)
{
	struct tly_budget_spent sum;
	tly_err rv;

	if ((rv = tly_ledger_fraction_add(into->epsilon, from->epsilon, &sum.epsilon)) != TLY_OK ||
	    (rv = tly_ledger_fraction_add(into->epsilon_rho, from->epsilon_rho,
	                                  &sum.epsilon_rho)) != TLY_OK ||
	    (rv = tly_ledger_fraction_add(into->rho, from->rho, &sum.rho)) != TLY_OK)
		return rv;
	*into = sum;
	return TLY_OK;
}

static tly_err
spend_add(struct tly_shares *sh, const struct flight *f)
{
	struct spend *s = NULL;

	for (size_t i = 0; i < sh->spend_count && s == NULL; i++)
		if (strcmp(sh->spends[i].planner, f->planner) == 0 &&
		    strcmp(sh->spends[i].dataset, f->dataset) == 0)
			s = &sh->spends[i];
	if (s == NULL) {
		if (!grow((void **)&sh->spends, sh->spend_count, &sh->spend_room,
		          sizeof *sh->spends))
			return TLY_ENOMEM;
		s = &sh->spends[sh->spend_count++];
		memset(s, 0, sizeof *s);
		strcpy(s->planner, f->planner);
		strcpy(s->dataset, f->dataset);
		s->spent = tly_budget_none();
	}
	return tly_budget_add(&s->spent, f->mechanism, f->amount, &s->spent);
}

tly_err
tly_shares_outcome(struct tly_shares *sh, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                   uint8_t outcome, const struct tly_ledger_receipt *receipts, size_t count)
{
	tly_err rv = TLY_OK;

	for (size_t i = 0; i < count && rv == TLY_OK; i++)
		rv = learn_cap(sh, &receipts[i]);
	for (size_t i = 0; i < sh->flight_count && rv == TLY_OK; i++) {
		struct flight *f = &sh->flights[i];
		if (memcmp(f->query_id, query_id, TLY_QUERY_ID_BYTES) != 0)
			continue;
		/* Refused by every node, none charged: nothing spent. A spend
		 * that cannot be added stays in flight (still counted). */
		tly_err added = TLY_OK;
		if (!(outcome == TLY_TRANSLOG_REFUSED && count == 0))
			added = spend_add(sh, f);
		if (added == TLY_OK)
			sh->flights[i] = sh->flights[--sh->flight_count];
		else if (added != TLY_ERANGE)
			rv = added;
		break;
	}
	return rv;
}

/* f * b / a for share a/b; TLY_ERANGE when it does not fit u64/u64. */
static tly_err
unshare(struct tly_fraction f, struct tly_fraction share, struct tly_fraction *out)
{
	if (f.num == 0) {
		*out = (struct tly_fraction){0, 1};
		return TLY_OK;
	}
	uint64_t g1 = tly_frac_gcd(f.num, share.num), g2 = tly_frac_gcd(share.den, f.den);
	uint64_t num, den;
	if (__builtin_mul_overflow(f.num / g1, share.den / g2, &num) ||
	    __builtin_mul_overflow(f.den / g2, share.num / g1, &den))
		return TLY_ERANGE;
	*out = (struct tly_fraction){num, den};
	return TLY_OK;
}

/* The planner's state at the population of cap c: its spend and flights
 * on every dataset that c's node maps to c's population, plus the ask
 * when with_ask. */
static tly_err
state_at(const struct tly_shares *sh, const struct known_cap *c, const struct tly_share_ask *ask,
         int with_ask, struct tly_budget_spent *out)
{
	struct tly_budget_spent st = tly_budget_none();
	tly_err rv = TLY_OK;

	for (size_t i = 0; i < sh->spend_count && rv == TLY_OK; i++) {
		const struct spend *s = &sh->spends[i];
		const struct known_cap *m = find_cap(sh, c->node, s->dataset);
		if (strcmp(s->planner, ask->planner) == 0 && m != NULL &&
		    strcmp(m->population, c->population) == 0)
			rv = merge(&st, &s->spent);
	}
	for (size_t i = 0; i < sh->flight_count && rv == TLY_OK; i++) {
		const struct flight *f = &sh->flights[i];
		const struct known_cap *m = find_cap(sh, c->node, f->dataset);
		if (strcmp(f->planner, ask->planner) == 0 && m != NULL &&
		    strcmp(m->population, c->population) == 0)
			rv = tly_budget_add(&st, f->mechanism, f->amount, &st);
	}
	if (rv == TLY_OK && with_ask)
		rv = tly_budget_add(&st, ask->mechanism, ask->amount, &st);
	if (rv == TLY_OK)
		*out = st;
	return rv;
}

/* Within share * cap: the state scaled by 1/share within the cap. */
static int
within_share(const struct tly_shares *sh, const struct known_cap *c,
             const struct tly_budget_spent *st)
{
	struct tly_budget_spent scaled;

	if (unshare(st->epsilon, sh->share, &scaled.epsilon) != TLY_OK ||
	    unshare(st->epsilon_rho, sh->share, &scaled.epsilon_rho) != TLY_OK ||
	    unshare(st->rho, sh->share, &scaled.rho) != TLY_OK)
		return 0;
	return tly_budget_within(&scaled, &c->cap, c->rho_cap) != TLY_BUDGET_OVER;
}

/* share * f rounded down to u64/u64 (display only): exact when it fits. */
static struct tly_fraction
of_share(struct tly_fraction f, struct tly_fraction share)
{
	uint64_t g1 = tly_frac_gcd(f.num, share.den), g2 = tly_frac_gcd(share.num, f.den), num, den;

	if (f.num == 0 || __builtin_mul_overflow(f.num / g1, share.num / g2, &num) ||
	    __builtin_mul_overflow(f.den / g2, share.den / g1, &den))
		return f.num == 0 ? (struct tly_fraction){0, 1} : f;
	return (struct tly_fraction){num, den};
}

/* In unit: E for "epsilon", Q + R for "rho" ({0, 1} if it does not fit). */
static struct tly_fraction
unit_of(const struct tly_budget_spent *st, int basic)
{
	struct tly_fraction sum;

	if (basic)
		return st->epsilon;
	if (tly_ledger_fraction_add(st->epsilon_rho, st->rho, &sum) != TLY_OK)
		return (struct tly_fraction){0, 1};
	return sum;
}

/* Why the ask passes c's share: the rule that would have held without
 * it (basic when m = 1 and no zCDP charge), and spent, asked and the
 * share of the cap in that rule's unit. */
static void
explain(const struct tly_shares *sh, const struct known_cap *c, const struct tly_share_ask *ask,
        struct tly_share_refusal *why)
{
	struct tly_budget_spent alone = tly_budget_none(), before = tly_budget_none();

	(void)state_at(sh, c, ask, 0, &before);
	int basic = c->cap.sites == 1 && before.rho.num == 0 && ask->mechanism == TLY_MECH_LAPLACE;
	memset(why, 0, sizeof *why);
	why->node = c->node;
	strcpy(why->population, c->population);
	why->unit = basic ? "epsilon" : "rho";
	if (tly_budget_add(&alone, ask->mechanism, ask->amount, &alone) != TLY_OK)
		alone = tly_budget_none();
	why->spent = unit_of(&before, basic);
	why->asked = unit_of(&alone, basic);
	why->allowed = of_share(basic ? c->cap.epsilon_total : c->rho_cap, sh->share);
}

tly_err
tly_shares_check(const struct tly_shares *sh, const struct tly_share_ask *ask,
                 struct tly_share_refusal *why)
{
	struct tly_budget_spent st;
	int known = 0;

	if (!ask_valid(ask))
		return TLY_EINVAL;
	for (size_t i = 0; i < sh->cap_count; i++) {
		const struct known_cap *c = &sh->caps[i];
		if (strcmp(c->dataset, ask->dataset) != 0)
			continue;
		known = 1;
		/* A sum too large to represent is over the share. */
		if (state_at(sh, c, ask, 1, &st) == TLY_OK && within_share(sh, c, &st))
			continue;
		if (why != NULL)
			explain(sh, c, ask, why);
		return TLY_EBUDGET;
	}
	if (known)
		return TLY_OK;
	for (size_t i = 0; i < sh->flight_count; i++) {
		const struct flight *f = &sh->flights[i];
		if (strcmp(f->planner, ask->planner) == 0 &&
		    strcmp(f->dataset, ask->dataset) == 0) {
			if (why != NULL) {
				memset(why, 0, sizeof *why);
				why->no_cap = 1;
				why->unit = ask->mechanism == TLY_MECH_SKELLAM ? "rho" : "epsilon";
				why->spent = f->amount;
				why->asked = ask->amount;
			}
			return TLY_EBUDGET;
		}
	}
	return TLY_OK;
}

void
tly_shares_counts(const struct tly_shares *sh, size_t *spends, size_t *in_flight, size_t *caps)
{
	*spends = sh->spend_count;
	*in_flight = sh->flight_count;
	*caps = sh->cap_count;
}
