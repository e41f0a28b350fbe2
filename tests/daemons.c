/* The scaffolding of the multi-process tests (daemons.h). */
#include "daemons.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
