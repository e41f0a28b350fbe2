/*
 * channel.h - AEAD frames for a node link, keyed by the signed handshake
 * (docs/CHANNEL.md). A PROTOTYPE: the transport does not use it; node
 * links run over TLS. Pure: no sockets, no nng, no clock, and no
 * allocation of its own (OpenSSL's AEAD and hash contexts allocate).
 *
 * A frame, as it goes on the stream:
 *
 *   length u32 || type u8 || ciphertext || tag[16]
 *
 * length counts the bytes after itself (1 + body + 16). The five head
 * bytes are the associated data; the body is sealed with AES-256-GCM
 * (tly_aead) under the direction's key and the nonce 0^4 || counter u64,
 * big-endian, where counter is 0, 1, 2, ... per direction. The receiver
 * opens each frame under the next counter only, so a frame replayed,
 * dropped, moved or reflected does not open; the first frame that does
 * not open fails the channel for good (the caller closes the
 * connection). Types: a message (body of 1 or more bytes), a keepalive
 * and a close (both empty); the close is the last frame of its direction,
 * so an end of stream without it is a cut (tly_channel_end).
 *
 * Keys (tly_channel_init): prk = HKDF-Extract(salt = transcript hash,
 * ikm = the X25519 output of the two ephemeral keys), then one key per
 * direction, HKDF-Expand(prk, "tally/channel/v1 key coordinator->node")
 * and "... node->coordinator". The transcript hash is tly_channel_transcript
 * of what both signatures of the handshake cover.
 *
 * Each direction seals at most TLY_CHANNEL_FRAMES_MAX frames and
 * TLY_CHANNEL_BYTES_MAX body bytes under one key (TLY_ERANGE past them:
 * close and redial, which makes new keys). Thread safety: one thread at a
 * time per channel; the two directions share nothing but the struct.
 */
#ifndef TLY_CHANNEL_H
#define TLY_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/error.h"
#include "crypto/kx.h"
#include "crypto/sign.h"
#include "wire/messages.h"

enum {
	TLY_CHANNEL_KEY_BYTES = TLY_AEAD_KEY_BYTES,
	TLY_CHANNEL_HASH_BYTES = TLY_DIGEST_BYTES,
	TLY_CHANNEL_CHALLENGE_BYTES = 32,
	TLY_CHANNEL_LENGTH_BYTES = 4,
	TLY_CHANNEL_HEAD_BYTES = TLY_CHANNEL_LENGTH_BYTES + 1, /* length, type */
	TLY_CHANNEL_OVERHEAD = TLY_CHANNEL_HEAD_BYTES + TLY_AEAD_TAG_BYTES,
	TLY_CHANNEL_BODY_MAX = TLY_MAX_MESSAGE_BYTES,
	TLY_CHANNEL_FRAME_MAX = TLY_CHANNEL_BODY_MAX + TLY_CHANNEL_OVERHEAD,
};

_Static_assert((uint64_t)TLY_CHANNEL_FRAME_MAX < UINT32_MAX, "frame lengths fit u32");

#define TLY_CHANNEL_FRAMES_MAX (UINT64_C(1) << 32)
#define TLY_CHANNEL_BYTES_MAX  (UINT64_C(1) << 36)

enum tly_channel_type {
	TLY_CHANNEL_MESSAGE = 1,
	TLY_CHANNEL_KEEPALIVE = 2,
	TLY_CHANNEL_CLOSE = 3,
};

/* Which end this is: it decides which key seals and which opens. */
enum tly_channel_role {
	TLY_CHANNEL_COORDINATOR = 1,
	TLY_CHANNEL_NODE = 2,
};

enum tly_channel_state {
	TLY_CHANNEL_OPEN = 0,
	TLY_CHANNEL_CLOSED = 1, /* the close frame went (tx) or came (rx) */
	TLY_CHANNEL_FAILED = 2, /* rx only: a frame did not open */
};

struct tly_channel_dir {
	uint8_t key[TLY_CHANNEL_KEY_BYTES];
	uint64_t frames; /* sealed or opened so far: the next frame's counter */
	uint64_t bytes;  /* body bytes sealed or opened so far */
	enum tly_channel_state state;
};

/* Caller-embedded; tly_channel_init fills it, tly_channel_fini wipes it. */
struct tly_channel {
	struct tly_channel_dir tx, rx;
};

/* th = SHA-256("tally/channel/v1 transcript" || coordinator_pk || id u32 ||
 * challenge || e_coordinator || e_node): the handshake's transcript, which
 * both signatures cover (docs/CHANNEL.md §2). TLY_ENOMEM, TLY_ECRYPTO. */
TLY_MUST tly_err tly_channel_transcript(uint8_t th[static TLY_CHANNEL_HASH_BYTES],
                                        const uint8_t coordinator_pk[static TLY_SIGN_PUBLIC_BYTES],
                                        uint32_t id,
                                        const uint8_t challenge[static TLY_CHANNEL_CHALLENGE_BYTES],
                                        const uint8_t e_coordinator[static TLY_KX_PUBLIC_BYTES],
                                        const uint8_t e_node[static TLY_KX_PUBLIC_BYTES]);

/* Both directions' keys from the X25519 output of the two ephemeral keys
 * and the transcript hash, counters at 0. TLY_EINVAL for an unknown role.
 * ch is written only on success. */
TLY_MUST tly_err tly_channel_init(struct tly_channel *ch, enum tly_channel_role role,
                                  const uint8_t shared[static TLY_KX_SHARED_BYTES],
                                  const uint8_t th[static TLY_CHANNEL_HASH_BYTES]);

/* Wipe the keys. Accepts NULL and zeroed memory. */
void tly_channel_fini(struct tly_channel *ch);

/* The bytes of a frame carrying body_len bytes: body_len + OVERHEAD. */
size_t tly_channel_frame_bytes(size_t body_len);

/* From the first TLY_CHANNEL_LENGTH_BYTES of a frame read off the stream,
 * the whole frame's bytes, to read before tly_channel_open: TLY_EFORMAT
 * when the length is below the smallest frame or above the largest (read
 * nothing more, close). */
TLY_MUST tly_err tly_channel_frame_length(const uint8_t head[static TLY_CHANNEL_LENGTH_BYTES],
                                          size_t *frame_len);

/* Seal body into frame (tly_channel_frame_bytes(body_len) bytes, not
 * overlapping body) under the next tx counter. TLY_EINVAL: unknown type,
 * an empty message, a keepalive or close with a body, body_len over
 * TLY_CHANNEL_BODY_MAX; TLY_ESTATE after the close frame was sealed;
 * TLY_ERANGE when the direction's limits would be passed; TLY_ECRYPTO,
 * TLY_ENOMEM (OpenSSL). Nothing is consumed on failure. */
TLY_MUST tly_err tly_channel_seal(struct tly_channel *ch, uint8_t *frame,
                                  enum tly_channel_type type, const uint8_t *body, size_t body_len);

/* Open one whole frame (head included) under the next rx counter: *type
 * and the body into body (frame_len - TLY_CHANNEL_OVERHEAD bytes; may be
 * NULL when that is 0), *body_len. On any refusal the channel fails for
 * good and body holds no unauthenticated byte: TLY_EFORMAT (a frame too
 * short or long, a length that is not frame_len's, an unknown type, a
 * keepalive or close with a body, an empty message), TLY_EAUTH (it does not
 * open: tampered, replayed, reordered, dropped before, reflected, another
 * connection's), TLY_ERANGE (past the limits), TLY_ESTATE (the channel
 * failed before, or the peer's close came already), TLY_ECRYPTO,
 * TLY_ENOMEM (OpenSSL). */
TLY_MUST tly_err tly_channel_open(struct tly_channel *ch, uint8_t *body, size_t *body_len,
                                  enum tly_channel_type *type, const uint8_t *frame,
                                  size_t frame_len);

/* The stream ended here: TLY_OK when the peer's close frame was opened,
 * TLY_EFORMAT when it was not (the stream was cut short: truncation at a
 * frame boundary, or within a frame the caller could not read whole). */
TLY_MUST tly_err tly_channel_end(const struct tly_channel *ch);

#endif
