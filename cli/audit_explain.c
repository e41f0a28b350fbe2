/* `tally audit explain`: what one release guarantees, in plain words
 * (audit.h). Everything said comes from the signed log entry and the
 * release it carries; the wording follows docs/PRIVACY.md. */
#include "audit.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "crypto/frac.h"

#include "coordinator/translog.h"
#include "store/keys.h"
#include "query/spec_words.h"

static const char *
text(json_t *o, const char *key, const char *otherwise)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : otherwise;
}

/* A charged figure for people: "0.333334 (rounded up; exactly 1/3)" for a
 * release's "num/den" (crypto/frac.h), a terminating decimal as it is. */
static const char *
charged(char *out, size_t len, json_t *o, const char *key)
{
	const char *exact = text(o, key, "?");
	unsigned long long num, den;
	char end, decimal[48];

	if (sscanf(exact, "%llu/%llu%c", &num, &den, &end) != 2 || den == 0)
		return exact;
	tly_frac_decimal(decimal, sizeof decimal, (struct tly_fraction){num, den}, TLY_FRAC_PLACES,
	                 TLY_FRAC_UP);
	snprintf(out, len, "%s (rounded up; exactly %s)", decimal, exact);
	return out;
}

static double
number(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* The question, in words from the signed spec (what every node hashed
 * and charged), with every filter: a query that narrows down to one person
 * reads as such. A spec that cannot be put into words (the log is not
 * checked here) is said to be so, never half-printed. */
static void
question(FILE *out, json_t *spec)
{
	char *sentence = NULL;
	json_t *filters = NULL;

	if (tly_spec_words_sentence(spec, &sentence) != TLY_OK ||
	    tly_spec_words_filters(spec, &filters) != TLY_OK) {
		fprintf(out, "  asked a question whose spec cannot be put into words (a malformed "
		             "log entry:\n  run `tally audit verify`)");
		free(sentence);
		return;
	}
	fprintf(out, "  asked for the %s", sentence);
	if (json_array_size(filters) == 0)
		fprintf(out, ".\n  Filters: none, the whole dataset (people who opted out are "
		             "always left out)");
	else
		fprintf(out, ".\n  Filters, every one as the trusts applied it:");
	for (size_t i = 0; i < json_array_size(filters); i++)
		fprintf(out, "\n    %s", json_string_value(json_array_get(filters, i)));
	json_decref(filters);
	free(sentence);
}

/* "2026-12-06 21:15 UTC", or "@seconds" when out of range. */
static void
release_time(char out[static 32], uint64_t seconds)
{
	struct tm tm;
	time_t t = (time_t)seconds;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, 32, "@%" PRIu64, seconds);
}

static void
what(FILE *out, const struct tly_translog_found *found, json_t *release, json_t *spec,
     const char *id)
{
	char when[32];

	release_time(when, found->time);
	fprintf(out, "Query %s (log entry %" PRIu64 ", released %s)\n", id, found->seq, when);
	question(out, spec);
	fprintf(out, "\n  %zu cells, each released with its 95%% interval.\n\n",
	        json_array_size(json_object_get(release, "cells")));
}

/* Who asked: the planner's name in the logged spec, which the coordinator
 * set from the request's signature (query/planner.h). */
static void
asker(FILE *out, json_t *spec)
{
	const char *planner = json_string_value(json_object_get(spec, "planner"));

	if (planner != NULL)
		fprintf(
		    out,
		    "Asked by planner \"%s\": the name whose key signed the request, as the "
		    "coordinator checked it against its planners file; the name is in the query "
		    "every trust answered and in its hash.\n\n",
		    planner);
	else
		fprintf(out, "Asked by: not recorded (the entry names no planner).\n\n");
}

static void
who(FILE *out, json_t *release)
{
	json_t *dropped = json_object_get(release, "dropped");

	fprintf(out,
	        "Who took part\n"
	        "  %" JSON_INTEGER_FORMAT " trusts contributed: every released value is the total "
	        "of their\n"
	        "  answers plus their noise.",
	        json_integer_value(json_object_get(release, "contributors")));
	if (json_array_size(dropped) > 0) {
		fprintf(out, " Dropped (not in the totals):");
		for (size_t i = 0; i < json_array_size(dropped); i++)
			fprintf(out, " node %" JSON_INTEGER_FORMAT,
			        json_integer_value(json_array_get(dropped, i)));
		fprintf(out, ".");
	}
	fprintf(out, "\n\n");
}

static void
guarantee(FILE *out, json_t *privacy)
{
	const char *mechanism = text(privacy, "mechanism", "?");
	char figure[120];

	fprintf(out, "Privacy guarantee (for each person whose record a trust holds)\n");
	if (strcmp(mechanism, "laplace") == 0) {
		double epsilon = number(privacy, "epsilon");
		fprintf(out,
		        "  epsilon-differential privacy with epsilon = %s (what every trust\n"
		        "  charged to its budget), delta = 0: whether or not one person's\n"
		        "  record was used, the chance of any result changes by at most a factor\n"
		        "  e^%s = %.3g. The noise is discrete Laplace, added in shares by the "
		        "trusts.\n",
		        charged(figure, sizeof figure, privacy, "epsilon_exact"),
		        text(privacy, "epsilon_exact", "?"), exp(epsilon));
	} else if (strcmp(mechanism, "skellam") == 0) {
		fprintf(
		    out,
		    "  rho-zero-concentrated differential privacy with rho = %s (what\n"
		    "  every trust charged to its budget). It implies (epsilon, delta)-\n"
		    "  differential privacy with epsilon = %.4g at delta = %.3g: apart from a\n"
		    "  chance of at most delta, the chance of any result changes by at most a\n"
		    "  factor e^epsilon whether or not one person's record was used. The noise\n"
		    "  is Skellam (a difference of Poisson counts), added in shares by the "
		    "trusts.\n",
		    charged(figure, sizeof figure, privacy, "rho_exact"),
		    number(privacy, "epsilon"), number(privacy, "delta"));
	} else {
		fprintf(out, "  none: this release carries no noise (a test query).\n");
	}
}

static void
conditions(FILE *out, const struct tly_translog_found *found, json_t *privacy)
{
	json_int_t h = json_integer_value(json_object_get(privacy, "min_honest"));

	fprintf(out,
	        "\nThis holds as long as\n"
	        "  - at least h = %" JSON_INTEGER_FORMAT " of the contributing trusts were honest, "
	        "that is, added their\n"
	        "    share of the noise: any %" JSON_INTEGER_FORMAT " shares together carry the "
	        "full noise;\n",
	        h, h);
	if (found->protocol == TLY_PROTOCOL_COMMITTEE)
		fprintf(
		    out,
		    "  - fewer than t = %u of the k = %u committee members colluded with the\n"
		    "    coordinator: any %u of them could together rebuild one trust's answer;\n",
		    found->threshold, found->degree, found->threshold);
	else
		fprintf(out,
		        "  - fewer than t = %u of the participating trusts colluded with the\n"
		        "    coordinator: %u of them could together unmask one trust's answer;\n",
		        found->threshold, found->threshold);
	fprintf(out,
	        "  - each trust's own node kept its ledger: before answering, each charged the\n"
	        "    figure above to its budget and signed a receipt, which the log carries\n"
	        "    (%zu receipts; `tally audit verify` checks them).\n"
	        "  The coordinator is not trusted beyond that: it only ever sees the noisy\n"
	        "  totals.\n",
	        found->receipts);
}

static void
accuracy(FILE *out, json_t *release, json_t *privacy)
{
	json_t *sdc = json_object_get(release, "sdc");
	json_int_t suppress = json_integer_value(json_object_get(sdc, "suppress_below"));
	json_int_t round_to = json_integer_value(json_object_get(sdc, "round_to"));
	const char *op = text(json_object_get(release, "measure"), "op", "");

	fprintf(out,
	        "\nAccuracy\n"
	        "  The noise in each released total has standard deviation %.4g (for the\n"
	        "  %" JSON_INTEGER_FORMAT
	        " contributions it holds). Each 95%% interval, value -/+ %" JSON_INTEGER_FORMAT
	        ", contains\n"
	        "  the exact, un-noised total with probability at least 95%%.\n",
	        number(privacy, "noise_sd"),
	        json_integer_value(json_object_get(release, "contributors")),
	        json_integer_value(json_object_get(privacy, "ci95_half_width")));
	if (strcmp(op, "mean") == 0)
		fprintf(
		    out,
		    "  A mean is the noisy sum over the noisy count; its interval combines the\n"
		    "  two at 97.5%% each, so it covers the true mean (of the values clipped\n"
		    "  to the column's bounds) with probability at least 95%%.\n");
	if (suppress > 0 || round_to > 1) {
		fprintf(out, "  Disclosure control (it costs no privacy):");
		if (suppress > 0)
			fprintf(out,
			        " cells with a noisy count below %" JSON_INTEGER_FORMAT
			        " were suppressed;",
			        suppress);
		if (round_to > 1)
			fprintf(out,
			        " values were rounded to multiples of %" JSON_INTEGER_FORMAT
			        " (intervals outwards);",
			        round_to);
		fprintf(out, "\n");
	}
}

tly_err
tly_audit_explain_found(const struct tly_translog_found *found,
                        const uint8_t query_id[static TLY_QUERY_ID_BYTES], const char *log_path,
                        FILE *out, char *why, size_t why_len)
{
	char id[2 * TLY_QUERY_ID_BYTES + 1];
	json_t *release = NULL, *spec = NULL;
	tly_err rv;

	TLY_REQUIRE(found != NULL && log_path != NULL && out != NULL &&
	            (why != NULL || why_len == 0));
	tly_hex(id, query_id, TLY_QUERY_ID_BYTES);
	release = found->release_json != NULL ? json_loads(found->release_json, 0, NULL) : NULL;
	spec = found->spec_json != NULL ? json_loads(found->spec_json, 0, NULL) : NULL;
	if (!json_is_object(release) || !json_is_object(spec)) {
		rv = tly_fail(why, why_len, TLY_EFORMAT, "%s: entry %" PRIu64 ": unreadable JSON",
		              log_path, found->seq);
		goto out;
	}
	what(out, found, release, spec, id);
	asker(out, spec);
	who(out, release);
	guarantee(out, json_object_get(release, "privacy"));
	conditions(out, found, json_object_get(release, "privacy"));
	accuracy(out, release, json_object_get(release, "privacy"));
	fprintf(out, "\n(This reads the log without checking it: run `tally audit verify`.)\n");
	rv = fflush(out) == 0 && !ferror(out) ? TLY_OK : TLY_EIO;
	if (rv != TLY_OK)
		tly_fail(why, why_len, rv, "cannot write the explanation");
out:
	json_decref(release);
	json_decref(spec);
	return rv;
}

tly_err
tly_audit_explain(const char *log_path, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                  FILE *out, char *why, size_t why_len)
{
	struct tly_translog *log = NULL;
	struct tly_translog_found found;
	char id[2 * TLY_QUERY_ID_BYTES + 1];
	tly_err rv;

	TLY_REQUIRE(log_path != NULL && out != NULL && (why != NULL || why_len == 0));
	memset(&found, 0, sizeof found);
	tly_hex(id, query_id, TLY_QUERY_ID_BYTES);
	if ((rv = tly_translog_open_readonly(&log, log_path, why, why_len)) != TLY_OK)
		return rv;
	if ((rv = tly_translog_find(log, query_id, &found)) != TLY_OK) {
		rv = tly_fail(why, why_len, rv, "%s: query %s %s", log_path, id,
		              rv == TLY_EINVAL ? "is not in the log" : "cannot be read");
		goto out;
	}
	if (found.outcome == TLY_TRANSLOG_COMMITTED) {
		rv = tly_fail(why, why_len, TLY_EINVAL,
		              "%s: query %s was committed (log entry %" PRIu64
		              ") and has no outcome: "
		              "committed, no release (the coordinator stopped before logging one); "
		              "nothing was released",
		              log_path, id, found.seq);
		goto out;
	}
	if (found.outcome != TLY_TRANSLOG_RELEASED) {
		rv = tly_fail(why, why_len, TLY_EINVAL,
		              "%s: query %s was %s (log entry %" PRIu64
		              "): nothing was released (%s)",
		              log_path, id, tly_translog_outcome_name(found.outcome), found.seq,
		              found.reason);
		goto out;
	}
	rv = tly_audit_explain_found(&found, query_id, log_path, out, why, why_len);
out:
	tly_translog_found_fini(&found);
	tly_translog_close(log);
	return rv;
}
