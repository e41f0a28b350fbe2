#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const messages[TLY_ERR_COUNT] = {
    [TLY_OK] = "success",
    [TLY_EINVAL] = "invalid argument",
    [TLY_ENOMEM] = "out of memory",
    [TLY_ERANGE] = "value out of range",
    [TLY_EAUTH] = "authentication failed",
    [TLY_ECRYPTO] = "crypto library failure",
    [TLY_ELOWORDER] = "low-order public key",
    [TLY_ETOOFEW] = "fewer shares than the threshold",
    [TLY_EDUP] = "duplicate share index",
    [TLY_EFORMAT] = "malformed encoding",
    [TLY_EREPLAY] = "duplicate, replayed or stale message",
    [TLY_ESTATE] = "not valid in the current round",
    [TLY_EPEER] = "unknown or unauthorised party",
    [TLY_EABORTED] = "query aborted",
    [TLY_EBUDGET] = "privacy budget exhausted",
    [TLY_EIO] = "storage or I/O failure",
    [TLY_ETIMEDOUT] = "timed out",
};

const char *
tly_strerror(tly_err err)
{
	if ((unsigned)err >= TLY_ERR_COUNT)
		return "unknown error";
	return messages[err];
}

void
tly_say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

tly_err
tly_fail(char *why, size_t why_len, tly_err rv, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return rv;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return rv;
}

void
tly_field_error_init(struct tly_field_error *err, const char *file)
{
	memset(err, 0, sizeof *err);
	snprintf(err->file, sizeof err->file, "%s", file != NULL ? file : "");
}

tly_err
tly_field_fail(struct tly_field_error *err, int line, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return TLY_EINVAL;
	err->line = line;
	snprintf(err->field, sizeof err->field, "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
	return TLY_EINVAL;
}

void
tly_field_error_format(const struct tly_field_error *err, char *buf, size_t len)
{
	if (err->file[0] == '\0')
		snprintf(buf, len, "%s: %s", err->field, err->reason);
	else if (err->line > 0)
		snprintf(buf, len, "%s:%d: %s: %s", err->file, err->line, err->field, err->reason);
	else
		snprintf(buf, len, "%s: %s: %s", err->file, err->field, err->reason);
}

static void (*misuse_handler)(const char *what);

void
tly_set_misuse_handler(void (*handler)(const char *what))
{
	misuse_handler = handler;
}

void
tly_misuse(const char *what)
{
	/* crypto does no I/O: the upper layers may install a handler that
	 * reports `what` before the abort. */
	if (misuse_handler != NULL)
		misuse_handler(what);
	abort();
}
