#include "wire/codec.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/wipe.h"

/* Per type: its round, who may send it, and the largest body it may have
 * (checked before the signature, so a peer cannot make us hash megabytes
 * of a message type that is never that large). */
enum sender_rule { FROM_COORDINATOR, FROM_NODE };

struct type_rule {
	enum tly_msg_type type;
	uint32_t round;
	enum sender_rule from;
	size_t max_body;
};

#define ID_LIST_MAX(fixed) ((fixed) + 4 + 4 * (size_t)TLY_MAX_PARTIES)
#define CELLS_BYTES        ((size_t)TLY_MAX_CELLS * TLY_FIELD_ELEMENT_BYTES)
/* The entries of a per-client list (KEY_LIST, SIGNATURE_LIST, UNMASK): a
 * neighbourhood and the client itself, whatever TLY_MAX_PARTIES is. */
#define ENTRY_LIST_MAX ((size_t)TLY_MAX_NEIGHBOURS + 1)

static const struct type_rule rules[] = {
    {TLY_MSG_QUERY, TLY_ROUND_QUERY, FROM_COORDINATOR,
     TLY_QUERY_FIXED_BYTES + 4 * ((size_t)TLY_MAX_PARTIES + TLY_MAX_COMMITTEE) +
         TLY_QUERY_SPEC_MAX},
    {TLY_MSG_ABORT, TLY_ROUND_ABORT, FROM_COORDINATOR, 4},
    {TLY_MSG_SHARE, TLY_ROUND_SHARE, FROM_NODE, CELLS_BYTES + TLY_AEAD_TAG_BYTES},
    {TLY_MSG_ANNOUNCE, TLY_ROUND_ANNOUNCE, FROM_COORDINATOR, ID_LIST_MAX(4)},
    {TLY_MSG_SHARE_SUM, TLY_ROUND_SHARE_SUM, FROM_NODE, 4 + TLY_HASH_BYTES + CELLS_BYTES},
    {TLY_MSG_COMPLAINT, TLY_ROUND_SHARE_SUM, FROM_NODE, ID_LIST_MAX(4)},
    {TLY_MSG_RECEIPT, TLY_ROUND_RECEIPT, FROM_NODE, TLY_RECEIPT_BODY_MAX},
    {TLY_MSG_REFUSAL, TLY_ROUND_REFUSAL, FROM_NODE, 4 + 2 + TLY_REFUSAL_TEXT_MAX},
    {TLY_MSG_SET_SIGN, TLY_ROUND_SET_SIGN, FROM_NODE, TLY_SET_SIGN_BYTES},
    {TLY_MSG_SET_CERT, TLY_ROUND_SET_CERT, FROM_COORDINATOR,
     ID_LIST_MAX(4) + 4 + (size_t)TLY_MAX_COMMITTEE *TLY_SIGNATURE_ENTRY_BYTES},
    {TLY_MSG_ADVERTISE, TLY_ROUND_ADVERTISE, FROM_NODE, 2 * TLY_KX_PUBLIC_BYTES},
    {TLY_MSG_KEY_LIST, TLY_ROUND_KEY_LIST, FROM_COORDINATOR,
     4 + ENTRY_LIST_MAX *TLY_KEY_ENTRY_BYTES},
    {TLY_MSG_KEY_SHARE, TLY_ROUND_KEY_SHARE, FROM_NODE, TLY_KEY_SHARE_CIPHER_BYTES},
    {TLY_MSG_SHARE_SET, TLY_ROUND_SHARE_SET, FROM_COORDINATOR, 4 + 4 * (size_t)TLY_MAX_NEIGHBOURS},
    {TLY_MSG_MASKED_INPUT, TLY_ROUND_MASKED_INPUT, FROM_NODE, CELLS_BYTES},
    {TLY_MSG_SURVIVORS, TLY_ROUND_SURVIVORS, FROM_COORDINATOR, ID_LIST_MAX(0)},
    {TLY_MSG_CONSISTENCY, TLY_ROUND_CONSISTENCY, FROM_NODE, TLY_HASH_BYTES},
    {TLY_MSG_SIGNATURE_LIST, TLY_ROUND_SIGNATURE_LIST, FROM_COORDINATOR,
     4 + ENTRY_LIST_MAX *TLY_SIGNATURE_ENTRY_BYTES},
    {TLY_MSG_UNMASK, TLY_ROUND_UNMASK, FROM_NODE, 4 + ENTRY_LIST_MAX *TLY_UNMASK_ENTRY_BYTES},
};

static const struct type_rule *
rule_of(unsigned type)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if ((unsigned)rules[i].type == type)
			return &rules[i];
	return NULL;
}

int
tly_msg_round(enum tly_msg_type type)
{
	const struct type_rule *rule = rule_of((unsigned)type);
	return rule != NULL ? (int)rule->round : -1;
}

void
tly_hash(uint8_t out[static TLY_HASH_BYTES], const char *domain, const uint8_t *data, size_t len)
{
	crypto_generichash_state state;
	uint8_t domain_len = (uint8_t)strlen(domain);

	crypto_generichash_init(&state, NULL, 0, TLY_HASH_BYTES);
	crypto_generichash_update(&state, &domain_len, 1);
	crypto_generichash_update(&state, (const uint8_t *)domain, domain_len);
	crypto_generichash_update(&state, data, len);
	crypto_generichash_final(&state, out, TLY_HASH_BYTES);
}

/* ---- envelopes: header, signature ---- */

void
tly_msg_raw_header(uint8_t out[static TLY_HEADER_BYTES], const struct tly_msg_header *header,
                   uint32_t body_len)
{
	int round = tly_msg_round(header->type);

	out[0] = TLY_WIRE_VERSION;
	out[1] = (uint8_t)header->type;
	out[2] = 0;
	out[3] = 0;
	memcpy(out + 4, header->query_id, TLY_QUERY_ID_BYTES);
	tly_store_be32(out + 20, (uint32_t)round);
	tly_store_be32(out + 24, header->sender);
	tly_store_be32(out + 28, header->recipient);
	tly_store_be32(out + 32, body_len);
}

tly_err
tly_msg_peek_for(const uint8_t *msg, size_t len, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                 struct tly_msg *out)
{
	struct tly_msg peeked;
	tly_err rv = tly_msg_peek(msg, len, &peeked);

	if (rv != TLY_OK)
		return rv;
	/* Query ids are public; a plain comparison is fine. */
	if (memcmp(peeked.header.query_id, query_id, TLY_QUERY_ID_BYTES) != 0)
		return TLY_EREPLAY;
	*out = peeked;
	return TLY_OK;
}

_Static_assert((int)TLY_MSG_DIGEST_BYTES == (int)TLY_DIGEST_BYTES, "message digest");

tly_err
tly_msg_digest(uint8_t out[static TLY_MSG_DIGEST_BYTES],
               const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *body,
               size_t body_len)
{
	static const char domain[] = TLY_MSG_SIGNATURE_DOMAIN;
	static const uint8_t domain_len = sizeof domain - 1;
	_Static_assert(sizeof domain - 1 <= UINT8_MAX, "domain length fits its byte");
	const struct tly_digest_part parts[] = {
	    {&domain_len, 1},
	    {domain, sizeof domain - 1},
	    {raw_header, TLY_HEADER_BYTES},
	    {body, body_len},
	};

	return tly_digest_sha256(out, parts, sizeof parts / sizeof parts[0]);
}

tly_err
tly_msg_verify(const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *body,
               size_t body_len, const uint8_t signature[static TLY_SIGNATURE_BYTES],
               const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t digest[TLY_MSG_DIGEST_BYTES];
	tly_err rv;

	if ((size_t)tly_load_be32(raw_header + 32) != body_len)
		return TLY_EFORMAT;
	if ((rv = tly_msg_digest(digest, raw_header, body, body_len)) != TLY_OK)
		return rv;
	return tly_sign_verify(signature, digest, sizeof digest, pk);
}

/* The raw header of a message to sign or verify; TLY_EINVAL for an
 * unknown type or an oversized body. */
static tly_err
raw_header_of(uint8_t raw[static TLY_HEADER_BYTES], const struct tly_msg_header *header,
              size_t body_len)
{
	const struct type_rule *rule = rule_of((unsigned)header->type);

	if (rule == NULL || body_len > rule->max_body)
		return TLY_EINVAL;
	tly_msg_raw_header(raw, header, (uint32_t)body_len);
	return TLY_OK;
}

tly_err
tly_msg_verify_header(const struct tly_msg_header *header, const uint8_t *body, size_t body_len,
                      const uint8_t signature[static TLY_SIGNATURE_BYTES],
                      const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	uint8_t raw[TLY_HEADER_BYTES];
	tly_err rv = raw_header_of(raw, header, body_len);

	if (rv != TLY_OK)
		return rv;
	return tly_msg_verify(raw, body, body_len, signature, pk);
}

static tly_err
sign_raw(uint8_t signature[static TLY_SIGNATURE_BYTES],
         const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *body, size_t body_len,
         const struct tly_sign_key *key)
{
	uint8_t digest[TLY_MSG_DIGEST_BYTES];
	tly_err rv = tly_msg_digest(digest, raw_header, body, body_len);

	if (rv != TLY_OK)
		return rv;
	return tly_sign(signature, key, digest, sizeof digest);
}

tly_err
tly_msg_sign(uint8_t signature[static TLY_SIGNATURE_BYTES], const struct tly_msg_header *header,
             const uint8_t *body, size_t body_len, const struct tly_sign_key *key)
{
	uint8_t raw[TLY_HEADER_BYTES];
	tly_err rv = raw_header_of(raw, header, body_len);

	if (rv != TLY_OK)
		return rv;
	return sign_raw(signature, raw, body, body_len, key);
}

tly_err
tly_msg_seal(struct tly_buf *out, const struct tly_msg_header *header, const uint8_t *body,
             size_t body_len, const struct tly_sign_key *key)
{
	uint8_t raw[TLY_HEADER_BYTES];
	tly_err rv = raw_header_of(raw, header, body_len);

	if (rv != TLY_OK)
		return rv;
	tly_buf_reset(out);
	/* The whole message at once, so that sealing never reallocates. */
	(void)tly_buf_reserve(out, TLY_HEADER_BYTES + body_len + TLY_SIGNATURE_BYTES);
	tly_buf_put_bytes(out, raw, sizeof raw);
	tly_buf_put_bytes(out, body, body_len);
	uint8_t *sig = tly_buf_extend(out, TLY_SIGNATURE_BYTES);
	if (sig == NULL)
		return out->error;
	return sign_raw(sig, out->data, out->data + TLY_HEADER_BYTES, body_len, key);
}

tly_err
tly_msg_seal_to(struct tly_outbox *box, uint32_t to, const struct tly_msg_header *header,
                const uint8_t *body, size_t body_len, const struct tly_sign_key *key)
{
	struct tly_buf msg;

	tly_buf_init(&msg);
	tly_err rv = tly_msg_seal(&msg, header, body, body_len, key);
	if (rv == TLY_OK)
		rv = tly_outbox_push(box, to, &msg); /* takes msg's storage */
	tly_buf_fini(&msg);
	return rv;
}

tly_err
tly_msg_peek(const uint8_t *buf, size_t len, struct tly_msg *out)
{
	struct tly_msg msg;

	if (len < TLY_HEADER_BYTES + TLY_SIGNATURE_BYTES || len > TLY_MAX_MESSAGE_BYTES)
		return TLY_EFORMAT;
	const struct type_rule *rule = rule_of(buf[1]);
	uint32_t body_len = tly_load_be32(buf + 32);
	if (buf[0] != TLY_WIRE_VERSION || rule == NULL || buf[2] != 0 || buf[3] != 0 ||
	    tly_load_be32(buf + 20) != rule->round || body_len > rule->max_body ||
	    (size_t)body_len != len - TLY_HEADER_BYTES - TLY_SIGNATURE_BYTES)
		return TLY_EFORMAT;

	memset(&msg, 0, sizeof msg);
	msg.header.type = rule->type;
	memcpy(msg.header.query_id, buf + 4, TLY_QUERY_ID_BYTES);
	msg.round = rule->round;
	msg.header.sender = tly_load_be32(buf + 24);
	msg.header.recipient = tly_load_be32(buf + 28);
	msg.raw_header = buf;
	msg.body = buf + TLY_HEADER_BYTES;
	msg.body_len = body_len;
	msg.signature = buf + TLY_HEADER_BYTES + body_len;
	*out = msg;
	return TLY_OK;
}

tly_err
tly_msg_open(const uint8_t *buf, size_t len, const struct tly_roster *roster, struct tly_msg *out)
{
	struct tly_msg msg;
	tly_err rv = tly_msg_peek(buf, len, &msg);

	if (rv != TLY_OK)
		return rv;
	const struct type_rule *rule = rule_of((unsigned)msg.header.type);
	int from_coordinator = msg.header.sender == TLY_PARTY_COORDINATOR;
	if (from_coordinator != (rule->from == FROM_COORDINATOR))
		return TLY_EPEER;
	const uint8_t *pk = tly_roster_sign_pk(roster, msg.header.sender);
	if (pk == NULL)
		return TLY_EPEER;
	rv = tly_msg_verify(msg.raw_header, msg.body, msg.body_len, msg.signature, pk);
	if (rv != TLY_OK)
		return rv;
	*out = msg;
	return TLY_OK;
}

/* ---- id lists ---- */

void
tly_idlist_fini(struct tly_idlist *list)
{
	if (list == NULL)
		return;
	free(list->ids);
	memset(list, 0, sizeof *list);
}

void
tly_idlist_hash(uint8_t out[static TLY_HASH_BYTES],
                const uint8_t query_id[static TLY_QUERY_ID_BYTES], const struct tly_idlist *list)
{
	crypto_generichash_state state;
	static const uint8_t domain[] = "tally/set/v1";
	uint8_t word[4];

	crypto_generichash_init(&state, NULL, 0, TLY_HASH_BYTES);
	crypto_generichash_update(&state, domain, sizeof domain - 1);
	crypto_generichash_update(&state, query_id, TLY_QUERY_ID_BYTES);
	tly_store_be32(word, list->count);
	crypto_generichash_update(&state, word, sizeof word);
	for (uint32_t i = 0; i < list->count; i++) {
		tly_store_be32(word, list->ids[i]);
		crypto_generichash_update(&state, word, sizeof word);
	}
	crypto_generichash_final(&state, out, TLY_HASH_BYTES);
}

long
tly_ids_find(const uint32_t *ids, size_t count, uint32_t id)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return (long)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

long
tly_idlist_find(const struct tly_idlist *list, uint32_t id)
{
	return tly_ids_find(list->ids, list->count, id);
}

int
tly_idlist_in_roster(const struct tly_idlist *list, const struct tly_roster *roster)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (tly_roster_find(roster, list->ids[i]) == NULL)
			return 0;
	return 1;
}

int
tly_idlist_contains(const struct tly_idlist *list, uint32_t id)
{
	return tly_idlist_find(list, id) >= 0;
}

static int
ids_valid(const uint32_t *ids, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		if (ids[i] == 0 || ids[i] > TLY_MAX_PARTY_ID || (i > 0 && ids[i] <= ids[i - 1]))
			return 0;
	return 1;
}

static void
put_ids(struct tly_buf *out, const struct tly_idlist *list)
{
	tly_buf_put_u32(out, list->count);
	for (uint32_t i = 0; i < list->count; i++)
		tly_buf_put_u32(out, list->ids[i]);
}

/* Read count and ids; the count is checked against the bytes left (each id
 * is 4 bytes) and `cap` before anything is allocated. */
static tly_err
get_ids(struct tly_reader *r, struct tly_idlist *list, uint32_t cap)
{
	uint32_t count = tly_get_u32(r);

	memset(list, 0, sizeof *list);
	if (r->failed || count > cap || (size_t)count > r->left / 4)
		return TLY_EFORMAT;
	if (count == 0)
		return TLY_OK;
	list->ids = malloc((size_t)count * sizeof *list->ids);
	if (list->ids == NULL)
		return TLY_ENOMEM;
	list->count = count;
	for (uint32_t i = 0; i < count; i++)
		list->ids[i] = tly_get_u32(r);
	if (!ids_valid(list->ids, count)) {
		tly_idlist_fini(list);
		return TLY_EFORMAT;
	}
	return TLY_OK;
}

tly_err
tly_idlist_encode(struct tly_buf *out, const struct tly_idlist *list)
{
	if (list->count > TLY_MAX_PARTIES || !ids_valid(list->ids, list->count))
		return TLY_EINVAL;
	put_ids(out, list);
	return out->error;
}

tly_err
tly_idlist_decode(struct tly_idlist *list, const uint8_t *body, size_t len)
{
	struct tly_reader r;
	struct tly_idlist got;

	tly_reader_init(&r, body, len);
	tly_err rv = get_ids(&r, &got, TLY_MAX_PARTIES);
	if (rv == TLY_OK && (rv = tly_reader_done(&r)) != TLY_OK)
		tly_idlist_fini(&got);
	if (rv == TLY_OK)
		*list = got;
	return rv;
}

tly_err
tly_attempt_list_encode(struct tly_buf *out, uint32_t attempt, const struct tly_idlist *list)
{
	if (attempt >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EINVAL;
	tly_buf_put_u32(out, attempt);
	return tly_idlist_encode(out, list);
}

tly_err
tly_attempt_list_decode(uint32_t *attempt, struct tly_idlist *list, const uint8_t *body, size_t len)
{
	if (len < 4 || tly_load_be32(body) >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EFORMAT;
	tly_err rv = tly_idlist_decode(list, body + 4, len - 4);
	if (rv == TLY_OK)
		*attempt = tly_load_be32(body);
	return rv;
}

/* ---- QUERY ---- */

void
tly_query_fini(struct tly_query *q)
{
	if (q == NULL)
		return;
	tly_idlist_fini(&q->participants);
	tly_idlist_fini(&q->committee);
	free(q->spec_json);
	q->spec_json = NULL;
	q->spec_len = 0;
	free(q->log_commit);
	q->log_commit = NULL;
	q->log_commit_len = 0;
}

/* The spec travels inside the signed QUERY and must be what query_hash
 * names: a coordinator cannot sign one question and ask another. */
static int
spec_matches(const struct tly_query *q)
{
	uint8_t hash[TLY_HASH_BYTES];

	if (q->spec_len == 0)
		return 1;
	if (q->spec_len > TLY_QUERY_SPEC_MAX || q->spec_json == NULL ||
	    memchr(q->spec_json, '\0', q->spec_len) != NULL)
		return 0;
	tly_hash(hash, "tally/query/v1", (const uint8_t *)q->spec_json, q->spec_len);
	return sodium_memcmp(hash, q->query_hash, TLY_HASH_BYTES) == 0;
}

static tly_err
query_check(const struct tly_query *q)
{
	uint32_t n = q->participants.count;

	if (q->protocol < TLY_PROTOCOL_COMMITTEE || q->protocol > TLY_PROTOCOL_SECAGG_PLUS)
		return TLY_EFORMAT;
	if (!spec_matches(q))
		return TLY_EFORMAT;
	if (q->log_commit_len > TLY_QUERY_LOG_MAX ||
	    (q->log_commit_len > 0 && q->log_commit == NULL))
		return TLY_EFORMAT;
	if (q->mechanism > TLY_MECH_SKELLAM)
		return TLY_EFORMAT;
	if (q->mechanism == TLY_MECH_NONE ? (q->privacy_num | q->privacy_den) != 0
	                                  : q->privacy_den == 0)
		return TLY_EFORMAT;
	if (q->cells == 0 || q->cells > TLY_MAX_CELLS)
		return TLY_EFORMAT;
	if (n == 0 || n > TLY_MAX_PARTIES || !ids_valid(q->participants.ids, n))
		return TLY_EFORMAT;
	if (q->min_honest == 0 || q->min_honest > n || q->min_contributors > n)
		return TLY_EFORMAT;
	if (!ids_valid(q->committee.ids, q->committee.count))
		return TLY_EFORMAT;
	if (q->protocol == TLY_PROTOCOL_COMMITTEE) {
		if (q->committee.count == 0 || q->committee.count > TLY_MAX_COMMITTEE ||
		    q->degree != q->committee.count || q->threshold == 0 ||
		    q->threshold > q->degree || q->quorum < q->threshold || q->quorum > q->degree)
			return TLY_EFORMAT;
	} else if (q->committee.count != 0 || q->threshold == 0 || q->threshold > n ||
	           q->quorum != 0) {
		return TLY_EFORMAT;
	}
	return TLY_OK;
}

tly_err
tly_query_encode(struct tly_buf *out, const struct tly_query *q)
{
	if (query_check(q) != TLY_OK)
		return TLY_EINVAL;
	tly_buf_put_bytes(out, q->query_hash, TLY_HASH_BYTES);
	tly_buf_put_u8(out, q->protocol);
	tly_buf_put_u8(out, q->mechanism);
	tly_buf_put_u16(out, q->quorum);
	tly_buf_put_u32(out, q->cells);
	tly_buf_put_u64(out, q->privacy_num);
	tly_buf_put_u64(out, q->privacy_den);
	tly_buf_put_u64(out, q->sensitivity_l1);
	tly_buf_put_u64(out, q->sensitivity_l2sq);
	tly_buf_put_u32(out, q->min_honest);
	tly_buf_put_u32(out, q->min_contributors);
	tly_buf_put_u16(out, q->threshold);
	tly_buf_put_u16(out, q->degree);
	tly_buf_put_u32(out, q->deadline_ms);
	put_ids(out, &q->participants);
	put_ids(out, &q->committee);
	tly_buf_put_u32(out, q->spec_len);
	tly_buf_put_bytes(out, q->spec_json, q->spec_len);
	tly_buf_put_u32(out, q->log_commit_len);
	tly_buf_put_bytes(out, q->log_commit, q->log_commit_len);
	return out->error;
}

/* The trailing log section (opaque here; store/head.h decodes it). */
static tly_err
get_log(struct tly_reader *r, struct tly_query *q)
{
	uint32_t len = tly_get_u32(r);

	if (r->failed || len > TLY_QUERY_LOG_MAX || len > r->left)
		return TLY_EFORMAT;
	if (len == 0)
		return TLY_OK;
	if ((q->log_commit = malloc(len)) == NULL)
		return TLY_ENOMEM;
	tly_get_bytes(r, q->log_commit, len);
	q->log_commit_len = len;
	return TLY_OK;
}

static tly_err
get_spec(struct tly_reader *r, struct tly_query *q)
{
	uint32_t len = tly_get_u32(r);

	if (r->failed || len > TLY_QUERY_SPEC_MAX || len > r->left)
		return TLY_EFORMAT;
	if (len == 0)
		return TLY_OK;
	q->spec_json = malloc((size_t)len + 1);
	if (q->spec_json == NULL)
		return TLY_ENOMEM;
	tly_get_bytes(r, q->spec_json, len);
	q->spec_json[len] = '\0';
	q->spec_len = len;
	return TLY_OK;
}

tly_err
tly_query_decode(struct tly_query *out, const uint8_t *body, size_t len)
{
	struct tly_reader r;
	struct tly_query q;
	tly_err rv;

	memset(&q, 0, sizeof q);
	tly_reader_init(&r, body, len);
	tly_get_bytes(&r, q.query_hash, TLY_HASH_BYTES);
	q.protocol = tly_get_u8(&r);
	q.mechanism = tly_get_u8(&r);
	q.quorum = tly_get_u16(&r);
	q.cells = tly_get_u32(&r);
	q.privacy_num = tly_get_u64(&r);
	q.privacy_den = tly_get_u64(&r);
	q.sensitivity_l1 = tly_get_u64(&r);
	q.sensitivity_l2sq = tly_get_u64(&r);
	q.min_honest = tly_get_u32(&r);
	q.min_contributors = tly_get_u32(&r);
	q.threshold = tly_get_u16(&r);
	q.degree = tly_get_u16(&r);
	q.deadline_ms = tly_get_u32(&r);
	rv = get_ids(&r, &q.participants, TLY_MAX_PARTIES);
	if (rv == TLY_OK)
		rv = get_ids(&r, &q.committee, TLY_MAX_COMMITTEE);
	if (rv == TLY_OK)
		rv = get_spec(&r, &q);
	if (rv == TLY_OK)
		rv = get_log(&r, &q);
	if (rv == TLY_OK)
		rv = tly_reader_done(&r);
	if (rv == TLY_OK)
		rv = query_check(&q);
	if (rv != TLY_OK) {
		tly_query_fini(&q);
		return rv;
	}
	*out = q;
	return TLY_OK;
}

/* n bytes of src in fresh memory, or NULL (src NULL or n 0 gives NULL too,
 * with *failed untouched). */
static void *
dup_bytes(const void *src, size_t n, int *failed)
{
	void *copy;

	if (src == NULL || n == 0)
		return NULL;
	copy = malloc(n);
	if (copy == NULL)
		*failed = 1;
	else
		memcpy(copy, src, n);
	return copy;
}

tly_err
tly_query_copy(struct tly_query *out, const struct tly_query *src)
{
	struct tly_query copy = *src;
	int failed = 0;

	copy.participants.ids =
	    dup_bytes(src->participants.ids, src->participants.count * sizeof(uint32_t), &failed);
	copy.committee.ids =
	    dup_bytes(src->committee.ids, src->committee.count * sizeof(uint32_t), &failed);
	/* spec_json is NUL-terminated: its terminator comes along. */
	copy.spec_json = dup_bytes(src->spec_json, src->spec_len + (size_t)1, &failed);
	copy.log_commit = dup_bytes(src->log_commit, src->log_commit_len, &failed);
	if (failed) {
		tly_query_fini(&copy);
		return TLY_ENOMEM;
	}
	*out = copy;
	return TLY_OK;
}

tly_err
tly_query_read(const struct tly_roster *roster, uint32_t self, const uint8_t *msg, size_t len,
               uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_query *q)
{
	struct tly_msg opened;
	tly_err rv = tly_msg_open(msg, len, roster, &opened);

	if (rv != TLY_OK)
		return rv;
	if (opened.header.type != TLY_MSG_QUERY)
		return TLY_ESTATE;
	if (opened.header.recipient != TLY_PARTY_ALL && opened.header.recipient != self)
		return TLY_EPEER;
	rv = tly_query_decode(q, opened.body, opened.body_len);
	if (rv == TLY_OK)
		memcpy(query_id, opened.header.query_id, TLY_QUERY_ID_BYTES);
	return rv;
}

tly_err
tly_query_read_checked(const struct tly_roster *roster, uint32_t self, const uint8_t *msg,
                       size_t len, tly_query_check_fn check,
                       uint8_t query_id[static TLY_QUERY_ID_BYTES], struct tly_query *q)
{
	struct tly_query decoded;
	uint8_t id[TLY_QUERY_ID_BYTES];
	tly_err rv = tly_query_read(roster, self, msg, len, id, &decoded);

	if (rv != TLY_OK)
		return rv;
	rv = check(&decoded, roster);
	if (rv != TLY_OK) {
		tly_query_fini(&decoded);
		return rv;
	}
	memcpy(query_id, id, TLY_QUERY_ID_BYTES);
	*q = decoded;
	return TLY_OK;
}

/* ---- small bodies ---- */

tly_err
tly_abort_encode(struct tly_buf *out, uint32_t reason)
{
	tly_buf_put_u32(out, reason);
	return out->error;
}

tly_err
tly_abort_decode(uint32_t *reason, const uint8_t *body, size_t len)
{
	if (len != 4)
		return TLY_EFORMAT;
	*reason = tly_load_be32(body);
	return TLY_OK;
}

tly_err
tly_refusal_encode(struct tly_buf *out, uint32_t reason, const char *text)
{
	size_t len = strlen(text);
	if (len > TLY_REFUSAL_TEXT_MAX)
		len = TLY_REFUSAL_TEXT_MAX;
	tly_buf_put_u32(out, reason);
	tly_buf_put_u16(out, (uint16_t)len);
	tly_buf_put_bytes(out, text, len);
	return out->error;
}

tly_err
tly_refusal_decode(uint32_t *reason, char text[static TLY_REFUSAL_TEXT_MAX + 1],
                   const uint8_t *body, size_t len)
{
	if (len < 6)
		return TLY_EFORMAT;
	size_t text_len = (size_t)body[4] << 8 | body[5];
	if (text_len > TLY_REFUSAL_TEXT_MAX || len != 6 + text_len ||
	    memchr(body + 6, '\0', text_len) != NULL)
		return TLY_EFORMAT;
	*reason = tly_load_be32(body);
	memcpy(text, body + 6, text_len);
	text[text_len] = '\0';
	return TLY_OK;
}

tly_err
tly_fixed_decode(const uint8_t **view, size_t expected, const uint8_t *body, size_t len)
{
	if (len != expected)
		return TLY_EFORMAT;
	*view = body;
	return TLY_OK;
}

/* ---- vectors ---- */

tly_err
tly_vector_encode(struct tly_buf *out, const uint64_t *elements, size_t d)
{
	if (d > TLY_MAX_CELLS || tly_field_vec_check(elements, d) != TLY_OK)
		return TLY_EINVAL;
	uint8_t *p = tly_buf_extend(out, d * TLY_FIELD_ELEMENT_BYTES);
	if (p != NULL)
		tly_field_vec_store(p, elements, d);
	return out->error;
}

tly_err
tly_vector_decode(uint64_t *elements, size_t d, const uint8_t *body, size_t len)
{
	if (d > TLY_MAX_CELLS || len != d * TLY_FIELD_ELEMENT_BYTES)
		return TLY_EFORMAT;
	return tly_field_vec_load(elements, body, d);
}

size_t
tly_share_body_bytes(enum tly_share_form form, size_t d)
{
	if (form == TLY_SHARE_SEEDED)
		return TLY_SHARE_SEEDED_BODY_BYTES;
	return d * TLY_FIELD_ELEMENT_BYTES + TLY_AEAD_TAG_BYTES;
}

tly_err
tly_share_form_decode(enum tly_share_form *form, const uint8_t **cipher, size_t *cipher_len,
                      const uint8_t *body, size_t len, size_t d)
{
	if (d == 0 || d > TLY_MAX_CELLS)
		return TLY_EFORMAT;
	if (len == tly_share_body_bytes(TLY_SHARE_WHOLE, d)) {
		*form = TLY_SHARE_WHOLE;
		*cipher = body;
		*cipher_len = len;
		return TLY_OK;
	}
	if (len != TLY_SHARE_SEEDED_BODY_BYTES || body[0] != TLY_SHARE_SEEDED)
		return TLY_EFORMAT;
	*form = TLY_SHARE_SEEDED;
	*cipher = body + 1;
	*cipher_len = len - 1;
	return TLY_OK;
}

tly_err
tly_share_sum_encode(struct tly_buf *out, uint32_t attempt,
                     const uint8_t set_hash[static TLY_HASH_BYTES], const uint64_t *elements,
                     size_t d)
{
	if (attempt >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EINVAL;
	tly_buf_put_u32(out, attempt);
	tly_buf_put_bytes(out, set_hash, TLY_HASH_BYTES);
	return tly_vector_encode(out, elements, d);
}

tly_err
tly_share_sum_decode(uint32_t *attempt, uint8_t set_hash[static TLY_HASH_BYTES], uint64_t *elements,
                     size_t d, const uint8_t *body, size_t len)
{
	if (len < 4 + TLY_HASH_BYTES || tly_load_be32(body) >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EFORMAT;
	tly_err rv =
	    tly_vector_decode(elements, d, body + 4 + TLY_HASH_BYTES, len - 4 - TLY_HASH_BYTES);
	if (rv != TLY_OK)
		return rv;
	*attempt = tly_load_be32(body);
	memcpy(set_hash, body + 4, TLY_HASH_BYTES);
	return TLY_OK;
}

/* ---- the agreement: SET_SIGN, SET_CERT ---- */

tly_err
tly_set_sign_encode(struct tly_buf *out, uint32_t attempt,
                    const uint8_t set_hash[static TLY_HASH_BYTES])
{
	if (attempt >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EINVAL;
	tly_buf_put_u32(out, attempt);
	tly_buf_put_bytes(out, set_hash, TLY_HASH_BYTES);
	return out->error;
}

tly_err
tly_set_sign_decode(uint32_t *attempt, uint8_t set_hash[static TLY_HASH_BYTES], const uint8_t *body,
                    size_t len)
{
	if (len != TLY_SET_SIGN_BYTES || tly_load_be32(body) >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EFORMAT;
	*attempt = tly_load_be32(body);
	memcpy(set_hash, body + 4, TLY_HASH_BYTES);
	return TLY_OK;
}

void
tly_set_cert_fini(struct tly_set_cert *cert)
{
	if (cert == NULL)
		return;
	tly_idlist_fini(&cert->set);
	tly_signature_list_fini(&cert->votes);
}

tly_err
tly_set_cert_encode(struct tly_buf *out, const struct tly_set_cert *cert)
{
	if (cert->votes.count == 0 || cert->votes.count > TLY_MAX_COMMITTEE)
		return TLY_EINVAL;
	tly_err rv = tly_attempt_list_encode(out, cert->attempt, &cert->set);
	return rv != TLY_OK ? rv : tly_signature_list_encode(out, &cert->votes);
}

tly_err
tly_set_cert_decode(struct tly_set_cert *cert, const uint8_t *body, size_t len)
{
	struct tly_set_cert got;
	struct tly_reader r;
	tly_err rv;

	memset(&got, 0, sizeof got);
	tly_reader_init(&r, body, len);
	got.attempt = tly_get_u32(&r);
	if (r.failed || got.attempt >= TLY_MAX_ANNOUNCE_ATTEMPTS)
		return TLY_EFORMAT;
	rv = get_ids(&r, &got.set, TLY_MAX_PARTIES);
	if (rv != TLY_OK)
		return rv;
	/* The votes run to the end: count, then exactly count entries. */
	const uint8_t *votes = body + (len - r.left);
	if (r.left < 4 || tly_load_be32(votes) == 0 || tly_load_be32(votes) > TLY_MAX_COMMITTEE)
		rv = TLY_EFORMAT;
	else
		rv = tly_signature_list_decode(&got.votes, votes, r.left);
	if (rv != TLY_OK) {
		tly_set_cert_fini(&got);
		return rv;
	}
	*cert = got;
	return TLY_OK;
}

/* ---- SecAgg bodies ---- */

tly_err
tly_advertise_encode(struct tly_buf *out, const struct tly_advertise *a)
{
	tly_buf_put_bytes(out, a->mask_pk, TLY_KX_PUBLIC_BYTES);
	tly_buf_put_bytes(out, a->secret_pk, TLY_KX_PUBLIC_BYTES);
	return out->error;
}

tly_err
tly_advertise_decode(struct tly_advertise *a, const uint8_t *body, size_t len)
{
	if (len != 2 * TLY_KX_PUBLIC_BYTES)
		return TLY_EFORMAT;
	memcpy(a->mask_pk, body, TLY_KX_PUBLIC_BYTES);
	memcpy(a->secret_pk, body + TLY_KX_PUBLIC_BYTES, TLY_KX_PUBLIC_BYTES);
	return TLY_OK;
}

/* The lists of KEY_LIST, SIGNATURE_LIST and UNMASK: count, then entries of
 * a fixed size, ids strictly increasing. Returns the count after checking
 * it against the exact length, or -1. */
static long
entry_count(const uint8_t *body, size_t len, size_t entry_bytes)
{
	if (len < 4)
		return -1;
	uint32_t count = tly_load_be32(body);
	if (count > ENTRY_LIST_MAX || len - 4 != (size_t)count * entry_bytes)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id = tly_load_be32(body + 4 + i * entry_bytes);
		if (id == 0 || id > TLY_MAX_PARTY_ID ||
		    (i > 0 && id <= tly_load_be32(body + 4 + (i - 1) * entry_bytes)))
			return -1;
	}
	return (long)count;
}

/* The one decoder of those lists: *entries (count entries of entry_size
 * bytes, NULL when count is 0) from body, each loaded by `load`, which
 * returns 0 for an entry whose bytes after the id are not valid. On error
 * nothing is allocated and *entries, *count are left as they are (the
 * callers zero them first); what was loaded is wiped (UNMASK holds
 * shares). */
static tly_err
list_decode(void **entries, uint32_t *count, size_t entry_size, const uint8_t *body, size_t len,
            size_t entry_bytes, int (*load)(void *entry, const uint8_t *p))
{
	long n = entry_count(body, len, entry_bytes);

	if (n < 0)
		return TLY_EFORMAT;
	if (n == 0)
		return TLY_OK;
	uint8_t *got = calloc((size_t)n, entry_size);
	if (got == NULL)
		return TLY_ENOMEM;
	for (long i = 0; i < n; i++) {
		if (!load(got + (size_t)i * entry_size, body + 4 + (size_t)i * entry_bytes)) {
			TLY_WIPE(got, (size_t)n * entry_size);
			free(got);
			return TLY_EFORMAT;
		}
	}
	*entries = got;
	*count = (uint32_t)n;
	return TLY_OK;
}

void
tly_key_list_fini(struct tly_key_list *list)
{
	if (list == NULL)
		return;
	free(list->entries);
	memset(list, 0, sizeof *list);
}

tly_err
tly_key_list_encode(struct tly_buf *out, const struct tly_key_list *list)
{
	if (list->count > ENTRY_LIST_MAX)
		return TLY_EINVAL;
	for (uint32_t i = 0; i < list->count; i++) {
		const struct tly_key_entry *e = &list->entries[i];
		if (e->id == 0 || e->id > TLY_MAX_PARTY_ID ||
		    (i > 0 && e->id <= list->entries[i - 1].id))
			return TLY_EINVAL;
	}
	tly_buf_put_u32(out, list->count);
	for (uint32_t i = 0; i < list->count; i++) {
		const struct tly_key_entry *e = &list->entries[i];
		tly_buf_put_u32(out, e->id);
		tly_buf_put_bytes(out, e->keys.mask_pk, TLY_KX_PUBLIC_BYTES);
		tly_buf_put_bytes(out, e->keys.secret_pk, TLY_KX_PUBLIC_BYTES);
		tly_buf_put_bytes(out, e->signature, TLY_SIGNATURE_BYTES);
	}
	return out->error;
}

static int
key_entry_load(void *entry, const uint8_t *p)
{
	struct tly_key_entry *e = entry;

	e->id = tly_load_be32(p);
	memcpy(e->keys.mask_pk, p + 4, TLY_KX_PUBLIC_BYTES);
	memcpy(e->keys.secret_pk, p + 4 + TLY_KX_PUBLIC_BYTES, TLY_KX_PUBLIC_BYTES);
	memcpy(e->signature, p + 4 + 2 * TLY_KX_PUBLIC_BYTES, TLY_SIGNATURE_BYTES);
	return 1;
}

tly_err
tly_key_list_decode(struct tly_key_list *list, const uint8_t *body, size_t len)
{
	memset(list, 0, sizeof *list);
	return list_decode((void **)&list->entries, &list->count, sizeof *list->entries, body, len,
	                   TLY_KEY_ENTRY_BYTES, key_entry_load);
}

void
tly_signature_list_fini(struct tly_signature_list *list)
{
	if (list == NULL)
		return;
	free(list->entries);
	memset(list, 0, sizeof *list);
}

tly_err
tly_signature_list_encode(struct tly_buf *out, const struct tly_signature_list *list)
{
	if (list->count > ENTRY_LIST_MAX)
		return TLY_EINVAL;
	for (uint32_t i = 0; i < list->count; i++) {
		uint32_t id = list->entries[i].id;
		if (id == 0 || id > TLY_MAX_PARTY_ID || (i > 0 && id <= list->entries[i - 1].id))
			return TLY_EINVAL;
	}
	tly_buf_put_u32(out, list->count);
	for (uint32_t i = 0; i < list->count; i++) {
		tly_buf_put_u32(out, list->entries[i].id);
		tly_buf_put_bytes(out, list->entries[i].signature, TLY_SIGNATURE_BYTES);
	}
	return out->error;
}

static int
signature_entry_load(void *entry, const uint8_t *p)
{
	struct tly_signature_entry *e = entry;

	e->id = tly_load_be32(p);
	memcpy(e->signature, p + 4, TLY_SIGNATURE_BYTES);
	return 1;
}

tly_err
tly_signature_list_decode(struct tly_signature_list *list, const uint8_t *body, size_t len)
{
	memset(list, 0, sizeof *list);
	return list_decode((void **)&list->entries, &list->count, sizeof *list->entries, body, len,
	                   TLY_SIGNATURE_ENTRY_BYTES, signature_entry_load);
}

void
tly_unmask_fini(struct tly_unmask *u)
{
	if (u == NULL)
		return;
	if (u->entries != NULL) {
		TLY_WIPE(u->entries, u->count * sizeof *u->entries);
		free(u->entries);
	}
	memset(u, 0, sizeof *u);
}

static int
unmask_kind_valid(uint8_t kind)
{
	return kind == TLY_UNMASK_SELF_SEED || kind == TLY_UNMASK_MASK_KEY;
}

tly_err
tly_unmask_encode(struct tly_buf *out, const struct tly_unmask *u)
{
	if (u->count > ENTRY_LIST_MAX)
		return TLY_EINVAL;
	for (uint32_t i = 0; i < u->count; i++) {
		const struct tly_unmask_entry *e = &u->entries[i];
		if (e->id == 0 || e->id > TLY_MAX_PARTY_ID || !unmask_kind_valid(e->kind) ||
		    (i > 0 && e->id <= u->entries[i - 1].id))
			return TLY_EINVAL;
	}
	tly_buf_put_u32(out, u->count);
	for (uint32_t i = 0; i < u->count; i++) {
		const struct tly_unmask_entry *e = &u->entries[i];
		tly_buf_put_u32(out, e->id);
		tly_buf_put_u8(out, e->kind);
		tly_buf_put_bytes(out, "\0\0\0", 3);
		tly_buf_put_bytes(out, e->share, TLY_SHAMIR_SECRET_SHARE_BYTES);
	}
	return out->error;
}

/* The kind, then three zero bytes of padding. */
static int
unmask_entry_load(void *entry, const uint8_t *p)
{
	struct tly_unmask_entry *e = entry;

	if (!unmask_kind_valid(p[4]) || p[5] != 0 || p[6] != 0 || p[7] != 0)
		return 0;
	e->id = tly_load_be32(p);
	e->kind = p[4];
	memcpy(e->share, p + 8, TLY_SHAMIR_SECRET_SHARE_BYTES);
	return 1;
}

tly_err
tly_unmask_decode(struct tly_unmask *u, const uint8_t *body, size_t len)
{
	memset(u, 0, sizeof *u);
	return list_decode((void **)&u->entries, &u->count, sizeof *u->entries, body, len,
	                   TLY_UNMASK_ENTRY_BYTES, unmask_entry_load);
}

/* ---- end-to-end envelopes ---- */

tly_err
tly_envelope_agree(uint8_t shared[static TLY_KX_SHARED_BYTES],
                   const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                   const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                   const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES])
{
	return tly_kx_agree(shared, my_sk, my_pk, peer_pk, "tally/envelope");
}

static tly_err
envelope_key(uint8_t key[static TLY_AEAD_KEY_BYTES], const uint8_t *shared,
             const uint8_t *raw_header)
{
	static const uint8_t salt[] = "tally/envelope/v1";

	return tly_hkdf(key, TLY_AEAD_KEY_BYTES, salt, sizeof salt - 1, shared, TLY_KX_SHARED_BYTES,
	                raw_header, TLY_HEADER_BYTES);
}

tly_err
tly_envelope_seal_agreed(struct tly_buf *body, const uint8_t shared[static TLY_KX_SHARED_BYTES],
                         const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *plain,
                         size_t plain_len)
{
	static const uint8_t nonce[TLY_AEAD_NONCE_MAX];
	uint8_t key[TLY_AEAD_KEY_BYTES];
	tly_err rv = envelope_key(key, shared, raw_header);

	if (rv != TLY_OK)
		goto out;
	uint8_t *ct = tly_buf_extend(body, plain_len + TLY_AEAD_TAG_BYTES);
	rv = body->error;
	if (ct == NULL)
		goto out;
	rv = tly_aead_seal(TLY_AEAD_AES256GCM, ct, plain, plain_len, raw_header, TLY_HEADER_BYTES,
	                   nonce, key);
out:
	TLY_WIPE_OBJ(key);
	return rv;
}

tly_err
tly_envelope_open_agreed(uint8_t *plain, const uint8_t shared[static TLY_KX_SHARED_BYTES],
                         const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *ct,
                         size_t ct_len)
{
	static const uint8_t nonce[TLY_AEAD_NONCE_MAX];
	uint8_t key[TLY_AEAD_KEY_BYTES];
	tly_err rv;

	if (ct_len < TLY_AEAD_TAG_BYTES)
		return TLY_EFORMAT;
	rv = envelope_key(key, shared, raw_header);
	if (rv == TLY_OK)
		rv = tly_aead_open(TLY_AEAD_AES256GCM, plain, ct, ct_len, raw_header,
		                   TLY_HEADER_BYTES, nonce, key);
	TLY_WIPE_OBJ(key);
	return rv;
}

tly_err
tly_envelope_seal(struct tly_buf *body, const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                  const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                  const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES],
                  const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *plain,
                  size_t plain_len)
{
	uint8_t shared[TLY_KX_SHARED_BYTES];
	tly_err rv = tly_envelope_agree(shared, my_sk, my_pk, peer_pk);

	if (rv == TLY_OK)
		rv = tly_envelope_seal_agreed(body, shared, raw_header, plain, plain_len);
	TLY_WIPE_OBJ(shared);
	return rv;
}

tly_err
tly_envelope_open(uint8_t *plain, const uint8_t my_sk[static TLY_KX_SECRET_BYTES],
                  const uint8_t my_pk[static TLY_KX_PUBLIC_BYTES],
                  const uint8_t peer_pk[static TLY_KX_PUBLIC_BYTES],
                  const uint8_t raw_header[static TLY_HEADER_BYTES], const uint8_t *ct,
                  size_t ct_len)
{
	uint8_t shared[TLY_KX_SHARED_BYTES];
	tly_err rv;

	if (ct_len < TLY_AEAD_TAG_BYTES)
		return TLY_EFORMAT;
	rv = tly_envelope_agree(shared, my_sk, my_pk, peer_pk);
	if (rv == TLY_OK)
		rv = tly_envelope_open_agreed(plain, shared, raw_header, ct, ct_len);
	TLY_WIPE_OBJ(shared);
	return rv;
}
