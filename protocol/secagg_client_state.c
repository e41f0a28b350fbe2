/*
 * secagg_client_state.c - the client's state shared by its rounds 0-2
 * (secagg.c) and 3-4 (secagg_unmask.c): forgetting the secrets, the peer
 * table and the client's header. Calls nothing in either, so that the
 * client's files form a DAG: secagg.c -> secagg_unmask.c -> this file.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/wipe.h"
#include "protocol/secagg_impl.h"

void
tly_secagg_client_forget(struct tly_secagg_client *c)
{
	if (c->input != NULL) {
		TLY_WIPE(c->input, c->query.cells * sizeof *c->input);
		free(c->input);
		c->input = NULL;
	}
	sodium_free(c->secrets); /* wipes, held and agreed with it (one block) */
	c->secrets = NULL;
	c->held = NULL;
	c->agreed = NULL;
}

struct tly_secagg_peer *
tly_secagg_client_peer(const struct tly_secagg_client *c, uint32_t id)
{
	size_t lo = 0, hi = c->peer_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->peers[mid].id == id)
			return &c->peers[mid];
		if (c->peers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct tly_msg_header
tly_secagg_client_header(const struct tly_secagg_client *c, enum tly_msg_type type,
                         uint32_t recipient)
{
	struct tly_msg_header header = {
	    .type = type,
	    .sender = c->self->id,
	    .recipient = recipient,
	};

	memcpy(header.query_id, c->query_id, TLY_QUERY_ID_BYTES);
	return header;
}

tly_err
tly_secagg_client_send(const struct tly_secagg_client *c, enum tly_msg_type type,
                       const uint8_t *body, size_t len, struct tly_outbox *out)
{
	struct tly_msg_header header = tly_secagg_client_header(c, type, TLY_PARTY_COORDINATOR);

	return tly_msg_seal_to(out, TLY_PARTY_COORDINATOR, &header, body, len, c->self->sign);
}
