/* The transparency log's canonical entry bytes (layout in translog.h), and
 * the few facts the log reads from a canonical spec. */
#include "translog_impl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "query/receipt.h" /* the receipt layout: TLY_RECEIPT_*_BYTES */
#include "wire/codec.h"

#define ENTRY_DOMAIN "tally/translog/v1"

_Static_assert(TLY_TRANSLOG_REASON_MAX <= UINT16_MAX, "reason_len is a u16");
_Static_assert((uint64_t)TLY_TRANSLOG_RELEASE_MAX <= UINT32_MAX, "release_len is a u32");
_Static_assert((uint64_t)TLY_SPEC_JSON_MAX <= UINT32_MAX, "spec_len is a u32");
_Static_assert(TLY_RECEIPT_MAX_BYTES <= UINT16_MAX, "receipt_len is a u16");

void
tly_translog_hash(uint8_t out[static TLY_HASH_BYTES], const uint8_t *bytes, size_t len)
{
	tly_hash(out, ENTRY_DOMAIN, bytes, len);
}

static int
ids_valid(const struct tly_idlist *list)
{
	for (uint32_t i = 0; i < list->count; i++)
		if (list->ids[i] < 1 || list->ids[i] > TLY_MAX_PARTY_ID ||
		    (i > 0 && list->ids[i] <= list->ids[i - 1]))
			return 0;
	return 1;
}

static void
put_ids(struct tly_buf *b, const struct tly_idlist *list)
{
	tly_buf_put_u32(b, list->count);
	for (uint32_t i = 0; i < list->count; i++)
		tly_buf_put_u32(b, list->ids[i]);
}

tly_err
tly_translog_entry_encode(const struct tly_translog_entry *e, struct tly_buf *out)
{
	if (e->reason_len > TLY_TRANSLOG_REASON_MAX || e->spec_len > TLY_SPEC_JSON_MAX ||
	    e->release_len > TLY_TRANSLOG_RELEASE_MAX || e->contributors.count > TLY_MAX_PARTIES ||
	    e->dropped.count > TLY_MAX_PARTIES || e->receipt_count > TLY_MAX_PARTIES ||
	    !ids_valid(&e->contributors) || !ids_valid(&e->dropped))
		return TLY_EINVAL;
	for (size_t i = 0; i < e->receipt_count; i++)
		if (e->receipts[i].len <= TLY_RECEIPT_FIXED_BYTES ||
		    e->receipts[i].len > TLY_RECEIPT_MAX_BYTES)
			return TLY_EINVAL;
	tly_buf_put_u8(out, TLY_TRANSLOG_FORMAT_VERSION);
	tly_buf_put_u64(out, e->seq);
	tly_buf_put_u64(out, e->time);
	tly_buf_put_bytes(out, e->query_id, sizeof e->query_id);
	tly_buf_put_bytes(out, e->query_hash, sizeof e->query_hash);
	tly_buf_put_u8(out, e->protocol);
	tly_buf_put_u16(out, e->threshold);
	tly_buf_put_u16(out, e->degree);
	tly_buf_put_u8(out, e->outcome);
	tly_buf_put_u16(out, (uint16_t)e->reason_len);
	tly_buf_put_bytes(out, e->reason, e->reason_len);
	tly_buf_put_u32(out, (uint32_t)e->spec_len);
	tly_buf_put_bytes(out, e->spec, e->spec_len);
	tly_buf_put_u32(out, (uint32_t)e->release_len);
	tly_buf_put_bytes(out, e->release, e->release_len);
	put_ids(out, &e->contributors);
	put_ids(out, &e->dropped);
	tly_buf_put_u32(out, (uint32_t)e->receipt_count);
	for (size_t i = 0; i < e->receipt_count; i++) {
		tly_buf_put_u16(out, (uint16_t)e->receipts[i].len);
		tly_buf_put_bytes(out, e->receipts[i].bytes, e->receipts[i].len);
	}
	tly_buf_put_bytes(out, e->prev_hash, sizeof e->prev_hash);
	return out->error;
}

/* ---- decode ---- */

struct decoding {
	struct tly_reader rd;
	const char *bad; /* the first problem, or NULL */
};

static void
problem(struct decoding *d, const char *what)
{
	if (d->bad == NULL)
		d->bad = what;
}

/* A length-prefixed text of at most max bytes without NUL, borrowed. */
static const char *
get_text(struct decoding *d, size_t len, size_t max, const char *what)
{
	const char *text;

	if (len > max) {
		problem(d, what);
		return NULL;
	}
	text = (const char *)tly_get_view(&d->rd, len);
	if (text != NULL && memchr(text, '\0', len) != NULL)
		problem(d, what);
	return text;
}

/* An id list; the count is checked against what is left before any
 * allocation, so a count never sizes memory by itself. */
static tly_err
get_ids(struct decoding *d, struct tly_idlist *list, const char *what)
{
	uint32_t count = tly_get_u32(&d->rd);

	if (count > TLY_MAX_PARTIES || (size_t)count * 4 > d->rd.left) {
		problem(d, what);
		return TLY_OK;
	}
	if (count == 0)
		return TLY_OK;
	if ((list->ids = malloc(count * sizeof *list->ids)) == NULL)
		return TLY_ENOMEM;
	list->count = count;
	for (uint32_t i = 0; i < count; i++)
		list->ids[i] = tly_get_u32(&d->rd);
	if (!ids_valid(list))
		problem(d, what);
	return TLY_OK;
}

static tly_err
get_receipts(struct decoding *d, struct tly_translog_entry *e)
{
	uint32_t count = tly_get_u32(&d->rd);

	if (count > TLY_MAX_PARTIES || (size_t)count * (2 + TLY_RECEIPT_FIXED_BYTES) > d->rd.left) {
		problem(d, "receipt count");
		return TLY_OK;
	}
	if (count == 0)
		return TLY_OK;
	if ((e->receipts = calloc(count, sizeof *e->receipts)) == NULL)
		return TLY_ENOMEM;
	e->receipt_count = count;
	for (uint32_t i = 0; i < count && d->bad == NULL; i++) {
		uint16_t len = tly_get_u16(&d->rd);
		if (len <= TLY_RECEIPT_FIXED_BYTES || len > TLY_RECEIPT_MAX_BYTES)
			problem(d, "receipt length");
		e->receipts[i].len = len;
		e->receipts[i].bytes = tly_get_view(&d->rd, len);
	}
	return TLY_OK;
}

void
tly_translog_entry_fini(struct tly_translog_entry *e)
{
	if (e == NULL)
		return;
	tly_idlist_fini(&e->contributors);
	tly_idlist_fini(&e->dropped);
	free(e->receipts);
	memset(e, 0, sizeof *e);
}

static tly_err
decode_body(struct decoding *d, struct tly_translog_entry *e)
{
	tly_err rv;

	if (tly_get_u8(&d->rd) != TLY_TRANSLOG_FORMAT_VERSION)
		problem(d, "version");
	e->seq = tly_get_u64(&d->rd);
	e->time = tly_get_u64(&d->rd);
	tly_get_bytes(&d->rd, e->query_id, sizeof e->query_id);
	tly_get_bytes(&d->rd, e->query_hash, sizeof e->query_hash);
	e->protocol = tly_get_u8(&d->rd);
	e->threshold = tly_get_u16(&d->rd);
	e->degree = tly_get_u16(&d->rd);
	e->outcome = tly_get_u8(&d->rd);
	e->reason_len = tly_get_u16(&d->rd);
	e->reason = get_text(d, e->reason_len, TLY_TRANSLOG_REASON_MAX, "reason");
	e->spec_len = tly_get_u32(&d->rd);
	e->spec = get_text(d, e->spec_len, TLY_SPEC_JSON_MAX, "spec");
	e->release_len = tly_get_u32(&d->rd);
	e->release = get_text(d, e->release_len, TLY_TRANSLOG_RELEASE_MAX, "release");
	if (d->bad != NULL)
		return TLY_OK;
	if ((rv = get_ids(d, &e->contributors, "contributor list")) != TLY_OK ||
	    (rv = get_ids(d, &e->dropped, "dropped list")) != TLY_OK ||
	    (rv = get_receipts(d, e)) != TLY_OK)
		return rv;
	tly_get_bytes(&d->rd, e->prev_hash, sizeof e->prev_hash);
	return TLY_OK;
}

tly_err
tly_translog_entry_decode(struct tly_translog_entry *e, const uint8_t *bytes, size_t len, char *why,
                          size_t why_len)
{
	struct decoding d = {.bad = NULL};
	tly_err rv;

	memset(e, 0, sizeof *e);
	tly_reader_init(&d.rd, bytes, len);
	if ((rv = decode_body(&d, e)) != TLY_OK) {
		tly_translog_entry_fini(e);
		return rv;
	}
	if (d.bad == NULL && tly_reader_done(&d.rd) != TLY_OK)
		problem(&d, d.rd.failed ? "length (truncated)" : "length (trailing bytes)");
	if (d.bad == NULL)
		return TLY_OK;
	if (why_len > 0)
		snprintf(why, why_len, "malformed entry bytes: bad %s", d.bad);
	tly_translog_entry_fini(e);
	return TLY_EFORMAT;
}

/* ---- the spec's facts ---- */

static int
name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > TLY_SPEC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return 1;
}

/* "num/den" of decimal digits, each part a u64. */
static int
parse_fraction(const char *text, uint64_t *num, uint64_t *den)
{
	const char *slash = strchr(text, '/');
	uint64_t parts[2] = {0, 0};
	const char *p = text;

	if (slash == NULL)
		return 0;
	for (int i = 0; i < 2; i++, p = slash + 1) {
		const char *end = i == 0 ? slash : text + strlen(text);
		if (p == end || end - p > 20)
			return 0;
		for (; p < end; p++) {
			uint64_t digit = (uint64_t)(*p - '0');
			if (*p < '0' || *p > '9' || parts[i] > (UINT64_MAX - digit) / 10)
				return 0;
			parts[i] = parts[i] * 10 + digit;
		}
	}
	if (parts[0] == 0 || parts[1] == 0)
		return 0;
	*num = parts[0];
	*den = parts[1];
	return 1;
}

static int
read_privacy(json_t *privacy, struct tly_translog_spec_summary *s)
{
	const char *mechanism = json_string_value(json_object_get(privacy, "mechanism"));
	const char *figure;

	if (mechanism == NULL)
		return 0;
	if (strcmp(mechanism, "laplace") == 0) {
		s->mechanism = TLY_MECH_LAPLACE;
		figure = json_string_value(json_object_get(privacy, "epsilon"));
	} else if (strcmp(mechanism, "skellam") == 0) {
		s->mechanism = TLY_MECH_SKELLAM;
		figure = json_string_value(json_object_get(privacy, "rho"));
	} else {
		return 0;
	}
	return figure != NULL && parse_fraction(figure, &s->privacy_num, &s->privacy_den);
}

tly_err
tly_translog_spec_summary(const char *spec, size_t len, struct tly_translog_spec_summary *out)
{
	struct tly_translog_spec_summary s;
	json_t *root = len > 0 ? json_loadb(spec, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *dataset = json_string_value(json_object_get(root, "dataset"));
	const char *measure =
	    json_string_value(json_object_get(json_object_get(root, "measure"), "op"));
	int ok;

	memset(&s, 0, sizeof s);
	ok = dataset != NULL && measure != NULL && name_ok(dataset) &&
	     strlen(measure) < sizeof s.measure &&
	     read_privacy(json_object_get(root, "privacy"), &s);
	if (ok) {
		snprintf(s.dataset, sizeof s.dataset, "%s", dataset);
		snprintf(s.measure, sizeof s.measure, "%s", measure);
		*out = s;
	}
	json_decref(root);
	return ok ? TLY_OK : TLY_EFORMAT;
}
