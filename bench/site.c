#include "bench/site.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/synth.h"
#include "crypto/rng.h"

const char *
bench_site_make(struct bench_site *s, const char *name, uint64_t people)
{
	static char why[512];
	char conf[4300];
	struct tly_field_error cerr;

	snprintf(s->dir, sizeof s->dir, "/tmp/tally-bench-%s-XXXXXX", name);
	if (tly_crypto_init() != TLY_OK || mkdtemp(s->dir) == NULL)
		return "init";
	struct tly_synth_options opt = {
	    .sites = 1, .people = people, .seed = 42, .out_dir = s->dir, .quiet = 1};
	if (tly_synth(&opt, why, sizeof why) != TLY_OK)
		return why;
	snprintf(conf, sizeof conf, "%s/site-1/node.conf", s->dir);
	snprintf(s->db, sizeof s->db, "%s/site-1/patients.db", s->dir);
	if (tly_node_config_load(&s->cfg, conf, &cerr) != TLY_OK) {
		snprintf(why, sizeof why, "%s", cerr.reason);
		return why;
	}
	if (tly_node_config_catalogue(&s->cfg, &s->cat) != TLY_OK)
		return "catalogue";
	return NULL;
}

void
bench_site_fini(struct bench_site *s)
{
	tly_catalogue_fini(&s->cat);
	tly_node_config_fini(&s->cfg);
}
