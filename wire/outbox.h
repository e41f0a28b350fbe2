/*
 * outbox.h - the messages a state machine wants sent.
 *
 * Protocol state machines are pure: they take a message and append what
 * they would send to an outbox. The caller (tests in one process, or the
 * transport in the daemons) delivers them. Each item owns its bytes.
 */
#ifndef TLY_OUTBOX_H
#define TLY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "wire/buf.h"

struct tly_outmsg {
	uint32_t to; /* party id, TLY_PARTY_COORDINATOR or TLY_PARTY_ALL */
	uint8_t *data;
	size_t len;
};

struct tly_outbox {
	struct tly_outmsg *items;
	size_t count;
	size_t cap;
};

void tly_outbox_init(struct tly_outbox *box);
/* Free every message (wiped) and the array. */
void tly_outbox_fini(struct tly_outbox *box);
/* Drop every message, keep the array. */
void tly_outbox_clear(struct tly_outbox *box);
/* Drop (wipe and free) the items after the first `count`: how a state
 * machine takes back what it appended when a later step fails. */
void tly_outbox_truncate(struct tly_outbox *box, size_t count);

/* Append msg's bytes addressed to `to`; takes msg's storage (msg is left
 * empty) on success and on failure. TLY_ENOMEM, or msg->error if set. */
TLY_MUST tly_err tly_outbox_push(struct tly_outbox *box, uint32_t to, struct tly_buf *msg);

#endif
