/* The public release feed (feed.h): the trusts' names, the items, and the
 * export of a log. translog_feed_verify.c checks what this writes. */
#include "feed_impl.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "query/receipt.h"
#include "query/spec_words.h"
#include "store/ini.h"
#include "store/sqlog.h"
#include "wire/hex.h"

/* ---- names ---- */

struct names_parse {
	struct tly_feed_names *names;
	struct tly_ini_source *src;
	const char *path;
	char *why;
	size_t why_len;
	tly_err rv;
};

static int
on_name(void *user, const char *section, const char *key, const char *value)
{
	struct names_parse *p = user;
	uint32_t id;

	if (p->rv != TLY_OK || strncmp(section, "node ", 5) != 0 || strcmp(key, "name") != 0 ||
	    !tly_ini_u32(section + 5, 1, TLY_MAX_PARTY_ID, &id))
		return 1; /* the registry's own reader checks everything else */
	if (strlen(value) > TLY_FEED_NAME_MAX) {
		p->rv = tly_fail(p->why, p->why_len, TLY_EINVAL, "%s:%d: [%s] name: over %d bytes",
		                 p->path, p->src->line, section, TLY_FEED_NAME_MAX);
		return 0;
	}
	struct tly_feed_name *rows =
	    realloc(p->names->rows, (p->names->count + 1) * sizeof *p->names->rows);
	if (rows == NULL) {
		p->rv = TLY_ENOMEM;
		return 0;
	}
	p->names->rows = rows;
	rows[p->names->count].id = id;
	snprintf(rows[p->names->count].name, sizeof rows->name, "%s", value);
	p->names->count++;
	return 1;
}

tly_err
tly_feed_names_load(struct tly_feed_names *out, const char *path, char *why, size_t why_len)
{
	struct tly_feed_names names = {0, NULL};
	struct tly_ini_source src = {0};
	struct names_parse p = {&names, &src, path, why, why_len, TLY_OK};
	struct tly_field_error err;
	char dir[4096];

	TLY_REQUIRE(out != NULL && path != NULL);
	if (tly_ini_open(&src, path, dir, sizeof dir, &err) != TLY_OK)
		return tly_fail(why, why_len, TLY_EIO, "%s: %s", path, err.reason);
	int line = tly_ini_parse(&src, on_name, &p);
	fclose(src.file);
	if (p.rv == TLY_OK && line != 0)
		p.rv = tly_fail(why, why_len, TLY_EIO, "%s: cannot read line %d", path, line);
	if (p.rv != TLY_OK) {
		tly_feed_names_fini(&names);
		return p.rv;
	}
	*out = names;
	return TLY_OK;
}

void
tly_feed_names_fini(struct tly_feed_names *names)
{
	if (names == NULL)
		return;
	free(names->rows);
	names->rows = NULL;
	names->count = 0;
}

static const char *
name_of(const struct tly_feed_names *names, uint32_t id)
{
	for (size_t i = 0; names != NULL && i < names->count; i++)
		if (names->rows[i].id == id)
			return names->rows[i].name;
	return NULL;
}

/* ---- items ---- */

static json_t *
hex_string(const uint8_t *bytes, size_t len)
{
	char *text = malloc(2 * len + 1);
	json_t *s = NULL;

	if (text != NULL) {
		tly_hex(text, bytes, len);
		s = json_string(text);
		free(text);
	}
	return s;
}

static json_t *
base64_string(const uint8_t *bytes, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *text = malloc(n);
	json_t *s = NULL;

	if (text != NULL) {
		sodium_bin2base64(text, n, bytes, len, sodium_base64_VARIANT_ORIGINAL);
		s = json_string(text);
		free(text);
	}
	return s;
}

tly_err
tly_feed_leaf_item(uint64_t seq, uint8_t outcome, const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                   const uint8_t query_hash[static TLY_HASH_BYTES],
                   const uint8_t entry_hash[static TLY_HASH_BYTES], json_t **out)
{
	json_t *item = json_pack("{s:I, s:s, s:o, s:o, s:o}", "seq", (json_int_t)seq, "outcome",
	                         tly_translog_outcome_name(outcome), "query_id",
	                         hex_string(query_id, TLY_QUERY_ID_BYTES), "query_hash",
	                         hex_string(query_hash, TLY_HASH_BYTES), "entry_hash",
	                         hex_string(entry_hash, TLY_HASH_BYTES));
	if (item == NULL)
		return TLY_ENOMEM;
	*out = item;
	return TLY_OK;
}

/* [{"id", "name"}] of e's contributors. */
static json_t *
trusts(const struct tly_translog_entry *e, const struct tly_feed_names *names)
{
	json_t *list = json_array();

	for (uint32_t i = 0; list != NULL && i < e->contributors.count; i++) {
		const char *name = name_of(names, e->contributors.ids[i]);
		json_t *one = json_pack("{s:I, s:o}", "id", (json_int_t)e->contributors.ids[i],
		                        "name", name != NULL ? json_string(name) : json_null());
		if (one == NULL || json_array_append_new(list, one) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* The release's "privacy", with "noise": the distribution the released
 * noise follows (the sum of the contributors' shares, query/noise.h). */
static json_t *
privacy(const json_t *release)
{
	json_t *p = json_deep_copy(json_object_get(release, "privacy"));
	const char *mechanism = json_string_value(json_object_get(p, "mechanism"));
	const char *noise = "none";

	if (!json_is_object(p)) {
		json_decref(p);
		return NULL;
	}
	if (mechanism != NULL && strcmp(mechanism, "laplace") == 0)
		noise = "discrete Laplace (a sum of the trusts' Polya shares)";
	else if (mechanism != NULL && strcmp(mechanism, "skellam") == 0)
		noise = "Skellam (a sum of the trusts' Skellam shares)";
	if (json_object_set_new(p, "noise", json_string(noise)) != 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* The parts of a release item read from its JSON texts. */
struct release_parts {
	json_t *spec, *release, *words, *privacy, *trusts;
};

static void
parts_fini(struct release_parts *p)
{
	json_decref(p->spec);
	json_decref(p->release);
	json_decref(p->words);
	json_decref(p->privacy);
	json_decref(p->trusts);
}

static tly_err
read_parts(const struct tly_translog_entry *e, const struct tly_feed_names *names,
           struct release_parts *p, char *why, size_t why_len)
{
	char *sentence = NULL;

	p->spec = json_loadb(e->spec, e->spec_len, JSON_REJECT_DUPLICATES, NULL);
	p->release = json_loadb(e->release, e->release_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(p->spec) || !json_is_object(p->release))
		return tly_fail(why, why_len, TLY_EFORMAT,
		                "entry %llu: its query or release is not a JSON object",
		                (unsigned long long)e->seq);
	if (tly_spec_words_sentence(p->spec, &sentence) != TLY_OK)
		return tly_fail(why, why_len, TLY_EFORMAT,
		                "entry %llu: its query cannot be put in words",
		                (unsigned long long)e->seq);
	p->words = json_string(sentence);
	free(sentence);
	if ((p->privacy = privacy(p->release)) == NULL)
		return tly_fail(why, why_len, TLY_EFORMAT, "entry %llu: its release has no privacy",
		                (unsigned long long)e->seq);
	p->trusts = trusts(e, names);
	return p->words != NULL && p->trusts != NULL ? TLY_OK : TLY_ENOMEM;
}

tly_err
tly_feed_release_item(const struct tly_translog_entry *e, const uint8_t *bytes, size_t len,
                      const uint8_t signature[static TLY_SIGN_BYTES],
                      const struct tly_feed_names *names, json_t **out, char *why, size_t why_len)
{
	struct release_parts p = {0};
	char when[TLY_SQLOG_TIME_BYTES];
	json_t *item = NULL;
	tly_err rv;

	if ((rv = read_parts(e, names, &p, why, why_len)) != TLY_OK)
		goto out;
	tly_sqlog_iso_time(when, e->time);
	rv = TLY_ENOMEM;
	item = json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)e->seq, "outcome", "released",
	                 "time", when, "query_id", hex_string(e->query_id, TLY_QUERY_ID_BYTES));
	if (item == NULL)
		goto out;
	json_t *planner = json_object_get(p.spec, "planner");
	int bad = json_is_string(planner) && json_object_set(item, "planner", planner) != 0;
	bad |= json_object_set(item, "spec", p.spec) != 0;
	bad |= json_object_set(item, "words", p.words) != 0;
	bad |= json_object_set(item, "privacy", p.privacy) != 0;
	bad |= json_object_set(item, "trusts", p.trusts) != 0;
	bad |= json_object_set(item, "release", p.release) != 0;
	bad |= json_object_set_new(item, "entry", base64_string(bytes, len)) != 0;
	bad |= json_object_set_new(item, "signature", hex_string(signature, TLY_SIGN_BYTES)) != 0;
	if (bad)
		goto out;
	*out = item;
	item = NULL;
	rv = TLY_OK;
out:
	json_decref(item);
	parts_fini(&p);
	return rv;
}

/* ---- export ---- */

/* The walk over the log: the items so far, the tree of their leaves, and
 * the best witnessed head found. */
/* A receipt carrying a larger head than every receipt before it. */
struct candidate {
	uint64_t size, seq; /* its head's size; the entry that carries it */
	size_t len;
	uint8_t bytes[TLY_RECEIPT_MAX_BYTES];
};

struct export
{
	const struct tly_roster *registry;
	const struct tly_feed_names *names;
	json_t *items;
	struct tly_merkle_tree tree;
	struct candidate *candidates; /* by increasing size (malloc'd) */
	size_t candidate_count, candidate_cap;
	struct tly_tree_head head; /* size 0 until one is chosen */
	const struct candidate *witness;
	uint32_t witness_node;
	char *why;
	size_t why_len;
};

/* Receipt r of entry seq: a candidate when its head is larger than the
 * last candidate's (checked later, largest first: one check a feed, not one
 * a query). */
static tly_err
consider(struct export *x, const struct tly_translog_receipt *r, uint64_t seq)
{
	struct tly_ledger_receipt receipt;
	uint64_t last = x->candidate_count > 0 ? x->candidates[x->candidate_count - 1].size : 0;

	if (tly_ledger_receipt_decode(&receipt, r->bytes, r->len) != TLY_OK ||
	    receipt.log_head.size <= last || receipt.log_head.size > x->tree.size)
		return TLY_OK;
	if (x->candidate_count == x->candidate_cap) {
		size_t cap = x->candidate_cap > 0 ? 2 * x->candidate_cap : 64;
		struct candidate *grown = realloc(x->candidates, cap * sizeof *grown);
		if (grown == NULL)
			return TLY_ENOMEM;
		x->candidates = grown;
		x->candidate_cap = cap;
	}
	struct candidate *c = &x->candidates[x->candidate_count++];
	c->size = receipt.log_head.size;
	c->seq = seq;
	c->len = r->len;
	memcpy(c->bytes, r->bytes, r->len);
	return TLY_OK;
}

/* The largest candidate whose head is signed by the coordinator, has the
 * log's root at its size, and whose receipt its node signed. */
static void
choose(struct export *x)
{
	struct tly_ledger_receipt receipt;
	uint8_t root[TLY_MERKLE_HASH_BYTES];

	for (size_t i = x->candidate_count; i-- > 0;) {
		const struct candidate *c = &x->candidates[i];
		if (tly_ledger_receipt_decode(&receipt, c->bytes, c->len) != TLY_OK)
			continue;
		struct tly_tree_head head = {.size = receipt.log_head.size};
		memcpy(head.root, receipt.log_head.root, sizeof head.root);
		memcpy(head.signature, receipt.log_head.signature, sizeof head.signature);
		tly_merkle_tree_root(&x->tree, head.size, root);
		const struct tly_party *node = tly_roster_find(x->registry, receipt.node_id);
		if (node != NULL && sodium_memcmp(root, head.root, sizeof root) == 0 &&
		    tly_head_verify(&head, x->registry->coordinator_pk) == TLY_OK &&
		    tly_ledger_receipt_verify_logged(&receipt, node) == TLY_OK) {
			x->head = head;
			x->witness = c;
			x->witness_node = receipt.node_id;
			return;
		}
	}
}

/* One row (seq, bytes, signature) into the items and the tree. */
static tly_err
take(struct export *x, sqlite3_stmt *st)
{
	const uint8_t *bytes = sqlite3_column_blob(st, 1);
	size_t len = (size_t)sqlite3_column_bytes(st, 1);
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	uint8_t hash[TLY_HASH_BYTES], leaf[TLY_MERKLE_HASH_BYTES];
	struct tly_translog_entry e;
	json_t *item = NULL;
	char why[256];
	tly_err rv;

	if (seq != x->tree.size + 1 || sqlite3_column_bytes(st, 2) != TLY_SIGN_BYTES ||
	    tly_translog_entry_decode(&e, bytes, len, why, sizeof why) != TLY_OK || e.seq != seq)
		return tly_fail(x->why, x->why_len, TLY_EFORMAT,
		                "transparency log entry %llu does not decode",
		                (unsigned long long)seq);
	tly_translog_hash(hash, bytes, len);
	tly_log_leaf_hash(leaf, seq, e.outcome, e.query_id, e.query_hash, hash);
	if (e.outcome == TLY_TRANSLOG_RELEASED)
		rv = tly_feed_release_item(&e, bytes, len, sqlite3_column_blob(st, 2), x->names,
		                           &item, x->why, x->why_len);
	else
		rv = tly_feed_leaf_item(seq, e.outcome, e.query_id, e.query_hash, hash, &item);
	if (rv == TLY_OK && json_array_append_new(x->items, item) != 0)
		rv = TLY_ENOMEM;
	if (rv == TLY_OK)
		rv = tly_merkle_tree_append(&x->tree, leaf);
	for (size_t i = 0; rv == TLY_OK && i < e.receipt_count; i++)
		rv = consider(x, &e.receipts[i], seq);
	tly_translog_entry_fini(&e);
	return rv;
}

static tly_err
walk(struct export *x, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	tly_err rv = TLY_OK;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT seq, bytes, signature FROM entries ORDER BY seq", -1,
	                       &st, NULL) != SQLITE_OK)
		return tly_fail(x->why, x->why_len, TLY_EIO, "cannot read the transparency log: %s",
		                sqlite3_errmsg(db));
	while (rv == TLY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rv = take(x, st);
	if (rv == TLY_OK && rc != SQLITE_DONE)
		rv = tly_fail(x->why, x->why_len, TLY_EIO, "cannot read the transparency log: %s",
		              sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rv;
}

static int
is_release(const json_t *item)
{
	return strcmp(json_string_value(json_object_get(item, "outcome")), "released") == 0;
}

/* The items [from, to) while they are releases (to: the end), into a new
 * array; *releases counts them. */
static json_t *
slice(const json_t *items, size_t from, size_t to, int releases_only, json_int_t *releases)
{
	json_t *out = json_array();

	*releases = 0;
	for (size_t i = from; out != NULL && i < to; i++) {
		json_t *item = json_array_get(items, i);
		if (releases_only && !is_release(item))
			break;
		*releases += is_release(item);
		if (json_array_append(out, item) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The document: the first head.size items, and the tail (feed.h). */
static json_t *
document(struct export *x)
{
	json_int_t releases = 0, tail_count = 0;
	json_t *entries = slice(x->items, 0, x->head.size, 0, &releases);
	json_t *tail = slice(x->items, x->head.size, json_array_size(x->items), 1, &tail_count);

	if (entries == NULL || tail == NULL) {
		json_decref(entries);
		json_decref(tail);
		return NULL;
	}
	return json_pack("{s:s, s:{s:I, s:o, s:o, s:{s:I, s:I, s:o}}, s:I, s:o, s:o}", "format",
	                 TLY_FEED_FORMAT, "head", "size", (json_int_t)x->head.size, "root",
	                 hex_string(x->head.root, sizeof x->head.root), "signature",
	                 hex_string(x->head.signature, sizeof x->head.signature), "witness", "node",
	                 (json_int_t)x->witness_node, "log_seq", (json_int_t)x->witness->seq,
	                 "receipt", hex_string(x->witness->bytes, x->witness->len), "releases",
	                 releases, "entries", entries, "tail", tail);
}

tly_err
tly_feed_export(struct tly_translog *log, const struct tly_roster *registry,
                const struct tly_feed_names *names, char **json, size_t *len, char *why,
                size_t why_len)
{
	struct export x = {.registry = registry, .names = names, .why = why, .why_len = why_len};
	json_t *doc = NULL;
	char *text = NULL;
	tly_err rv = TLY_ENOMEM;

	TLY_REQUIRE(log != NULL && registry != NULL && json != NULL && len != NULL);
	tly_merkle_tree_init(&x.tree);
	if ((x.items = json_array()) == NULL)
		goto out;
	if ((rv = walk(&x, log->db)) != TLY_OK)
		goto out;
	choose(&x);
	if (x.head.size == 0) {
		rv =
		    tly_fail(why, why_len, TLY_EINVAL,
		             "the log holds no signed head that a trust has countersigned yet (the "
		             "feed starts once a query has been answered)");
		goto out;
	}
	rv = TLY_ENOMEM;
	if ((doc = document(&x)) == NULL || (text = json_dumps(doc, TLY_FEED_DUMP_FLAGS)) == NULL)
		goto out;
	if (strlen(text) > TLY_FEED_MAX_BYTES) {
		rv = tly_fail(why, why_len, TLY_ERANGE, "the feed would be over %d bytes",
		              TLY_FEED_MAX_BYTES);
		goto out;
	}
	*len = strlen(text);
	*json = text;
	text = NULL;
	rv = TLY_OK;
out:
	free(text);
	json_decref(doc);
	json_decref(x.items);
	free(x.candidates);
	tly_merkle_tree_fini(&x.tree);
	return rv;
}

tly_err
tly_feed_log_size(struct tly_translog *log, uint64_t *size)
{
	uint8_t prev[TLY_SQLOG_HASH_BYTES];
	uint64_t next = 0;
	tly_err rv;

	TLY_REQUIRE(log != NULL && size != NULL);
	if ((rv = tly_sqlog_head(log->db, &next, prev)) != TLY_OK)
		return rv;
	*size = next - 1;
	return TLY_OK;
}
