/* Checking a release feed offline (feed.h): each item against its entry
 * bytes or leaf fields, the sequence, the root, the head's signatures. */
#include "feed_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "query/receipt.h"
#include "wire/hex.h"

struct check {
	const struct tly_roster *registry;
	const struct tly_feed_names *names;
	struct tly_feed_report *report;
	struct tly_merkle_tree tree;
	uint8_t last_entry_hash[TLY_HASH_BYTES]; /* of the item checked last */
	int in_tail;                             /* checking "tail" */
};

static tly_err bad(struct check *c, tly_err rv, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The first problem: its seq (0: none) and why. */
static tly_err
bad(struct check *c, tly_err rv, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	c->report->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(c->report->reason, sizeof c->report->reason, fmt, ap);
	va_end(ap);
	return rv;
}

/* Exactly len bytes of hex at o[key]. */
static int
hex_field(const json_t *o, const char *key, uint8_t *out, size_t len)
{
	const char *text = json_string_value(json_object_get(o, key));
	return text != NULL && tly_unhex(out, len, text, strlen(text)) == TLY_OK;
}

/* A JSON integer 1.. at o[key]. */
static int
count_field(const json_t *o, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

/* The first key whose value differs between the item rebuilt from the
 * entry (want) and the feed's (got), or NULL when they are equal. */
static const char *
first_difference(const json_t *want, const json_t *got)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)want, key, value)
	{
		if (!json_equal(value, json_object_get(got, key)))
			return key;
	}
	json_object_foreach((json_t *)got, key, value)
	{
		if (json_object_get(want, key) == NULL)
			return key;
	}
	return NULL;
}

/* The entry bytes of a release item, decoded from base64 (malloc'd). */
static tly_err
entry_bytes(struct check *c, const json_t *item, uint64_t seq, uint8_t **bytes, size_t *len)
{
	const char *text = json_string_value(json_object_get(item, "entry"));
	size_t max = text != NULL ? strlen(text) / 4 * 3 + 3 : 0;

	if (text == NULL || (*bytes = malloc(max + 1)) == NULL ||
	    sodium_base642bin(*bytes, max + 1, text, strlen(text), NULL, len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0) {
		if (text != NULL)
			free(*bytes);
		return bad(c, TLY_EFORMAT, seq, "release seq %llu: \"entry\" is not base64",
		           (unsigned long long)seq);
	}
	return TLY_OK;
}

/* A release item: its entry decodes, is this seq's and a release, its hash
 * is signed by the coordinator, its query hash is its spec's, and the item
 * rebuilt from it equals the feed's. The leaf hash into leaf. */
static tly_err
check_entry(struct check *c, const json_t *item, uint64_t seq, const uint8_t *bytes, size_t len,
            uint8_t leaf[static TLY_MERKLE_HASH_BYTES])
{
	struct tly_translog_entry e;
	uint8_t hash[TLY_HASH_BYTES], signature[TLY_SIGN_BYTES], spec_hash[TLY_HASH_BYTES];
	json_t *want = NULL;
	char why[256];
	const char *field;
	tly_err rv;

	if (tly_translog_entry_decode(&e, bytes, len, why, sizeof why) != TLY_OK)
		return bad(c, TLY_EAUTH, seq, "release seq %llu: \"entry\" does not decode: %s",
		           (unsigned long long)seq, why);
	tly_translog_hash(hash, bytes, len);
	tly_hash(spec_hash, "tally/query/v1", (const uint8_t *)e.spec, e.spec_len);
	if (e.seq != seq || e.outcome != TLY_TRANSLOG_RELEASED)
		rv = bad(c, TLY_EAUTH, seq, "release seq %llu: \"entry\" is entry %llu, %s",
		         (unsigned long long)seq, (unsigned long long)e.seq,
		         tly_translog_outcome_name(e.outcome));
	else if (!hex_field(item, "signature", signature, sizeof signature) ||
	         tly_sign_verify(signature, hash, sizeof hash, c->registry->coordinator_pk) !=
	             TLY_OK)
		rv = bad(c, TLY_EAUTH, seq,
		         "release seq %llu: \"signature\" is not the coordinator's over its entry",
		         (unsigned long long)seq);
	else if (c->in_tail && sodium_memcmp(e.prev_hash, c->last_entry_hash, TLY_HASH_BYTES) != 0)
		rv = bad(c, TLY_EAUTH, seq,
		         "release seq %llu: its entry does not follow entry %llu (prev_hash): the "
		         "tail is not the log's continuation",
		         (unsigned long long)seq, (unsigned long long)seq - 1);
	else if (sodium_memcmp(spec_hash, e.query_hash, sizeof spec_hash) != 0)
		rv = bad(c, TLY_EAUTH, seq, "release seq %llu: its query hash is not its spec's",
		         (unsigned long long)seq);
	else if (tly_feed_release_item(&e, bytes, len, signature, c->names, &want, why,
	                               sizeof why) != TLY_OK)
		rv = bad(c, TLY_EAUTH, seq, "release seq %llu: %s", (unsigned long long)seq, why);
	else if ((field = first_difference(want, item)) != NULL)
		rv = bad(c, TLY_EAUTH, seq, "release seq %llu: \"%s\" is not what its entry says",
		         (unsigned long long)seq, field);
	else
		rv = TLY_OK;
	if (rv == TLY_OK) {
		tly_log_leaf_hash(leaf, seq, e.outcome, e.query_id, e.query_hash, hash);
		memcpy(c->last_entry_hash, hash, sizeof hash);
	}
	json_decref(want);
	tly_translog_entry_fini(&e);
	return rv;
}

/* Another outcome's item: its leaf's fields, rebuilt the writer's way. */
static tly_err
check_leaf(struct check *c, const json_t *item, uint64_t seq,
           uint8_t leaf[static TLY_MERKLE_HASH_BYTES])
{
	static const uint8_t outcomes[] = {TLY_TRANSLOG_ABORTED, TLY_TRANSLOG_REFUSED,
	                                   TLY_TRANSLOG_COMMITTED};
	const char *name = json_string_value(json_object_get(item, "outcome"));
	uint8_t query_id[TLY_QUERY_ID_BYTES], query_hash[TLY_HASH_BYTES], hash[TLY_HASH_BYTES];
	uint8_t outcome = 0;
	json_t *want = NULL;
	const char *field;

	for (size_t i = 0; name != NULL && i < sizeof outcomes; i++)
		if (strcmp(name, tly_translog_outcome_name(outcomes[i])) == 0)
			outcome = outcomes[i];
	if (outcome == 0)
		return bad(c, TLY_EFORMAT, seq,
		           "entry %llu: \"outcome\" is not one of released, "
		           "committed, aborted, refused",
		           (unsigned long long)seq);
	if (!hex_field(item, "query_id", query_id, sizeof query_id) ||
	    !hex_field(item, "query_hash", query_hash, sizeof query_hash) ||
	    !hex_field(item, "entry_hash", hash, sizeof hash))
		return bad(
		    c, TLY_EFORMAT, seq,
		    "entry %llu: \"query_id\", \"query_hash\" and \"entry_hash\" must be hex "
		    "of 16, 32 and 32 bytes",
		    (unsigned long long)seq);
	if (tly_feed_leaf_item(seq, outcome, query_id, query_hash, hash, &want) != TLY_OK)
		return bad(c, TLY_ENOMEM, seq, "out of memory");
	/* field may be want's key: report it before want goes. */
	field = first_difference(want, item);
	tly_err rv = field == NULL
	                 ? TLY_OK
	                 : bad(c, TLY_EFORMAT, seq, "entry %llu: unexpected or malformed \"%s\"",
	                       (unsigned long long)seq, field);
	json_decref(want);
	if (rv != TLY_OK)
		return rv;
	tly_log_leaf_hash(leaf, seq, outcome, query_id, query_hash, hash);
	memcpy(c->last_entry_hash, hash, sizeof hash);
	return TLY_OK;
}

/* Item `index` of the list `list` ("entries" or "tail"), which must be
 * entry seq of the log. */
static tly_err
check_item(struct check *c, const json_t *item, uint64_t seq, const char *list, size_t index)
{
	uint8_t leaf[TLY_MERKLE_HASH_BYTES];
	uint64_t stated = 0;
	tly_err rv;

	if (!json_is_object(item) || !count_field(item, "seq", &stated))
		return bad(c, TLY_EFORMAT, seq, "%s[%zu]: not an object with a \"seq\"", list,
		           index);
	if (stated != seq)
		return bad(c, TLY_EAUTH, seq,
		           "%s[%zu]: seq %llu where %llu belongs: an entry is missing, repeated or "
		           "out of order",
		           list, index, (unsigned long long)stated, (unsigned long long)seq);
	const char *outcome = json_string_value(json_object_get(item, "outcome"));
	int release = outcome != NULL && strcmp(outcome, "released") == 0;
	if (c->in_tail && !release)
		return bad(c, TLY_EFORMAT, seq, "%s[%zu]: the tail holds releases only", list,
		           index);
	if (release) {
		uint8_t *bytes = NULL;
		size_t len = 0;
		if ((rv = entry_bytes(c, item, seq, &bytes, &len)) != TLY_OK)
			return rv;
		rv = check_entry(c, item, seq, bytes, len, leaf);
		free(bytes);
	} else {
		rv = check_leaf(c, item, seq, leaf);
	}
	if (rv == TLY_OK && tly_merkle_tree_append(&c->tree, leaf) != TLY_OK)
		rv = bad(c, TLY_ENOMEM, seq, "out of memory");
	if (rv == TLY_OK && release)
		(c->in_tail ? &c->report->tail : &c->report->releases)[0]++;
	return rv;
}

/* "head": its fields into report->head and report->witness. */
static tly_err
read_head(struct check *c, const json_t *head)
{
	struct tly_tree_head *h = &c->report->head;
	uint64_t node = 0;

	if (!json_is_object(head) || !count_field(head, "size", &h->size) ||
	    !hex_field(head, "root", h->root, sizeof h->root) ||
	    !hex_field(head, "signature", h->signature, sizeof h->signature))
		return bad(c, TLY_EFORMAT, 0,
		           "\"head\" must hold \"size\" (1..), \"root\" (64 hex digits) and "
		           "\"signature\" (128 hex digits)");
	if (!count_field(json_object_get(head, "witness"), "node", &node) ||
	    node > TLY_MAX_PARTY_ID)
		return bad(c, TLY_EFORMAT, 0, "\"head.witness.node\" must be a node id");
	c->report->witness = (uint32_t)node;
	return TLY_OK;
}

/* The head: signed by the coordinator, countersigned in the witness's
 * receipt, and the root of the items' leaves. */
static tly_err
check_head(struct check *c, const json_t *witness)
{
	const struct tly_tree_head *h = &c->report->head;
	const char *text = json_string_value(json_object_get(witness, "receipt"));
	uint8_t receipt_bytes[TLY_RECEIPT_MAX_BYTES], root[TLY_MERKLE_HASH_BYTES];
	struct tly_ledger_receipt r;
	const struct tly_party *node = tly_roster_find(c->registry, c->report->witness);
	size_t len = text != NULL ? strlen(text) / 2 : 0;

	if (tly_head_verify(h, c->registry->coordinator_pk) != TLY_OK)
		return bad(c, TLY_EAUTH, 0,
		           "the head's signature is not the registry's coordinator key's");
	if (c->tree.size != h->size)
		return bad(c, TLY_EAUTH, 0,
		           "the feed lists %llu entries but its head covers %llu: an entry is "
		           "missing or added",
		           (unsigned long long)c->tree.size, (unsigned long long)h->size);
	tly_merkle_tree_root(&c->tree, h->size, root);
	if (sodium_memcmp(root, h->root, sizeof root) != 0)
		return bad(c, TLY_EAUTH, 0,
		           "the entries do not rebuild the head's root: one is missing, added, "
		           "moved or changed");
	if (text == NULL || len > sizeof receipt_bytes || len * 2 != strlen(text) ||
	    tly_unhex(receipt_bytes, len, text, strlen(text)) != TLY_OK ||
	    tly_ledger_receipt_decode(&r, receipt_bytes, len) != TLY_OK)
		return bad(c, TLY_EFORMAT, 0, "\"head.witness.receipt\" is not a receipt in hex");
	if (node == NULL || r.node_id != c->report->witness ||
	    tly_ledger_receipt_verify_logged(&r, node) != TLY_OK)
		return bad(c, TLY_EAUTH, 0,
		           "\"head.witness.receipt\" is not signed by node %u of the registry",
		           c->report->witness);
	if (r.log_head.size != h->size || sodium_memcmp(r.log_head.root, h->root, 32) != 0 ||
	    sodium_memcmp(r.log_head.signature, h->signature, TLY_SIGN_BYTES) != 0)
		return bad(c, TLY_EAUTH, 0, "the witness's receipt holds another head");
	return TLY_OK;
}

/* The releases after the head: each the next entry of the log (prev_hash)
 * from the head's last entry on, signed by the coordinator. */
static tly_err
check_tail(struct check *c, const json_t *tail)
{
	tly_err rv;

	if (!json_is_array(tail))
		return bad(c, TLY_EFORMAT, 0, "\"tail\" is not an array");
	c->in_tail = 1;
	for (size_t i = 0; i < json_array_size(tail); i++)
		if ((rv = check_item(c, json_array_get(tail, i), c->report->head.size + i + 1,
		                     "tail", i)) != TLY_OK)
			return rv;
	return TLY_OK;
}

static tly_err
check_document(struct check *c, const json_t *doc)
{
	const json_t *head = json_object_get(doc, "head"), *entries;
	const char *format = json_string_value(json_object_get(doc, "format"));
	uint64_t releases = 0;
	tly_err rv;

	if (!json_is_object(doc))
		return bad(c, TLY_EFORMAT, 0, "the feed is not a JSON object");
	if (format == NULL || strcmp(format, TLY_FEED_FORMAT) != 0)
		return bad(c, TLY_EFORMAT, 0, "\"format\" is not \"%s\"", TLY_FEED_FORMAT);
	if ((rv = read_head(c, head)) != TLY_OK)
		return rv;
	entries = json_object_get(doc, "entries");
	if (!json_is_array(entries))
		return bad(c, TLY_EFORMAT, 0, "\"entries\" is not an array");
	if (!json_is_integer(json_object_get(doc, "releases")))
		return bad(c, TLY_EFORMAT, 0, "\"releases\" is not an integer");
	for (size_t i = 0; i < json_array_size(entries); i++) {
		if ((rv = check_item(c, json_array_get(entries, i), (uint64_t)i + 1, "entries",
		                     i)) != TLY_OK)
			return rv;
		c->report->entries++;
	}
	if ((rv = check_head(c, json_object_get(head, "witness"))) != TLY_OK)
		return rv;
	releases = (uint64_t)json_integer_value(json_object_get(doc, "releases"));
	if (releases != c->report->releases)
		return bad(c, TLY_EAUTH, 0, "\"releases\" says %llu, the entries hold %llu",
		           (unsigned long long)releases, (unsigned long long)c->report->releases);
	return check_tail(c, json_object_get(doc, "tail"));
}

tly_err
tly_feed_verify(const char *json, size_t len, const struct tly_roster *registry,
                const struct tly_feed_names *names, struct tly_feed_report *report)
{
	struct check c = {.registry = registry, .names = names, .report = report};
	json_error_t error;
	json_t *doc;
	tly_err rv;

	TLY_REQUIRE(json != NULL && registry != NULL && report != NULL);
	memset(report, 0, sizeof *report);
	tly_merkle_tree_init(&c.tree);
	if (len > TLY_FEED_MAX_BYTES)
		return bad(&c, TLY_EFORMAT, 0, "over %d bytes", TLY_FEED_MAX_BYTES);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &error);
	if (doc == NULL) {
		rv = bad(&c, TLY_EFORMAT, 0, "not JSON: line %d, column %d: %s", error.line,
		         error.column, error.text);
	} else {
		rv = check_document(&c, doc);
		json_decref(doc);
	}
	size_t bytes = (size_t)c.tree.size * TLY_MERKLE_HASH_BYTES;
	if (c.tree.size > 0 && (report->leaves = malloc(bytes)) != NULL)
		memcpy(report->leaves, c.tree.levels[0], bytes);
	else if (c.tree.size > 0 && rv == TLY_OK)
		rv = bad(&c, TLY_ENOMEM, 0, "out of memory");
	tly_merkle_tree_fini(&c.tree);
	return rv;
}

void
tly_feed_report_fini(struct tly_feed_report *report)
{
	if (report == NULL)
		return;
	free(report->leaves);
	report->leaves = NULL;
}
