/*
 * channel.c - AEAD frames for a node link (a prototype; see channel.h and
 * docs/CHANNEL.md). Order of checks on receipt: state, exact length, type
 * and body size, limits, then the tag; any refusal fails the channel.
 */
#include "net/channel.h"

#include <string.h>

#include "crypto/kdf.h"
#include "crypto/wipe.h"

enum { NONCE_BYTES = 12 };

static const char transcript_label[] = "tally/channel/v1 transcript";
static const char key_c2n_label[] = "tally/channel/v1 key coordinator->node";
static const char key_n2c_label[] = "tally/channel/v1 key node->coordinator";

static void
put_be32(uint8_t out[static 4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t in[static 4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* 0^4 || counter u64 big-endian: a counter is never used twice under one
 * key, because each direction has its own key and its counter only grows. */
static void
make_nonce(uint8_t nonce[static NONCE_BYTES], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

tly_err
tly_channel_transcript(uint8_t th[static TLY_CHANNEL_HASH_BYTES],
                       const uint8_t coordinator_pk[static TLY_SIGN_PUBLIC_BYTES], uint32_t id,
                       const uint8_t challenge[static TLY_CHANNEL_CHALLENGE_BYTES],
                       const uint8_t e_coordinator[static TLY_KX_PUBLIC_BYTES],
                       const uint8_t e_node[static TLY_KX_PUBLIC_BYTES])
{
	uint8_t id_bytes[4];
	const struct tly_digest_part parts[] = {
	    {transcript_label, sizeof transcript_label - 1},
	    {coordinator_pk, TLY_SIGN_PUBLIC_BYTES},
	    {id_bytes, sizeof id_bytes},
	    {challenge, TLY_CHANNEL_CHALLENGE_BYTES},
	    {e_coordinator, TLY_KX_PUBLIC_BYTES},
	    {e_node, TLY_KX_PUBLIC_BYTES},
	};

	put_be32(id_bytes, id);
	return tly_digest_sha256(th, parts, sizeof parts / sizeof parts[0]);
}

tly_err
tly_channel_init(struct tly_channel *ch, enum tly_channel_role role,
                 const uint8_t shared[static TLY_KX_SHARED_BYTES],
                 const uint8_t th[static TLY_CHANNEL_HASH_BYTES])
{
	uint8_t prk[TLY_KDF_HASH_BYTES], c2n[TLY_CHANNEL_KEY_BYTES], n2c[TLY_CHANNEL_KEY_BYTES];
	tly_err rv = TLY_EINVAL;

	if (role != TLY_CHANNEL_COORDINATOR && role != TLY_CHANNEL_NODE)
		goto out;
	tly_hkdf_extract(prk, th, TLY_CHANNEL_HASH_BYTES, shared, TLY_KX_SHARED_BYTES);
	if ((rv = tly_hkdf_expand(c2n, sizeof c2n, prk, (const uint8_t *)key_c2n_label,
	                          sizeof key_c2n_label - 1)) != TLY_OK ||
	    (rv = tly_hkdf_expand(n2c, sizeof n2c, prk, (const uint8_t *)key_n2c_label,
	                          sizeof key_n2c_label - 1)) != TLY_OK)
		goto out;
	memset(ch, 0, sizeof *ch);
	memcpy(ch->tx.key, role == TLY_CHANNEL_COORDINATOR ? c2n : n2c, TLY_CHANNEL_KEY_BYTES);
	memcpy(ch->rx.key, role == TLY_CHANNEL_COORDINATOR ? n2c : c2n, TLY_CHANNEL_KEY_BYTES);
out:
	TLY_WIPE(prk, sizeof prk);
	TLY_WIPE(c2n, sizeof c2n);
	TLY_WIPE(n2c, sizeof n2c);
	return rv;
}

void
tly_channel_fini(struct tly_channel *ch)
{
	if (ch != NULL)
		TLY_WIPE(ch, sizeof *ch);
}

size_t
tly_channel_frame_bytes(size_t body_len)
{
	return body_len + TLY_CHANNEL_OVERHEAD;
}

tly_err
tly_channel_frame_length(const uint8_t head[static TLY_CHANNEL_LENGTH_BYTES], size_t *frame_len)
{
	uint32_t length = get_be32(head);

	if (length < TLY_CHANNEL_OVERHEAD - TLY_CHANNEL_LENGTH_BYTES ||
	    length > TLY_CHANNEL_FRAME_MAX - TLY_CHANNEL_LENGTH_BYTES)
		return TLY_EFORMAT;
	*frame_len = (size_t)length + TLY_CHANNEL_LENGTH_BYTES;
	return TLY_OK;
}

/* Whether a body of body_len bytes suits the type: messages are never
 * empty (no protocol message is), keepalives and closes always are. */
static int
body_fits(enum tly_channel_type type, size_t body_len)
{
	switch (type) {
	case TLY_CHANNEL_MESSAGE:
		return body_len > 0 && body_len <= TLY_CHANNEL_BODY_MAX;
	case TLY_CHANNEL_KEEPALIVE:
	case TLY_CHANNEL_CLOSE:
		return body_len == 0;
	}
	return 0;
}

/* Whether one more frame of body_len bytes stays within the limits. */
static int
within_limits(const struct tly_channel_dir *dir, size_t body_len)
{
	return dir->frames < TLY_CHANNEL_FRAMES_MAX &&
	       (uint64_t)body_len <= TLY_CHANNEL_BYTES_MAX - dir->bytes;
}

/* Count a frame that went through, and its close. */
static void
advance(struct tly_channel_dir *dir, enum tly_channel_type type, size_t body_len)
{
	dir->frames++;
	dir->bytes += body_len;
	if (type == TLY_CHANNEL_CLOSE)
		dir->state = TLY_CHANNEL_CLOSED;
}

tly_err
tly_channel_seal(struct tly_channel *ch, uint8_t *frame, enum tly_channel_type type,
                 const uint8_t *body, size_t body_len)
{
	uint8_t nonce[NONCE_BYTES];
	tly_err rv;

	if (!body_fits(type, body_len))
		return TLY_EINVAL;
	if (ch->tx.state != TLY_CHANNEL_OPEN)
		return TLY_ESTATE;
	if (!within_limits(&ch->tx, body_len))
		return TLY_ERANGE;
	put_be32(frame, (uint32_t)(tly_channel_frame_bytes(body_len) - TLY_CHANNEL_LENGTH_BYTES));
	frame[TLY_CHANNEL_LENGTH_BYTES] = (uint8_t)type;
	make_nonce(nonce, ch->tx.frames);
	rv = tly_aead_seal(TLY_AEAD_AES256GCM, frame + TLY_CHANNEL_HEAD_BYTES, body, body_len,
	                   frame, TLY_CHANNEL_HEAD_BYTES, nonce, ch->tx.key);
	if (rv == TLY_OK)
		advance(&ch->tx, type, body_len);
	return rv;
}

/* The checks before the tag: state, exact length, type and size, limits. */
static tly_err
check_frame(const struct tly_channel_dir *rx, const uint8_t *frame, size_t frame_len)
{
	size_t declared;

	if (rx->state != TLY_CHANNEL_OPEN)
		return TLY_ESTATE;
	if (frame_len < TLY_CHANNEL_OVERHEAD || frame_len > TLY_CHANNEL_FRAME_MAX ||
	    tly_channel_frame_length(frame, &declared) != TLY_OK || declared != frame_len)
		return TLY_EFORMAT;
	if (!body_fits((enum tly_channel_type)frame[TLY_CHANNEL_LENGTH_BYTES],
	               frame_len - TLY_CHANNEL_OVERHEAD))
		return TLY_EFORMAT;
	if (!within_limits(rx, frame_len - TLY_CHANNEL_OVERHEAD))
		return TLY_ERANGE;
	return TLY_OK;
}

tly_err
tly_channel_open(struct tly_channel *ch, uint8_t *body, size_t *body_len,
                 enum tly_channel_type *type, const uint8_t *frame, size_t frame_len)
{
	uint8_t nonce[NONCE_BYTES], none[1];
	enum tly_channel_type got;
	size_t len;
	tly_err rv = check_frame(&ch->rx, frame, frame_len);

	if (rv != TLY_OK)
		goto out;
	got = (enum tly_channel_type)frame[TLY_CHANNEL_LENGTH_BYTES];
	len = frame_len - TLY_CHANNEL_OVERHEAD;
	if (body == NULL && len == 0)
		body = none; /* tly_aead_open writes nothing there, but gets a pointer */
	make_nonce(nonce, ch->rx.frames);
	rv = tly_aead_open(TLY_AEAD_AES256GCM, body, frame + TLY_CHANNEL_HEAD_BYTES,
	                   frame_len - TLY_CHANNEL_HEAD_BYTES, frame, TLY_CHANNEL_HEAD_BYTES, nonce,
	                   ch->rx.key);
	if (rv != TLY_OK)
		goto out;
	advance(&ch->rx, got, len);
	*type = got;
	*body_len = len;
out:
	if (rv != TLY_OK && ch->rx.state == TLY_CHANNEL_OPEN)
		ch->rx.state = TLY_CHANNEL_FAILED;
	return rv;
}

tly_err
tly_channel_end(const struct tly_channel *ch)
{
	return ch->rx.state == TLY_CHANNEL_CLOSED ? TLY_OK : TLY_EFORMAT;
}
