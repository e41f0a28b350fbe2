/*
 * ledger_hammer - reserve spends in a loop, the way a node answers queries,
 * until killed; tests/test_ledger.c kills it with SIGKILL at random times.
 *
 *   ledger_hammer LEDGER SENT SEED_HEX
 *
 * Each reserve charges a fresh query id (8 random bytes, then a counter)
 * alternately 1/1000 epsilon and 1/500 rho to dataset "hammer" under caps
 * that never run out. Only after tly_ledger_reserve returns TLY_OK does it
 * "send": it prints the query id in hex on stdout, then appends the same
 * line to SENT and fsyncs it. So every id that reached stdout or SENT must
 * be charged in LEDGER, whenever the kill came. Node id 7; the Ed25519 key
 * is the one of the 32-byte seed SEED_HEX. Exits 1 on any error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/rng.h"
#include "crypto/sign.h"
#include "node/ledger.h"
#include "wire/buf.h"

static int
parse_seed(const char *hex, uint8_t seed[static TLY_SIGN_SEED_BYTES])
{
	size_t len = 0;

	return sodium_hex2bin(seed, TLY_SIGN_SEED_BYTES, hex, strlen(hex), NULL, &len, NULL) == 0 &&
	       len == TLY_SIGN_SEED_BYTES;
}

/* Print the id, then append it to the marker file and fsync. */
static int
send_marker(int sent_fd, const uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	char line[2 * TLY_QUERY_ID_BYTES + 2];

	sodium_bin2hex(line, sizeof line - 1, query_id, TLY_QUERY_ID_BYTES);
	line[2 * TLY_QUERY_ID_BYTES] = '\n';
	line[2 * TLY_QUERY_ID_BYTES + 1] = '\0';
	if (fputs(line, stdout) == EOF || fflush(stdout) != 0)
		return 0;
	return write(sent_fd, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) &&
	       fsync(sent_fd) == 0;
}

static int
hammer(struct tly_ledger *ledger, int sent_fd)
{
	static const char spec[] = "{\"dataset\":\"hammer\",\"measure\":{\"op\":\"count\"}}";
	struct tly_ledger_budget budget = {.epsilon_total = {1000000000, 1},
	                                   .epsilon_per_query = {1, 1},
	                                   .rho_per_query = {1, 1},
	                                   .delta_total = {1, 1000000},
	                                   .sites = 1};
	struct tly_ledger_charge charge = {.dataset = "hammer",
	                                   .population = "hammer",
	                                   .spec_json = spec,
	                                   .spec_len = sizeof spec - 1};
	struct tly_ledger_receipt receipt;
	char why[256];

	randombytes_buf(charge.query_id, 8);
	for (uint64_t n = 0;; n++) {
		tly_store_be64(charge.query_id + 8, n);
		crypto_generichash(charge.query_hash, sizeof charge.query_hash, charge.query_id,
		                   sizeof charge.query_id, NULL, 0);
		charge.mechanism = n % 2 == 0 ? TLY_MECH_LAPLACE : TLY_MECH_SKELLAM;
		charge.amount =
		    n % 2 == 0 ? (struct tly_fraction){1, 1000} : (struct tly_fraction){1, 500};
		tly_err rv =
		    tly_ledger_reserve(ledger, &charge, &budget, &receipt, why, sizeof why);
		if (rv != TLY_OK) {
			fprintf(stderr, "ledger_hammer: reserve: %s: %s\n", tly_strerror(rv), why);
			return 0;
		}
		if (!send_marker(sent_fd, charge.query_id)) {
			perror("ledger_hammer: send");
			return 0;
		}
	}
}

int
main(int argc, char **argv)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES];
	struct tly_sign_key *key = NULL;
	struct tly_ledger *ledger = NULL;
	char err[256];
	int sent_fd = -1, ok = 0;

	if (argc != 4 || !parse_seed(argv[3], seed)) {
		fprintf(stderr, "usage: ledger_hammer LEDGER SENT SEED_HEX\n");
		return 2;
	}
	if (tly_crypto_init() != TLY_OK || tly_sign_key_alloc(&key, seed) != TLY_OK)
		goto out;
	if (tly_ledger_open(&ledger, argv[1], 7, key, err, sizeof err) != TLY_OK) {
		fprintf(stderr, "ledger_hammer: %s\n", err);
		goto out;
	}
	sent_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (sent_fd < 0) {
		perror(argv[2]);
		goto out;
	}
	ok = hammer(ledger, sent_fd);
out:
	if (sent_fd >= 0)
		close(sent_fd);
	tly_ledger_close(ledger);
	tly_sign_key_free(key);
	sodium_memzero(seed, sizeof seed);
	return ok ? 0 : 1;
}
