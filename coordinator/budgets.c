/* What is left of each trust's budget: see budgets.h. */
#include "coordinator/budgets.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

tly_err
tly_budgets_add(struct tly_budgets *b, const struct tly_ledger_receipt *r)
{
	for (size_t i = 0; i < b->count; i++) {
		struct tly_ledger_receipt *row = &b->rows[i];
		if (row->node_id != r->node_id || strcmp(row->population, r->population) != 0)
			continue;
		if (r->seq > row->seq)
			*row = *r;
		return TLY_OK;
	}
	if (b->count == b->cap) {
		size_t cap = b->cap > 0 ? 2 * b->cap : 16;
		struct tly_ledger_receipt *rows = realloc(b->rows, cap * sizeof *rows);
		if (rows == NULL)
			return TLY_ENOMEM;
		b->rows = rows;
		b->cap = cap;
	}
	b->rows[b->count++] = *r;
	return TLY_OK;
}

static double
decimal(struct tly_fraction f)
{
	return f.den > 0 ? (double)f.num / (double)f.den : 0.0;
}

double
tly_budgets_used(const struct tly_ledger_receipt *r)
{
	double rho_cap = decimal(r->budget.rho_total);
	double zcdp =
	    rho_cap > 0 ? (decimal(r->epsilon_rho_spent) + decimal(r->rho_spent)) / rho_cap : 1.0;
	double eps_cap = decimal(r->budget.epsilon_total);

	if (r->budget.sites == 1 && r->rho_spent.num == 0 && eps_cap > 0) {
		double basic = decimal(r->epsilon_spent) / eps_cap;
		return basic < zcdp ? basic : zcdp;
	}
	return zcdp;
}

static int
by_population(const void *a, const void *b)
{
	const struct tly_ledger_receipt *x = a, *y = b;
	int c = strcmp(x->population, y->population);

	if (c != 0)
		return c;
	return x->node_id < y->node_id ? -1 : x->node_id > y->node_id;
}

static void
set_fraction(json_t *o, const char *key, struct tly_fraction f)
{
	char text[48];

	tly_ledger_fraction_format(text, sizeof text, f);
	json_object_set_new(o, key, json_string(text));
}

static json_t *
row_json(const struct tly_ledger_receipt *r)
{
	double used = tly_budgets_used(r);
	json_t *o =
	    json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}", "node", (json_int_t)r->node_id,
	              "population", r->population, "dataset", r->dataset, "seq", (json_int_t)r->seq,
	              "time", (json_int_t)r->time, "sites", (json_int_t)r->budget.sites);

	if (o == NULL)
		return NULL;
	set_fraction(o, "epsilon_spent", r->epsilon_spent);
	set_fraction(o, "epsilon_total", r->budget.epsilon_total);
	set_fraction(o, "epsilon_rho_spent", r->epsilon_rho_spent);
	set_fraction(o, "rho_spent", r->rho_spent);
	set_fraction(o, "rho_total", r->budget.rho_total);
	set_fraction(o, "delta_total", r->budget.delta_total);
	json_object_set_new(o, "used", json_real(used));
	json_object_set_new(o, "remaining", json_real(used < 1.0 ? 1.0 - used : 0.0));
	json_object_set_new(o, "epsilon_spent_decimal", json_real(decimal(r->epsilon_spent)));
	json_object_set_new(o, "epsilon_total_decimal",
	                    json_real(decimal(r->budget.epsilon_total)));
	json_object_set_new(o, "rho_used_decimal",
	                    json_real(decimal(r->epsilon_rho_spent) + decimal(r->rho_spent)));
	json_object_set_new(o, "rho_total_decimal", json_real(decimal(r->budget.rho_total)));
	return o;
}

tly_err
tly_budgets_json(const struct tly_budgets *b, char **json)
{
	json_t *list = json_array(), *root = json_pack("{s:o}", "budgets", list);
	tly_err rv = TLY_ENOMEM;

	if (root == NULL)
		return TLY_ENOMEM;
	if (b->count > 0)
		qsort(b->rows, b->count, sizeof *b->rows, by_population);
	for (size_t i = 0; i < b->count; i++)
		if (json_array_append_new(list, row_json(&b->rows[i])) != 0)
			goto out;
	if ((*json = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6))) != NULL)
		rv = TLY_OK;
out:
	json_decref(root);
	return rv;
}

void
tly_budgets_fini(struct tly_budgets *b)
{
	if (b == NULL)
		return;
	free(b->rows);
	memset(b, 0, sizeof *b);
}
