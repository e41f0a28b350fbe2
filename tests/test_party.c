/* wire/party: the roster (sorted copy, id checks at 0, TLY_MAX_PARTY_ID and
 * repeats; binary search; the coordinator's key for id 0) and identities
 * (generated and loaded from seeds, the public view). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "crypto/rng.h"
#include "wire/messages.h"
#include "wire/party.h"

static const uint8_t coordinator_pk[TLY_SIGN_PUBLIC_BYTES] = {0xc0};

static struct tly_party
party(uint32_t id)
{
	struct tly_party p;

	memset(&p, 0, sizeof p);
	p.id = id;
	memset(p.sign_pk, (int)(id & 0xff), sizeof p.sign_pk);
	memset(p.kx_pk, (int)((id + 1) & 0xff), sizeof p.kx_pk);
	return p;
}

Test(roster, sorts_a_copy_and_finds)
{
	struct tly_party in[] = {party(9), party(2), party(TLY_MAX_PARTY_ID), party(1), party(5)};
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 5), TLY_OK);
	cr_assert_eq(roster.count, 5);
	cr_assert_neq(roster.parties, in);
	for (size_t i = 1; i < roster.count; i++)
		cr_assert_lt(roster.parties[i - 1].id, roster.parties[i].id);
	for (size_t i = 0; i < 5; i++) {
		const struct tly_party *p = tly_roster_find(&roster, in[i].id);
		cr_assert_not_null(p, "id %u", in[i].id);
		cr_assert_eq(memcmp(p, &in[i], sizeof *p), 0);
	}
	cr_assert_null(tly_roster_find(&roster, 0));
	cr_assert_null(tly_roster_find(&roster, 3));
	cr_assert_null(tly_roster_find(&roster, 10));
	cr_assert_null(tly_roster_find(&roster, TLY_PARTY_ALL));
	tly_roster_fini(&roster);
	cr_assert_null(roster.parties);
	tly_roster_fini(NULL);
}

Test(roster, id_zero_is_einval)
{
	struct tly_party in[] = {party(3), party(0)};
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 2), TLY_EINVAL);
}

Test(roster, id_above_max_is_einval)
{
	struct tly_party in[] = {party(TLY_MAX_PARTY_ID + 1), party(1)};
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 2), TLY_EINVAL);
	in[0].id = TLY_PARTY_ALL;
	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 2), TLY_EINVAL);
}

/* Repeats are found after sorting: not only when they were adjacent. */
Test(roster, repeated_id_is_einval)
{
	struct tly_party in[] = {party(4), party(1), party(7), party(4)};
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 4), TLY_EINVAL);
}

Test(roster, empty_roster)
{
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, NULL, 0), TLY_OK);
	cr_assert_eq(roster.count, 0);
	cr_assert_null(tly_roster_find(&roster, 1));
	cr_assert_eq(tly_roster_sign_pk(&roster, TLY_PARTY_COORDINATOR)[0], 0xc0);
	tly_roster_fini(&roster);
}

Test(roster, sign_pk_of_coordinator_and_parties)
{
	struct tly_party in[] = {party(1), party(2)};
	struct tly_roster roster;

	cr_assert_eq(tly_roster_init(&roster, coordinator_pk, in, 2), TLY_OK);
	cr_assert_arr_eq(tly_roster_sign_pk(&roster, TLY_PARTY_COORDINATOR), coordinator_pk,
	                 sizeof coordinator_pk);
	cr_assert_arr_eq(tly_roster_sign_pk(&roster, 2), in[1].sign_pk, sizeof in[1].sign_pk);
	cr_assert_null(tly_roster_sign_pk(&roster, 3));
	tly_roster_fini(&roster);
}

static void
setup(void)
{
	cr_assert_eq(tly_crypto_init(), TLY_OK);
}

TestSuite(identity, .init = setup);

Test(identity, generate_with_and_without_kx)
{
	struct tly_identity node, coordinator;
	struct tly_party pub;
	static const uint8_t zero[TLY_KX_PUBLIC_BYTES];

	cr_assert_eq(tly_identity_generate(&node, 12, 1), TLY_OK);
	cr_assert_not_null(node.kx_sk);
	cr_assert_neq(memcmp(node.kx_pk, zero, sizeof zero), 0);
	tly_identity_public(&node, &pub);
	cr_assert_eq(pub.id, 12);
	cr_assert_arr_eq(pub.kx_pk, node.kx_pk, sizeof pub.kx_pk);
	cr_assert_eq(tly_identity_generate(&coordinator, TLY_PARTY_COORDINATOR, 0), TLY_OK);
	cr_assert_null(coordinator.kx_sk);
	cr_assert_arr_eq(coordinator.kx_pk, zero, sizeof zero);
	tly_identity_fini(&node);
	cr_assert_null(node.sign);
	cr_assert_null(node.kx_sk);
	tly_identity_fini(&coordinator);
	tly_identity_fini(NULL);
}

/* Loading from the seeds of a generated identity gives the same public
 * keys; a different kx secret gives a different kx public key. */
Test(identity, load_reproduces_public_keys)
{
	struct tly_identity a, b;
	struct tly_party pa, pb;
	uint8_t seed[TLY_SIGN_SEED_BYTES], kx_sk[TLY_KX_SECRET_BYTES];

	cr_assert_eq(tly_identity_generate(&a, 3, 1), TLY_OK);
	tly_sign_key_seed(a.sign, seed);
	memcpy(kx_sk, a.kx_sk, sizeof kx_sk);
	cr_assert_eq(tly_identity_load(&b, 3, seed, kx_sk), TLY_OK);
	tly_identity_public(&a, &pa);
	tly_identity_public(&b, &pb);
	cr_assert_eq(memcmp(&pa, &pb, sizeof pa), 0);
	tly_identity_fini(&b);
	kx_sk[0] ^= 0x40;
	cr_assert_eq(tly_identity_load(&b, 3, seed, kx_sk), TLY_OK);
	cr_assert_neq(memcmp(b.kx_pk, a.kx_pk, sizeof a.kx_pk), 0);
	tly_identity_fini(&b);
	cr_assert_eq(tly_identity_load(&b, 3, seed, NULL), TLY_OK);
	cr_assert_null(b.kx_sk, "no kx secret: no kx keys");
	tly_identity_fini(&b);
	tly_identity_fini(&a);
}
