/* A query's dry run: see estimate.h. */
#include "coordinator/estimate.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/release.h"
#include "crypto/dp_quantile.h"
#include "crypto/frac.h"
#include "query/spec_words.h"

/* As coordinator/release.c: a mean's interval combines two intervals of
 * coverage 1 - 1/40 each. */
enum { MEAN_Q_NUM = 39, MEAN_Q_DEN = 40 };

static void
add_figure(struct tly_estimate *e, const char *figure, double half_width)
{
	TLY_REQUIRE(e->figure_count < TLY_ESTIMATE_FIGURES_MAX);
	e->figures[e->figure_count++] =
	    (struct tly_estimate_figure){.figure = figure, .half_width95 = half_width};
}

/* The 97.5% half-width of the total noise, as release.c's prepare(). */
static tly_err
mean_part_half_width(const struct tly_noise_params *p, uint64_t contributors, uint64_t *k)
{
	struct tly_dp_noise total = {.honest = p->h, .shares = contributors};

	if (p->mechanism == TLY_MECH_NONE) {
		*k = 0;
		return TLY_OK;
	}
	total.mechanism = p->mechanism == TLY_MECH_LAPLACE ? TLY_DP_LAPLACE : TLY_DP_SKELLAM;
	total.num = p->mechanism == TLY_MECH_LAPLACE ? p->scale_s : p->mu_num;
	total.den = p->mechanism == TLY_MECH_LAPLACE ? p->scale_t : p->mu_den;
	return tly_dp_noise_quantile(&total, MEAN_Q_NUM, MEAN_Q_DEN, k);
}

/*
 * A mean of a group of G people (query/spec.h, tly_spec_mean_encoding: the
 * centred sum S' and the weighted count w C, each within k of the truth at
 * 97.5%): the release's interval is c + the ratio's range over that box,
 * clipped to the column's bounds [lo, hi]. For a true mean m, |m - c| <= B',
 * it reaches at most (k + B' k/w)/(G - k/w) from m on either side
 * (G > k/w), and never more than hi - lo. G <= k/w: no bound but the range.
 */
static struct tly_estimate_figure
mean_figure(const struct tly_column *col, const struct tly_mean_encoding *enc, uint64_t k)
{
	double range = (double)col->max - (double)col->min;
	double w = (double)enc->weight, g = TLY_ESTIMATE_MEAN_GROUP;
	double kc = (double)k / w; /* the count's part, in rows */
	struct tly_estimate_figure f = {.figure = "mean", .group_size = TLY_ESTIMATE_MEAN_GROUP};

	if (g <= kc) {
		f.unbounded = 1;
		f.half_width95 = range;
	} else {
		f.half_width95 = fmin(((double)k + (double)enc->half_range * kc) / (g - kc), range);
	}
	return f;
}

/* A mean's figures: the un-centred sum c C + S' (its 97.5% box: k + |c| k/w),
 * the count in rows (floor(k95/w): the release's integer interval), and the mean of a group
 * (above). */
static tly_err
mean_figures(struct tly_estimate *e, const struct tly_spec *spec, const struct tly_catalogue *cat,
             const struct tly_noise_params *p, char *why, size_t why_len)
{
	struct tly_mean_encoding enc;
	uint64_t k;
	tly_err rv;

	if ((rv = mean_part_half_width(p, e->contributors, &k)) != TLY_OK)
		return tly_fail(why, why_len, rv, "cannot compute the mean's interval: %s",
		                tly_strerror(rv));
	tly_spec_mean_encoding(spec, cat, &enc);
	add_figure(e, "sum", (double)k + fabs((double)enc.centre) * (double)k / (double)enc.weight);
	add_figure(e, "count", floor((double)e->info.ci95_half_width / (double)enc.weight));
	e->figures[e->figure_count++] =
	    mean_figure(&cat->datasets[spec->dataset].columns[spec->measure_column], &enc, k);
	return TLY_OK;
}

tly_err
tly_estimate_figures(const struct tly_spec *spec, const struct tly_catalogue *cat,
                     const struct tly_noise_params *p, uint64_t contributors,
                     struct tly_estimate *out, char *why, size_t why_len)
{
	struct tly_estimate e = {.contributors = contributors};
	double k95;
	tly_err rv;

	TLY_REQUIRE(spec != NULL && cat != NULL && p != NULL && out != NULL);
	if ((rv = tly_noise_describe(p, contributors, &e.info)) != TLY_OK)
		return tly_fail(why, why_len, rv,
		                "cannot describe the noise of %" PRIu64 " contributors: %s",
		                contributors, tly_strerror(rv));
	k95 = (double)e.info.ci95_half_width;
	switch (spec->measure) {
	case TLY_MEASURE_SUM:
		add_figure(&e, "sum", k95);
		break;
	case TLY_MEASURE_MEAN:
		if ((rv = mean_figures(&e, spec, cat, p, why, why_len)) != TLY_OK)
			return rv;
		break;
	default: /* count, a histogram's bins, a rate's or dsr's count cells */
		add_figure(&e, "count", k95);
		break;
	}
	*out = e;
	return TLY_OK;
}

/* ---- the answer ---- */

static json_t *
exact(uint64_t num, uint64_t den)
{
	char text[48];

	tly_release_exact(text, sizeof text, num, den);
	return json_string(text);
}

static json_t *
privacy_json(const struct tly_noise_params *p, const struct tly_estimate *e)
{
	double figure = p->privacy_den != 0 ? (double)p->privacy_num / (double)p->privacy_den : 0;
	json_t *o = json_pack("{s:s, s:I, s:f}", "mechanism", tly_spec_mechanism_name(p->mechanism),
	                      "min_honest", (json_int_t)p->h, "noise_sd", e->info.sd);

	if (o == NULL || p->mechanism == TLY_MECH_NONE)
		return o;
	if (p->mechanism == TLY_MECH_LAPLACE) {
		json_object_set_new(o, "epsilon", json_real(figure));
		json_object_set_new(o, "epsilon_exact", exact(p->privacy_num, p->privacy_den));
		json_object_set_new(o, "delta", json_integer(0));
	} else {
		json_object_set_new(o, "rho", json_real(figure));
		json_object_set_new(o, "rho_exact", exact(p->privacy_num, p->privacy_den));
		json_object_set_new(o, "epsilon", json_real(e->info.dp_epsilon));
		json_object_set_new(o, "delta", json_real(e->info.dp_delta));
	}
	return o;
}

static json_t *
figures_json(const struct tly_estimate *e)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < e->figure_count; i++) {
		const struct tly_estimate_figure *f = &e->figures[i];
		json_t *o =
		    json_pack("{s:s, s:f}", "figure", f->figure, "half_width95", f->half_width95);
		if (o != NULL && f->group_size > 0) {
			json_object_set_new(o, "group_size",
			                    json_integer((json_int_t)f->group_size));
			json_object_set_new(o, "bounded", json_boolean(!f->unbounded));
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* One figure in words: "each count within ± 7". */
static void
figure_words(FILE *out, const struct tly_estimate_figure *f)
{
	if (f->group_size == 0)
		fprintf(out, "each %s within \xc2\xb1 %.0f", f->figure, f->half_width95);
	else if (f->unbounded)
		fprintf(out,
		        "the mean of a group of %" PRIu64 " people could be anywhere in the "
		        "column's range",
		        f->group_size);
	else
		fprintf(out, "the mean of a group of %" PRIu64 " people within \xc2\xb1 %.3g",
		        f->group_size, f->half_width95);
}

/* The plain words: what is asked, what it costs, how close it comes.
 * malloc'd; NULL when out of memory. */
static char *
words(const char *sentence, const struct tly_noise_params *p, const struct tly_estimate *e)
{
	char amount[48], *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return NULL;
	fprintf(out, "%s. Asking %" PRIu64 " trusts would charge ", sentence, e->contributors);
	if (p->mechanism == TLY_MECH_NONE) {
		fprintf(out, "no privacy (a noise-free test query)");
	} else {
		tly_frac_decimal(amount, sizeof amount,
		                 (struct tly_fraction){p->privacy_num, p->privacy_den},
		                 TLY_FRAC_PLACES, TLY_FRAC_UP);
		fprintf(out, "a privacy cost of %s %s to each trust's budget",
		        p->mechanism == TLY_MECH_LAPLACE ? "epsilon" : "rho", amount);
	}
	fprintf(out, ". With 95%% confidence: ");
	for (size_t i = 0; i < e->figure_count; i++) {
		figure_words(out, &e->figures[i]);
		fputs(i + 1 < e->figure_count ? "; " : ".", out);
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* "filters", "description" and "words", from spec's canonical form (as
 * the release's). */
static tly_err
words_json(json_t *o, const struct tly_spec *spec, const struct tly_catalogue *cat,
           const struct tly_noise_params *p, const struct tly_estimate *e)
{
	char *canonical = NULL, *sentence = NULL, *text = NULL;
	json_t *parsed = NULL, *filters = NULL;
	tly_err rv = TLY_ENOMEM;

	if (tly_spec_canonical(spec, cat, &canonical) != TLY_OK ||
	    (parsed = json_loads(canonical, 0, NULL)) == NULL ||
	    tly_spec_words_filters(parsed, &filters) != TLY_OK ||
	    tly_spec_words_sentence(parsed, &sentence) != TLY_OK ||
	    (text = words(sentence, p, e)) == NULL)
		goto out;
	int failed = json_object_set_new(o, "filters", filters) != 0;
	filters = NULL; /* taken, even on failure */
	failed |= json_object_set_new(o, "description", json_string(sentence)) != 0;
	failed |= json_object_set_new(o, "words", json_string(text)) != 0;
	rv = failed ? TLY_ENOMEM : TLY_OK;
out:
	json_decref(filters);
	json_decref(parsed);
	free(text);
	free(sentence);
	free(canonical);
	return rv;
}

tly_err
tly_estimate_json(const struct tly_spec *spec, const struct tly_catalogue *cat,
                  const struct tly_noise_params *p, const struct tly_estimate *e, json_t **out)
{
	json_t *o;

	TLY_REQUIRE(spec != NULL && cat != NULL && p != NULL && e != NULL && out != NULL);
	o = json_pack("{s:b, s:s, s:s, s:I, s:o, s:o}", "dry_run", 1, "dataset",
	              cat->datasets[spec->dataset].name, "protocol",
	              tly_spec_protocol_name(spec->protocol), "contributors",
	              (json_int_t)e->contributors, "privacy", privacy_json(p, e), "figures",
	              figures_json(e));
	if (o == NULL || words_json(o, spec, cat, p, e) != TLY_OK) {
		json_decref(o);
		return TLY_ENOMEM;
	}
	*out = o;
	return TLY_OK;
}
