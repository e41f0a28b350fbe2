/*
 * log_fixture.h - an in-memory transparency log for tests that build QUERY
 * messages by hand (no coordinator): each call appends a "committed" leaf
 * for the query (store/head.h leaf layout, with a made-up entry hash) and
 * returns the QUERY's log commitment: the signed head of the log so far,
 * the inclusion proof, and consistency proofs from every earlier size (the
 * newest TLY_COMMIT_CONSISTENCY_MAX). Asserts (Criterion) on misuse.
 */
#ifndef TLY_TESTS_LOG_FIXTURE_H
#define TLY_TESTS_LOG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "wire/codec.h"

struct test_log {
	uint8_t *leaves; /* 32 bytes per entry */
	uint64_t size;
};

/* Append the query's committed leaf and set q->log_commit (malloc'd; the
 * caller frees it, or tly_query_fini does for a decoded copy) and
 * q->log_commit_len. */
void test_log_commit(struct test_log *log, const struct tly_sign_key *key,
                     const uint8_t query_id[16], struct tly_query *q);

void test_log_fini(struct test_log *log);

#endif
