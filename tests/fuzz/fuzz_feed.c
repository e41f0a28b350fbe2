/*
 * Fuzz the public feed's verifier (coordinator/feed.h, tly_feed_verify),
 * which reads a feed fetched from anywhere: any bytes are refused with a
 * reason or verified, never a crash or a leak; a verdict of TLY_OK comes
 * with a head of at least one entry, as many leaves, and no reason.
 *
 * The registry is the one that signed the seed tests/fuzz/seeds/fuzz_feed/
 * demo-3-queries.json (a `tally demo` of three queries, exported with
 * `tally audit export`), so that mutations of it reach the checks past the
 * signatures: the rebuilt items, the sequence, the root and the witness.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/feed.h"
#include "wire/hex.h"
#include "wire/party.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char coordinator_hex[] =
    "c318b97eb702f64655cecbcbc48a80140ab76b53c77b2b7f8b742fe12d6ed90c";
static const char *const node_hex[] = {
    "ebc080576efe69eb71278e18b78562751b09420a3d287ba8b8d720c3013639c0",
    "5f2d8dbcf48b3bfb6e7f6370d75f6a77b538f72dfb471275a96fc7ce338a86ba",
    "0e4c7fe1c02c9431abf21c80cd8008c355c67c1294174d472bed15c9256965fb",
    "ebd9ed449af83ecef97b71582e0b61d5465934e3b3b65c89bfe209e6b96f1552",
    "ae3f3992079c0905ddcdbdb3dce68c4dfd0b41eef86e14fa639eb30f3319fe92",
};

static struct tly_roster roster;
static int ready;

static void
setup(void)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_party parties[5];

	memset(parties, 0, sizeof parties);
	if (tly_unhex(pk, sizeof pk, coordinator_hex, strlen(coordinator_hex)) != TLY_OK)
		abort();
	for (size_t i = 0; i < 5; i++) {
		parties[i].id = (uint32_t)i + 1;
		if (tly_unhex(parties[i].sign_pk, TLY_SIGN_PUBLIC_BYTES, node_hex[i],
		              strlen(node_hex[i])) != TLY_OK)
			abort();
	}
	if (tly_roster_init(&roster, pk, parties, 5) != TLY_OK)
		abort();
	ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tly_feed_report report;

	if (!ready)
		setup();
	tly_err rv = tly_feed_verify((const char *)data, size, &roster, NULL, &report);
	if (rv == TLY_OK && (report.head.size == 0 || report.entries != report.head.size ||
	                     report.leaves == NULL || report.reason[0] != '\0'))
		abort();
	if (rv != TLY_OK && rv != TLY_ENOMEM && report.reason[0] == '\0')
		abort();
	tly_feed_report_fini(&report);
	return 0;
}
