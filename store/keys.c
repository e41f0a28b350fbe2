#include "store/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/wipe.h"
#include "store/ini.h"
#include "wire/messages.h"

tly_err
tly_key_file_read(const char *path, uint8_t *out, size_t len, char *why, size_t why_len)
{
	char text[260];
	struct stat st;
	tly_err rv = TLY_EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	if (fstat(fd, &st) != 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		tly_say(why, why_len, "%s: a secret key must not be readable by others (chmod 600)",
		        path);
		rv = TLY_EAUTH;
		goto out;
	}
	ssize_t got = read(fd, text, sizeof text - 1);
	if (got < 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	size_t n = (size_t)got;
	if (n > 0 && text[n - 1] == '\n')
		n--;
	rv = tly_unhex(out, len, text, n);
	if (rv != TLY_OK)
		tly_say(why, why_len, "%s: expected %zu hex digits", path, 2 * len);
out:
	TLY_WIPE_OBJ(text);
	close(fd);
	return rv;
}

tly_err
tly_key_file_write(const char *path, const uint8_t *bytes, size_t len, char *why, size_t why_len)
{
	char text[260];
	tly_err rv = TLY_EIO;

	if (2 * len + 2 > sizeof text)
		return TLY_EINVAL;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	tly_hex(text, bytes, len);
	text[2 * len] = '\n';
	if (write(fd, text, 2 * len + 1) == (ssize_t)(2 * len + 1) && fsync(fd) == 0)
		rv = TLY_OK;
	else
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
	TLY_WIPE_OBJ(text);
	close(fd);
	return rv;
}

tly_err
tly_identity_from_files(struct tly_identity *self, uint32_t id, const char *sign_path,
                        const char *kx_path, char *why, size_t why_len)
{
	uint8_t seed[TLY_SIGN_SEED_BYTES], kx[TLY_KX_SECRET_BYTES];
	tly_err rv = tly_key_file_read(sign_path, seed, sizeof seed, why, why_len);

	if (rv == TLY_OK && kx_path != NULL)
		rv = tly_key_file_read(kx_path, kx, sizeof kx, why, why_len);
	if (rv == TLY_OK) {
		rv = tly_identity_load(self, id, seed, kx_path != NULL ? kx : NULL);
		if (rv != TLY_OK)
			tly_say(why, why_len, "cannot load keys: %s", tly_strerror(rv));
	}
	TLY_WIPE_OBJ(seed);
	TLY_WIPE_OBJ(kx);
	return rv;
}

/* ---- the registry ---- */

enum { REGISTRY_MAX = TLY_MAX_SERVED_PARTIES + 64 };

struct registry_parse {
	const char *name;
	struct tly_ini_source src;
	int section_number; /* src.sections when the current section started */
	char *why;
	size_t why_len;
	int failed;
	int have_coordinator;
	uint8_t coordinator_pk[TLY_SIGN_PUBLIC_BYTES];
	struct tly_party *parties;
	size_t count;
	unsigned have; /* bits: 1 sign_pk, 2 kx_pk, for parties[count - 1] */
	char section[64];
};

static int
registry_fail(struct registry_parse *p, const char *section, const char *key, const char *reason)
{
	if (!p->failed)
		tly_say(p->why, p->why_len, "%s:%d: %s.%s: %s", p->name, p->src.line, section, key,
		        reason);
	p->failed = 1;
	return 1;
}

/* Close the previous [node N] section: both keys must have been given. */
static int
finish_party(struct registry_parse *p)
{
	const struct tly_party *party = p->count > 0 ? &p->parties[p->count - 1] : NULL;

	if (party != NULL && p->have != 3 && !p->failed) {
		tly_say(p->why, p->why_len, "%s: node %u: needs both sign_pk and kx_pk", p->name,
		        party->id);
		p->failed = 1;
	}
	for (size_t i = 0; party != NULL && !p->failed && i < party->retired_count; i++) {
		if (sodium_memcmp(party->retired_sign_pk[i], party->sign_pk,
		                  TLY_SIGN_PUBLIC_BYTES) == 0) {
			tly_say(p->why, p->why_len,
			        "%s: node %u: retired_sign_pk is its sign_pk (a retired key "
			        "must not be the one in use)",
			        p->name, party->id);
			p->failed = 1;
		}
	}
	p->have = 0;
	return !p->failed;
}

/* N of "node N": decimal without a leading zero, from 1 to TLY_MAX_PARTY_ID. */
static bool
node_id(const char *section, unsigned long *id)
{
	char *end;

	*id = strtoul(section + 5, &end, 10);
	return *end == '\0' && *id != 0 && *id <= TLY_MAX_PARTY_ID && section[5] >= '1' &&
	       section[5] <= '9';
}

/* A [node N] section with this N came before, anywhere in the registry. */
static bool
listed(const struct registry_parse *p, unsigned long id)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->parties[i].id == id)
			return true;
	return false;
}

static int
start_party(struct registry_parse *p, const char *section)
{
	unsigned long id;

	if (!node_id(section, &id))
		return registry_fail(p, section, "(section)", "expected [node N], N from 1") && 0;
	if (listed(p, id))
		return registry_fail(p, section, "(section)", "node listed twice") && 0;
	if (p->count == REGISTRY_MAX)
		return registry_fail(p, section, "(section)", "too many nodes") && 0;
	memset(&p->parties[p->count], 0, sizeof p->parties[0]);
	p->parties[p->count++].id = (uint32_t)id;
	return 1;
}

/* retired_sign_pk of the current [node N]: repeatable, each key once. */
static int
retire_key(struct registry_parse *p, const char *section, const char *key,
           const uint8_t bytes[static TLY_SIGN_PUBLIC_BYTES])
{
	struct tly_party *party = &p->parties[p->count - 1];

	for (size_t i = 0; i < party->retired_count; i++)
		if (sodium_memcmp(party->retired_sign_pk[i], bytes, TLY_SIGN_PUBLIC_BYTES) == 0)
			return registry_fail(p, section, key, "given twice");
	if (party->retired_count == TLY_RETIRED_KEYS_MAX) {
		char reason[48];
		snprintf(reason, sizeof reason, "more than %d retired keys",
		         (int)TLY_RETIRED_KEYS_MAX);
		return registry_fail(p, section, key, reason);
	}
	memcpy(party->retired_sign_pk[party->retired_count++], bytes, TLY_SIGN_PUBLIC_BYTES);
	return 1;
}

static int
registry_key(void *user, const char *section, const char *key, const char *value)
{
	struct registry_parse *p = user;
	uint8_t bytes[32];

	if (p->failed)
		return 1;
	/* A new section at every header line, even one that repeats the name
	 * of the section before it (inih reports both as one). */
	if (strcmp(section, p->section) != 0 || p->src.sections != p->section_number) {
		if (!finish_party(p))
			return 1;
		snprintf(p->section, sizeof p->section, "%s", section);
		p->section_number = p->src.sections;
		if (strncmp(section, "node ", 5) == 0 && !start_party(p, section))
			return 1;
	}
	if (strcmp(key, "name") == 0)
		return 1;
	int is_sign = strcmp(key, "sign_pk") == 0, is_kx = strcmp(key, "kx_pk") == 0;
	int is_retired = strcmp(key, "retired_sign_pk") == 0;
	if (!is_sign && !is_kx && !is_retired)
		return registry_fail(p, section, key, "unknown key");
	if (tly_unhex(bytes, sizeof bytes, value, strlen(value)) != TLY_OK)
		return registry_fail(p, section, key, "expected 64 hex digits");
	/* A key given twice is refused, not replaced: two readers of one
	 * registry must not pin different keys (docs/SECURITY.md). */
	if (strcmp(section, "coordinator") == 0) {
		if (!is_sign)
			return registry_fail(p, section, key, "the coordinator has only sign_pk");
		if (p->have_coordinator)
			return registry_fail(p, section, key, "given twice");
		memcpy(p->coordinator_pk, bytes, sizeof bytes);
		p->have_coordinator = 1;
	} else if (strncmp(section, "node ", 5) == 0 && is_retired) {
		return retire_key(p, section, key, bytes);
	} else if (strncmp(section, "node ", 5) == 0) {
		struct tly_party *party = &p->parties[p->count - 1];
		if (p->have & (is_sign ? 1u : 2u))
			return registry_fail(p, section, key, "given twice");
		memcpy(is_sign ? party->sign_pk : party->kx_pk, bytes, sizeof bytes);
		p->have |= is_sign ? 1u : 2u;
	} else {
		return registry_fail(p, section, key,
		                     "unknown section (expected [coordinator] or [node N])");
	}
	return 1;
}

tly_err
tly_registry_parse(struct tly_roster *out, const char *text, const char *name, char *why,
                   size_t why_len)
{
	struct registry_parse p;
	tly_err rv;

	memset(&p, 0, sizeof p);
	p.name = name;
	p.src.text = text;
	p.why = why;
	p.why_len = why_len;
	p.parties = calloc(REGISTRY_MAX, sizeof *p.parties);
	if (p.parties == NULL)
		return TLY_ENOMEM;
	int line = tly_ini_parse(&p.src, registry_key, &p);
	if (line != 0 && !p.failed) {
		tly_say(why, why_len, "%s:%d: not a [section] or key = value line", name, line);
		p.failed = 1;
	}
	if (!p.failed)
		finish_party(&p);
	if (!p.failed && !p.have_coordinator) {
		tly_say(why, why_len, "%s: [coordinator] sign_pk is missing", name);
		p.failed = 1;
	}
	rv = p.failed ? TLY_EINVAL : tly_roster_init(out, p.coordinator_pk, p.parties, p.count);
	free(p.parties);
	return rv;
}

tly_err
tly_registry_load(struct tly_roster *out, const char *path, char *why, size_t why_len)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;
	tly_err rv = TLY_EIO;

	if (f == NULL) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap > (1u << 20)) {
				tly_say(why, why_len, "%s: larger than 1 MiB", path);
				goto out;
			}
			char *grown = realloc(text, cap + 8192);
			if (grown == NULL) {
				rv = TLY_ENOMEM;
				goto out;
			}
			text = grown;
			cap += 8192;
		}
		size_t got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		tly_say(why, why_len, "%s: read error", path);
		goto out;
	}
	text[len] = '\0';
	rv = tly_registry_parse(out, text, path, why, why_len);
out:
	free(text);
	fclose(f);
	return rv;
}

tly_err
tly_registry_write(const struct tly_roster *roster, const char *path, char *why, size_t why_len)
{
	char temp[4200], hex[65];
	FILE *f;

	if (snprintf(temp, sizeof temp, "%s.tmp", path) >= (int)sizeof temp)
		return TLY_EINVAL;
	f = fopen(temp, "w");
	if (f == NULL) {
		tly_say(why, why_len, "%s: %s", temp, strerror(errno));
		return TLY_EIO;
	}
	tly_hex(hex, roster->coordinator_pk, TLY_SIGN_PUBLIC_BYTES);
	fprintf(f,
	        "; tally registry: the public keys every party pins\n[coordinator]\nsign_pk = %s\n",
	        hex);
	for (size_t i = 0; i < roster->count; i++) {
		const struct tly_party *party = &roster->parties[i];
		fprintf(f, "\n[node %u]\n", party->id);
		tly_hex(hex, party->sign_pk, TLY_SIGN_PUBLIC_BYTES);
		fprintf(f, "sign_pk = %s\n", hex);
		tly_hex(hex, party->kx_pk, TLY_KX_PUBLIC_BYTES);
		fprintf(f, "kx_pk = %s\n", hex);
		for (size_t k = 0; k < party->retired_count && k < TLY_RETIRED_KEYS_MAX; k++) {
			tly_hex(hex, party->retired_sign_pk[k], TLY_SIGN_PUBLIC_BYTES);
			fprintf(f, "retired_sign_pk = %s\n", hex);
		}
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(temp, path) != 0) {
		tly_say(why, why_len, "%s: %s", path, strerror(errno));
		return TLY_EIO;
	}
	return TLY_OK;
}
