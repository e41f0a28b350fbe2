#include "wire/buf.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

void
tly_buf_init(struct tly_buf *b)
{
	memset(b, 0, sizeof *b);
}

void
tly_buf_fini(struct tly_buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL) {
		TLY_WIPE(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof *b);
}

void
tly_buf_reset(struct tly_buf *b)
{
	if (b->data != NULL)
		TLY_WIPE(b->data, b->len);
	b->len = 0;
	b->error = TLY_OK;
}

/* Make the capacity at least `need`, copying so that the old storage can
 * be wiped. */
static int
grow(struct tly_buf *b, size_t need)
{
	/* Double for small appends; take exactly what a large one needs, so
	 * that an 80 KB message does not become a 128 KB allocation (glibc's
	 * mmap threshold: mapped and unmapped again on every call). */
	size_t cap = b->cap < 128 ? 256 : 2 * b->cap;
	if (cap < need)
		cap = need;
	uint8_t *data = malloc(cap);
	if (data == NULL) {
		b->error = TLY_ENOMEM;
		return 0;
	}
	if (b->data != NULL) {
		memcpy(data, b->data, b->len);
		TLY_WIPE(b->data, b->cap);
		free(b->data);
	}
	b->data = data;
	b->cap = cap;
	return 1;
}

tly_err
tly_buf_reserve(struct tly_buf *b, size_t total)
{
	if (b->error == TLY_OK && total > b->cap)
		(void)grow(b, total);
	return b->error;
}

uint8_t *
tly_buf_extend(struct tly_buf *b, size_t more)
{
	if (b->error != TLY_OK)
		return NULL;
	if (more > SIZE_MAX / 2 - b->len) {
		b->error = TLY_ERANGE;
		return NULL;
	}
	if (b->len + more > b->cap && !grow(b, b->len + more))
		return NULL;
	/* No storage yet (0 bytes into an empty buffer): NULL, not NULL + 0,
	 * which is undefined (found by fuzz_codec under UBSan). */
	uint8_t *p = b->data != NULL ? b->data + b->len : NULL;
	b->len += more;
	return p;
}

void
tly_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
tly_store_be64(uint8_t *p, uint64_t v)
{
	tly_store_be32(p, (uint32_t)(v >> 32));
	tly_store_be32(p + 4, (uint32_t)v);
}

uint32_t
tly_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t
tly_load_be64(const uint8_t *p)
{
	return (uint64_t)tly_load_be32(p) << 32 | tly_load_be32(p + 4);
}

void
tly_buf_put_u8(struct tly_buf *b, uint8_t v)
{
	uint8_t *p = tly_buf_extend(b, 1);
	if (p != NULL)
		*p = v;
}

void
tly_buf_put_u16(struct tly_buf *b, uint16_t v)
{
	uint8_t *p = tly_buf_extend(b, 2);
	if (p != NULL) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

void
tly_buf_put_u32(struct tly_buf *b, uint32_t v)
{
	uint8_t *p = tly_buf_extend(b, 4);
	if (p != NULL)
		tly_store_be32(p, v);
}

void
tly_buf_put_u64(struct tly_buf *b, uint64_t v)
{
	uint8_t *p = tly_buf_extend(b, 8);
	if (p != NULL)
		tly_store_be64(p, v);
}

void
tly_buf_put_bytes(struct tly_buf *b, const void *src, size_t n)
{
	uint8_t *p = tly_buf_extend(b, n);
	if (p != NULL && n > 0)
		memcpy(p, src, n);
}

uint8_t *
tly_buf_take(struct tly_buf *b, size_t *len)
{
	uint8_t *data = b->data;

	*len = b->len;
	memset(b, 0, sizeof *b);
	return data;
}

void
tly_reader_init(struct tly_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->left = len;
	r->failed = 0;
}

const uint8_t *
tly_get_view(struct tly_reader *r, size_t n)
{
	if (r->failed || n > r->left) {
		r->failed = 1;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
tly_get_u8(struct tly_reader *r)
{
	const uint8_t *p = tly_get_view(r, 1);
	return p != NULL ? p[0] : 0;
}

uint16_t
tly_get_u16(struct tly_reader *r)
{
	const uint8_t *p = tly_get_view(r, 2);
	if (p == NULL)
		return 0;
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t
tly_get_u32(struct tly_reader *r)
{
	const uint8_t *p = tly_get_view(r, 4);
	return p != NULL ? tly_load_be32(p) : 0;
}

uint64_t
tly_get_u64(struct tly_reader *r)
{
	const uint8_t *p = tly_get_view(r, 8);
	return p != NULL ? tly_load_be64(p) : 0;
}

void
tly_get_bytes(struct tly_reader *r, void *out, size_t n)
{
	const uint8_t *p = tly_get_view(r, n);
	if (p != NULL)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

tly_err
tly_reader_done(const struct tly_reader *r)
{
	return r->failed || r->left != 0 ? TLY_EFORMAT : TLY_OK;
}
