#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
