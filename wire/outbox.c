#include "wire/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

void
tly_outbox_init(struct tly_outbox *box)
{
	memset(box, 0, sizeof *box);
}

void
tly_outbox_truncate(struct tly_outbox *box, size_t count)
{
	while (box->count > count) {
		struct tly_outmsg *item = &box->items[--box->count];
		TLY_WIPE(item->data, item->len);
		free(item->data);
		item->data = NULL;
		item->len = 0;
	}
}

void
tly_outbox_clear(struct tly_outbox *box)
{
	tly_outbox_truncate(box, 0);
}

void
tly_outbox_fini(struct tly_outbox *box)
{
	if (box == NULL)
		return;
	tly_outbox_clear(box);
	free(box->items);
	memset(box, 0, sizeof *box);
}

tly_err
tly_outbox_push(struct tly_outbox *box, uint32_t to, struct tly_buf *msg)
{
	tly_err rv = msg->error;

	if (rv != TLY_OK)
		goto out;
	rv = TLY_ENOMEM;
	if (box->count == box->cap) {
		size_t cap = box->cap ? box->cap * 2 : 16;
		struct tly_outmsg *items = realloc(box->items, cap * sizeof *items);
		if (items == NULL)
			goto out;
		box->items = items;
		box->cap = cap;
	}
	struct tly_outmsg *item = &box->items[box->count++];
	item->to = to;
	item->data = tly_buf_take(msg, &item->len);
	return TLY_OK;
out:
	tly_buf_fini(msg);
	return rv;
}
