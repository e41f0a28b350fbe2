/* An in-memory transparency log for hand-built QUERYs (log_fixture.h). */
#include "log_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/head.h"

#define HASH TLY_MERKLE_HASH_BYTES

static void
must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "test_log: %s\n", what);
		abort();
	}
}

void
test_log_commit(struct test_log *log, const struct tly_sign_key *key, const uint8_t query_id[16],
                struct tly_query *q)
{
	struct tly_log_commit *c = calloc(1, sizeof *c);
	uint8_t entry_hash[32];
	size_t len;

	must(c != NULL, "out of memory");
	log->leaves = realloc(log->leaves, (size_t)(log->size + 1) * HASH);
	must(log->leaves != NULL, "out of memory");
	memset(entry_hash, 0xe5, sizeof entry_hash);
	memcpy(entry_hash, query_id, 16);
	log->size++;
	tly_log_leaf_hash(log->leaves + (log->size - 1) * HASH, log->size,
	                  TLY_LOG_OUTCOME_COMMITTED, query_id, q->query_hash, entry_hash);
	c->head.size = log->size;
	tly_merkle_root(c->head.root, log->leaves, log->size);
	must(tly_head_sign(&c->head, key) == TLY_OK, "sign");
	c->leaf_index = log->size - 1;
	memcpy(c->entry_hash, entry_hash, sizeof entry_hash);
	must(tly_merkle_inclusion_proof(c->inclusion.hashes, &c->inclusion.count, log->leaves,
	                                log->size, c->leaf_index) == TLY_OK,
	     "inclusion");
	uint64_t first =
	    log->size > TLY_COMMIT_CONSISTENCY_MAX ? log->size - TLY_COMMIT_CONSISTENCY_MAX : 1;
	for (uint64_t m = first; m < log->size; m++) {
		struct tly_merkle_proof *p = &c->consistency[c->consistency_count];
		must(tly_merkle_consistency_proof(p->hashes, &p->count, log->leaves, m,
		                                  log->size) == TLY_OK,
		     "consistency");
		c->from_size[c->consistency_count++] = m;
	}
	q->log_commit = malloc(TLY_COMMIT_MAX_BYTES);
	must(q->log_commit != NULL, "out of memory");
	must(tly_log_commit_encode(q->log_commit, &len, c) == TLY_OK, "encode");
	q->log_commit_len = (uint32_t)len;
	free(c);
}

void
test_log_fini(struct test_log *log)
{
	free(log->leaves);
	memset(log, 0, sizeof *log);
}
