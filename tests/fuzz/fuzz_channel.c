/*
 * Fuzz the frame layer of net/channel.h (a prototype) as a receiver reads
 * a stream: the input is cut into frames by their length heads
 * (tly_channel_frame_length), and each is opened by the node's end of a
 * channel with fixed keys. Properties:
 *   - a frame opens only if it is exactly the frame the coordinator's end
 *     seals for that body, type and counter (no forgery, no replay, no
 *     reordering gets through);
 *   - a refused frame leaves no byte in the body buffer, and every open
 *     after a refusal is refused too (the failure latches);
 *   - tly_channel_end says OK only after a close frame opened.
 * With FUZZ_CHANNEL_SEEDS=DIR set, the harness writes a seed stream (a
 * message, a keepalive and a close, sealed with its keys) and exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng.h"
#include "net/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { BODY_CAP = 1 << 16 };

static uint8_t shared[TLY_KX_SHARED_BYTES], th[TLY_CHANNEL_HASH_BYTES];

static void
pair(struct tly_channel *coordinator, struct tly_channel *node)
{
	if (tly_channel_init(coordinator, TLY_CHANNEL_COORDINATOR, shared, th) != TLY_OK ||
	    tly_channel_init(node, TLY_CHANNEL_NODE, shared, th) != TLY_OK)
		abort();
}

static void
write_seeds(const char *dir)
{
	static const uint8_t body[] = "a protocol message";
	uint8_t stream[3 * TLY_CHANNEL_OVERHEAD + sizeof body];
	struct tly_channel coordinator, node;
	size_t at = tly_channel_frame_bytes(sizeof body);
	char path[512];

	pair(&coordinator, &node);
	if (tly_channel_seal(&coordinator, stream, TLY_CHANNEL_MESSAGE, body, sizeof body) !=
	        TLY_OK ||
	    tly_channel_seal(&coordinator, stream + at, TLY_CHANNEL_KEEPALIVE, NULL, 0) != TLY_OK ||
	    tly_channel_seal(&coordinator, stream + at + TLY_CHANNEL_OVERHEAD, TLY_CHANNEL_CLOSE,
	                     NULL, 0) != TLY_OK)
		abort();
	snprintf(path, sizeof path, "%s/stream", dir);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(stream, 1, sizeof stream, f) != sizeof stream || fclose(f) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (tly_crypto_init() != TLY_OK)
		abort();
	memset(shared, 0x5a, sizeof shared);
	memset(th, 0xc3, sizeof th);
	const char *seeds = getenv("FUZZ_CHANNEL_SEEDS");
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}

/* The frame the coordinator's end seals for this body, type and counter
 * must be exactly the one that opened. */
static void
check_genuine(const uint8_t *frame, size_t len, const uint8_t *body, size_t body_len,
              enum tly_channel_type type, uint64_t counter)
{
	static uint8_t again[BODY_CAP + TLY_CHANNEL_OVERHEAD];
	struct tly_channel coordinator, node;

	pair(&coordinator, &node);
	coordinator.tx.frames = counter;
	if (tly_channel_seal(&coordinator, again, type, body_len ? body : NULL, body_len) !=
	        TLY_OK ||
	    len != tly_channel_frame_bytes(body_len) || memcmp(again, frame, len) != 0)
		abort();
}

/* Open one frame; abort on any broken property. Returns 0 once refused. */
static int
open_one(struct tly_channel *node, const uint8_t *frame, size_t len, int refused_before)
{
	static uint8_t body[BODY_CAP];
	enum tly_channel_type type;
	size_t body_len = 0;
	uint64_t counter = node->rx.frames;

	memset(body, 0, len > TLY_CHANNEL_OVERHEAD ? len - TLY_CHANNEL_OVERHEAD : 0);
	tly_err rv = tly_channel_open(node, body, &body_len, &type, frame, len);
	if (rv == TLY_OK) {
		if (refused_before)
			abort();
		check_genuine(frame, len, body, body_len, type, counter);
		return 1;
	}
	for (size_t i = 0; i + TLY_CHANNEL_OVERHEAD < len; i++)
		if (body[i] != 0)
			abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tly_channel coordinator, node;
	int refused = 0;
	size_t at = 0, len;

	pair(&coordinator, &node);
	while (size - at >= TLY_CHANNEL_LENGTH_BYTES) {
		if (tly_channel_frame_length(data + at, &len) != TLY_OK || len > BODY_CAP ||
		    len > size - at)
			break; /* the transport would close here */
		if (!open_one(&node, data + at, len, refused))
			refused = 1;
		at += len;
	}
	if (tly_channel_end(&node) == TLY_OK && node.rx.state != TLY_CHANNEL_CLOSED)
		abort();
	return 0;
}
