/*
 * buf.h - growable byte buffers for building messages, and bounds-checked
 * readers for parsing them.
 *
 * Writers record the first failure (allocation, or a value past a cap) in
 * the buffer and ignore later writes, so an encoder checks once at the end.
 * Readers do the same: once a read would run past the end, every later read
 * fails and returns zeros. Big-endian throughout.
 */
#ifndef TLY_BUF_H
#define TLY_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

struct tly_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	tly_err error; /* first failure, or TLY_OK */
};

void tly_buf_init(struct tly_buf *b);
/* Free the storage; wipe it first (messages may carry secrets). */
void tly_buf_fini(struct tly_buf *b);
/* Empty without freeing (wipes the old contents). */
void tly_buf_reset(struct tly_buf *b);
/* Make the capacity at least `total` bytes (len is unchanged): for a
 * message whose size is known before it is written. Returns b->error. */
tly_err tly_buf_reserve(struct tly_buf *b, size_t total);
/* Make room for `more` bytes; returns a pointer to them (len is advanced),
 * or NULL after a failure (b->error set) or for 0 bytes of a buffer that
 * has no storage yet. */
uint8_t *tly_buf_extend(struct tly_buf *b, size_t more);
void tly_buf_put_u8(struct tly_buf *b, uint8_t v);
void tly_buf_put_u16(struct tly_buf *b, uint16_t v);
void tly_buf_put_u32(struct tly_buf *b, uint32_t v);
void tly_buf_put_u64(struct tly_buf *b, uint64_t v);
void tly_buf_put_bytes(struct tly_buf *b, const void *p, size_t n);
/* Hand the storage to the caller (who frees it with free()); b is empty. */
uint8_t *tly_buf_take(struct tly_buf *b, size_t *len);

struct tly_reader {
	const uint8_t *p;
	size_t left;
	int failed;
};

void tly_reader_init(struct tly_reader *r, const uint8_t *p, size_t len);
uint8_t tly_get_u8(struct tly_reader *r);
uint16_t tly_get_u16(struct tly_reader *r);
uint32_t tly_get_u32(struct tly_reader *r);
uint64_t tly_get_u64(struct tly_reader *r);
/* Copy n bytes out (zeros on failure). */
void tly_get_bytes(struct tly_reader *r, void *out, size_t n);
/* Borrow n bytes in place; NULL on failure. */
const uint8_t *tly_get_view(struct tly_reader *r, size_t n);
/* TLY_OK when nothing failed and nothing is left over, else TLY_EFORMAT. */
TLY_MUST tly_err tly_reader_done(const struct tly_reader *r);

/* Load and store big-endian integers at p. */
uint32_t tly_load_be32(const uint8_t *p);
uint64_t tly_load_be64(const uint8_t *p);
void tly_store_be32(uint8_t *p, uint32_t v);
void tly_store_be64(uint8_t *p, uint64_t v);

#endif
