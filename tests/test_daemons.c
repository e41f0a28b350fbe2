/*
 * The multi-process scaffolding (tests/daemons.h) on small programs of the
 * system (/bin/sh): exit codes and signals, the capped waits, stopping a
 * process that is not our child, and the file helpers the suites read
 * daemon logs and edit configs with.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemons.h"

static char dir[] = "/tmp/tally-daemons-XXXXXX";

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

TestSuite(daemons, .init = setup, .fini = teardown, .timeout = 60);

/* sh -c script, its output in DIR/out.txt. */
static pid_t
sh(const char *script)
{
	char log[100];
	snprintf(log, sizeof log, "%s/out.txt", dir);
	return dmn_spawn("/bin/sh", (const char *const[]){"sh", "-c", script, NULL}, log, 0);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(daemons, exit_codes_and_signals)
{
	cr_assert_eq(dmn_wait(sh("exit 3")), 3);
	cr_assert_eq(dmn_wait(sh("kill -TERM $$")), 128 + SIGTERM);
	cr_assert_eq(dmn_wait_capped(sh("exit 0"), 10000), 0);
}

Test(daemons, a_capped_wait_gives_up_and_the_other_kills)
{
	pid_t pid = sh("sleep 30");
	long start = dmn_now_ms();
	cr_assert_eq(dmn_wait_capped(pid, 200), -1);
	cr_assert_eq(kill(pid, 0), 0, "left running");
	cr_assert_eq(dmn_wait_or_kill(pid, 200), -1);
	cr_assert_neq(kill(pid, 0), 0, "killed and reaped");
	cr_assert_lt(dmn_now_ms() - start, 10000);
}

Test(daemons, stop_waits_for_the_process_to_go)
{
	char pidfile[100], script[200];
	snprintf(pidfile, sizeof pidfile, "%s/grandchild", dir);
	/* A grandchild: not ours to wait for, as a demo daemon. */
	snprintf(script, sizeof script, "sleep 30 & echo $! > %s", pidfile);
	cr_assert_eq(dmn_wait(sh(script)), 0);
	char *text = dmn_slurp(pidfile, NULL);
	pid_t pid = (pid_t)atol(text);
	free(text);
	cr_assert_gt(pid, 0);
	snprintf(script, sizeof script, "%s/run", dir);
	cr_assert_eq(mkdir(script, 0700), 0);
	dmn_write_pid(dir, "sleeper", pid);
	cr_assert_eq(dmn_pid_of(dir, "sleeper"), pid);
	dmn_stop(pid, 10000);
	cr_assert_neq(kill(pid, 0), 0);
}

Test(daemons, file_helpers)
{
	char path[100], missing[100];
	snprintf(path, sizeof path, "%s/node.conf", dir);
	snprintf(missing, sizeof missing, "%s/nothing.log", dir);
	write_text(path, "a = 1\ndeadline_ms = 10000\nconnected from x\nconnected from y\n");
	cr_assert(dmn_file_has(path, "deadline_ms = 10000"));
	cr_assert_not(dmn_file_has(missing, "anything"));
	cr_assert_eq(dmn_count_in(path, "connected from"), 2);
	cr_assert_eq(dmn_count_in(missing, "connected from"), 0);
	cr_assert_eq(dmn_wait_count(path, "connected from", 2, 10000), 2);
	long start = dmn_now_ms();
	cr_assert_eq(dmn_wait_count(path, "connected from", 3, 100), 2, "gives up with the count");
	cr_assert_geq(dmn_now_ms() - start, 100);
	dmn_wait_for_line(path, "a = 1", 1000);
	dmn_edit_file(path, "deadline_ms = 10000", "deadline_ms = 3000");
	char *text = dmn_slurp(path, NULL);
	cr_assert_str_eq(text, "a = 1\ndeadline_ms = 3000\nconnected from x\nconnected from y\n");
	free(text);
}

Test(daemons, a_listener_that_never_answers)
{
	int port = 0;
	int fd = dmn_listen_loopback(8, &port);
	cr_assert_gt(port, 0);
	close(fd);
}

Test(daemons, proc_status)
{
	cr_assert_gt(dmn_proc_kb(getpid(), "VmRSS"), 0);
	cr_assert_eq(dmn_proc_kb(getpid(), "NoSuchKey"), -1);
}
