/*
 * Fuzz the coordinator's parsers of operator and file input: its INI config
 * (coordinator/config.h) and the transparency log's entry bytes
 * (coordinator/translog_impl.h), which an auditor reads from a file anyone
 * could have edited. The first input byte picks one. Neither may crash or
 * leak; a refused config must say why, and an entry that decodes must
 * encode back to exactly its bytes (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/config.h"
#include "coordinator/translog_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
config(const uint8_t *data, size_t size)
{
	struct tly_coord_config *cfg = malloc(sizeof *cfg);
	struct tly_coord_config_error err;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	if (data[0] % 2 == 0)
		config(data + 1, size - 1);
	else
		entry(data + 1, size - 1);
	return 0;
}
