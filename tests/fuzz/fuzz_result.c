/*
 * Fuzz what reads a coordinator's result and release JSON:
 *
 *   first byte even: the planner's printing of an API answer
 *         (tly_query_answer in cli/query.c): byte 1 picks the HTTP status
 *         (200, 400, 409, 503, 504) and the format (table, csv, json); the
 *         rest is the response body. The exit code must be one of the
 *         documented ones.
 *   first byte odd: `tally audit explain` on a log entry's release and
 *         query JSON (tly_audit_explain_found in cli/audit_explain.c),
 *         which explain reads from a log file it has not verified: bytes
 *         1..6 fill the entry's counts, the rest is "release\0query". JSON
 *         that is not an object is refused with a reason.
 *
 * Both print into memory. Neither may crash or leak, and neither may print
 * a missing string through "%s" (glibc writes "(null)" there; it is
 * undefined behaviour): "(null)" may appear in the output only if it was in
 * the input.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/audit.h"
#include "cli/query.h"
#include "coordinator/translog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int statuses[] = {200, 400, 409, 503, 504};
static const char *const formats[] = {"table", "csv", "json"};

/* One memmem, not a memcmp per offset: libFuzzer hooks every memcmp,
 * which cost a fifth of the time. */
static int
contains(const char *hay, size_t n, const char *needle)
{
	return hay != NULL && memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void
answer(const uint8_t *data, size_t size)
{
	char *out_text = NULL, *err_text = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *out, *err;
	int status, rc;
	const char *format;

	if (size < 1)
		return;
	status = statuses[data[0] % 5];
	format = formats[(data[0] / 5) % 3];
	out = open_memstream(&out_text, &out_len);
	err = open_memstream(&err_text, &err_len);
	if (out == NULL || err == NULL)
		abort();
	rc = tly_query_answer(out, err, status, data + 1, size - 1, format);
	fclose(out);
	fclose(err);
	/* 0 ok, 1 failure, 2 usage, 3 refused, 4 too few (cli/query.c);
	 * 5 (cannot connect) never comes from an answer */
	if (rc < 0 || rc > 4)
		abort();
	if (rc == 0 && status != 200)
		abort(); /* an error status is never success */
	int had = contains((const char *)data + 1, size - 1, "(null)");
	if (!had &&
	    (contains(out_text, out_len, "(null)") || contains(err_text, err_len, "(null)")))
		abort();
	free(out_text);
	free(err_text);
}

static void
explain(const uint8_t *data, size_t size)
{
	struct tly_translog_found found;
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	char *out_text = NULL, why[256];
	size_t out_len = 0;
	FILE *out;

	if (size < 6)
		return;
	memset(&found, 0, sizeof found);
	memset(query_id, 0xab, sizeof query_id);
	found.seq = data[0];
	found.time = (uint64_t)data[1] << 32 | data[2];
	found.outcome = TLY_TRANSLOG_RELEASED;
	found.protocol = data[3] % 3;
	found.threshold = data[4] % 8;
	found.degree = data[5] % 8;
	found.receipts = data[4];
	/* release JSON, then after the first NUL the query JSON (or none) */
	size_t n = size - 6;
	const uint8_t *p = data + 6, *nul = memchr(p, '\0', n);
	size_t rlen = nul != NULL ? (size_t)(nul - p) : n;
	if ((found.release_json = malloc(rlen + 1)) == NULL)
		abort();
	memcpy(found.release_json, p, rlen);
	found.release_json[rlen] = '\0';
	if (nul != NULL) {
		size_t slen = strnlen((const char *)nul + 1, n - rlen - 1);
		if ((found.spec_json = malloc(slen + 1)) == NULL)
			abort();
		memcpy(found.spec_json, nul + 1, slen);
		found.spec_json[slen] = '\0';
	}
	if ((out = open_memstream(&out_text, &out_len)) == NULL)
		abort();
	why[0] = '\0';
	tly_err rv = tly_audit_explain_found(&found, query_id, "fuzz.db", out, why, sizeof why);
	fclose(out);
	if (rv != TLY_OK && (rv != TLY_EFORMAT || why[0] == '\0'))
		abort(); /* refused with a reason */
	if (!contains((const char *)data, size, "(null)") && contains(out_text, out_len, "(null)"))
		abort();
	free(out_text);
	tly_translog_found_fini(&found);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	if (data[0] % 2 == 0)
		answer(data + 1, size - 1);
	else
		explain(data + 1, size - 1);
	return 0;
}
