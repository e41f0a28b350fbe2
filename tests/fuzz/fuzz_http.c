/*
 * Fuzz the planner API's HTTP layer (net/transport_http.c). tally has
 * no HTTP parser of its own: nng 1.5 parses requests (server) and
 * responses (client), and tally screens what nng hands it. So both sides
 * run for real, over loopback http:// (no TLS per input), with the input
 * as the raw bytes on the wire. The first input byte picks:
 *
 *   even: a request to a real tly_http server. Whatever reaches the
 *         application must be within the screen's contract (GET or POST,
 *         path under TLY_HTTP_PATH_MAX, body at most TLY_HTTP_BODY_MAX and
 *         NUL-terminated); each is answered, what comes back is an HTTP
 *         response, and the server closes within 5 s (else a hang).
 *   odd:  a response, from a raw socket, to tly_https_request: it returns
 *         either a status in 100..999 with the body NUL-terminated and no
 *         longer than what was sent, or an error that says why.
 *
 * nng is not instrumented, so coverage guides only through tally's side;
 * ASan still sees every byte tally copies out of nng.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/transport.h"
#include "tests/fuzz/fuzz_socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { WAIT_MS = 5000 };

static struct tly_http *http;
static struct sockaddr_in server_addr; /* the tly_http server */
static int fake_fd = -1;               /* the raw server for responses */
static char fake_url[64];

/* The response the raw server sends next, and its hand-off. */
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *answer_bytes;
static size_t answer_len;

/* The raw server: per connection, read the request (whatever arrives
 * within a second), send the current answer, close. */
static void *
fake_server(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(fake_fd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[4096];
		size_t got = 0;
		long deadline = now_ms() + 1000;
		while (got < sizeof buf && now_ms() < deadline) {
			struct pollfd p = {.fd = c, .events = POLLIN};
			if (poll(&p, 1, 50) <= 0)
				continue;
			ssize_t r = read(c, buf + got, sizeof buf - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
			if (got >= 4 && memmem(buf, got, "\r\n\r\n", 4) != NULL)
				break;
		}
		pthread_mutex_lock(&mtx);
		write_all(c, answer_bytes, answer_len);
		pthread_mutex_unlock(&mtx);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

static void
stop(void)
{
	tly_http_close(http);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	pthread_t t;
	char why[256];

	(void)argc, (void)argv;
	if (tly_http_open(&http, "http://127.0.0.1:0", NULL, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "fuzz_http: %s\n", why);
		abort();
	}
	atexit(stop);
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)tly_http_port(http));
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fake_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fake_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fake_fd, 16) != 0 ||
	    getsockname(fake_fd, (struct sockaddr *)&a, &alen) != 0)
		abort();
	snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%u/v1/status", ntohs(a.sin_port));
	if (pthread_create(&t, NULL, fake_server, NULL) != 0)
		abort();
	pthread_detach(t);
	return 0;
}

/* Answer whatever requests the server has queued, checking each. */
static void
serve(void)
{
	struct tly_http_request req;

	while (tly_http_next(http, &req, 0) == TLY_OK) {
		if ((strcmp(req.method, "GET") != 0 && strcmp(req.method, "POST") != 0) ||
		    strnlen(req.path, sizeof req.path) >= TLY_HTTP_PATH_MAX ||
		    req.body_len > TLY_HTTP_BODY_MAX || req.body == NULL ||
		    req.body[req.body_len] != '\0')
			abort(); /* outside the screen's contract */
		if (tly_http_reply(http, req.handle, 200, "application/json", (const uint8_t *)"{}",
		                   2) != TLY_OK)
			abort();
		free(req.body);
	}
}

static void
request(const uint8_t *data, size_t size)
{
	uint8_t got[16];
	size_t have = 0;
	int fd, closed = 0;

	fd = connect_to(AF_INET, &server_addr, sizeof server_addr);
	write_all(fd, data, size);
	shutdown(fd, SHUT_WR);
	long deadline = now_ms() + WAIT_MS;
	while (!closed) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		serve();
		if (now_ms() > deadline)
			abort(); /* the server never closed */
		if (poll(&p, 1, 1) <= 0)
			continue;
		uint8_t buf[4096];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue; /* libFuzzer's -timeout alarm */
		if (r <= 0) {
			closed = 1;
		} else if (have < sizeof got) {
			size_t take = (size_t)r < sizeof got - have ? (size_t)r : sizeof got - have;
			memcpy(got + have, buf, take);
			have += take;
		}
	}
	close(fd);
	serve();
	if (have > 0 && (have < 9 || memcmp(got, "HTTP/1.1 ", 9) != 0))
		abort(); /* whatever the server says is an HTTP response */
}

static void
response(const uint8_t *data, size_t size)
{
	uint8_t *body = NULL;
	size_t len = 0;
	int status = 0;
	char why[512];

	pthread_mutex_lock(&mtx);
	answer_bytes = data;
	answer_len = size;
	pthread_mutex_unlock(&mtx);
	why[0] = '\0';
	tly_err rv = tly_https_request(fake_url, "GET", NULL, NULL, 0, 3000, &status, &body, &len,
	                               why, sizeof why);
	pthread_mutex_lock(&mtx);
	answer_bytes = NULL;
	answer_len = 0;
	pthread_mutex_unlock(&mtx);
	if (rv == TLY_OK) {
		if (status < 100 || status > 999 || body == NULL || body[len] != '\0' || len > size)
			abort();
		free(body);
	} else if (why[0] == '\0') {
		abort(); /* a failure says why */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	if (data[0] % 2 == 0)
		request(data + 1, size - 1);
	else
		response(data + 1, size - 1);
	return 0;
}
