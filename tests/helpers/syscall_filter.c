/*
 * syscall_filter - run a program under a system call allow list, as
 * systemd's SystemCallFilter= with SystemCallErrorNumber=EPERM does:
 * every call not named in LIST fails with EPERM. tests/install.sh runs the
 * installed daemons under the lists of their units (from `systemd-analyze
 * syscall-filter`), because CI has no systemd to start the units with.
 *
 *   syscall_filter LIST PROGRAM [ARGS...]
 *
 * LIST holds system call names separated by white space; names this
 * architecture lacks are skipped. Exits 2 on bad usage, 1 when the filter
 * cannot be set or PROGRAM cannot be run (the reason on stderr).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Adds an ALLOW rule for every name in the file; returns how many. */
static int
allow_listed(scmp_filter_ctx ctx, FILE *list)
{
	char name[128];
	int allowed = 0;

	while (fscanf(list, "%127s", name) == 1) {
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
			allowed++;
	}
	return allowed;
}

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	FILE *list;
	int allowed;

	if (argc < 3) {
		fprintf(stderr, "usage: syscall_filter LIST PROGRAM [ARGS...]\n");
		return 2;
	}
	if ((list = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "syscall_filter: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		fclose(list);
		fprintf(stderr, "syscall_filter: seccomp_init failed\n");
		return 1;
	}
	allowed = allow_listed(ctx, list);
	fclose(list);
	if (allowed == 0 || seccomp_load(ctx) != 0) {
		seccomp_release(ctx);
		fprintf(stderr, "syscall_filter: %s: no filter loaded (%d calls)\n", argv[1],
		        allowed);
		return 1;
	}
	seccomp_release(ctx);
	execv(argv[2], argv + 2);
	fprintf(stderr, "syscall_filter: %s: %s\n", argv[2], strerror(errno));
	return 1;
}
