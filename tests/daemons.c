/* The scaffolding of the multi-process tests (daemons.h). */
#include "daemons.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long
dmn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
dmn_pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

pid_t
dmn_spawn(const char *program, const char *const argv[], const char *log, int append)
{
	posix_spawn_file_actions_t actions;
	pid_t pid;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, log,
	                                 O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
	posix_spawn_file_actions_adddup2(&actions, 1, 2);
	cr_assert_eq(posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ), 0,
	             "cannot run %s", program);
	posix_spawn_file_actions_destroy(&actions);
	return pid;
}

pid_t
dmn_pid_of(const char *dir, const char *name)
{
	char path[600];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof path, "%s/run/%s.pid", dir, name);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return (pid_t)pid;
}

int
dmn_planner_api(const char *dir, char *api, size_t len)
{
	char path[600], line[300], value[300];
	int found = 0;
	FILE *f;

	if (len > 0)
		api[0] = '\0';
	snprintf(path, sizeof path, "%s/planner.conf", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = sscanf(line, "api = %299s", value) == 1;
	fclose(f);
	if (!found || strlen(value) >= len)
		return 0;
	memcpy(api, value, strlen(value) + 1);
	return 1;
}

/* Read f to its end into a malloc'd, NUL-terminated string. */
static char *
read_all(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	while ((got = fread(text + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			text = realloc(text, cap *= 2);
			cr_assert_not_null(text);
		}
	}
	text[n] = '\0';
	if (len != NULL)
		*len = n;
	return text;
}

char *
dmn_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text;

	cr_assert_not_null(f, "cannot read %s", path);
	text = read_all(f, len);
	fclose(f);
	return text;
}

char *
dmn_slurp_or_empty(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text;

	if (f == NULL) {
		text = calloc(1, 1);
		cr_assert_not_null(text);
		if (len != NULL)
			*len = 0;
		return text;
	}
	text = read_all(f, len);
	fclose(f);
	return text;
}

double
dmn_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t
dmn_spawn_split(const char *program, const char *const argv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t actions;
	pid_t pid;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, out != NULL ? out : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, err != NULL ? err : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_APPEND, 0600);
	cr_assert_eq(posix_spawn(&pid, program, &actions, NULL, (char *const *)argv, environ), 0,
	             "cannot run %s", program);
	posix_spawn_file_actions_destroy(&actions);
	return pid;
}

static int
exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
dmn_wait(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return exit_code(status);
}

int
dmn_wait_capped(pid_t pid, long cap_ms)
{
	long until = dmn_now_ms() + cap_ms;
	int status;

	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		cr_assert_neq(got, -1, "waitpid: %s", strerror(errno));
		if (got == pid)
			return exit_code(status);
		if (dmn_now_ms() > until)
			return -1;
		dmn_pause_ms(5);
	}
}

int
dmn_wait_or_kill(pid_t pid, long cap_ms)
{
	int code = dmn_wait_capped(pid, cap_ms);

	if (code == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return code;
}

void
dmn_wait_gone(pid_t pid, long cap_ms)
{
	long until = dmn_now_ms() + cap_ms;

	while (kill(pid, 0) == 0 && dmn_now_ms() < until)
		dmn_pause_ms(10);
	cr_assert_neq(kill(pid, 0), 0, "process %ld did not stop", (long)pid);
}

void
dmn_stop(pid_t pid, long cap_ms)
{
	cr_assert_gt(pid, 0);
	cr_assert_eq(kill(pid, SIGTERM), 0, "no process %ld to stop", (long)pid);
	dmn_wait_gone(pid, cap_ms);
}

void
dmn_write_pid(const char *dir, const char *name, pid_t pid)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/run/%s.pid", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
}

int
dmn_file_has(const char *path, const char *needle)
{
	char *text = dmn_slurp_or_empty(path, NULL);
	int found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

int
dmn_count_in(const char *path, const char *needle)
{
	char *text = dmn_slurp_or_empty(path, NULL);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

void
dmn_wait_for_line(const char *path, const char *needle, long cap_ms)
{
	long until = dmn_now_ms() + cap_ms;

	while (!dmn_file_has(path, needle) && dmn_now_ms() < until)
		dmn_pause_ms(20);
	cr_assert(dmn_file_has(path, needle), "no \"%s\" in %s", needle, path);
}

int
dmn_wait_count(const char *path, const char *needle, int n, long cap_ms)
{
	long until = dmn_now_ms() + cap_ms;
	int count;

	while ((count = dmn_count_in(path, needle)) < n && dmn_now_ms() < until)
		dmn_pause_ms(10);
	return count;
}

void
dmn_edit_file(const char *path, const char *from, const char *to)
{
	size_t len = 0;
	char *text = dmn_slurp(path, &len);
	char *at = strstr(text, from);
	FILE *f;

	cr_assert_not_null(at, "%s: no \"%s\"", path, from);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	cr_assert_eq(fclose(f), 0);
	free(text);
}

void
dmn_show_tail(const char *path, int lines)
{
	char cmd[700];

	snprintf(cmd, sizeof cmd, "tail -n %d %s >&2", lines, path);
	if (system(cmd) != 0)
		cr_log_warn("cannot show %s", path);
}

long
dmn_proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t key_len = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ':')
			kb = atol(line + key_len + 1);
	fclose(f);
	return kb;
}

void
dmn_helper(char *out, size_t len, const char *name)
{
	char exe[1024];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	cr_assert(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(out, len, "%s/helpers/%s", exe, name);
	cr_assert_eq(access(out, X_OK), 0, "%s not built (make builds tests/helpers/)", out);
}

int
dmn_listen_loopback(int backlog, int *port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	*port = ntohs(addr.sin_port);
	return fd;
}
