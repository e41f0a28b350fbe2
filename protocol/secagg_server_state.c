/*
 * secagg_server_state.c - the server's state shared by its message
 * handlers (secagg_server.c) and its round ends (secagg_close.c): a
 * participant's record, the coordinator's header and a signed broadcast.
 * Calls nothing in either, so that the server's files form a DAG:
 * secagg_server.c -> secagg_close.c -> this file.
 */
#include <string.h>

#include "protocol/secagg_impl.h"

struct tly_secagg_client_rec *
tly_secagg_client_of(struct tly_secagg_server *s, uint32_t id)
{
	long index = tly_graph_index(&s->graph, id);
	return index < 0 ? NULL : &s->clients[index];
}

struct tly_msg_header
tly_secagg_server_header(const struct tly_secagg_server *s, enum tly_msg_type type,
                         uint32_t recipient)
{
	struct tly_msg_header header = {
	    .type = type,
	    .sender = TLY_PARTY_COORDINATOR,
	    .recipient = recipient,
	};

	memcpy(header.query_id, s->query_id, TLY_QUERY_ID_BYTES);
	return header;
}

tly_err
tly_secagg_broadcast(struct tly_secagg_server *s, enum tly_msg_type type,
                     const struct tly_buf *body, uint8_t flag, struct tly_outbox *box)
{
	struct tly_msg_header header = tly_secagg_server_header(s, type, TLY_PARTY_ALL);
	size_t mark = box->count;
	struct tly_buf msg;
	tly_err rv;

	tly_buf_init(&msg);
	rv = body->error;
	if (rv == TLY_OK)
		rv = tly_msg_seal(&msg, &header, body->data, body->len, s->coord->sign);
	for (uint32_t i = 0; i < s->n && rv == TLY_OK; i++)
		if (flag == 0 || (s->clients[i].flags & flag))
			rv = tly_secagg_forward(box, s->clients[i].id, msg.data, msg.len);
	tly_buf_fini(&msg);
	if (rv != TLY_OK)
		tly_outbox_truncate(box, mark);
	return rv;
}
