/* `tally demo --status` and `tally demo --restart NAME` (cli/demo_daemons.c)
 * on a served federation of real daemons: the state of each, a node killed
 * (status says so, exit 3), restarted with a new pid and answering again,
 * the coordinator restarted likewise, an unknown name refused naming the
 * valid ones, a reused pid not taken for the daemon, and --stop still
 * stopping everything. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/daemons.h"
#include "tests/demo.h"

static struct dmn_demo demo;

static void
setup(void)
{
	dmn_demo_init(&demo, "demo-daemons");
	dmn_demo_serve(&demo, 3, 3000, 1);
}

static void
teardown(void)
{
	dmn_demo_fini(&demo);
}

TestSuite(demo_daemons, .init = setup, .fini = teardown, .timeout = 600);

/* `tally demo ARGS --dir DIR` (two more words allowed): its exit code,
 * stdout and stderr in DIR/out.txt and DIR/err.txt. */
static int
demo_run(const char *a, const char *b)
{
	char out[300], err[300];
	dmn_demo_path(&demo, out, sizeof out, "out.txt");
	dmn_demo_path(&demo, err, sizeof err, "err.txt");
	remove(err);
	int rc = dmn_demo_run_split(
	    &demo, out, err, (const char *const[]){"tally", "demo", a, b, "--dir", demo.dir, NULL});
	if (rc != 0 && rc != 2 && rc != 3 && strcmp(a, b) != 0) {
		char log[300];
		snprintf(log, sizeof log, "%s/logs/%s.log", demo.dir, b);
		dmn_show_tail(err, 5);
		dmn_show_tail(log, 8);
	}
	return rc;
}

static int
status(void)
{
	return demo_run("--status", "--status");
}

/* The line of DIR/out.txt that starts with "NAME " holds state and pid. */
static void
expect_line(const char *name, const char *state, pid_t pid)
{
	char path[300], want[64];
	dmn_demo_path(&demo, path, sizeof path, "out.txt");
	char *text = dmn_slurp(path, NULL), *line = text;
	snprintf(want, sizeof want, "%-12s %-8s %-8ld ", name, state, (long)pid);
	while (line != NULL && strncmp(line, want, strlen(want)) != 0)
		line = (line = strchr(line, '\n')) != NULL ? line + 1 : NULL;
	cr_expect_not_null(line, "no line \"%s\" in:\n%s", want, text);
	free(text);
}

static void
ask(void)
{
	char conf[300];
	snprintf(conf, sizeof conf, "%s/planner.conf", demo.dir);
	cr_assert_eq(
	    dmn_demo_run(&demo, (const char *const[]){"tally", "query", "--config", conf, "--count",
	                                              "--by", "sex", "--epsilon", "0.1", NULL}),
	    0, "the query failed after the restart");
}

Test(demo_daemons, a_killed_node_is_down_then_restarted)
{
	cr_assert_eq(status(), 0);
	expect_line("coordinator", "running", dmn_pid_of(demo.dir, "coordinator"));
	pid_t old = dmn_pid_of(demo.dir, "node-2");
	expect_line("node-2", "running", old);
	char path[300];
	dmn_demo_path(&demo, path, sizeof path, "out.txt");
	cr_expect(dmn_file_has(path, "3 of 3 nodes connected"));

	cr_assert_eq(kill(old, SIGKILL), 0);
	dmn_wait_gone(old, 10000);
	cr_assert_eq(status(), 3, "status with node-2 down");
	expect_line("node-2", "down", old);
	expect_line("node-1", "running", dmn_pid_of(demo.dir, "node-1"));

	cr_assert_eq(demo_run("--restart", "node-2"), 0);
	cr_expect(dmn_file_has(path, "node-2 is up"));
	pid_t fresh = dmn_pid_of(demo.dir, "node-2");
	cr_assert(fresh > 0 && fresh != old, "pid %ld after restart, %ld before", (long)fresh,
	          (long)old);
	cr_assert_eq(status(), 0);
	expect_line("node-2", "running", fresh);
	ask();
}

Test(demo_daemons, the_coordinator_restarts_and_stop_stops_all)
{
	pid_t old = dmn_pid_of(demo.dir, "coordinator");
	cr_assert_eq(demo_run("--restart", "coordinator"), 0);
	pid_t fresh = dmn_pid_of(demo.dir, "coordinator");
	cr_assert(fresh > 0 && fresh != old);
	dmn_wait_gone(old, 10000);
	cr_assert_eq(status(), 0);
	expect_line("coordinator", "running", fresh);
	ask();

	/* A running node restarts too (stopped first, not doubled). */
	pid_t node = dmn_pid_of(demo.dir, "node-3");
	cr_assert_eq(demo_run("--restart", "node-3"), 0);
	dmn_wait_gone(node, 10000);
	cr_assert_neq(dmn_pid_of(demo.dir, "node-3"), node);
	ask();

	pid_t pids[4] = {fresh, dmn_pid_of(demo.dir, "node-1"), dmn_pid_of(demo.dir, "node-2"),
	                 dmn_pid_of(demo.dir, "node-3")};
	cr_assert_eq(demo_run("--stop", "--stop"), 0);
	for (int i = 0; i < 4; i++)
		dmn_wait_gone(pids[i], 15000);
	cr_assert_eq(status(), 3, "status after --stop");
}

Test(demo_daemons, unknown_names_and_reused_pids)
{
	char err[300];
	dmn_demo_path(&demo, err, sizeof err, "err.txt");
	static const char *const bad[] = {"node-9",  "node-0",  "node-01", "node- 1",
	                                  "node-+1", "node-1x", "coord",   "node-"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(demo_run("--restart", bad[i]), 2, "%s", bad[i]);
		char *said = dmn_slurp(err, NULL), want[200];
		snprintf(want, sizeof want,
		         "no daemon '%s' in %s; the daemons are coordinator, node-1, node-2, "
		         "node-3\n",
		         bad[i], demo.dir);
		cr_expect_not_null(strstr(said, want), "%s", said);
		free(said);
	}
	/* Nothing was stopped by the refusals. */
	cr_assert_eq(status(), 0);

	/* node-1 stopped, its pid file then naming a live process that is not
	 * it (a sleep): down, not running; the restart leaves the sleep alone. */
	dmn_demo_stop(&demo, "node-1", 10000);
	char sleep_log[300];
	dmn_demo_path(&demo, sleep_log, sizeof sleep_log, "sleep.log");
	pid_t other =
	    dmn_spawn("/bin/sleep", (const char *const[]){"sleep", "60", NULL}, sleep_log, 0);
	dmn_write_pid(demo.dir, "node-1", other);
	int rc = status();
	expect_line("node-1", "down", other);
	int restarted = demo_run("--restart", "node-1");
	int alive = kill(other, 0) == 0;
	kill(other, SIGKILL);
	dmn_wait(other);
	cr_assert_eq(rc, 3);
	cr_assert_eq(restarted, 0);
	cr_assert(alive, "the restart signalled a process that was not node-1");
	cr_assert_eq(status(), 0);
}
