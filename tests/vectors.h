/*
 * vectors.h - reader for the known-answer files in tests/vectors/.
 *
 * A file is a list of blocks, one test case each:
 *
 *   # RFC 8439 section 2.4.2          <- comment lines before a block: its title
 *   key = 000102...1f                 <- hex bytes (whitespace ignored)
 *   counter = 1                       <- a decimal integer
 *   purpose = "pairwise-mask"         <- text in double quotes (no escapes)
 *   plaintext = 4c616469...           <- a long value continues on
 *               6f75...                  lines that start with whitespace
 *
 * Blocks are separated by blank lines; a field with nothing after `=` is
 * the empty byte string. Every file documents this at its top.
 *
 * Files are looked up in $TLY_VECTORS_DIR, by default "tests/vectors"
 * relative to the working directory (the Makefile runs the test binaries
 * from the repository root) or, failing that, to the nearest ancestor of
 * the test binary's directory that has one.
 *
 * Broken test data is the test author's mistake, not a condition to
 * handle: every function here prints file, line and field to stderr and
 * aborts on a missing file, a syntax error, or a missing or malformed
 * field, so the test that asked crashes with a clear message.
 *
 * No dependency on Criterion: this file is linked into every test binary.
 */
#ifndef TLY_TESTS_VECTORS_H
#define TLY_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

struct tly_vector_field {
	char *name;
	char *value; /* continuation lines joined with single spaces */
	int quoted;  /* text: value is what was between the quotes */
};

struct tly_vector {
	const char *path; /* of the file, for messages */
	size_t line;      /* of the block's first field */
	char *title;      /* the comment above the block, "" when none */
	struct tly_vector_field *fields;
	size_t count;
};

struct tly_vectors {
	char *path;
	struct tly_vector *blocks;
	size_t count;
};

/* The directory searched, as above. */
const char *tly_vectors_dir(void);

/* Parse <dir>/<name>. The result is heap memory owned by the caller;
 * release it with tly_vectors_free. */
struct tly_vectors *tly_vectors_load(const char *name);

/* Accepts NULL. */
void tly_vectors_free(struct tly_vectors *vectors);

/* Whether the block has a field called name. */
int tly_vector_has(const struct tly_vector *v, const char *name);

/* The value as written (without the quotes of text); owned by the
 * block. */
const char *tly_vector_text(const struct tly_vector *v, const char *name);

/* Hex bytes as a fresh malloc'd buffer (never NULL, even for 0 bytes) of
 * *len bytes; the caller frees it. */
uint8_t *tly_vector_hex(const struct tly_vector *v, const char *name, size_t *len);

/* Hex bytes of exactly len bytes into out (aborts on any other length). */
void tly_vector_hex_fixed(const struct tly_vector *v, const char *name, uint8_t *out, size_t len);

/* A decimal integer. */
uint64_t tly_vector_u64(const struct tly_vector *v, const char *name);

/* A whitespace-separated list of decimal integers, malloc'd (never NULL);
 * the caller frees it. */
uint64_t *tly_vector_u64_list(const struct tly_vector *v, const char *name, size_t *count);

/* Whether slow cases (minutes of CPU) should run: $TLY_SLOW_TESTS is set
 * to something other than "" or "0". */
int tly_vectors_slow(void);

#endif
