/* wire/buf: growable writers and bounds-checked readers. Big-endian layout,
 * the first failure sticking on both sides, the overflow cap of extend, the
 * empty-buffer cases, and reader_done's two conditions. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/buf.h"

Test(buf, put_writes_big_endian)
{
	struct tly_buf b;
	static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	                               0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 'x',  'y'};

	tly_buf_init(&b);
	tly_buf_put_u8(&b, 0x01);
	tly_buf_put_u16(&b, 0x0203);
	tly_buf_put_u32(&b, 0x04050607);
	tly_buf_put_u64(&b, UINT64_C(0x08090a0b0c0d0e0f));
	tly_buf_put_bytes(&b, "xy", 2);
	cr_assert_eq(b.error, TLY_OK);
	cr_assert_eq(b.len, sizeof want);
	cr_assert_arr_eq(b.data, want, sizeof want);
	tly_buf_fini(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
}

Test(buf, read_back_every_width)
{
	struct tly_buf b;
	struct tly_reader r;
	uint8_t tail[3];

	tly_buf_init(&b);
	tly_buf_put_u8(&b, 0xff);
	tly_buf_put_u16(&b, 0xfffe);
	tly_buf_put_u32(&b, UINT32_MAX);
	tly_buf_put_u64(&b, UINT64_MAX - 1);
	tly_buf_put_bytes(&b, "abc", 3);
	tly_reader_init(&r, b.data, b.len);
	cr_assert_eq(tly_get_u8(&r), 0xff);
	cr_assert_eq(tly_get_u16(&r), 0xfffe);
	cr_assert_eq(tly_get_u32(&r), UINT32_MAX);
	cr_assert_eq(tly_get_u64(&r), UINT64_MAX - 1);
	tly_get_bytes(&r, tail, sizeof tail);
	cr_assert_arr_eq(tail, "abc", 3);
	cr_assert_eq(tly_reader_done(&r), TLY_OK);
	tly_buf_fini(&b);
}

Test(buf, load_store_round_trip)
{
	uint8_t p[8];

	tly_store_be32(p, 0x89abcdef);
	cr_assert_eq(p[0], 0x89);
	cr_assert_eq(p[3], 0xef);
	cr_assert_eq(tly_load_be32(p), 0x89abcdef);
	tly_store_be64(p, UINT64_C(0x0123456789abcdef));
	cr_assert_eq(p[0], 0x01);
	cr_assert_eq(p[7], 0xef);
	cr_assert_eq(tly_load_be64(p), UINT64_C(0x0123456789abcdef));
}

/* Growing keeps what was written: across the 256-byte first allocation and
 * a large append that takes exactly what it needs. */
Test(buf, growth_keeps_contents)
{
	struct tly_buf b;
	uint8_t *big = malloc(100000);

	cr_assert_not_null(big);
	for (size_t i = 0; i < 100000; i++)
		big[i] = (uint8_t)(i * 7);
	tly_buf_init(&b);
	for (uint32_t i = 0; i < 100; i++)
		tly_buf_put_u32(&b, i);
	cr_assert_geq(b.cap, 400);
	tly_buf_put_bytes(&b, big, 100000);
	cr_assert_eq(b.error, TLY_OK);
	cr_assert_eq(b.len, 400 + 100000);
	cr_assert_eq(b.cap, 400 + 100000, "a large append takes exactly what it needs");
	for (uint32_t i = 0; i < 100; i++)
		cr_assert_eq(tly_load_be32(b.data + 4 * i), i);
	cr_assert_arr_eq(b.data + 400, big, 100000);
	tly_buf_fini(&b);
	free(big);
}

Test(buf, reserve_sets_capacity_not_length)
{
	struct tly_buf b;

	tly_buf_init(&b);
	cr_assert_eq(tly_buf_reserve(&b, 1000), TLY_OK);
	cr_assert_geq(b.cap, 1000);
	cr_assert_eq(b.len, 0);
	uint8_t *before = b.data;
	cr_assert_eq(tly_buf_reserve(&b, 10), TLY_OK);
	cr_assert_eq(b.data, before, "a smaller reserve does not reallocate");
	tly_buf_fini(&b);
}

/* Past SIZE_MAX / 2 - len: TLY_ERANGE, and every later write is ignored. */
Test(buf, extend_overflow_is_erange_and_sticks)
{
	struct tly_buf b;

	tly_buf_init(&b);
	tly_buf_put_u8(&b, 1);
	cr_assert_null(tly_buf_extend(&b, SIZE_MAX / 2));
	cr_assert_eq(b.error, TLY_ERANGE);
	cr_assert_eq(b.len, 1);
	tly_buf_put_u32(&b, 7);
	cr_assert_eq(b.len, 1, "a write after the failure is ignored");
	cr_assert_eq(tly_buf_reserve(&b, 4096), TLY_ERANGE);
	cr_assert_eq(b.cap < 4096, 1, "reserve after a failure does nothing");
	tly_buf_fini(&b);
}

Test(buf, extend_zero_of_empty_is_null_not_error)
{
	struct tly_buf b;

	tly_buf_init(&b);
	cr_assert_null(tly_buf_extend(&b, 0));
	cr_assert_eq(b.error, TLY_OK);
	tly_buf_put_bytes(&b, NULL, 0);
	cr_assert_eq(b.error, TLY_OK);
	cr_assert_eq(b.len, 0);
	tly_buf_fini(&b);
}

Test(buf, reset_empties_and_clears_error)
{
	struct tly_buf b;

	tly_buf_init(&b);
	tly_buf_put_bytes(&b, "secret", 6);
	uint8_t *data = b.data;
	tly_buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.data, data, "reset keeps the storage");
	cr_assert_arr_eq(data, "\0\0\0\0\0\0", 6, "reset wipes the old contents");
	cr_assert_null(tly_buf_extend(&b, SIZE_MAX));
	cr_assert_eq(b.error, TLY_ERANGE);
	tly_buf_reset(&b);
	cr_assert_eq(b.error, TLY_OK);
	tly_buf_put_u8(&b, 9);
	cr_assert_eq(b.len, 1);
	tly_buf_fini(&b);
}

Test(buf, take_hands_over_storage)
{
	struct tly_buf b;
	size_t len = 0;

	tly_buf_init(&b);
	tly_buf_put_u16(&b, 0xbeef);
	uint8_t *data = tly_buf_take(&b, &len);
	cr_assert_eq(len, 2);
	cr_assert_eq(data[0], 0xbe);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 0);
	free(data);
	tly_buf_fini(&b);
	tly_buf_fini(NULL);
}

/* A read past the end fails, returns zeros, and every later read fails
 * even one that would fit. */
Test(reader, short_read_sticks)
{
	static const uint8_t in[] = {1, 2, 3};
	struct tly_reader r;
	uint8_t out[4] = {9, 9, 9, 9};

	tly_reader_init(&r, in, sizeof in);
	cr_assert_eq(tly_get_u32(&r), 0);
	cr_assert_eq(r.failed, 1);
	cr_assert_eq(r.left, 3, "a failed read consumes nothing");
	cr_assert_eq(tly_get_u8(&r), 0, "later reads fail even when they fit");
	cr_assert_eq(tly_get_u16(&r), 0);
	cr_assert_eq(tly_get_u64(&r), 0);
	tly_get_bytes(&r, out, sizeof out);
	cr_assert_arr_eq(out, "\0\0\0\0", 4, "a failed copy writes zeros");
	cr_assert_null(tly_get_view(&r, 0));
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT);
}

Test(reader, exact_length_boundary)
{
	static const uint8_t in[] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22};
	struct tly_reader r;

	tly_reader_init(&r, in, sizeof in);
	cr_assert_eq(tly_get_u64(&r), UINT64_C(0xaabbccddeeff1122));
	cr_assert_eq(r.left, 0);
	cr_assert_eq(tly_reader_done(&r), TLY_OK);
	cr_assert_not_null(tly_get_view(&r, 0), "a 0-byte view at the end is fine");
	cr_assert_null(tly_get_view(&r, 1), "one byte past the end is not");
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT);
}

Test(reader, leftover_bytes_are_eformat)
{
	static const uint8_t in[] = {1, 2, 3};
	struct tly_reader r;

	tly_reader_init(&r, in, sizeof in);
	cr_assert_eq(tly_get_u16(&r), 0x0102);
	cr_assert_eq(r.failed, 0);
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT, "one byte left over");
	const uint8_t *v = tly_get_view(&r, 1);
	cr_assert_eq(v, in + 2, "a view borrows in place");
	cr_assert_eq(tly_reader_done(&r), TLY_OK);
}

Test(reader, empty_input)
{
	struct tly_reader r;

	tly_reader_init(&r, NULL, 0);
	cr_assert_eq(tly_reader_done(&r), TLY_OK);
	cr_assert_eq(tly_get_u8(&r), 0);
	cr_assert_eq(tly_reader_done(&r), TLY_EFORMAT);
}
