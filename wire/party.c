#include "wire/party.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/wipe.h"
#include "wire/messages.h"

static int
compare_party(const void *a, const void *b)
{
	uint32_t x = ((const struct tly_party *)a)->id, y = ((const struct tly_party *)b)->id;
	return (x > y) - (x < y);
}

tly_err
tly_roster_init(struct tly_roster *roster,
                const uint8_t coordinator_pk[static TLY_SIGN_PUBLIC_BYTES],
                const struct tly_party *parties, size_t count)
{
	struct tly_party *copy = NULL;

	if (count > 0) {
		copy = calloc(count, sizeof *copy);
		if (copy == NULL)
			return TLY_ENOMEM;
		memcpy(copy, parties, count * sizeof *copy);
		qsort(copy, count, sizeof *copy, compare_party);
	}
	for (size_t i = 0; i < count; i++) {
		if (copy[i].id == 0 || copy[i].id > TLY_MAX_PARTY_ID ||
		    (i > 0 && copy[i].id == copy[i - 1].id)) {
			free(copy);
			return TLY_EINVAL;
		}
	}
	memcpy(roster->coordinator_pk, coordinator_pk, TLY_SIGN_PUBLIC_BYTES);
	roster->parties = copy;
	roster->count = count;
	return TLY_OK;
}

void
tly_roster_fini(struct tly_roster *roster)
{
	if (roster == NULL)
		return;
	free(roster->parties);
	memset(roster, 0, sizeof *roster);
}

const struct tly_party *
tly_roster_find(const struct tly_roster *roster, uint32_t id)
{
	size_t lo = 0, hi = roster->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (roster->parties[mid].id == id)
			return &roster->parties[mid];
		if (roster->parties[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const uint8_t *
tly_roster_sign_pk(const struct tly_roster *roster, uint32_t id)
{
	if (id == TLY_PARTY_COORDINATOR)
		return roster->coordinator_pk;
	const struct tly_party *party = tly_roster_find(roster, id);
	return party != NULL ? party->sign_pk : NULL;
}

enum tly_party_key
tly_party_sign_key(const struct tly_party *party, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES])
{
	if (sodium_memcmp(party->sign_pk, pk, TLY_SIGN_PUBLIC_BYTES) == 0)
		return TLY_PARTY_KEY_CURRENT;
	for (size_t i = 0; i < party->retired_count && i < TLY_RETIRED_KEYS_MAX; i++)
		if (sodium_memcmp(party->retired_sign_pk[i], pk, TLY_SIGN_PUBLIC_BYTES) == 0)
			return TLY_PARTY_KEY_RETIRED;
	return TLY_PARTY_KEY_NONE;
}

static tly_err
alloc_kx(struct tly_identity *self, const uint8_t *kx_sk)
{
	self->kx_sk = sodium_malloc(TLY_KX_SECRET_BYTES);
	if (self->kx_sk == NULL)
		return TLY_ENOMEM;
	if (kx_sk == NULL) {
		tly_kx_keypair(self->kx_pk, self->kx_sk);
		return TLY_OK;
	}
	memcpy(self->kx_sk, kx_sk, TLY_KX_SECRET_BYTES);
	return tly_kx_public(self->kx_pk, self->kx_sk);
}

static tly_err
identity_init(struct tly_identity *self, uint32_t id, const uint8_t *sign_seed, int with_kx,
              const uint8_t *kx_sk)
{
	tly_err rv;

	memset(self, 0, sizeof *self);
	self->id = id;
	rv = tly_sign_key_alloc(&self->sign, sign_seed);
	if (rv == TLY_OK && with_kx)
		rv = alloc_kx(self, kx_sk);
	if (rv != TLY_OK)
		tly_identity_fini(self);
	return rv;
}

tly_err
tly_identity_generate(struct tly_identity *self, uint32_t id, int with_kx)
{
	return identity_init(self, id, NULL, with_kx, NULL);
}

tly_err
tly_identity_load(struct tly_identity *self, uint32_t id,
                  const uint8_t sign_seed[static TLY_SIGN_SEED_BYTES], const uint8_t *kx_sk)
{
	return identity_init(self, id, sign_seed, kx_sk != NULL, kx_sk);
}

void
tly_identity_fini(struct tly_identity *self)
{
	if (self == NULL)
		return;
	tly_sign_key_free(self->sign);
	sodium_free(self->kx_sk); /* wipes; accepts NULL */
	memset(self, 0, sizeof *self);
}

void
tly_identity_public(const struct tly_identity *self, struct tly_party *out)
{
	memset(out, 0, sizeof *out);
	out->id = self->id;
	tly_sign_key_public(self->sign, out->sign_pk);
	memcpy(out->kx_pk, self->kx_pk, TLY_KX_PUBLIC_BYTES);
}
