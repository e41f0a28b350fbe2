/*
 * Pairwise masking served end to end: a coordinator and five tally-node
 * daemons over mutual TLS (`tally demo --serve --protocol P`), asked with
 * `tally query`, for SecAgg (complete graph) and SecAgg+ (the graph of
 * protocol/graph.h; at five trusts it is complete too, with its own
 * threshold rule).
 *
 *   - A round trip: released by all five, the total near the synthetic
 *     truth (a mask that did not cancel would be off by ~2^60), the log
 *     entry's protocol the one asked for, every ledger charged once with a
 *     receipt in the log, `tally audit verify` passing.
 *   - A node dying at each round (TALLY_TEST_DIE_ON, node/daemon.c: SIGKILL
 *     when that message arrives): on the QUERY (never charged), on
 *     KEY_LIST, on SHARE_SET (its keys and shares out, no masked input:
 *     its pairwise masks are removed from the others' inputs), on
 *     SURVIVORS and on SIGNATURE_LIST (its masked input is in: its self-
 *     mask is rebuilt from its neighbours' shares). The first three leave
 *     four contributors, the last two five; the audit passes every time,
 *     so a node that was charged and dropped has its receipt in the log.
 *   - Two nodes dying after sharing their keys leave three survivors with
 *     two neighbours each, fewer than t = 3: their masks could never be
 *     removed, the coordinator aborts before SURVIVORS, the query fails
 *     with exit 4, nothing is released and no node reveals a share.
 *
 * The round deadline is cut to DEADLINE_MS (from the demo's 10 s) so that
 * each dropped round costs less; a round here takes tens of ms of work.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/daemons.h"
#include "tests/demo.h"
#include "wire/messages.h"

enum { SITES = 5, PEOPLE = 20000, DEADLINE_MS = 5000, GONE_CAP_MS = 30000 };

static struct dmn_demo demo;
/* Nodes this test started again (its children, which must be reaped), by
 * number; 0 while the demo's own process runs. */
static pid_t child[SITES + 1];

static void
restart_coordinator(void)
{
	char conf[300], log[300];

	dmn_demo_conf(&demo, "coordinator", conf, sizeof conf);
	dmn_edit_file(conf, "deadline_ms = 10000", "deadline_ms = 5000");
	dmn_demo_path(&demo, log, sizeof log, "logs/coordinator.log");
	dmn_demo_stop(&demo, "coordinator", GONE_CAP_MS);
	(void)dmn_demo_start(&demo, "coordinator", log, 1);
	dmn_demo_wait_connected(&demo, SITES, 2000, 600);
}

static void
serve(const char *protocol)
{
	dmn_demo_init(&demo, "mask");
	dmn_demo_serve_protocol(&demo, SITES, PEOPLE, 7, protocol);
	restart_coordinator();
}

static void
setup_secagg(void)
{
	serve("secagg");
}

static void
setup_secagg_plus(void)
{
	serve("secagg+");
}

static void
teardown(void)
{
	for (int n = 1; n <= SITES; n++)
		if (child[n] > 0) {
			(void)kill(child[n], SIGTERM);
			(void)dmn_wait_or_kill(child[n], GONE_CAP_MS);
			child[n] = 0;
		}
	dmn_demo_fini(&demo);
}

TestSuite(secagg_daemons, .init = setup_secagg, .fini = teardown, .timeout = 400);
TestSuite(secagg_plus_daemons, .init = setup_secagg_plus, .fini = teardown, .timeout = 400);

/* tally query of the demo's diabetes count by age band and sex, as JSON;
 * *code is its exit code. NULL when it wrote no JSON. */
static json_t *
ask(int *code)
{
	char conf[300], out[300], spec[300];
	json_error_t err;

	dmn_demo_path(&demo, conf, sizeof conf, "planner.conf");
	dmn_demo_path(&demo, out, sizeof out, "answer.json");
	dmn_demo_path(&demo, spec, sizeof spec, "queries/diabetes_by_age_sex.json");
	*code = dmn_demo_run_to(&demo, out,
	                        (const char *const[]){"tally", "query", "--config", conf, "--spec",
	                                              spec, "--format", "json", NULL});
	return json_load_file(out, 0, &err);
}

/* People with diabetes over every site's file (opted out left out). */
static long
truth(void)
{
	long total = 0;

	for (int s = 1; s <= SITES; s++) {
		char cmd[400];
		long count = 0;
		snprintf(cmd, sizeof cmd,
		         "sqlite3 %s/site-%d/patients.db \"SELECT COUNT(*) FROM patients WHERE "
		         "opted_out = 0 AND has_diabetes = 1\"",
		         demo.dir, s);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		cr_assert_eq(fscanf(p, "%ld", &count), 1);
		pclose(p);
		total += count;
	}
	return total;
}

/* The released total is the truth plus the noise of ten cells: within 100
 * per-cell 95% half-widths of it (over 30 standard deviations of the sum),
 * while masks that did not cancel leave it off by about 2^60. */
static void
check_total(json_t *result)
{
	json_t *cells = json_object_get(result, "cells"), *cell;
	long half = (long)json_integer_value(
	    json_object_get(json_object_get(result, "privacy"), "ci95_half_width"));
	long total = 0, want = truth();
	size_t i;

	cr_assert_eq(json_array_size(cells), 10);
	cr_assert_gt(half, 0);
	json_array_foreach(cells, i, cell)
	{
		total += (long)json_integer_value(json_object_get(cell, "value"));
	}
	cr_assert(labs(total - want) <= 100 * half,
	          "released total %ld, truth %ld, half-width %ld per cell", total, want, half);
}

static int
audit_ok(void)
{
	return dmn_demo_run(&demo, (const char *const[]){"tally", "audit", "verify", "--dir",
	                                                 demo.dir, NULL}) == 0;
}

static void
round_trip(const char *protocol)
{
	char log[300], line[200];
	int code;
	json_t *result = ask(&code);

	cr_assert_eq(code, 0);
	cr_assert_not_null(result);
	cr_assert_eq(json_integer_value(json_object_get(result, "contributors")), SITES);
	check_total(result);
	json_decref(result);
	dmn_demo_path(&demo, log, sizeof log, "logs/coordinator.log");
	snprintf(line, sizeof line, "pairwise masking (%s:", protocol);
	cr_assert(dmn_file_has(log, line), "the coordinator ran %s", protocol);
	for (int s = 1; s <= SITES; s++) {
		char name[32];
		snprintf(name, sizeof name, "logs/node-%d.log", s);
		dmn_demo_path(&demo, log, sizeof log, name);
		cr_assert(dmn_file_has(log, "masking: unmasking shares sent; done"), "node %d", s);
	}
	cr_assert(audit_ok(), "audit after a masked query");
}

Test(secagg_daemons, round_trip_releases_and_logs_verify)
{
	round_trip("secagg");
}

Test(secagg_plus_daemons, round_trip_releases_and_logs_verify)
{
	round_trip("secagg+");
}

static void
stop_node(int node)
{
	char name[32];

	snprintf(name, sizeof name, "node-%d", node);
	if (child[node] <= 0) {
		dmn_demo_stop(&demo, name, GONE_CAP_MS);
		return;
	}
	cr_assert_eq(kill(child[node], SIGTERM), 0);
	cr_assert_neq(dmn_wait_capped(child[node], GONE_CAP_MS), -1, "%s did not stop", name);
	child[node] = 0;
}

/* Start node-N again, its TALLY_TEST_DIE_ON set to die_on ("": unset),
 * and wait until want nodes are connected. */
static void
start_node(int node, const char *die_on, int want)
{
	char name[32], log[300];

	snprintf(name, sizeof name, "node-%d", node);
	snprintf(log, sizeof log, "%s/logs/%s.log", demo.dir, name);
	if (die_on[0] != '\0')
		cr_assert_eq(setenv("TALLY_TEST_DIE_ON", die_on, 1), 0);
	child[node] = dmn_demo_start(&demo, name, log, 1);
	cr_assert_eq(unsetenv("TALLY_TEST_DIE_ON"), 0);
	dmn_demo_wait_connected(&demo, want, 2000, 600);
}

/* Restart node-N so that it kills itself when a message of this type
 * arrives, and wait until all five are connected. */
static void
arm(int node, int type)
{
	char value[16];

	snprintf(value, sizeof value, "%d", type);
	stop_node(node);
	start_node(node, value, SITES);
}

/* The armed node died of its knob: reaped. */
static void
reap(int node)
{
	int status = dmn_wait_capped(child[node], GONE_CAP_MS);

	cr_assert_eq(status, 128 + SIGKILL, "node %d died of its knob (status %d)", node, status);
	child[node] = 0;
}

/* The armed node reaped and started again unarmed. */
static void
disarm(int node)
{
	reap(node);
	start_node(node, "", SITES);
}

static void
each_round_dropout(void)
{
	static const struct {
		int type, contributors;
	} rounds[] = {
	    {TLY_MSG_QUERY, SITES - 1},      {TLY_MSG_KEY_LIST, SITES - 1},
	    {TLY_MSG_SHARE_SET, SITES - 1},  {TLY_MSG_SURVIVORS, SITES},
	    {TLY_MSG_SIGNATURE_LIST, SITES},
	};

	for (size_t i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
		int code;
		arm(5, rounds[i].type);
		json_t *result = ask(&code);
		cr_assert_eq(code, 0, "node 5 dying on message type %d", rounds[i].type);
		cr_assert_eq(json_integer_value(json_object_get(result, "contributors")),
		             rounds[i].contributors, "node 5 dying on message type %d",
		             rounds[i].type);
		check_total(result);
		json_decref(result);
		disarm(5);
		cr_assert(audit_ok(), "audit after node 5 died on message type %d", rounds[i].type);
	}
}

Test(secagg_daemons, a_node_dying_at_each_round_is_survived)
{
	each_round_dropout();
}

Test(secagg_plus_daemons, a_node_dying_at_each_round_is_survived)
{
	each_round_dropout();
}

Test(secagg_plus_daemons, too_few_survivors_release_nothing_and_reveal_no_share)
{
	int code;
	char log[300];

	arm(4, TLY_MSG_SHARE_SET);
	arm(5, TLY_MSG_SHARE_SET);
	json_t *result = ask(&code);
	cr_assert_eq(code, 4, "three survivors of five: each has 2 < t = 3 neighbours left");
	json_decref(result);
	for (int s = 1; s <= 3; s++) {
		char name[32];
		snprintf(name, sizeof name, "logs/node-%d.log", s);
		dmn_demo_path(&demo, log, sizeof log, name);
		cr_assert(!dmn_file_has(log, "masking: unmasking shares sent"),
		          "node %d revealed no share", s);
	}
	dmn_demo_path(&demo, log, sizeof log, "logs/coordinator.log");
	cr_assert(dmn_file_has(log, "too few contributors answered a round of masking"));
	reap(4);
	reap(5);
	start_node(4, "", SITES - 1);
	start_node(5, "", SITES);
	cr_assert(audit_ok(), "audit after an aborted masked query");
}
