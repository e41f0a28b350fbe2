/*
 * Fuzz the coordinator's parsers of operator and file input: its INI config
 * (coordinator/config.h) and the transparency log's entry bytes
 * (coordinator/translog_impl.h), which an auditor reads from a file anyone
 * could have edited, and the value of [api] planner_share
 * (coordinator/shares.h). The first input byte picks one. None may crash
 * or leak; a refused config must say why, an entry that decodes must
 * encode back to exactly its bytes (the encoding is canonical), and a
 * share that parses must be a reduced fraction in (0, 1].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/config.h"
#include "coordinator/shares.h"
#include "coordinator/translog_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
config(const uint8_t *data, size_t size)
{
	struct tly_coord_config *cfg = malloc(sizeof *cfg);
	struct tly_field_error err;
	char *text = malloc(size + 1);

	if (cfg == NULL || text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (tly_coord_config_parse(cfg, text, "fuzz.conf", "/nonexistent", &err) != TLY_OK &&
	    err.reason[0] == '\0')
		abort(); /* every refusal says why */
	free(text);
	free(cfg);
}

static void
entry(const uint8_t *data, size_t size)
{
	struct tly_translog_entry e;
	struct tly_buf again;
	char why[128];

	if (tly_translog_entry_decode(&e, data, size, why, sizeof why) != TLY_OK)
		return;
	tly_buf_init(&again);
	if (tly_translog_entry_encode(&e, &again) != TLY_OK || again.len != size ||
	    memcmp(again.data, data, size) != 0)
		abort();
	tly_buf_fini(&again);
	tly_translog_entry_fini(&e);
}

static void
share(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct tly_fraction f = {0, 0};

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (tly_shares_parse(text, &f) == TLY_OK && !tly_shares_valid(f))
		abort();
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	if (data[0] % 3 == 0)
		config(data + 1, size - 1);
	else if (data[0] % 3 == 1)
		entry(data + 1, size - 1);
	else
		share(data + 1, size - 1);
	return 0;
}
