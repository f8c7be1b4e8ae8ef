/* Tests for enc: byte orders and LEB128 against hand-derived DWARF examples, sizes
 * against an independent bit-length model, and the growable buffer's contract. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "unit.h"

/* A decoder written from the DWARF 5 spec (7.6), independent of the encoder. */
static uint64_t dec_uleb(const uint8_t *p, size_t *used)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t i = 0;
	uint8_t byte;
	do {
		byte = p[i++];
		if (shift < 64)
			v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
	} while (byte & 0x80);
	*used = i;
	return v;
}

static int64_t dec_sleb(const uint8_t *p, size_t *used)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t i = 0;
	uint8_t byte;
	do {
		byte = p[i++];
		if (shift < 64)
			v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
	} while (byte & 0x80);
	if (shift < 64 && (byte & 0x40))
		v |= ~(uint64_t)0 << shift;
	*used = i;
	return (int64_t)v;
}

static unsigned bitlen(uint64_t v)
{
	unsigned n = 0;
	for (; v; v >>= 1)
		n++;
	return n;
}

/* ceil(significant bits / 7): a ULEB needs the value's bits, an SLEB also a sign bit. */
static size_t model_uleb_size(uint64_t v)
{
	unsigned bits = bitlen(v);
	return bits ? (bits + 6) / 7 : 1;
}

static size_t model_sleb_size(int64_t v)
{
	unsigned bits = 1 + bitlen(v < 0 ? ~(uint64_t)v : (uint64_t)v);
	return (bits + 6) / 7;
}

/* 0, UINT64_MAX and every 2^k - 1, 2^k, 2^k + 1; negated for the signed cases. */
static size_t boundary_values(uint64_t *out)
{
	size_t n = 0;
	out[n++] = 0;
	out[n++] = UINT64_MAX;
	for (int k = 0; k < 64; k++) {
		uint64_t p = (uint64_t)1 << k;
		out[n++] = p - 1;
		out[n++] = p;
		out[n++] = p + 1;
	}
	return n;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_little_endian(void)
{
	uint8_t b[8];
	enc_u16(b, 0x1234);
	CU_ASSERT(b[0] == 0x34 && b[1] == 0x12);
	CU_ASSERT_EQUAL(enc_get_u16(b), 0x1234);

	enc_u32(b, 0xfeedfacfu);
	static const uint8_t mh_magic_64[4] = {0xcf, 0xfa, 0xed, 0xfe};
	CU_ASSERT(memcmp(b, mh_magic_64, 4) == 0);
	CU_ASSERT_EQUAL(enc_get_u32(b), 0xfeedfacfu);

	enc_u64(b, 0x0102030405060708ULL);
	static const uint8_t want64[8] = {8, 7, 6, 5, 4, 3, 2, 1};
	CU_ASSERT(memcmp(b, want64, 8) == 0);
	CU_ASSERT_EQUAL(enc_get_u64(b), 0x0102030405060708ULL);

	enc_u64(b, UINT64_MAX);
	CU_ASSERT_EQUAL(enc_get_u64(b), UINT64_MAX);
	CU_ASSERT_EQUAL(enc_get_u32(b), UINT32_MAX);
	CU_ASSERT_EQUAL(enc_get_u16(b), UINT16_MAX);
}

static void test_uleb_spec_examples(void)
{
	/* DWARF 5, figure 22, plus the width steps at 2^14 and 2^63. */
	static const struct {
		uint64_t v;
		size_t n;
		uint8_t bytes[10];
	} cases[] = {
		{2, 1, {0x02}},
		{127, 1, {0x7f}},
		{128, 2, {0x80, 0x01}},
		{129, 2, {0x81, 0x01}},
		{130, 2, {0x82, 0x01}},
		{12857, 2, {0xb9, 0x64}},
		{0, 1, {0x00}},
		{16383, 2, {0xff, 0x7f}},
		{16384, 3, {0x80, 0x80, 0x01}},
		{UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[16];
		memset(out, 0xaa, sizeof out);
		size_t n = enc_uleb(out, cases[i].v);
		CU_ASSERT_EQUAL(n, cases[i].n);
		CU_ASSERT_EQUAL(enc_uleb_size(cases[i].v), cases[i].n);
		CU_ASSERT(memcmp(out, cases[i].bytes, cases[i].n) == 0);
		CU_ASSERT_EQUAL(out[cases[i].n], 0xaa);
	}
}

static void test_sleb_spec_examples(void)
{
	static const struct {
		int64_t v;
		size_t n;
		uint8_t bytes[10];
	} cases[] = {
		{2, 1, {0x02}},
		{-2, 1, {0x7e}},
		{127, 2, {0xff, 0x00}},
		{-127, 2, {0x81, 0x7f}},
		{128, 2, {0x80, 0x01}},
		{-128, 2, {0x80, 0x7f}},
		{129, 2, {0x81, 0x01}},
		{-129, 2, {0xff, 0x7e}},
		{0, 1, {0x00}},
		{-1, 1, {0x7f}},
		{63, 1, {0x3f}},
		{64, 2, {0xc0, 0x00}},
		{-64, 1, {0x40}},
		{-65, 2, {0xbf, 0x7f}},
		{INT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{INT64_MIN, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[16];
		memset(out, 0xaa, sizeof out);
		size_t n = enc_sleb(out, cases[i].v);
		CU_ASSERT_EQUAL(n, cases[i].n);
		CU_ASSERT_EQUAL(enc_sleb_size(cases[i].v), cases[i].n);
		CU_ASSERT(memcmp(out, cases[i].bytes, cases[i].n) == 0);
		CU_ASSERT_EQUAL(out[cases[i].n], 0xaa);
	}
}

static void check_uleb(uint64_t v)
{
	uint8_t out[16];
	size_t used = 0;
	size_t n = enc_uleb(out, v);
	CU_ASSERT_EQUAL(n, enc_uleb_size(v));
	CU_ASSERT_EQUAL(n, model_uleb_size(v));
	CU_ASSERT_EQUAL(dec_uleb(out, &used), v);
	CU_ASSERT_EQUAL(used, n);
}

static void check_sleb(int64_t v)
{
	uint8_t out[16];
	size_t used = 0;
	size_t n = enc_sleb(out, v);
	CU_ASSERT_EQUAL(n, enc_sleb_size(v));
	CU_ASSERT_EQUAL(n, model_sleb_size(v));
	CU_ASSERT_EQUAL(dec_sleb(out, &used), v);
	CU_ASSERT_EQUAL(used, n);
}

static void test_leb_sizes_and_roundtrip(void)
{
	uint64_t vals[200];
	size_t nv = boundary_values(vals);
	for (size_t i = 0; i < nv; i++) {
		check_uleb(vals[i]);
		check_sleb((int64_t)vals[i]);
		check_sleb(-(int64_t)(vals[i] >> 1));
		check_sleb(-(int64_t)(vals[i] >> 1) - 1);
	}
	check_sleb(INT64_MIN);
	check_sleb(INT64_MAX);
	uint64_t seed = 42;
	for (int i = 0; i < 20000; i++) {
		/* Shifted so every length from 1 to 10 bytes is common. */
		uint64_t v = rng_next(&seed) >> (rng_next(&seed) % 64);
		check_uleb(v);
		check_sleb((int64_t)v);
		check_sleb(-(int64_t)(v >> 1));
	}
}

static void test_uleb_padded(void)
{
	uint8_t out[10];
	enc_uleb_padded(out, 2, 4);
	static const uint8_t want2[4] = {0x82, 0x80, 0x80, 0x00};
	CU_ASSERT(memcmp(out, want2, 4) == 0);

	enc_uleb_padded(out, 12857, 2);
	static const uint8_t want12857[2] = {0xb9, 0x64};
	CU_ASSERT(memcmp(out, want12857, 2) == 0);

	enc_uleb_padded(out, 0, 1);
	CU_ASSERT_EQUAL(out[0], 0);

	uint64_t seed = 7;
	for (size_t width = 1; width <= 10; width++) {
		uint64_t limit_bits = 7 * width;
		for (int i = 0; i < 500; i++) {
			uint64_t v = rng_next(&seed);
			if (limit_bits < 64)
				v &= ((uint64_t)1 << (rng_next(&seed) % (limit_bits + 1))) - 1;
			size_t used = 0;
			memset(out, 0xaa, sizeof out);
			enc_uleb_padded(out, v, width);
			CU_ASSERT_EQUAL(dec_uleb(out, &used), v);
			CU_ASSERT_EQUAL(used, width);
			if (width < 10)
				CU_ASSERT_EQUAL(out[width], 0xaa);
		}
	}
}

static void test_buf_put_helpers(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_u8(&b, 0xab);
	enc_buf_u16(&b, 0x0102);
	enc_buf_u32(&b, 0x03040506);
	enc_buf_u64(&b, 0x0708090a0b0c0d0eULL);
	enc_buf_uleb(&b, 624485);
	enc_buf_sleb(&b, -123456);
	enc_buf_cstr(&b, "hi");
	enc_buf_cstr(&b, "");
	enc_buf_put(&b, "xyz", 3);
	enc_buf_put(&b, NULL, 0);
	static const uint8_t want[] = {
		0xab,
		0x02, 0x01,
		0x06, 0x05, 0x04, 0x03,
		0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07,
		0xe5, 0x8e, 0x26,       /* the ULEB example on Wikipedia's LEB128 page */
		0xc0, 0xbb, 0x78,       /* and its SLEB example */
		'h', 'i', 0,
		0,
		'x', 'y', 'z',
	};
	CU_ASSERT_EQUAL(enc_buf_error(&b), 0);
	CU_ASSERT_EQUAL_FATAL(b.len, sizeof want);
	CU_ASSERT(memcmp(b.data, want, sizeof want) == 0);
	CU_ASSERT(b.cap >= b.len);
	enc_buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(b.cap, 0);
}

static void test_buf_growth(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	size_t total = 0, reallocs = 0, last_cap = 0;
	for (size_t i = 0; i < 5000; i++) {
		size_t n = i % 97;
		size_t before = b.len;
		uint8_t *p = enc_buf_grow(&b, n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_PTR_EQUAL(p, b.data + before);
		for (size_t j = 0; j < n; j++)
			p[j] = (uint8_t)(total + j);
		total += n;
		CU_ASSERT_EQUAL(b.len, total);
		CU_ASSERT(b.cap >= b.len);
		if (b.cap != last_cap) {
			reallocs++;
			/* Doubling: the capacity never grows in small steps. */
			if (last_cap)
				CU_ASSERT(b.cap >= 2 * last_cap);
			last_cap = b.cap;
		}
	}
	/* 240k bytes by doubling from a small start needs only a dozen or so steps. */
	CU_ASSERT(reallocs <= 20);
	int ok = 1;
	for (size_t j = 0; j < total; j++)
		ok &= b.data[j] == (uint8_t)j;
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(enc_buf_error(&b), 0);

	/* A zero-byte grow on an empty buffer is still a valid, non-failing pointer. */
	struct enc_buf e;
	enc_buf_init(&e);
	CU_ASSERT_PTR_NOT_NULL(enc_buf_grow(&e, 0));
	CU_ASSERT_EQUAL(e.len, 0);
	CU_ASSERT_EQUAL(enc_buf_error(&e), 0);
	enc_buf_free(&e);
	enc_buf_free(&b);
}

static void test_buf_printf(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_printf(&b, "fn %s at 0x%llx", "main", 0x100003f80ULL);
	CU_ASSERT_EQUAL(b.len, strlen("fn main at 0x100003f80"));
	CU_ASSERT(memcmp(b.data, "fn main at 0x100003f80", b.len) == 0);
	enc_buf_printf(&b, "%s", "");
	CU_ASSERT_EQUAL(b.len, strlen("fn main at 0x100003f80"));
	enc_buf_u8(&b, '|');
	/* Longer than the first allocation, so the text lands across a reallocation. */
	enc_buf_printf(&b, "%0200d;%d", 7, -3);
	const char *tail = (const char *)b.data + strlen("fn main at 0x100003f80|");
	CU_ASSERT_EQUAL(b.len, strlen("fn main at 0x100003f80|") + 203);
	int zeros = 1;
	for (int i = 0; i < 199; i++)
		zeros &= tail[i] == '0';
	CU_ASSERT(zeros);
	CU_ASSERT(memcmp(tail + 199, "7;-3", 4) == 0);
	CU_ASSERT_EQUAL(enc_buf_error(&b), 0);
	enc_buf_free(&b);
}

static void test_buf_failure_is_sticky(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_put(&b, "abc", 3);
	uint8_t *data = b.data;
	size_t cap = b.cap;

	/* Sizes no allocator can meet fail before reaching one. */
	CU_ASSERT_PTR_NULL(enc_buf_grow(&b, SIZE_MAX));
	CU_ASSERT_EQUAL(enc_buf_error(&b), -ENOMEM);
	CU_ASSERT_PTR_EQUAL(b.data, data);
	CU_ASSERT_EQUAL(b.len, 3);
	CU_ASSERT_EQUAL(b.cap, cap);
	CU_ASSERT(memcmp(b.data, "abc", 3) == 0);

	/* Every later put is ignored, even ones that would fit. */
	CU_ASSERT_PTR_NULL(enc_buf_grow(&b, 1));
	enc_buf_u8(&b, 1);
	enc_buf_u16(&b, 1);
	enc_buf_u32(&b, 1);
	enc_buf_u64(&b, 1);
	enc_buf_uleb(&b, 1);
	enc_buf_sleb(&b, 1);
	enc_buf_cstr(&b, "x");
	enc_buf_put(&b, "x", 1);
	enc_buf_printf(&b, "%d", 1);
	CU_ASSERT_EQUAL(b.len, 3);
	CU_ASSERT_EQUAL(enc_buf_error(&b), -ENOMEM);

	/* A failed buffer yields nothing and starts over clean. */
	size_t len = 99;
	CU_ASSERT_PTR_NULL(enc_buf_take(&b, &len));
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(enc_buf_error(&b), 0);
	enc_buf_u8(&b, 5);
	CU_ASSERT_EQUAL(b.len, 1);

	/* Just past PTRDIFF_MAX in total is refused too. */
	CU_ASSERT_PTR_NULL(enc_buf_grow(&b, (size_t)PTRDIFF_MAX));
	CU_ASSERT_EQUAL(enc_buf_error(&b), -ENOMEM);
	CU_ASSERT_EQUAL(b.len, 1);
	enc_buf_free(&b);
	CU_ASSERT_EQUAL(enc_buf_error(&b), 0);
}

static void test_buf_take_and_free(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	size_t len = 99;
	uint8_t *p = enc_buf_take(&b, &len);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(len, 0);
	free(p);

	enc_buf_cstr(&b, "dsym");
	p = enc_buf_take(&b, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT(memcmp(p, "dsym", 5) == 0);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(b.cap, 0);
	free(p);

	enc_buf_u32(&b, 1);
	p = enc_buf_take(&b, NULL);
	CU_ASSERT_PTR_NOT_NULL(p);
	free(p);

	struct enc_buf z;
	memset(&z, 0, sizeof z);
	enc_buf_free(&z);
	enc_buf_u8(&z, 1);
	enc_buf_free(&z);
	enc_buf_free(&z);
	CU_ASSERT_PTR_NULL(z.data);
	CU_ASSERT_EQUAL(z.len, 0);
}

static const struct unit_test enc_tests[] = {
	{"little_endian", test_little_endian},
	{"uleb_spec_examples", test_uleb_spec_examples},
	{"sleb_spec_examples", test_sleb_spec_examples},
	{"leb_sizes_and_roundtrip", test_leb_sizes_and_roundtrip},
	{"uleb_padded", test_uleb_padded},
	{"buf_put_helpers", test_buf_put_helpers},
	{"buf_growth", test_buf_growth},
	{"buf_printf", test_buf_printf},
	{"buf_failure_is_sticky", test_buf_failure_is_sticky},
	{"buf_take_and_free", test_buf_take_and_free},
	{0},
};

UNIT_SUITE(enc, enc_tests)
