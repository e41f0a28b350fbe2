/* `tally audit dp`: the draws, in worker threads, and the audit of their
 * counts (audit_dp.h). Reproducible whatever the thread count: the draws
 * are cut into blocks of TLY_AUDIT_DP_BLOCK, each on its own rng stream
 * (seed, mechanism, half, dataset, block), and only counts are kept. */
#include "audit_dp.h"
#include "audit_dp_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/field.h"
#include "crypto/rng_audit.h"

/* ---- a small open-addressing map: (a, b) -> 64-bit value ---- */

struct map {
	uint64_t *slots; /* 3 words a slot: a, b, value */
	uint8_t *used;
	size_t cap, len;
};

static void
map_fini(struct map *m)
{
	free(m->slots);
	free(m->used);
	memset(m, 0, sizeof *m);
}

static size_t
map_hash(uint64_t a, uint64_t b)
{
	uint64_t h = a * UINT64_C(0x9e3779b97f4a7c15) ^ (b + UINT64_C(0x632be59bd9b4e019));
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return (size_t)(h ^ (h >> 32));
}

static uint64_t *map_slot(struct map *m, uint64_t a, uint64_t b, int *fresh);

static int
map_grow(struct map *m)
{
	struct map bigger = {.cap = m->cap == 0 ? 256 : 2 * m->cap};
	int fresh;

	bigger.slots = calloc(bigger.cap, 3 * sizeof(uint64_t));
	bigger.used = calloc(bigger.cap, 1);
	if (bigger.slots == NULL || bigger.used == NULL) {
		map_fini(&bigger);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->used[i])
			*map_slot(&bigger, m->slots[3 * i], m->slots[3 * i + 1], &fresh) =
			    m->slots[3 * i + 2];
	map_fini(m);
	*m = bigger;
	return 0;
}

/* The value word of (a, b), a zero one inserted when new (*fresh = 1);
 * NULL when memory runs out. */
static uint64_t *
map_slot(struct map *m, uint64_t a, uint64_t b, int *fresh)
{
	size_t i;

	if (2 * (m->len + 1) > m->cap && map_grow(m) != 0)
		return NULL;
	for (i = map_hash(a, b) & (m->cap - 1); m->used[i]; i = (i + 1) & (m->cap - 1))
		if (m->slots[3 * i] == a && m->slots[3 * i + 1] == b) {
			*fresh = 0;
			return &m->slots[3 * i + 2];
		}
	m->used[i] = 1;
	m->slots[3 * i] = a;
	m->slots[3 * i + 1] = b;
	m->slots[3 * i + 2] = 0;
	m->len++;
	*fresh = 1;
	return &m->slots[3 * i + 2];
}

static uint64_t
double_bits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

static double
bits_double(uint64_t u)
{
	double x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* ---- the workers ---- */

struct job {
	const struct dp_world *w;
	uint64_t seed;
	int seeded;
	uint64_t mechanism;
	uint64_t n[2];      /* draws per dataset in each half */
	uint64_t blocks[2]; /* blocks per dataset in each half */
	uint64_t items;     /* 2 (blocks[0] + blocks[1]) */
	atomic_uint_fast64_t next, done;
	FILE *progress;
	const char *name;
	pthread_mutex_t lock;
	double started, last_note;
};

struct worker {
	struct job *job;
	struct map cache;        /* the release's value by the audited cells */
	struct map hist[2][2];   /* [half][dataset]: value bits -> draws */
	uint64_t extra[2][2][2]; /* [half][dataset][support event] */
	uint64_t *acc, *part;
	int64_t *noisy, *shared;
	struct tly_rng rng;
	tly_err rv;
	pthread_t thread;
};

static double
now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One honest trust's input: cells plus its share, in the field. */
static tly_err
honest_input(struct worker *wk, const int64_t *cells)
{
	const struct dp_world *w = wk->job->w;
	const struct tly_audit_dp_sampler *s = w->sampler;
	tly_err rv;

	if (s == NULL)
		return tly_noise_apply(&wk->rng, &w->drawn, cells, w->d, wk->part);
	if ((rv = s->draw(&wk->rng, &w->drawn, cells, w->d, wk->shared, s->arg)) != TLY_OK)
		return rv;
	return tly_field_vec_encode_signed(wk->part, wk->shared, w->d, NULL);
}

/* The release's value, computed once per distinct audited cells. */
static tly_err
released(struct worker *wk, double *value)
{
	const struct dp_world *w = wk->job->w;
	uint64_t a = (uint64_t)wk->noisy[w->key_first];
	uint64_t b = w->key_cells == 2 ? (uint64_t)wk->noisy[w->key_first + 1] : 0;
	int fresh;
	uint64_t *slot = map_slot(&wk->cache, a, b, &fresh);
	tly_err rv;

	if (slot == NULL)
		return TLY_ENOMEM;
	if (fresh) {
		if ((rv = dp_world_release(w, wk->noisy, value)) != TLY_OK)
			return rv;
		*slot = double_bits(*value);
	}
	*value = bits_double(*slot);
	return TLY_OK;
}

/* One output under dataset s: every trust's input summed in the field,
 * decoded, released. */
static tly_err
draw_one(struct worker *wk, int s, double *value)
{
	const struct dp_world *w = wk->job->w;
	tly_err rv;

	memset(wk->acc, 0, w->d * sizeof *wk->acc);
	for (uint32_t i = 0; i < w->nodes; i++) {
		const int64_t *cells = w->cells[i == 0 ? s : 0];
		if (i < w->honest_drawing)
			rv = honest_input(wk, cells);
		else
			rv = tly_field_vec_encode_signed(wk->part, cells, w->d, NULL);
		if (rv != TLY_OK)
			return rv;
		tly_field_vec_add(wk->acc, wk->part, w->d);
	}
	if ((rv = tly_field_vec_decode_signed(wk->noisy, wk->acc, w->d, NULL)) != TLY_OK)
		return rv;
	return released(wk, value);
}

/* Mironov's support events for an integer figure: the output is not D's
 * (event 0), not D''s (event 1) noise-free value plus a reachable noise. */
static void
support_events(struct worker *wk, int half, int s, double value)
{
	const struct dp_world *w = wk->job->w;
	const struct tly_audit_dp_sampler *sm = w->sampler;

	if (sm == NULL || sm->reachable == NULL || w->key_cells != 1 || !(value > 0))
		return;
	for (int e = 0; e < 2; e++)
		if (!sm->reachable(&w->drawn, llround(value) - w->truth_cell[e], sm->arg))
			wk->extra[half][s][e]++;
}

static void
note_progress(struct job *job, uint64_t draws)
{
	uint64_t done = atomic_fetch_add(&job->done, draws) + draws;
	uint64_t all = 2 * (job->n[0] + job->n[1]);
	double t = now_seconds();

	if (job->progress == NULL || t - job->last_note < 5)
		return;
	pthread_mutex_lock(&job->lock);
	if (t - job->last_note >= 5) {
		job->last_note = t;
		fprintf(job->progress, "tally audit dp: %s: %llu of %llu draws (%.0f%%), %.0f s\n",
		        job->name, (unsigned long long)done, (unsigned long long)all,
		        100.0 * (double)done / (double)all, t - job->started);
		fflush(job->progress);
	}
	pthread_mutex_unlock(&job->lock);
}

/* Work item j: its half, dataset and block. */
static tly_err
run_item(struct worker *wk, uint64_t j)
{
	struct job *job = wk->job;
	int half = j >= 2 * job->blocks[0];
	uint64_t k = half ? j - 2 * job->blocks[0] : j, block = k / 2;
	int s = (int)(k % 2);
	uint64_t first = block * TLY_AUDIT_DP_BLOCK, count = job->n[half] - first;
	tly_err rv = TLY_OK;

	count = count > TLY_AUDIT_DP_BLOCK ? TLY_AUDIT_DP_BLOCK : count;
	if (job->seeded)
		tly_rng_init_audit(&wk->rng, job->seed,
		                   job->mechanism << 48 | (uint64_t)half << 47 | (uint64_t)s << 46 |
		                       block);
	else
		tly_rng_init(&wk->rng);
	for (uint64_t i = 0; i < count && rv == TLY_OK; i++) {
		double value;
		int fresh;
		uint64_t *slot;
		if ((rv = draw_one(wk, s, &value)) != TLY_OK)
			break;
		if ((slot = map_slot(&wk->hist[half][s], double_bits(value), 0, &fresh)) == NULL)
			rv = TLY_ENOMEM;
		else
			++*slot;
		support_events(wk, half, s, value);
	}
	tly_rng_fini(&wk->rng);
	note_progress(job, count);
	return rv;
}

static void *
work(void *arg)
{
	struct worker *wk = arg;
	uint64_t j;

	while (wk->rv == TLY_OK && (j = atomic_fetch_add(&wk->job->next, 1)) < wk->job->items)
		wk->rv = run_item(wk, j);
	return NULL;
}

static tly_err
worker_init(struct worker *wk, struct job *job)
{
	size_t d = job->w->d;

	memset(wk, 0, sizeof *wk);
	wk->job = job;
	wk->acc = calloc(d, sizeof *wk->acc);
	wk->part = calloc(d, sizeof *wk->part);
	wk->noisy = calloc(d, sizeof *wk->noisy);
	wk->shared = calloc(d, sizeof *wk->shared);
	return wk->acc && wk->part && wk->noisy && wk->shared ? TLY_OK : TLY_ENOMEM;
}

static void
worker_fini(struct worker *wk)
{
	map_fini(&wk->cache);
	for (int h = 0; h < 2; h++)
		for (int s = 0; s < 2; s++)
			map_fini(&wk->hist[h][s]);
	free(wk->acc);
	free(wk->part);
	free(wk->noisy);
	free(wk->shared);
}

/* ---- the counts of all workers, as query/dpaudit.h reads them ---- */

struct entry {
	double value;
	int half, set;
	uint64_t draws;
};

static int
by_value(const void *x, const void *y)
{
	double a = ((const struct entry *)x)->value, b = ((const struct entry *)y)->value;
	return (a > b) - (a < b);
}

struct counts {
	double *values;
	uint64_t *count[2][2];
	size_t m;
};

static void
counts_fini(struct counts *c)
{
	free(c->values);
	for (int h = 0; h < 2; h++)
		for (int s = 0; s < 2; s++)
			free(c->count[h][s]);
}

/* Every (value, half, dataset, draws) the workers hold, sorted by value. */
static struct entry *
gather(const struct worker *wks, unsigned threads, size_t *len)
{
	size_t total = 0, k = 0;
	struct entry *all;

	for (unsigned t = 0; t < threads; t++)
		for (int h = 0; h < 2; h++)
			for (int s = 0; s < 2; s++)
				total += wks[t].hist[h][s].len;
	if ((all = calloc(total + 1, sizeof *all)) == NULL)
		return NULL;
	for (unsigned t = 0; t < threads; t++)
		for (int h = 0; h < 2; h++)
			for (int s = 0; s < 2; s++) {
				const struct map *mp = &wks[t].hist[h][s];
				for (size_t i = 0; i < mp->cap; i++)
					if (mp->used[i])
						all[k++] =
						    (struct entry){bits_double(mp->slots[3 * i]), h,
						                   s, mp->slots[3 * i + 2]};
			}
	qsort(all, total, sizeof *all, by_value);
	*len = total;
	return all;
}

static tly_err
merge(const struct worker *wks, unsigned threads, const struct job *job, struct counts *c,
      struct tly_dpaudit_draws *draws)
{
	size_t len, m = 0;
	struct entry *all = gather(wks, threads, &len);
	int ok = all != NULL && (c->values = calloc(len + 1, sizeof *c->values)) != NULL;

	for (int h = 0; ok && h < 2; h++)
		for (int s = 0; ok && s < 2; s++)
			ok = (c->count[h][s] = calloc(len + 1, sizeof(uint64_t))) != NULL;
	for (size_t i = 0; ok && i < len; i++) {
		if (m == 0 || all[i].value != c->values[m - 1])
			c->values[m++] = all[i].value;
		c->count[all[i].half][all[i].set][m - 1] += all[i].draws;
	}
	free(all);
	if (!ok)
		return TLY_ENOMEM;
	c->m = m;
	memset(draws, 0, sizeof *draws);
	draws->value_count = m;
	draws->values = c->values;
	for (int h = 0; h < 2; h++) {
		draws->n[h] = job->n[h];
		for (int s = 0; s < 2; s++)
			draws->count[h][s] = c->count[h][s];
	}
	if (job->w->sampler != NULL && job->w->sampler->reachable != NULL)
		draws->extra_count = 2;
	for (unsigned t = 0; t < threads; t++)
		for (int e = 0; e < 2; e++)
			for (int h = 0; h < 2; h++)
				for (int s = 0; s < 2; s++)
					draws->extra[e][h][s] += wks[t].extra[h][s][e];
	return TLY_OK;
}

/* ---- one audit ---- */

static tly_err
run_workers(struct job *job, unsigned threads, struct worker *wks)
{
	tly_err rv = TLY_OK;
	unsigned started = 0;

	for (unsigned t = 0; t < threads; t++)
		if ((rv = worker_init(&wks[t], job)) != TLY_OK)
			return rv;
	for (; started < threads; started++)
		if (pthread_create(&wks[started].thread, NULL, work, &wks[started]) != 0) {
			rv = TLY_ENOMEM;
			atomic_store(&job->next, job->items);
			break;
		}
	for (unsigned t = 0; t < started; t++) {
		pthread_join(wks[t].thread, NULL);
		if (rv == TLY_OK)
			rv = wks[t].rv;
	}
	return rv;
}

static void
job_init(struct job *job, const struct dp_world *w, const struct tly_audit_dp_options *o, size_t m)
{
	memset(job, 0, sizeof *job);
	job->w = w;
	job->seed = o->seed;
	job->seeded = o->seeded;
	job->mechanism = m;
	job->n[0] = o->draws / 2;
	job->n[1] = o->draws - o->draws / 2;
	for (int h = 0; h < 2; h++)
		job->blocks[h] = (job->n[h] + TLY_AUDIT_DP_BLOCK - 1) / TLY_AUDIT_DP_BLOCK;
	job->items = 2 * (job->blocks[0] + job->blocks[1]);
	atomic_init(&job->next, 0);
	atomic_init(&job->done, 0);
	job->progress = o->progress;
	job->name = tly_audit_dp_mechanisms[m];
	pthread_mutex_init(&job->lock, NULL);
	job->started = job->last_note = now_seconds();
}

/* Choose on the first half, evaluate on the second at both levels. */
static tly_err
judge(const struct tly_dpaudit_draws *draws, const struct tly_audit_dp_options *o,
      struct tly_audit_dp_result *out)
{
	double level = (1 + o->confidence) / 2, delta = out->skellam ? out->delta : 0;
	tly_err rv = tly_dpaudit_choose(draws, delta, level, &out->event);

	if (rv == TLY_OK)
		rv = tly_dpaudit_evaluate(draws, &out->event, delta, level, &out->finding);
	if (rv == TLY_OK)
		rv = tly_dpaudit_evaluate(draws, &out->event, delta, TLY_AUDIT_DP_LEVEL_4SIGMA,
		                          &out->finding_4sigma);
	out->flagged = out->finding.epsilon_lb > out->epsilon_claimed;
	return rv;
}

static tly_err
audit(const struct dp_world *w, const struct tly_audit_dp_options *o, size_t m,
      struct tly_audit_dp_result *out, char *why, size_t why_len)
{
	struct worker *wks = calloc(o->threads, sizeof *wks);
	struct tly_dpaudit_draws draws;
	struct counts counts = {0};
	struct job job;
	tly_err rv;

	if (wks == NULL)
		return tly_fail(why, why_len, TLY_ENOMEM, "out of memory");
	job_init(&job, w, o, m);
	rv = run_workers(&job, o->threads, wks);
	out->seconds = now_seconds() - job.started;
	if (rv != TLY_OK)
		tly_say(why, why_len, "%s: a draw failed: %s", job.name, tly_strerror(rv));
	else if ((rv = merge(wks, o->threads, &job, &counts, &draws)) != TLY_OK ||
	         (rv = judge(&draws, o, out)) != TLY_OK)
		tly_say(why, why_len, "%s: cannot count the draws: %s", job.name, tly_strerror(rv));
	for (unsigned t = 0; t < o->threads; t++)
		worker_fini(&wks[t]);
	free(wks);
	counts_fini(&counts);
	pthread_mutex_destroy(&job.lock);
	return rv;
}

tly_err
tly_audit_dp_run(const struct tly_audit_dp_options *o, const char *mechanism,
                 struct tly_audit_dp_result *out, char *why, size_t why_len)
{
	struct dp_world w;
	size_t m = 0;
	tly_err rv;

	while (m < TLY_AUDIT_DP_MECHANISMS && strcmp(tly_audit_dp_mechanisms[m], mechanism) != 0)
		m++;
	if (m == TLY_AUDIT_DP_MECHANISMS)
		return tly_fail(why, why_len, TLY_EINVAL,
		                "--mechanism: unknown mechanism \"%.40s\"", mechanism);
	memset(out, 0, sizeof *out);
	snprintf(out->mechanism, sizeof out->mechanism, "%s", mechanism);
	out->draws = o->draws;
	if ((rv = dp_world_init(&w, m, o, out, why, why_len)) == TLY_OK)
		rv = audit(&w, o, m, out, why, why_len);
	dp_world_fini(&w);
	return rv;
}

void
tly_audit_dp_defaults(struct tly_audit_dp_options *o)
{
	memset(o, 0, sizeof *o);
	o->draws = TLY_AUDIT_DP_DEFAULT_DRAWS;
	snprintf(o->epsilon, sizeof o->epsilon, "1");
	snprintf(o->rho, sizeof o->rho, "0.1");
	snprintf(o->column, sizeof o->column, "visits");
	o->delta = TLY_AUDIT_DP_DEFAULT_DELTA;
	o->confidence = TLY_AUDIT_DP_DEFAULT_CONFIDENCE;
	o->seed = TLY_AUDIT_DP_DEFAULT_SEED;
	o->seeded = 1;
	o->threads = 2;
	o->nodes = 3;
	o->honest = 2;
}
