/*
 * Fuzz the text parsers of configuration and data that an operator or a
 * file supplies: the node's INI config, the registry of public keys, and
 * the CSV reader of `tally-node import`. The first input byte picks one.
 * None may crash, leak or accept something that then fails to free.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"
#include "node/import.h"
#include "store/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	char *text = malloc(size);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: {
		struct tly_node_config cfg;
		struct tly_field_error err;
		if (tly_node_config_parse(&cfg, text, "fuzz.conf", "/nonexistent", &err) ==
		    TLY_OK) {
			struct tly_catalogue cat;
			if (tly_node_config_catalogue(&cfg, &cat) == TLY_OK)
				tly_catalogue_fini(&cat);
			tly_node_config_fini(&cfg);
		} else if (err.reason[0] == '\0') {
			abort(); /* every refusal says why */
		}
		break;
	}
	case 1: {
		struct tly_roster roster;
		char why[300];
		if (tly_registry_parse(&roster, text, "fuzz.ini", why, sizeof why) == TLY_OK)
			tly_roster_fini(&roster);
		break;
	}
	default: {
		FILE *in = fmemopen((void *)(data + 1), size - 1, "r");
		char *storage = NULL, *fields[TLY_CSV_FIELDS_MAX];
		size_t cap = 0, count;
		uint64_t line = 0;
		if (in == NULL)
			break;
		while (tly_csv_read(in, &storage, &cap, fields, &count, &line) == 1)
			if (count == 0 || count > TLY_CSV_FIELDS_MAX)
				abort();
		free(storage);
		fclose(in);
		break;
	}
	}
	free(text);
	return 0;
}
