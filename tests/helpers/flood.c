/*
 * flood - open N idle TCP connections to HOST:PORT and hold them (issue 12
 * §1: 21,000 plain TCP connections, no TLS, no certificate).
 *
 *   flood HOST PORT N
 *
 * Forks enough children that each stays well under its hard
 * RLIMIT_NOFILE (each raises its soft limit to the hard one). A child
 * connects in batches of non-blocking connects. A batch waits as long as
 * its connects keep completing: it gives up on the rest only after
 * STALL_MS with none completing (a SYN the kernel dropped is resent
 * after 1 s and 3 s, so a loaded machine gets past that), and a child
 * stops after STALLED_BATCHES batches in a row in which none completed,
 * so a server that stops accepting costs seconds, not a hang. Prints "connected C of N in S s" and
 * then "ready" on stdout, and holds every socket until SIGTERM or SIGINT; then prints how many the
 * server had closed meanwhile ("closed by server: K"). Exit 0, or 2 on bad arguments.
 *
 * To a loopback HOST it connects from 127.0.0.2 (IP_BIND_ADDRESS_NO_PORT,
 * so ports are shared by destination): its 20,000 local ports are then
 * bound to an address no daemon listens on, and a daemon of another test
 * on this machine that restarts on a loopback port, or takes the port
 * the kernel offered it a moment before, never finds that port taken by
 * the flood.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	BATCH = 512,
	STALL_MS = 10000,
	STALLED_BATCHES = 2,
	FDS_SPARE = 64,
	PER_CHILD_MAX = 10000,
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connect fds[0..n) (already non-blocking, connect started); keep the ones
 * that completed, close the rest. Returns how many were kept, compacted. */
static int
settle(struct pollfd *p, int n)
{
	double progress = now_s();
	int left = n, kept = 0;

	while (left > 0 && now_s() - progress < STALL_MS / 1000.0) {
		int rv = poll(p, (nfds_t)n, 100);
		if (rv < 0 && errno != EINTR)
			break;
		int was = left;
		left = 0;
		for (int i = 0; i < n; i++)
			left += p[i].fd >= 0 && p[i].events != 0 && p[i].revents == 0;
		for (int i = 0; i < n; i++)
			if (p[i].revents != 0)
				p[i].events = 0; /* done, one way or the other */
		if (left < was)
			progress = now_s();
	}
	for (int i = 0; i < n; i++) {
		int err = 0;
		socklen_t len = sizeof err;
		if (p[i].events == 0 &&
		    getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			p[kept++].fd = p[i].fd;
		else
			close(p[i].fd);
	}
	return kept;
}

/* A socket bound to from's address (port left to connect), or -1. */
static int
flood_socket(const struct sockaddr_in *from)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || from->sin_addr.s_addr == 0)
		return fd;
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
	    bind(fd, (const struct sockaddr *)from, sizeof *from) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
child(const struct sockaddr_in *to, const struct sockaddr_in *from, int n, int out)
{
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int held = 0, closed = 0, stalled = 0;

	if (p == NULL)
		return 1;
	for (int start = 0; start < n && !stop && stalled < STALLED_BATCHES; start += BATCH) {
		int batch = n - start < BATCH ? n - start : BATCH, made = 0;
		struct pollfd *b = p + held;
		for (int i = 0; i < batch; i++) {
			int fd = flood_socket(from);
			if (fd < 0)
				break;
			if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0 &&
			    errno != EINPROGRESS) {
				close(fd);
				continue;
			}
			b[made].fd = fd;
			b[made].events = POLLOUT;
			b[made++].revents = 0;
		}
		int kept = settle(b, made);
		stalled = kept == 0 ? stalled + 1 : 0;
		held += kept;
	}
	if (write(out, &held, sizeof held) != (ssize_t)sizeof held)
		return 1;
	while (!stop)
		pause();
	/* Which did the server close? POLLIN with nothing to read, or HUP. */
	for (int i = 0; i < held; i++) {
		char c;
		p[i].events = POLLIN;
		p[i].revents = 0;
		if (poll(&p[i], 1, 0) == 1 && recv(p[i].fd, &c, 1, MSG_DONTWAIT) <= 0)
			closed++;
	}
	if (write(out, &closed, sizeof closed) != (ssize_t)sizeof closed)
		return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	struct rlimit rl;
	int n, pipefd[2];

	if (argc != 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
	    (n = atoi(argv[3])) <= 0 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
		fprintf(stderr, "usage: flood HOST PORT N\n");
		return 2;
	}
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	struct sockaddr_in from = {.sin_family = AF_INET};
	if ((ntohl(to.sin_addr.s_addr) >> 24) == 127)
		from.sin_addr.s_addr =
		    htonl(to.sin_addr.s_addr == htonl(0x7f000002) ? 0x7f000003 : 0x7f000002);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	int per =
	    rl.rlim_cur > PER_CHILD_MAX + FDS_SPARE ? PER_CHILD_MAX : (int)rl.rlim_cur - FDS_SPARE;
	int children = (n + per - 1) / per;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (pipe(pipefd) != 0)
		return 1;
	pid_t pids[256];
	if (children > 256)
		children = 256;
	double start = now_s();
	for (int c = 0; c < children; c++) {
		int share = c == children - 1 ? n - per * (children - 1) : per;
		if ((pids[c] = fork()) == 0) {
			close(pipefd[0]);
			_exit(child(&to, &from, share, pipefd[1]));
		}
	}
	close(pipefd[1]);
	int total = 0, v;
	for (int c = 0; c < children; c++)
		if (read(pipefd[0], &v, sizeof v) == (ssize_t)sizeof v)
			total += v;
	printf("connected %d of %d in %.1f s (%d processes)\nready\n", total, n, now_s() - start,
	       children);
	fflush(stdout);
	while (!stop)
		pause();
	int closed = 0;
	for (int c = 0; c < children; c++)
		kill(pids[c], SIGTERM);
	for (int c = 0; c < children; c++)
		if (read(pipefd[0], &v, sizeof v) == (ssize_t)sizeof v)
			closed += v;
	for (int c = 0; c < children; c++)
		waitpid(pids[c], NULL, 0);
	printf("closed by server: %d of %d\n", closed, total);
	return 0;
}
