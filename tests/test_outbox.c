/* wire/outbox: the messages a state machine wants sent. Push takes the
 * buffer's storage on success and on failure, a failed buffer is refused
 * with its own error, truncate drops exactly the tail. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "wire/outbox.h"

static void
push_u32(struct tly_outbox *box, uint32_t to, uint32_t v)
{
	struct tly_buf msg;

	tly_buf_init(&msg);
	tly_buf_put_u32(&msg, v);
	cr_assert_eq(tly_outbox_push(box, to, &msg), TLY_OK);
	cr_assert_null(msg.data, "push takes the storage");
	cr_assert_eq(msg.len, 0);
}

Test(outbox, push_keeps_order_and_address)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	for (uint32_t i = 0; i < 40; i++)
		push_u32(&box, i + 1, i * 3);
	cr_assert_eq(box.count, 40);
	cr_assert_geq(box.cap, 40);
	for (uint32_t i = 0; i < 40; i++) {
		cr_assert_eq(box.items[i].to, i + 1);
		cr_assert_eq(box.items[i].len, 4);
		cr_assert_eq(tly_load_be32(box.items[i].data), i * 3);
	}
	tly_outbox_fini(&box);
	cr_assert_null(box.items);
	cr_assert_eq(box.count, 0);
	cr_assert_eq(box.cap, 0);
	tly_outbox_fini(NULL);
}

/* A buffer whose writer failed is refused with that error, freed, and the
 * outbox is unchanged. */
Test(outbox, failed_buffer_is_refused)
{
	struct tly_outbox box;
	struct tly_buf msg;

	tly_outbox_init(&box);
	push_u32(&box, 1, 1);
	tly_buf_init(&msg);
	tly_buf_put_u32(&msg, 5);
	cr_assert_null(tly_buf_extend(&msg, SIZE_MAX));
	cr_assert_eq(tly_outbox_push(&box, 2, &msg), TLY_ERANGE);
	cr_assert_eq(box.count, 1);
	cr_assert_null(msg.data, "the refused buffer is freed");
	cr_assert_eq(msg.error, TLY_OK);
	tly_outbox_fini(&box);
}

Test(outbox, empty_message_is_pushed)
{
	struct tly_outbox box;
	struct tly_buf msg;

	tly_outbox_init(&box);
	tly_buf_init(&msg);
	cr_assert_eq(tly_outbox_push(&box, 7, &msg), TLY_OK);
	cr_assert_eq(box.count, 1);
	cr_assert_eq(box.items[0].to, 7);
	cr_assert_eq(box.items[0].len, 0);
	tly_outbox_fini(&box);
}

Test(outbox, truncate_drops_only_the_tail)
{
	struct tly_outbox box;

	tly_outbox_init(&box);
	for (uint32_t i = 0; i < 5; i++)
		push_u32(&box, i, i);
	tly_outbox_truncate(&box, 5);
	cr_assert_eq(box.count, 5, "truncate to the count keeps everything");
	tly_outbox_truncate(&box, 9);
	cr_assert_eq(box.count, 5, "truncate past the count keeps everything");
	tly_outbox_truncate(&box, 2);
	cr_assert_eq(box.count, 2);
	cr_assert_eq(tly_load_be32(box.items[1].data), 1);
	cr_assert_null(box.items[2].data, "a dropped item is freed and cleared");
	cr_assert_eq(box.items[2].len, 0);
	tly_outbox_clear(&box);
	cr_assert_eq(box.count, 0);
	cr_assert_not_null(box.items, "clear keeps the array");
	push_u32(&box, 3, 33);
	cr_assert_eq(box.count, 1);
	tly_outbox_fini(&box);
}
