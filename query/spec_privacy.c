/*
 * The query's "privacy" object: mechanism and an exact epsilon or rho.
 *
 * A JSON real becomes a fraction through its shortest round-tripping
 * decimal (%.1g, %.2g, ... until strtod gives the same double back), read
 * with integer arithmetic: 0.1 -> "0.1" -> 1/10, never 3602879701896397 /
 * 36028797018963968. What is charged to a node's budget and signed into
 * the query hash is that fraction.
 */
#include "query/spec_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/frac.h"

/* Digits of an unsigned decimal, no sign, no leading zeros; 0 if not one
 * or if it does not fit. *s is moved past the digits. */
static int
read_u64(const char **s, uint64_t *out)
{
	const char *c = *s;
	uint64_t v = 0;

	if (*c < '0' || *c > '9' || (c[0] == '0' && c[1] >= '0' && c[1] <= '9'))
		return 0;
	for (; *c >= '0' && *c <= '9'; c++) {
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*s = c;
	*out = v;
	return 1;
}

/* "num/den" of positive integers, exactly. */
static int
fraction_string(const char *s, uint64_t *num, uint64_t *den)
{
	if (!read_u64(&s, num) || *s++ != '/' || !read_u64(&s, den) || *s != '\0')
		return 0;
	return *den != 0;
}

/* A decimal as %g writes it ("0.5", "1e-05", "2.5e+02"; the C locale's '.'
 * or another locale's ',') into num/den with integer arithmetic. 0 when it
 * does not fit 64 bits. */
static int
decimal_fraction(const char *s, uint64_t *num, uint64_t *den)
{
	uint64_t mantissa = 0;
	long scale = 0;
	int point = 0;

	for (; (*s >= '0' && *s <= '9') || *s == '.' || *s == ','; s++) {
		if (*s == '.' || *s == ',') {
			point = 1;
			continue;
		}
		if (mantissa > UINT64_MAX / 10 - 9)
			return 0;
		mantissa = mantissa * 10 + (unsigned)(*s - '0');
		scale -= point;
	}
	if (*s == 'e' || *s == 'E') {
		long exponent = 0;
		int negative = s[1] == '-';
		s += (s[1] == '-' || s[1] == '+') ? 2 : 1;
		for (; *s >= '0' && *s <= '9' && exponent < 10000; s++)
			exponent = exponent * 10 + (*s - '0');
		scale += negative ? -exponent : exponent;
	}
	if (*s != '\0' || mantissa == 0)
		return 0;
	*num = mantissa;
	*den = 1;
	for (; scale > 0; scale--) {
		if (*num > UINT64_MAX / 10)
			return 0;
		*num *= 10;
	}
	for (; scale < 0; scale++) {
		if (*den > UINT64_MAX / 10)
			return 0;
		*den *= 10;
	}
	return 1;
}

/* num/den > TLY_SPEC_PRIVACY_MAX, without overflow. */
static int
above_max(uint64_t num, uint64_t den)
{
	return num / den > TLY_SPEC_PRIVACY_MAX ||
	       (num / den == TLY_SPEC_PRIVACY_MAX && num % den != 0);
}

static tly_err
real_fraction(double v, const char *path, uint64_t *num, uint64_t *den, struct tly_field_error *err)
{
	char text[40];
	int digits;

	if (isnan(v) || isinf(v))
		return tly_field_fail(err, 0, path, "must be a finite number");
	if (v <= 0)
		return tly_field_fail(err, 0, path, "must be above 0, got %.6g", v);
	if (v > TLY_SPEC_PRIVACY_MAX)
		return tly_field_fail(err, 0, path, "%.6g is above the limit of %d", v,
		                      TLY_SPEC_PRIVACY_MAX);
	for (digits = 1; digits <= TLY_SPEC_PRIVACY_DIGITS; digits++) {
		snprintf(text, sizeof text, "%.*g", digits, v);
		if (strtod(text, NULL) == v)
			break;
	}
	if (digits > TLY_SPEC_PRIVACY_DIGITS)
		return tly_field_fail(
		    err, 0, path,
		    "%.17g has more than %d significant digits; write it as \"num/den\"", v,
		    TLY_SPEC_PRIVACY_DIGITS);
	if (!decimal_fraction(text, num, den))
		return tly_field_fail(err, 0, path,
		                      "%s is too small to be an exact 64-bit fraction", text);
	return TLY_OK;
}

/* epsilon or rho: a JSON integer or real, or a "num/den" string; reduced,
 * 0 < num/den <= TLY_SPEC_PRIVACY_MAX. */
static tly_err
parse_amount(const json_t *value, const char *path, uint64_t *num, uint64_t *den,
             struct tly_field_error *err)
{
	char echo[TLY_SPEC_ECHO_BYTES];
	tly_err rv;

	if (json_is_integer(value)) {
		json_int_t v = json_integer_value(value);
		if (v <= 0)
			return tly_field_fail(err, 0, path, "must be above 0, got %" PRId64,
			                      (int64_t)v);
		*num = (uint64_t)v;
		*den = 1;
	} else if (json_is_real(value)) {
		if ((rv = real_fraction(json_real_value(value), path, num, den, err)) != TLY_OK)
			return rv;
	} else if (json_is_string(value)) {
		tly_spec_echo(echo, json_string_value(value), json_string_length(value));
		if (!fraction_string(json_string_value(value), num, den))
			return tly_field_fail(
			    err, 0, path, "\"%s\" is not a fraction \"num/den\" of 64-bit integers",
			    echo);
		if (*num == 0)
			return tly_field_fail(err, 0, path, "must be above 0, got \"%s\"", echo);
	} else {
		return tly_field_fail(err, 0, path, "expected a number, got %s",
		                      tly_spec_got(value).text);
	}
	struct tly_fraction f = tly_frac_reduce((struct tly_fraction){*num, *den});
	*num = f.num;
	*den = f.den;
	if (above_max(*num, *den))
		return tly_field_fail(err, 0, path,
		                      "%" PRIu64 "/%" PRIu64 " is above the limit of %d", *num,
		                      *den, TLY_SPEC_PRIVACY_MAX);
	return TLY_OK;
}

tly_err
tly_spec_parse_privacy(struct tly_spec *spec, const json_t *root, struct tly_field_error *err)
{
	char echo[TLY_SPEC_ECHO_BYTES], path[TLY_SPEC_PATH_BYTES];
	const char *name, *amount, *other;
	json_t *privacy, *mechanism, *value;
	uint64_t num, den;
	uint8_t mech;
	tly_err rv;

	if ((rv = tly_spec_member(root, "", "privacy", JSON_OBJECT, 1, &privacy, err)) != TLY_OK ||
	    (rv = tly_spec_member(privacy, "privacy", "mechanism", JSON_STRING, 1, &mechanism,
	                          err)) != TLY_OK)
		return rv;
	name = json_string_value(mechanism);
	if (strcmp(name, "laplace") == 0) {
		mech = TLY_MECH_LAPLACE;
		amount = "epsilon";
		other = "rho";
	} else if (strcmp(name, "gaussian") == 0 || strcmp(name, "skellam") == 0) {
		mech = TLY_MECH_SKELLAM;
		amount = "rho";
		other = "epsilon";
	} else {
		tly_spec_echo(echo, name, json_string_length(mechanism));
		return tly_field_fail(
		    err, 0, "privacy.mechanism",
		    "unknown mechanism \"%s\"; use laplace (epsilon) or gaussian (rho)", echo);
	}
	tly_spec_path_key(path, "privacy", other);
	if (json_object_get(privacy, other) != NULL)
		return tly_field_fail(err, 0, path, "%s takes %s, not %s", name, amount, other);
	const char *const keys[] = {"mechanism", amount, NULL};
	if ((rv = tly_spec_only_keys(privacy, "privacy", keys, err)) != TLY_OK)
		return rv;
	tly_spec_path_key(path, "privacy", amount);
	value = json_object_get(privacy, amount);
	if (value == NULL)
		return tly_field_fail(err, 0, path, "missing: %s needs %s", name, amount);
	if ((rv = parse_amount(value, path, &num, &den, err)) != TLY_OK)
		return rv;
	spec->mechanism = mech;
	spec->privacy_num = num;
	spec->privacy_den = den;
	return TLY_OK;
}
