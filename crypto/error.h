/*
 * error.h - the one error enum of tally, and the attributes that go with it.
 *
 * Every fallible function returns enum tly_err (TLY_OK = 0) and is marked
 * TLY_MUST so that callers cannot drop an error on the floor. Results go
 * through out-parameters that are written only on success.
 *
 * Its message, one convention: a function that has more to say than its
 * tly_err writes it into the caller's "char *why, size_t why_len" with
 * tly_say. A function whose caller must point at one field (a config key
 * with its file and line, a query's JSON field for the API's "field")
 * fills a struct tly_field_error instead. No other error structs.
 */
#ifndef TLY_ERROR_H
#define TLY_ERROR_H

#include <stddef.h>

#define TLY_MUST __attribute__((warn_unused_result))

typedef enum tly_err {
	TLY_OK = 0,
	TLY_EINVAL,    /* an argument is outside the function's contract */
	TLY_ENOMEM,    /* allocation failed */
	TLY_ERANGE,    /* a value is out of range or would overflow */
	TLY_EAUTH,     /* tag, signature or MAC did not verify */
	TLY_ECRYPTO,   /* the underlying crypto library failed */
	TLY_ELOWORDER, /* a peer's public key is a low-order point */
	TLY_ETOOFEW,   /* fewer shares than the threshold */
	TLY_EDUP,      /* the same share index appears twice */
	TLY_EFORMAT,   /* malformed encoding */
	TLY_EREPLAY,   /* duplicate, replayed or stale message */
	TLY_ESTATE,    /* message or call not valid in the current round */
	TLY_EPEER,     /* party unknown, or not allowed to send this */
	TLY_EABORTED,  /* the query was aborted */
	TLY_EBUDGET,   /* privacy budget exhausted, or over the per-query cap */
	TLY_EIO,       /* a file or database could not be read, written or synced */
	TLY_ETIMEDOUT, /* a deadline or timeout passed */
	TLY_ERR_COUNT
} tly_err;

/* A static, human-readable description of err; never NULL. */
const char *tly_strerror(tly_err err);

/*
 * The message that goes with an error: fmt formatted into why (why_len
 * bytes, truncated, always NUL-terminated). Nothing when why is NULL or
 * why_len is 0. The one such helper for the "char *why, size_t why_len"
 * convention (it formats into memory; it does no I/O).
 */
void tly_say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* tly_say, then returns rv: `return tly_fail(why, why_len, TLY_EINVAL, ...)`. */
tly_err tly_fail(char *why, size_t why_len, tly_err rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * An error that names a field: a config file's "section.key" (with the file
 * and the line), a query's JSON path ("where[1].column"), an API parameter
 * ("limit"). Filled by tly_field_fail; printed by tly_field_error_format.
 */
struct tly_field_error {
	char file[256];   /* the file the field is in, "" when none (a query's JSON) */
	int line;         /* 0 when the error is not on one line (a missing key) */
	char field[96];   /* "section.key", "[section]", "(syntax)", "where[1].column" */
	char reason[256]; /* e.g. "unknown column \"agee\" in dataset \"patients\"" */
};

/* Empty err, then name its file ("" or NULL: none). */
void tly_field_error_init(struct tly_field_error *err, const char *file);

/*
 * Set err's line, field and reason (fmt formatted), replacing any before;
 * its file stays. Returns TLY_EINVAL, for `return tly_field_fail(...)`.
 * Nothing but the return when err is NULL.
 */
tly_err tly_field_fail(struct tly_field_error *err, int line, const char *field, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* "FILE:LINE: FIELD: REASON", "FILE: FIELD: REASON" when line is 0, or
 * "FIELD: REASON" when there is no file, into buf (truncated). */
void tly_field_error_format(const struct tly_field_error *err, char *buf, size_t len);

/*
 * Abort: for misuse by the caller, never for peer input. A handler set with
 * tly_set_misuse_handler (by cli/, node/ or coordinator/, which may log) is
 * told what was misused first; crypto itself does no I/O.
 */
_Noreturn void tly_misuse(const char *what);
void tly_set_misuse_handler(void (*handler)(const char *what));

#define TLY_REQUIRE(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			tly_misuse(__FILE__ ": " #cond);                                           \
	} while (0)

#endif
