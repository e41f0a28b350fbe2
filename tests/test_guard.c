/*
 * The API's TCP guard (net/guard.h), in process: the TLS record scan,
 * relaying both ways, eviction of the oldest pending connection when full,
 * refusal when none is pending, the handshake deadline, the idle timeout
 * and non-TLS clients. The upstream is a plain socket of the test's own.
 *
 * No timing decides a result: the short deadlines (100-200 ms) only make
 * the test quick, and every wait is for an event (a close, a counter)
 * with a generous bound, WAIT_MS.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/guard.h"
#include "tests/daemons.h"

enum { WAIT_MS = 30000 };

static int upstream = -1;
static struct tly_guard *guard;

static int
listen_loopback(void)
{
	int port;
	upstream = dmn_listen_loopback(64, &port);
	return port;
}

static void
open_guard(uint32_t max_conns, uint32_t handshake_ms, uint32_t idle_ms, int tls)
{
	struct tly_guard_limits lim = {max_conns, handshake_ms, idle_ms, tls};
	char why[200] = "";
	int port = listen_loopback();
	cr_assert_eq(tly_guard_open(&guard, "http://127.0.0.1:0", port, &lim, why, sizeof why),
	             TLY_OK, "%s", why);
	cr_assert_gt(tly_guard_port(guard), 0);
}

static void
fini(void)
{
	tly_guard_close(guard);
	guard = NULL;
	if (upstream >= 0)
		close(upstream);
	upstream = -1;
}

TestSuite(guard, .fini = fini, .timeout = 120);

static int
dial(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)tly_guard_port(guard)),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* 1 once fd reads end-of-stream (or a reset) within WAIT_MS. */
static int
closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	if (poll(&p, 1, ms) != 1)
		return 0;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static struct tly_guard_stats
stats_when(int (*ok)(const struct tly_guard_stats *))
{
	struct tly_guard_stats st;
	for (int i = 0; i < WAIT_MS / 10; i++) {
		tly_guard_stats(guard, &st);
		if (ok(&st))
			return st;
		dmn_pause_ms(10);
	}
	cr_assert_fail("the guard's counters never got there");
	return st;
}

static int
two_open(const struct tly_guard_stats *st)
{
	return st->open == 2;
}

static int
one_established(const struct tly_guard_stats *st)
{
	return st->open == 1 && st->pending == 0;
}

/* ---- the scan ---- */

Test(guard, scan_finds_the_first_application_data_record)
{
	/* A handshake record (22) of 3 bytes, a change-cipher-spec (20) of
	 * 1, then application data (23): fed a byte at a time. */
	const uint8_t stream[] = {22, 3, 3, 0, 3, 1, 2, 3, 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2};
	struct tly_guard_scan s = {0};
	size_t i;
	for (i = 0; i < sizeof stream - 5; i++)
		cr_assert_eq(tly_guard_scan_feed(&s, &stream[i], 1), 0, "byte %zu", i);
	for (; i < sizeof stream - 1; i++)
		cr_assert_eq(tly_guard_scan_feed(&s, &stream[i], 1), 0, "byte %zu", i);
	cr_assert_eq(tly_guard_scan_feed(&s, &stream[i], 1), 1);
	cr_assert_eq(tly_guard_scan_feed(&s, (const uint8_t *)"x", 1), 1, "stays done");

	struct tly_guard_scan whole = {0};
	cr_assert_eq(tly_guard_scan_feed(&whole, stream, sizeof stream), 1, "in one piece");
}

Test(guard, scan_refuses_what_is_not_tls)
{
	const uint8_t *cases[] = {
	    (const uint8_t *)"GET / HTTP/1.1\r\n", /* plain HTTP: type 'G' */
	    (const uint8_t[]){19, 3, 3, 0, 1},     /* type below 20 */
	    (const uint8_t[]){24, 3, 3, 0, 1},     /* type above 23 */
	    (const uint8_t[]){22, 2, 0, 0, 1},     /* major version 2 */
	    (const uint8_t[]){22, 3, 3, 0, 0},     /* empty record */
	    (const uint8_t[]){22, 3, 3, 0x48, 1},  /* 18433 > 16384 + 2048 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tly_guard_scan s = {0};
		cr_assert_eq(tly_guard_scan_feed(&s, cases[i], 5), -1, "case %zu", i);
	}
	struct tly_guard_scan s = {0};
	cr_assert_eq(tly_guard_scan_feed(&s, (const uint8_t[]){22, 3, 3, 0x48, 0}, 5), 0,
	             "18432 = 16384 + 2048 is the longest allowed");
}

/* ---- the guard ---- */

Test(guard, relays_both_ways, .fini = fini)
{
	char buf[8] = {0};
	open_guard(4, 10000, 10000, 0);
	int c = dial();
	cr_assert_eq(send(c, "ping", 4, 0), 4);
	int u = accept(upstream, NULL, NULL);
	cr_assert_geq(u, 0, "the guard dials upstream on the first byte");
	cr_assert_eq(recv(u, buf, 4, MSG_WAITALL), 4);
	cr_assert_str_eq(buf, "ping");
	cr_assert_eq(send(u, "pong", 4, 0), 4);
	cr_assert_eq(recv(c, buf, 4, MSG_WAITALL), 4);
	cr_assert_str_eq(buf, "pong");
	close(u);
	cr_assert(closed_within(c, WAIT_MS), "the server's close reaches the client");
	close(c);
}

Test(guard, full_evicts_the_oldest_pending, .fini = fini)
{
	open_guard(2, 600000, 600000, 1);
	int a = dial(), b = dial();
	stats_when(two_open);
	int c = dial();
	cr_assert(closed_within(a, WAIT_MS), "the oldest pending connection was not evicted");
	struct tly_guard_stats st = stats_when(two_open);
	cr_assert_eq(st.evicted, 1);
	cr_assert_eq(st.accepted, 3);
	cr_assert_not(closed_within(b, 0), "the newer one stays");
	cr_assert_not(closed_within(c, 0), "the newcomer stays");
	close(a);
	close(b);
	close(c);
}

Test(guard, full_of_established_refuses_newcomers, .fini = fini)
{
	open_guard(1, 600000, 600000, 0);
	int a = dial();
	cr_assert_eq(send(a, "x", 1, 0), 1);
	stats_when(one_established);
	int b = dial();
	cr_assert(closed_within(b, WAIT_MS), "a connection over the limit was kept");
	struct tly_guard_stats st;
	tly_guard_stats(guard, &st);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.open, 1);
	cr_assert_not(closed_within(a, 0), "the established one stays");
	close(a);
	close(b);
}

Test(guard, silent_connection_is_closed_at_the_handshake_deadline, .fini = fini)
{
	open_guard(8, 100, 600000, 1);
	int a = dial();
	cr_assert(closed_within(a, WAIT_MS), "a silent connection outlived the deadline");
	struct tly_guard_stats st;
	tly_guard_stats(guard, &st);
	cr_assert_eq(st.timed_out, 1);
	close(a);
}

Test(guard, unfinished_tls_handshake_is_closed_at_the_deadline, .fini = fini)
{
	open_guard(8, 200, 600000, 1);
	int a = dial();
	/* A ClientHello record's header and part of its body, no more. */
	cr_assert_eq(send(a, (const uint8_t[]){22, 3, 1, 0, 40, 1, 0}, 7, 0), 7);
	cr_assert(closed_within(a, WAIT_MS), "a stalled handshake outlived the deadline");
	close(a);
}

Test(guard, established_connection_is_closed_when_idle, .fini = fini)
{
	open_guard(8, 600000, 200, 1);
	int a = dial();
	cr_assert_eq(send(a, (const uint8_t[]){23, 3, 3, 0, 1, 0}, 6, 0), 6);
	stats_when(one_established);
	cr_assert(closed_within(a, WAIT_MS), "an idle connection was kept");
	struct tly_guard_stats st;
	tly_guard_stats(guard, &st);
	cr_assert_eq(st.timed_out, 1);
	close(a);
}

Test(guard, plain_http_on_a_tls_listener_is_closed_at_once, .fini = fini)
{
	open_guard(8, 600000, 600000, 1);
	int a = dial();
	cr_assert_eq(send(a, "GET / HTTP/1.1\r\n", 16, 0), 16);
	cr_assert(closed_within(a, WAIT_MS), "a non-TLS client was kept");
	close(a);
}

Test(guard, bad_urls_and_limits_are_refused)
{
	struct tly_guard_limits lim = {1, 1, 1, 0};
	char why[200] = "";
	cr_assert_eq(tly_guard_open(&guard, "127.0.0.1:80", 1, &lim, why, sizeof why), TLY_EINVAL);
	cr_assert(strstr(why, "SCHEME://HOST:PORT") != NULL, "%s", why);
	cr_assert_eq(tly_guard_open(&guard, "http://127.0.0.1", 1, &lim, why, sizeof why),
	             TLY_EINVAL, "no port");
	lim.max_conns = 0;
	cr_assert_eq(tly_guard_open(&guard, "http://127.0.0.1:0", 1, &lim, why, sizeof why),
	             TLY_EINVAL, "max_conns 0");
	cr_assert_null(guard);
}
