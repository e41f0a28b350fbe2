#include "wire/hex.h"

void
tly_hex(char *out, const uint8_t *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

tly_err
tly_unhex(uint8_t *out, size_t len, const char *text, size_t text_len)
{
	if (text_len != 2 * len)
		return TLY_EFORMAT;
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TLY_EFORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return TLY_OK;
}
