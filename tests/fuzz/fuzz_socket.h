/*
 * fuzz_socket.h - the socket helpers the network fuzz targets share
 * (fuzz_http.c, fuzz_transport.c). Each target is built from its own .c
 * alone, so the helpers are static inline here rather than a module.
 */
#ifndef TLY_TESTS_FUZZ_SOCKET_H
#define TLY_TESTS_FUZZ_SOCKET_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connected stream socket; abort with errno if the server refuses.
 * Retries a connect that libFuzzer's -timeout alarm interrupted (EINTR). */
static inline int
connect_to(int family, const void *sa, socklen_t len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, sa, len) == 0)
			return fd;
		int err = errno;
		close(fd);
		if (err != EINTR) {
			fprintf(stderr, "connect: %s\n", strerror(err));
			abort(); /* the server no longer accepts */
		}
	}
	abort();
}

/* Milliseconds on the monotonic clock. */
static inline long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send all n bytes, resuming after signals; stops quietly when the peer
 * refuses or closes (a server may close mid-stream). */
static inline void
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

#endif
