#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <sqlite3.h>

#include "node/pg_load.h"

/* ---- the generator: xoshiro256** seeded by splitmix64 ---- */

struct gen {
	uint64_t s[4];
};

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
gen_seed(struct gen *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
next(struct gen *g)
{
	uint64_t result = rotl(g->s[1] * 5, 7) * 9, t = g->s[1] << 17;
	g->s[2] ^= g->s[0];
	g->s[3] ^= g->s[1];
	g->s[1] ^= g->s[2];
	g->s[0] ^= g->s[3];
	g->s[2] ^= t;
	g->s[3] = rotl(g->s[3], 45);
	return result;
}

/* Uniform on [0, 1). */
static double
uniform(struct gen *g)
{
	return (double)(next(g) >> 11) * 0x1.0p-53;
}

static int
chance(struct gen *g, double p)
{
	return uniform(g) < p;
}

static double
normal(struct gen *g, double mean, double sd)
{
	double u = uniform(g), v = uniform(g);
	return mean + sd * sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * 3.14159265358979323846 * v);
}

/* An index drawn with the given relative weights. */
static size_t
pick(struct gen *g, const double *weights, size_t n)
{
	double total = 0, x;
	for (size_t i = 0; i < n; i++)
		total += weights[i];
	x = uniform(g) * total;
	for (size_t i = 0; i < n; i++) {
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

/* ---- the population ---- */

/* England and Wales 2021 census, percent per five-year band, 0-4 .. 90+. */
static const double age_bands5[19] = {5.4, 5.9, 6.0, 5.7, 6.0, 6.6, 6.8, 6.7, 6.3, 6.4,
                                      6.8, 6.8, 6.0, 5.1, 5.0, 3.7, 2.6, 1.5, 0.9};

static const char *const age_band_names[5] = {"0-17", "18-39", "40-64", "65-79", "80+"};
static const char *const ethnicities[5] = {"white", "asian", "black", "mixed", "other"};
static const double ethnicity_weights[5] = {81.0, 9.6, 4.2, 3.0, 2.2};

/* Elective waiting list by specialty (share of the list, roughly as in NHS
 * England's referral-to-treatment figures). */
static const char *const specialties[12] = {
    "trauma_orthopaedics", "ophthalmology", "ent",       "general_surgery",
    "gynaecology",         "dermatology",   "urology",   "gastroenterology",
    "cardiology",          "oral_surgery",  "neurology", "respiratory"};
static const double specialty_weights[12] = {12.5, 8.5, 8.0, 7.0, 7.5, 5.5,
                                             4.5,  5.0, 4.5, 3.5, 2.5, 2.5};

struct person {
	int age;
	const char *sex;
	int imd;
	const char *ethnicity;
	int diabetes, copd, hypertension;
	int bmi; /* 0 = NULL (children) */
	const char *specialty;
	int wait_weeks; /* -1 = NULL */
	int ae;
	int opted_out;
};

static const char *
age_band(int age)
{
	return age < 18   ? age_band_names[0]
	       : age < 40 ? age_band_names[1]
	       : age < 65 ? age_band_names[2]
	       : age < 80 ? age_band_names[3]
	                  : age_band_names[4];
}

static int
draw_age(struct gen *g)
{
	size_t band = pick(g, age_bands5, 19);
	int span = band == 18 ? 16 : 5; /* 90+ runs to 105 */
	return (int)band * 5 + (int)(next(g) % (uint64_t)span);
}

/* Logistic of a linear score: prevalence rising with age and deprivation. */
static double
logistic(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* A long tail of waits: a mixture of a short exponential and a long one,
 * capped at 104 weeks (median about 14). */
static int
draw_wait(struct gen *g)
{
	double mean = chance(g, 0.75) ? 12.0 : 40.0;
	int w = (int)(-mean * log(1.0 - uniform(g)));
	return w > 104 ? 104 : w;
}

/* Overdispersed counts: Poisson with a gamma-distributed rate (shape 0.5,
 * mean about 0.35 a year, more with age and deprivation). */
static int
draw_ae(struct gen *g, int age, int imd)
{
	double mean = 0.25 + (age >= 75 ? 0.35 : age < 5 ? 0.25 : 0.0) + 0.03 * (10 - imd);
	/* gamma(0.5, 2 mean) as mean * chi-square(1) */
	double z = normal(g, 0, 1), rate = mean * z * z;
	int k = 0;
	double limit = exp(-rate), p = uniform(g);
	while (p > limit && k < 50) {
		p *= uniform(g);
		k++;
	}
	return k;
}

static void
draw_person(struct gen *g, struct person *p, double deprivation)
{
	p->age = draw_age(g);
	p->sex = chance(g, p->age >= 80 ? 0.6 : 0.505) ? "F" : "M";
	/* IMD decile 1 (most deprived) .. 10, skewed by the site's deprivation. */
	double u = pow(uniform(g), deprivation);
	p->imd = 1 + (int)(u * 10.0);
	if (p->imd > 10)
		p->imd = 10;
	p->ethnicity = ethnicities[pick(g, ethnicity_weights, 5)];
	double depr = (10 - p->imd) / 9.0; /* 0 least .. 1 most deprived */
	p->diabetes = p->age >= 18 && chance(g, logistic(-5.2 + 0.045 * p->age + 0.7 * depr));
	p->copd = p->age >= 35 && chance(g, logistic(-7.3 + 0.055 * p->age + 0.9 * depr));
	p->hypertension = p->age >= 18 && chance(g, logistic(-5.25 + 0.065 * p->age + 0.3 * depr));
	if (p->age >= 18) {
		double bmi = normal(g, 27.0 + 2.5 * p->diabetes + 0.8 * depr, 4.8);
		p->bmi = bmi < 14 ? 14 : bmi > 70 ? 70 : (int)lround(bmi);
	} else {
		p->bmi = 0;
	}
	p->specialty = NULL;
	p->wait_weeks = -1;
	if (chance(g, p->age >= 50 ? 0.16 : 0.09)) {
		p->specialty = specialties[pick(g, specialty_weights, 12)];
		p->wait_weeks = draw_wait(g);
	}
	p->ae = draw_ae(g, p->age, p->imd);
	p->opted_out = chance(g, 0.05);
}

/* ---- ground truth for the demo queries ---- */

struct truth {
	/* count where has_diabetes = 1, by age_band x sex */
	long diabetes[5][2];
	/* mean wait_weeks by specialty: sum and count */
	long wait_sum[12], wait_count[12];
	/* histogram of ae_attendances_12m over edges 0,1,2,3,5,10,50 */
	long ae[6];
};

static const int ae_edges[7] = {0, 1, 2, 3, 5, 10, 50};

static int
index_of(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

static void
tally_truth(struct truth *t, const struct person *p)
{
	if (p->opted_out)
		return;
	int band = index_of(age_band_names, 5, age_band(p->age));
	if (p->diabetes)
		t->diabetes[band][p->sex[0] == 'M']++;
	if (p->specialty != NULL) {
		int s = index_of(specialties, 12, p->specialty);
		t->wait_sum[s] += p->wait_weeks;
		t->wait_count[s]++;
	}
	int bin = 5;
	for (int e = 1; e < 6; e++) {
		if (p->ae < ae_edges[e]) {
			bin = e - 1;
			break;
		}
	}
	t->ae[bin]++;
}

/* ---- files ---- */

/* out = a/b, refusing paths that do not fit. */
static tly_err
join(char *out, size_t len, const char *a, const char *b, char *why, size_t why_len)
{
	int n = snprintf(out, len, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= len) {
		tly_say(why, why_len, "path too long: %s/%s", a, b);
		return TLY_EINVAL;
	}
	return TLY_OK;
}

static tly_err
make_dir(const char *path, char *why, size_t why_len)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	return TLY_OK;
}

static const char catalogue_json[] =
    "{\"datasets\":[{\"name\":\"patients\",\"max_sites_per_person\":1,\"columns\":["
    "{\"name\":\"age\",\"type\":\"integer\",\"min\":0,\"max\":110},"
    "{\"name\":\"age_band\",\"type\":\"categorical\",\"domain\":[\"0-17\",\"18-39\",\"40-64\","
    "\"65-79\",\"80+\"]},"
    "{\"name\":\"sex\",\"type\":\"categorical\",\"domain\":[\"F\",\"M\"]},"
    "{\"name\":\"imd_decile\",\"type\":\"categorical\",\"domain\":[\"1\",\"2\",\"3\",\"4\",\"5\","
    "\"6\",\"7\",\"8\",\"9\",\"10\"]},"
    "{\"name\":\"ethnicity\",\"type\":\"categorical\",\"domain\":[\"white\",\"asian\",\"black\","
    "\"mixed\",\"other\"]},"
    "{\"name\":\"has_diabetes\",\"type\":\"categorical\",\"domain\":[\"0\",\"1\"]},"
    "{\"name\":\"has_copd\",\"type\":\"categorical\",\"domain\":[\"0\",\"1\"]},"
    "{\"name\":\"has_hypertension\",\"type\":\"categorical\",\"domain\":[\"0\",\"1\"]},"
    "{\"name\":\"bmi\",\"type\":\"integer\",\"min\":10,\"max\":80},"
    "{\"name\":\"specialty\",\"type\":\"categorical\",\"domain\":[\"trauma_orthopaedics\","
    "\"ophthalmology\",\"ent\",\"general_surgery\",\"gynaecology\",\"dermatology\",\"urology\","
    "\"gastroenterology\",\"cardiology\",\"oral_surgery\",\"neurology\",\"respiratory\"]},"
    "{\"name\":\"wait_weeks\",\"type\":\"integer\",\"min\":0,\"max\":104},"
    "{\"name\":\"ae_attendances_12m\",\"type\":\"integer\",\"min\":0,\"max\":50}]}]}";

const char *
tly_synth_catalogue(void)
{
	return catalogue_json;
}

static const char node_conf_template[] =
    "; Node configuration for synthetic site %u, written by `tally synth`.\n"
    "[node]\n"
    "id = %u\n"
    "coordinator = %s\n"
    "tls_cert = pki/node-%u.crt\n"
    "tls_key = pki/node-%u.key\n"
    "tls_ca = ../pki/coordinator-ca.crt\n"
    "sign_key = keys/node.sign\n"
    "kx_key = keys/node.kx\n"
    "registry = ../registry.ini\n"
    "ledger = state/ledger.db\n"
    "committee = yes\n"
    "\n"
    "[policy]\n"
    "measures = count, sum, mean, histogram, rate, dsr\n"
    "min_contributors = 3\n"
    "max_min_honest = 10\n"
    "\n"
    "[dataset patients]\n"
    "%s"
    "person_id = person_id\n"
    "opt_out = opted_out\n"
    "max_sites_per_person = 1\n"
    "population = patients\n"
    "epsilon_total = 20\n"
    "delta_total = 0.000001\n"
    "epsilon_per_query = 2\n"
    "rho_per_query = 0.5\n"
    "column.age = integer 0 110\n"
    "column.age_band = categorical 0-17,18-39,40-64,65-79,80+\n"
    "column.sex = categorical F,M\n"
    "column.imd_decile = categorical 1,2,3,4,5,6,7,8,9,10\n"
    "column.ethnicity = categorical white,asian,black,mixed,other\n"
    "column.has_diabetes = categorical 0,1\n"
    "column.has_copd = categorical 0,1\n"
    "column.has_hypertension = categorical 0,1\n"
    "column.bmi = integer 10 80\n"
    "column.specialty = categorical trauma_orthopaedics,ophthalmology,ent,general_surgery,"
    "gynaecology,dermatology,urology,gastroenterology,cardiology,oral_surgery,neurology,"
    "respiratory\n"
    "column.wait_weeks = integer 0 104\n"
    "column.ae_attendances_12m = integer 0 50\n";

static const char *const demo_queries[3][2] = {
    {"diabetes_by_age_sex.json",
     "{\"dataset\": \"patients\",\n \"measure\": {\"op\": \"count\"},\n"
     " \"where\": [{\"column\": \"has_diabetes\", \"op\": \"=\", \"value\": 1}],\n"
     " \"group_by\": [\"age_band\", \"sex\"],\n"
     " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 0.5}}\n"},
    {"mean_wait_by_specialty.json",
     "{\"dataset\": \"patients\",\n \"measure\": {\"op\": \"mean\", \"column\": \"wait_weeks\"},\n"
     " \"group_by\": [\"specialty\"],\n"
     " \"privacy\": {\"mechanism\": \"laplace\", \"epsilon\": 1}}\n"},
    {"ae_histogram.json",
     "{\"dataset\": \"patients\",\n"
     " \"measure\": {\"op\": \"histogram\", \"column\": \"ae_attendances_12m\",\n"
     "             \"edges\": [0, 1, 2, 3, 5, 10, 50]},\n"
     " \"privacy\": {\"mechanism\": \"gaussian\", \"rho\": 0.1}}\n"},
};

/* A new file holding text, created with mode (0600 for one holding a
 * password) before anything is written to it. */
static tly_err
write_file_mode(const char *path, const char *text, mode_t mode, char *why, size_t why_len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		if (f == NULL && fd >= 0)
			close(fd);
		return TLY_EIO;
	}
	return TLY_OK;
}

static tly_err
write_file(const char *path, const char *text, char *why, size_t why_len)
{
	return write_file_mode(path, text, 0644, why, why_len);
}

static tly_err
write_truth(const char *dir, const struct truth *t, char *why, size_t why_len)
{
	char path[4200];
	if (join(path, sizeof path, dir, "truth.json", why, why_len) != TLY_OK)
		return TLY_EINVAL;
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	fprintf(f, "{\"note\": \"exact answers over all sites, opted-out rows excluded; "
	           "for tests and the demo only\",\n \"queries\": {\n");
	fprintf(f, "  \"diabetes_by_age_sex.json\": [");
	for (int b = 0; b < 5; b++)
		for (int s = 0; s < 2; s++)
			fprintf(f,
			        "%s{\"group\": {\"age_band\": \"%s\", \"sex\": \"%s\"}, \"value\": "
			        "%ld}",
			        b + s ? ", " : "", age_band_names[b], s ? "M" : "F",
			        t->diabetes[b][s]);
	fprintf(f, "],\n  \"mean_wait_by_specialty.json\": [");
	for (int s = 0; s < 12; s++)
		fprintf(f,
		        "%s{\"group\": {\"specialty\": \"%s\"}, \"sum\": %ld, \"count\": %ld, "
		        "\"value\": %.4f}",
		        s ? ", " : "", specialties[s], t->wait_sum[s], t->wait_count[s],
		        t->wait_count[s] ? (double)t->wait_sum[s] / (double)t->wait_count[s] : 0.0);
	fprintf(f, "],\n  \"ae_histogram.json\": [");
	for (int b = 0; b < 6; b++)
		fprintf(f, "%s{\"group\": {\"bin\": \"[%d,%d%s\"}, \"value\": %ld}", b ? ", " : "",
		        ae_edges[b], ae_edges[b + 1], b == 5 ? "]" : ")", t->ae[b]);
	fprintf(f, "]\n }\n}\n");
	if (fclose(f) != 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	return TLY_OK;
}

static void
bind_optional_text(sqlite3_stmt *st, int i, const char *text)
{
	if (text != NULL)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static tly_err
write_site(const char *dir, unsigned site, uint64_t people, struct gen *g, double deprivation,
           struct truth *truth, char *why, size_t why_len)
{
	char path[4200];
	sqlite3 *db = NULL;
	sqlite3_stmt *insert = NULL;
	tly_err rv = TLY_EIO;

	if (join(path, sizeof path, dir, "patients.db", why, why_len) != TLY_OK)
		return TLY_EINVAL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (sqlite3_exec(
	        db,
	        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;"
	        "CREATE TABLE patients (person_id TEXT PRIMARY KEY NOT NULL, age INTEGER, "
	        "age_band TEXT, sex TEXT, imd_decile INTEGER, ethnicity TEXT, has_diabetes INTEGER,"
	        " has_copd INTEGER, has_hypertension INTEGER, bmi INTEGER, specialty TEXT, "
	        "wait_weeks INTEGER, ae_attendances_12m INTEGER, opted_out INTEGER NOT NULL);",
	        NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "INSERT INTO patients VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1,
	                       &insert, NULL) != SQLITE_OK)
		goto fail;
	for (uint64_t i = 0; i < people; i++) {
		struct person p;
		char id[48];
		draw_person(g, &p, deprivation);
		tally_truth(truth, &p);
		snprintf(id, sizeof id, "S%03u-%08llu", site, (unsigned long long)i + 1);
		sqlite3_reset(insert);
		sqlite3_bind_text(insert, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(insert, 2, p.age);
		sqlite3_bind_text(insert, 3, age_band(p.age), -1, SQLITE_STATIC);
		sqlite3_bind_text(insert, 4, p.sex, -1, SQLITE_STATIC);
		sqlite3_bind_int(insert, 5, p.imd);
		sqlite3_bind_text(insert, 6, p.ethnicity, -1, SQLITE_STATIC);
		sqlite3_bind_int(insert, 7, p.diabetes);
		sqlite3_bind_int(insert, 8, p.copd);
		sqlite3_bind_int(insert, 9, p.hypertension);
		if (p.bmi > 0)
			sqlite3_bind_int(insert, 10, p.bmi);
		else
			sqlite3_bind_null(insert, 10);
		bind_optional_text(insert, 11, p.specialty);
		if (p.wait_weeks >= 0)
			sqlite3_bind_int(insert, 12, p.wait_weeks);
		else
			sqlite3_bind_null(insert, 12);
		sqlite3_bind_int(insert, 13, p.ae);
		sqlite3_bind_int(insert, 14, p.opted_out);
		if (sqlite3_step(insert) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(insert);
	insert = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	rv = TLY_OK;
fail:
	if (rv != TLY_OK)
		tly_say(why, why_len, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(insert);
	sqlite3_close(db);
	return rv;
}

/* ---- PostgreSQL (--postgres): one table per site, one transaction ---- */

/* The table as `tally-node import --postgres` would make it from the
 * dataset the node config declares: integer columns bigint, categorical
 * ones text. */
static const struct tly_pg_layout pg_layout = {
    .column_count = 14,
    .names = {"person_id", "age", "age_band", "sex", "imd_decile", "ethnicity", "has_diabetes",
              "has_copd", "has_hypertension", "bmi", "specialty", "wait_weeks",
              "ae_attendances_12m", "opted_out"},
    .types = {TLY_PG_TEXT, TLY_PG_BIGINT, TLY_PG_TEXT, TLY_PG_TEXT, TLY_PG_TEXT, TLY_PG_TEXT,
              TLY_PG_TEXT, TLY_PG_TEXT, TLY_PG_TEXT, TLY_PG_BIGINT, TLY_PG_TEXT, TLY_PG_BIGINT,
              TLY_PG_BIGINT, TLY_PG_FLAG},
};

/* A person's row as text, in pg_layout's order; NULL for SQL NULL. */
static void
person_text(const struct person *p, const char *id, char numbers[9][12], const char *values[14])
{
	const int ints[9] = {p->age, p->imd,        p->diabetes, p->copd,     p->hypertension,
	                     p->bmi, p->wait_weeks, p->ae,       p->opted_out};
	for (int i = 0; i < 9; i++)
		snprintf(numbers[i], sizeof numbers[i], "%d", ints[i]);
	const char *row[14] = {id,
	                       numbers[0],
	                       age_band(p->age),
	                       p->sex,
	                       numbers[1],
	                       p->ethnicity,
	                       numbers[2],
	                       numbers[3],
	                       numbers[4],
	                       p->bmi > 0 ? numbers[5] : NULL,
	                       p->specialty,
	                       p->wait_weeks >= 0 ? numbers[6] : NULL,
	                       numbers[7],
	                       numbers[8]};
	memcpy(values, row, sizeof row);
}

static tly_err
write_site_pg(struct tly_pg_load *load, unsigned site, uint64_t people, struct gen *g,
              double deprivation, struct truth *truth, char *why, size_t why_len)
{
	struct tly_pg_layout layout = pg_layout;
	char table[32], numbers[9][12], id[48];
	const char *values[14];
	uint64_t loaded;
	tly_err rv;

	snprintf(table, sizeof table, "site%u_patients", site);
	layout.table = table;
	if ((rv = tly_pg_load_table(load, &layout, 0, why, why_len)) != TLY_OK)
		return rv;
	for (uint64_t i = 0; i < people; i++) {
		struct person p;
		draw_person(g, &p, deprivation);
		tally_truth(truth, &p);
		snprintf(id, sizeof id, "S%03u-%08llu", site, (unsigned long long)i + 1);
		person_text(&p, id, numbers, values);
		if ((rv = tly_pg_load_row(load, values, why, why_len)) != TLY_OK)
			return rv;
	}
	return tly_pg_load_end(load, &loaded, why, why_len);
}

/* site-N/node.conf: the dataset is site-N/patients.db, or with --postgres
 * the table siteN_patients at the server (the keys of the PostgreSQL
 * source: source, conninfo, table). A conninfo with a password makes the
 * file private (0600). */
static tly_err
write_conf(const struct tly_synth_options *opt, const char *dir, unsigned site, char *why,
           size_t why_len)
{
	char conf[8192], source[TLY_PG_CONNINFO_MAX + 100], path[4300];
	tly_err rv;

	if (opt->postgres != NULL)
		snprintf(source, sizeof source,
		         "source = postgresql\nconninfo = %s\ntable = site%u_patients\n",
		         opt->postgres, site);
	else
		snprintf(source, sizeof source, "path = patients.db\ntable = patients\n");
	snprintf(conf, sizeof conf, node_conf_template, site, site,
	         opt->coordinator != NULL ? opt->coordinator : "tls+tcp://127.0.0.1:7400", site,
	         site, source);
	if ((rv = join(path, sizeof path, dir, "node.conf", why, why_len)) != TLY_OK)
		return rv;
	int secret = opt->postgres != NULL && tly_pg_conninfo_has_password(opt->postgres);
	return write_file_mode(path, conf, secret ? 0600 : 0644, why, why_len);
}

struct synth_run {
	const struct tly_synth_options *opt;
	struct gen g;
	struct truth truth;
	struct tly_pg_load *pg; /* with --postgres */
};

static tly_err
synth_site(struct synth_run *run, unsigned site, uint64_t people, char *why, size_t why_len)
{
	const struct tly_synth_options *opt = run->opt;
	double deprivation = 0.6 + 0.8 * uniform(&run->g); /* < 1: more deprived */
	char name[32], path[4200];
	tly_err rv;

	snprintf(name, sizeof name, "site-%u", site);
	if ((rv = join(path, sizeof path, opt->out_dir, name, why, why_len)) != TLY_OK ||
	    (rv = make_dir(path, why, why_len)) != TLY_OK)
		return rv;
	if (!opt->quiet)
		fprintf(stderr, "synth: site %u of %u: %llu people\n", site, opt->sites,
		        (unsigned long long)people);
	rv = run->pg != NULL
	         ? write_site_pg(run->pg, site, people, &run->g, deprivation, &run->truth, why,
	                         why_len)
	         : write_site(path, site, people, &run->g, deprivation, &run->truth, why, why_len);
	return rv == TLY_OK ? write_conf(opt, path, site, why, why_len) : rv;
}

/* Every site, sized by weights from 1 to 3 so that trusts differ. */
static tly_err
synth_sites(struct synth_run *run, char *why, size_t why_len)
{
	const struct tly_synth_options *opt = run->opt;
	double weights[1000], total = 0;
	uint64_t assigned = 0;
	tly_err rv = TLY_OK;

	for (unsigned s = 0; s < opt->sites; s++)
		total += weights[s] = 1.0 + 2.0 * uniform(&run->g);
	for (unsigned s = 0; s < opt->sites && rv == TLY_OK; s++) {
		uint64_t people = s + 1 == opt->sites
		                      ? opt->people - assigned
		                      : (uint64_t)((double)opt->people * weights[s] / total);
		if (people == 0)
			people = 1;
		if (assigned + people > opt->people)
			people = opt->people - assigned;
		assigned += people;
		rv = synth_site(run, s + 1, people, why, why_len);
	}
	if (rv == TLY_OK && run->pg != NULL)
		rv = tly_pg_load_commit(run->pg, why, why_len);
	return rv;
}

static tly_err
check_options(const struct tly_synth_options *opt, char *why, size_t why_len)
{
	char path[4200];
	struct stat sb;
	tly_err rv;

	if (opt->sites < 1 || opt->sites > 1000 || opt->people < opt->sites ||
	    opt->people > UINT64_C(100000000))
		return tly_fail(why, why_len, TLY_EINVAL,
		                "need 1 <= sites <= 1000 and sites <= people <= 10^8");
	if (opt->postgres != NULL && (strlen(opt->postgres) >= TLY_PG_CONNINFO_MAX ||
	                              strpbrk(opt->postgres, "\r\n") != NULL))
		return tly_fail(why, why_len, TLY_EINVAL,
		                "--postgres: a connection string on one line, under %d bytes",
		                TLY_PG_CONNINFO_MAX);
	if ((rv = join(path, sizeof path, opt->out_dir, "site-1", why, why_len)) != TLY_OK)
		return rv;
	if (stat(path, &sb) == 0)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "%s already exists: not overwriting a federation", path);
	return TLY_OK;
}

static tly_err
write_public(const char *out_dir, const struct truth *truth, char *why, size_t why_len)
{
	char path[4200], queries[4200];
	tly_err rv;

	if ((rv = join(path, sizeof path, out_dir, "catalogue.json", why, why_len)) != TLY_OK ||
	    (rv = write_file(path, catalogue_json, why, why_len)) != TLY_OK)
		return rv;
	if ((rv = join(queries, sizeof queries, out_dir, "queries", why, why_len)) != TLY_OK ||
	    (rv = make_dir(queries, why, why_len)) != TLY_OK)
		return rv;
	for (int q = 0; q < 3; q++) {
		if ((rv = join(path, sizeof path, queries, demo_queries[q][0], why, why_len)) !=
		        TLY_OK ||
		    (rv = write_file(path, demo_queries[q][1], why, why_len)) != TLY_OK)
			return rv;
	}
	return write_truth(out_dir, truth, why, why_len);
}

tly_err
tly_synth(const struct tly_synth_options *opt, char *why, size_t why_len)
{
	struct synth_run run = {.opt = opt};
	tly_err rv;

	if ((rv = check_options(opt, why, why_len)) != TLY_OK ||
	    (rv = make_dir(opt->out_dir, why, why_len)) != TLY_OK)
		return rv;
	if (opt->postgres != NULL &&
	    (rv = tly_pg_load_open(&run.pg, opt->postgres, why, why_len)) != TLY_OK)
		return rv;
	gen_seed(&run.g, opt->seed);
	rv = synth_sites(&run, why, why_len);
	tly_pg_load_free(run.pg); /* rolled back unless every site is in */
	return rv == TLY_OK ? write_public(opt->out_dir, &run.truth, why, why_len) : rv;
}
