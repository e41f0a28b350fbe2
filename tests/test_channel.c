/* channel: AEAD frames for a node link (a prototype, net/channel.h). The
 * keys and the transcript against values computed outside tally (Python's
 * hmac and hashlib), frames through in both directions, and each way a
 * frame must not open: replayed, reordered, dropped, every bit flipped,
 * truncated, reflected to its sender, from another connection, after a
 * failure, after the close, past the limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/rng.h"
#include "net/channel.h"
#include "wire/hex.h"

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(channel, .init = setup);

enum { BODY = 40, FRAME = BODY + TLY_CHANNEL_OVERHEAD };

/* Two ends of one connection: the coordinator's and the node's. */
struct ends {
	struct tly_channel coordinator, node;
};

static void
open_ends(struct ends *e, uint8_t shared_byte, uint8_t th_byte)
{
	uint8_t shared[TLY_KX_SHARED_BYTES], th[TLY_CHANNEL_HASH_BYTES];

	memset(shared, shared_byte, sizeof shared);
	memset(th, th_byte, sizeof th);
	cr_assert_eq(tly_channel_init(&e->coordinator, TLY_CHANNEL_COORDINATOR, shared, th),
	             TLY_OK);
	cr_assert_eq(tly_channel_init(&e->node, TLY_CHANNEL_NODE, shared, th), TLY_OK);
}

static void
body_of(uint8_t body[static BODY], uint8_t seed)
{
	for (size_t i = 0; i < BODY; i++)
		body[i] = (uint8_t)(seed + 7 * i);
}

static void
seal_message(struct tly_channel *ch, uint8_t frame[static FRAME], uint8_t seed)
{
	uint8_t body[BODY];

	body_of(body, seed);
	cr_assert_eq(tly_channel_seal(ch, frame, TLY_CHANNEL_MESSAGE, body, BODY), TLY_OK);
}

/* Open a frame expected to carry message `seed`. */
static void
expect_message(struct tly_channel *ch, const uint8_t frame[static FRAME], uint8_t seed)
{
	uint8_t body[BODY], want[BODY];
	enum tly_channel_type type;
	size_t len;

	body_of(want, seed);
	cr_assert_eq(tly_channel_open(ch, body, &len, &type, frame, FRAME), TLY_OK);
	cr_assert_eq(type, TLY_CHANNEL_MESSAGE);
	cr_assert_eq(len, BODY);
	cr_assert_arr_eq(body, want, BODY);
}

/* Open a frame expected to be refused with rv, leaving no byte of it. */
static void
expect_refused(struct tly_channel *ch, const uint8_t *frame, size_t frame_len, tly_err rv)
{
	uint8_t body[4096], zero[sizeof body] = {0};
	enum tly_channel_type type = 0;
	size_t len = 0;

	cr_assert(frame_len <= sizeof body + TLY_CHANNEL_OVERHEAD);
	memset(body, 0, sizeof body);
	cr_assert_eq(tly_channel_open(ch, body, &len, &type, frame, frame_len), rv, "expected %s",
	             tly_strerror(rv));
	cr_assert_eq(len, 0);
	cr_assert_eq(type, 0);
	cr_assert_arr_eq(body, zero, sizeof body);
}

static void
hex_to(uint8_t out[static 32], const char *hex)
{
	cr_assert_eq(tly_unhex(out, 32, hex, strlen(hex)), TLY_OK);
}

Test(channel, keys_and_transcript_known_answers)
{
	uint8_t shared[32], th[32], pk[32], challenge[32], e_c[32], e_n[32], want[32];
	struct tly_channel coordinator, node;

	for (int i = 0; i < 32; i++) {
		shared[i] = (uint8_t)i;
		th[i] = (uint8_t)(0x40 + i);
		pk[i] = (uint8_t)(0xa0 + i);
	}
	cr_assert_eq(tly_channel_init(&coordinator, TLY_CHANNEL_COORDINATOR, shared, th), TLY_OK);
	cr_assert_eq(tly_channel_init(&node, TLY_CHANNEL_NODE, shared, th), TLY_OK);
	hex_to(want, "a9f38df58dbaf8756e4970a5e87cf72957746d2bd9f0762cd4510c6b63738f65");
	cr_assert_arr_eq(coordinator.tx.key, want, 32, "coordinator->node");
	cr_assert_arr_eq(node.rx.key, want, 32);
	hex_to(want, "ae6605b25f8638780e69d54be42bc2c77482968b5adec7d496560e35e4bd6abe");
	cr_assert_arr_eq(node.tx.key, want, 32, "node->coordinator");
	cr_assert_arr_eq(coordinator.rx.key, want, 32);
	memset(challenge, 0x11, 32);
	memset(e_c, 0x22, 32);
	memset(e_n, 0x33, 32);
	cr_assert_eq(tly_channel_transcript(th, pk, 7, challenge, e_c, e_n), TLY_OK);
	hex_to(want, "0a0a906a917c03cf3c0682b8394ffbc61d4b3a9ec4d80afa193be1f65f7b206c");
	cr_assert_arr_eq(th, want, 32);
	tly_channel_fini(&coordinator);
	tly_channel_fini(&node);
}

Test(channel, frames_go_both_ways_in_order)
{
	struct ends e;
	uint8_t frame[FRAME];

	open_ends(&e, 1, 2);
	for (uint8_t i = 0; i < 5; i++) {
		seal_message(&e.coordinator, frame, i);
		expect_message(&e.node, frame, i);
		seal_message(&e.node, frame, (uint8_t)(100 + i));
		expect_message(&e.coordinator, frame, (uint8_t)(100 + i));
	}
	cr_assert_eq(e.coordinator.tx.frames, 5);
	cr_assert_eq(e.node.rx.bytes, 5 * BODY);
}

Test(channel, a_replayed_frame_is_refused)
{
	struct ends e;
	uint8_t frame[FRAME];

	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, frame, 0);
	expect_message(&e.node, frame, 0);
	expect_refused(&e.node, frame, FRAME, TLY_EAUTH);
}

Test(channel, reordered_frames_are_refused_and_the_failure_latches)
{
	struct ends e;
	uint8_t first[FRAME], second[FRAME];

	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, first, 0);
	seal_message(&e.coordinator, second, 1);
	expect_refused(&e.node, second, FRAME, TLY_EAUTH);
	/* The right frame now, but the channel failed: nothing more opens. */
	expect_refused(&e.node, first, FRAME, TLY_ESTATE);
	cr_assert_eq(tly_channel_end(&e.node), TLY_EFORMAT);
}

Test(channel, a_dropped_frame_is_noticed)
{
	struct ends e;
	uint8_t frame[FRAME];

	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, frame, 0); /* never delivered */
	seal_message(&e.coordinator, frame, 1);
	expect_refused(&e.node, frame, FRAME, TLY_EAUTH);
}

Test(channel, every_flipped_bit_is_refused)
{
	for (size_t bit = 0; bit < 8 * FRAME; bit++) {
		struct ends e;
		uint8_t frame[FRAME];

		open_ends(&e, 1, 2);
		seal_message(&e.coordinator, frame, 0);
		frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* The length and type bytes fail before the tag (a wrong
		 * length, an unknown type or a close with a body), the rest
		 * at it; keepalives_are_empty_and_authenticated checks that
		 * the type is under the tag too. */
		tly_err want = bit < 8 * TLY_CHANNEL_HEAD_BYTES ? TLY_EFORMAT : TLY_EAUTH;
		expect_refused(&e.node, frame, FRAME, want);
	}
}

Test(channel, a_truncated_frame_is_refused)
{
	for (size_t cut = 1; cut < FRAME; cut++) {
		struct ends e;
		uint8_t frame[FRAME];

		open_ends(&e, 1, 2);
		seal_message(&e.coordinator, frame, 0);
		expect_refused(&e.node, frame, FRAME - cut, TLY_EFORMAT);
	}
	/* Cut, and the length rewritten to match: the tag then fails. */
	struct ends e;
	uint8_t frame[FRAME];
	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, frame, 0);
	frame[3] = (uint8_t)(frame[3] - 1);
	expect_refused(&e.node, frame, FRAME - 1, TLY_EAUTH);
}

Test(channel, a_cut_stream_is_told_from_a_close)
{
	struct ends e;
	uint8_t frame[FRAME], close[TLY_CHANNEL_OVERHEAD], body[1] = {1};
	enum tly_channel_type type;
	size_t len;

	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, frame, 0);
	expect_message(&e.node, frame, 0);
	cr_assert_eq(tly_channel_end(&e.node), TLY_EFORMAT, "no close came: cut short");
	cr_assert_eq(tly_channel_seal(&e.coordinator, close, TLY_CHANNEL_CLOSE, NULL, 0), TLY_OK);
	cr_assert_eq(tly_channel_open(&e.node, NULL, &len, &type, close, sizeof close), TLY_OK);
	cr_assert_eq(type, TLY_CHANNEL_CLOSE);
	cr_assert_eq(tly_channel_end(&e.node), TLY_OK);
	/* Nothing after the close, either way. */
	cr_assert_eq(tly_channel_seal(&e.coordinator, frame, TLY_CHANNEL_MESSAGE, body, 1),
	             TLY_ESTATE);
	expect_refused(&e.node, close, sizeof close, TLY_ESTATE);
}

Test(channel, a_frame_reflected_to_its_sender_does_not_open)
{
	struct ends e;
	uint8_t frame[FRAME], other[FRAME];

	open_ends(&e, 1, 2);
	seal_message(&e.coordinator, frame, 0);
	seal_message(&e.node, other, 0);
	/* Same counter, same body, same head: only the key differs. */
	cr_assert_arr_neq(frame + TLY_CHANNEL_HEAD_BYTES, other + TLY_CHANNEL_HEAD_BYTES,
	                  FRAME - TLY_CHANNEL_HEAD_BYTES);
	cr_assert_arr_neq(e.coordinator.tx.key, e.coordinator.rx.key, TLY_CHANNEL_KEY_BYTES);
	expect_refused(&e.coordinator, frame, FRAME, TLY_EAUTH);
}

Test(channel, another_connections_frame_does_not_open)
{
	struct ends a, other_secret, other_transcript;
	uint8_t frame[FRAME];

	open_ends(&a, 1, 2);
	open_ends(&other_secret, 3, 2);
	open_ends(&other_transcript, 1, 4);
	seal_message(&a.coordinator, frame, 0);
	expect_refused(&other_secret.node, frame, FRAME, TLY_EAUTH);
	expect_refused(&other_transcript.node, frame, FRAME, TLY_EAUTH);
	expect_message(&a.node, frame, 0);
}

Test(channel, keepalives_are_empty_and_authenticated)
{
	struct ends e;
	uint8_t frame[TLY_CHANNEL_OVERHEAD], body[1] = {0};
	enum tly_channel_type type;
	size_t len;

	open_ends(&e, 1, 2);
	cr_assert_eq(tly_channel_seal(&e.node, frame, TLY_CHANNEL_KEEPALIVE, body, 1), TLY_EINVAL);
	cr_assert_eq(tly_channel_seal(&e.node, frame, TLY_CHANNEL_MESSAGE, body, 0), TLY_EINVAL);
	cr_assert_eq(tly_channel_seal(&e.node, frame, (enum tly_channel_type)9, NULL, 0),
	             TLY_EINVAL);
	cr_assert_eq(e.node.tx.frames, 0, "a refused seal uses no counter");
	cr_assert_eq(tly_channel_seal(&e.node, frame, TLY_CHANNEL_KEEPALIVE, NULL, 0), TLY_OK);
	cr_assert_eq(tly_channel_open(&e.coordinator, NULL, &len, &type, frame, sizeof frame),
	             TLY_OK);
	cr_assert_eq(type, TLY_CHANNEL_KEEPALIVE);
	cr_assert_eq(len, 0);
	/* The type is under the tag: a keepalive turned into a close. */
	cr_assert_eq(tly_channel_seal(&e.node, frame, TLY_CHANNEL_KEEPALIVE, NULL, 0), TLY_OK);
	frame[TLY_CHANNEL_LENGTH_BYTES] = TLY_CHANNEL_CLOSE;
	expect_refused(&e.coordinator, frame, sizeof frame, TLY_EAUTH);
	cr_assert_eq(tly_channel_end(&e.coordinator), TLY_EFORMAT);
	/* An unauthenticated empty frame, as today's keepalive, is refused. */
	struct ends fresh;
	uint8_t bare[TLY_CHANNEL_OVERHEAD] = {0, 0, 0, 17, TLY_CHANNEL_KEEPALIVE};
	open_ends(&fresh, 1, 2);
	expect_refused(&fresh.coordinator, bare, sizeof bare, TLY_EAUTH);
}

Test(channel, frame_lengths_are_capped_before_reading)
{
	uint8_t head[4] = {0, 0, 0, TLY_CHANNEL_OVERHEAD - 4};
	size_t len = 0;

	cr_assert_eq(tly_channel_frame_length(head, &len), TLY_OK);
	cr_assert_eq(len, TLY_CHANNEL_OVERHEAD);
	head[3]--;
	cr_assert_eq(tly_channel_frame_length(head, &len), TLY_EFORMAT);
	uint32_t over = TLY_CHANNEL_FRAME_MAX - 4 + 1;
	uint8_t big[4] = {(uint8_t)(over >> 24), (uint8_t)(over >> 16), (uint8_t)(over >> 8),
	                  (uint8_t)over};
	cr_assert_eq(tly_channel_frame_length(big, &len), TLY_EFORMAT);
	big[3]--;
	cr_assert_eq(tly_channel_frame_length(big, &len), TLY_OK);
	cr_assert_eq(len, TLY_CHANNEL_FRAME_MAX);
}

Test(channel, the_limits_refuse_the_next_frame)
{
	struct ends e;
	uint8_t frame[FRAME], body[BODY] = {0};

	open_ends(&e, 1, 2);
	e.coordinator.tx.frames = TLY_CHANNEL_FRAMES_MAX;
	cr_assert_eq(tly_channel_seal(&e.coordinator, frame, TLY_CHANNEL_MESSAGE, body, 1),
	             TLY_ERANGE);
	e.coordinator.tx.frames = 0;
	e.coordinator.tx.bytes = TLY_CHANNEL_BYTES_MAX - BODY + 1;
	cr_assert_eq(tly_channel_seal(&e.coordinator, frame, TLY_CHANNEL_MESSAGE, body, BODY),
	             TLY_ERANGE);
	e.coordinator.tx.bytes = TLY_CHANNEL_BYTES_MAX - BODY;
	seal_message(&e.coordinator, frame, 0);
	e.node.rx.bytes = TLY_CHANNEL_BYTES_MAX - BODY + 1;
	expect_refused(&e.node, frame, FRAME, TLY_ERANGE);
}

Test(channel, an_unknown_role_is_refused)
{
	struct tly_channel ch;
	uint8_t shared[32] = {1}, th[32] = {2};

	memset(&ch, 0xa5, sizeof ch);
	cr_assert_eq(tly_channel_init(&ch, (enum tly_channel_role)3, shared, th), TLY_EINVAL);
	cr_assert_eq(ch.tx.frames, UINT64_C(0xa5a5a5a5a5a5a5a5), "written only on success");
	tly_channel_fini(&ch);
	cr_assert_eq(ch.tx.frames, 0);
}
