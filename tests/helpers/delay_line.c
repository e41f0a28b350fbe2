/*
 * delay_line - a link that delays every Ethernet frame, for kernels
 * without sch_netem (tests/test_netns.c runs it inside a network
 * namespace when `tc qdisc add ... netem` is refused).
 *
 *   delay_line IF_A IF_B DELAY_MS JITTER_MS
 *
 * Frames received on IF_A are sent out of IF_B, and the other way round,
 * each DELAY_MS later, plus or minus up to JITTER_MS (uniform), never
 * before a frame that arrived earlier in the same direction (so TCP sees
 * delay and jitter but no reordering). Both interfaces are opened as
 * AF_PACKET sockets with PACKET_VNET_HDR, so GSO frames and frames whose
 * checksum the sender left to offload cross intact, as they do through a
 * tap device. At most QUEUE_MAX frames wait per direction; more are
 * dropped (counted). Runs until SIGTERM or SIGINT; prints one line of
 * counts on stderr when it stops (frames still queued are discarded). Needs CAP_NET_RAW.
 */
#define _DEFAULT_SOURCE /* struct timespec helpers, random() */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { QUEUE_MAX = 4096, FRAME_MAX = 65536 + sizeof(struct virtio_net_hdr) };

struct frame {
	int64_t due_ns;
	size_t len;
	uint8_t *data;
};

struct direction {
	int from, to; /* sockets */
	struct frame queue[QUEUE_MAX];
	size_t head, count;
	int64_t last_due_ns;
	unsigned long passed, dropped;
};

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_interface(const char *name)
{
	unsigned index = if_nametoindex(name);
	int one = 1;
	if (index == 0) {
		fprintf(stderr, "delay_line: no interface %s\n", name);
		return -1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct sockaddr_ll addr = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)index};
	struct packet_mreq promisc = {.mr_ifindex = (int)index, .mr_type = PACKET_MR_PROMISC};
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) != 0) {
		fprintf(stderr, "delay_line: %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Take one frame from d->from into the queue. */
static void
take(struct direction *d, long delay_ms, long jitter_ms, uint8_t *buf)
{
	struct sockaddr_ll from;
	socklen_t from_len = sizeof from;
	ssize_t n =
	    recvfrom(d->from, buf, FRAME_MAX, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
	if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
		return;
	if (d->count == QUEUE_MAX) {
		d->dropped++;
		return;
	}
	int64_t offset = delay_ms * 1000000;
	if (jitter_ms > 0)
		offset += (random() % (2 * jitter_ms * 1000 + 1) - jitter_ms * 1000) * 1000;
	int64_t due = now_ns() + (offset > 0 ? offset : 0);
	if (due < d->last_due_ns)
		due = d->last_due_ns;
	d->last_due_ns = due;
	struct frame *f = &d->queue[(d->head + d->count) % QUEUE_MAX];
	f->data = malloc((size_t)n);
	if (f->data == NULL) {
		d->dropped++;
		return;
	}
	memcpy(f->data, buf, (size_t)n);
	f->len = (size_t)n;
	f->due_ns = due;
	d->count++;
}

/* Send every frame that is due; the time until the next one (ms, -1 for
 * none). */
static int
give(struct direction *d)
{
	int64_t now = now_ns();
	while (d->count > 0 && d->queue[d->head].due_ns <= now) {
		struct frame *f = &d->queue[d->head];
		if (send(d->to, f->data, f->len, 0) == (ssize_t)f->len)
			d->passed++;
		else
			d->dropped++;
		free(f->data);
		d->head = (d->head + 1) % QUEUE_MAX;
		d->count--;
	}
	if (d->count == 0)
		return -1;
	return (int)((d->queue[d->head].due_ns - now) / 1000000 + 1);
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: delay_line IF_A IF_B DELAY_MS JITTER_MS\n");
		return 2;
	}
	long delay_ms = atol(argv[3]), jitter_ms = atol(argv[4]);
	if (delay_ms < 0 || jitter_ms < 0 || jitter_ms > delay_ms) {
		fprintf(stderr, "delay_line: want 0 <= JITTER_MS <= DELAY_MS\n");
		return 2;
	}
	static struct direction ab, ba;
	static uint8_t buf[FRAME_MAX];
	int a = open_interface(argv[1]), b = open_interface(argv[2]);
	if (a < 0 || b < 0)
		return 1;
	ab.from = a, ab.to = b, ba.from = b, ba.to = a;
	srandom((unsigned)now_ns());
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stopping) {
		int wait_ab = give(&ab), wait_ba = give(&ba);
		int timeout = wait_ab < 0         ? wait_ba
		              : wait_ba < 0       ? wait_ab
		              : wait_ab < wait_ba ? wait_ab
		                                  : wait_ba;
		struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
		if (poll(fds, 2, timeout < 0 || timeout > 100 ? 100 : timeout) < 0)
			continue;
		if (fds[0].revents & POLLIN)
			take(&ab, delay_ms, jitter_ms, buf);
		if (fds[1].revents & POLLIN)
			take(&ba, delay_ms, jitter_ms, buf);
	}
	fprintf(stderr,
	        "delay_line %s<->%s: %lu + %lu frames passed, %lu + %lu dropped, %zu + %zu still "
	        "queued at the stop\n",
	        argv[1], argv[2], ab.passed, ba.passed, ab.dropped, ba.dropped, ab.count, ba.count);
	close(a);
	close(b);
	return 0;
}
