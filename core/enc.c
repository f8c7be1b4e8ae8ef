/* enc: little-endian and LEB128 encoders, and a growable byte buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "util.h"

/* The first allocation of a buffer: small enough for one-line texts, large enough that
 * a typical load command does not reallocate. */
#define ENC_BUF_MIN_CAP 64

void enc_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void enc_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void enc_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t enc_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t enc_get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

uint64_t enc_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t enc_uleb_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A signed value is complete once the remaining bits are pure sign extension of the
 * last group's bit 6, so the decoder reproduces them. */
static int enc_sleb_done(int64_t v, uint8_t group)
{
	return (v == 0 && !(group & 0x40)) || (v == -1 && (group & 0x40));
}

/* Arithmetic shift right by 7 spelled out, since >> on a negative value is
 * implementation-defined in C11. */
static int64_t enc_asr7(int64_t v)
{
	return v < 0 ? ~(~v >> 7) : v >> 7;
}

size_t enc_sleb_size(int64_t v)
{
	uint8_t scratch[10];
	return enc_sleb(scratch, v);
}

size_t enc_uleb(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v & 0x7f) | 0x80;
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t enc_sleb(uint8_t *p, int64_t v)
{
	size_t n = 0;
	for (;;) {
		uint8_t group = (uint8_t)((uint64_t)v & 0x7f);
		v = enc_asr7(v);
		if (enc_sleb_done(v, group)) {
			p[n++] = group;
			return n;
		}
		p[n++] = group | 0x80;
	}
}

void enc_uleb_padded(uint8_t *p, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++) {
		uint8_t group = (uint8_t)(v & 0x7f);
		v >>= 7;
		p[i] = i + 1 < width ? group | 0x80 : group;
	}
}

void enc_buf_init(struct enc_buf *b)
{
	memset(b, 0, sizeof *b);
}

void enc_buf_free(struct enc_buf *b)
{
	free(b->data);
	enc_buf_init(b);
}

int enc_buf_error(const struct enc_buf *b)
{
	return b->failed ? -ENOMEM : 0;
}

uint8_t *enc_buf_grow(struct enc_buf *b, size_t n)
{
	if (b->failed)
		return NULL;
	/* Objects beyond PTRDIFF_MAX break pointer differences, and refusing them here
	 * keeps absurd requests from ever reaching the allocator. */
	if (n > (size_t)PTRDIFF_MAX - b->len) {
		b->failed = 1;
		return NULL;
	}
	size_t need = b->len + n;
	if (util_grow(&b->data, &b->cap, need < ENC_BUF_MIN_CAP ? ENC_BUF_MIN_CAP : need, 1)) {
		b->failed = 1;
		return NULL;
	}
	uint8_t *p = b->data + b->len;
	b->len = need;
	return p;
}

void enc_buf_put(struct enc_buf *b, const void *p, size_t n)
{
	uint8_t *dst = enc_buf_grow(b, n);
	if (dst && n)
		memcpy(dst, p, n);
}

void enc_buf_u8(struct enc_buf *b, uint8_t v)
{
	uint8_t *p = enc_buf_grow(b, 1);
	if (p)
		*p = v;
}

void enc_buf_u16(struct enc_buf *b, uint16_t v)
{
	uint8_t *p = enc_buf_grow(b, 2);
	if (p)
		enc_u16(p, v);
}

void enc_buf_u32(struct enc_buf *b, uint32_t v)
{
	uint8_t *p = enc_buf_grow(b, 4);
	if (p)
		enc_u32(p, v);
}

void enc_buf_u64(struct enc_buf *b, uint64_t v)
{
	uint8_t *p = enc_buf_grow(b, 8);
	if (p)
		enc_u64(p, v);
}

void enc_buf_uleb(struct enc_buf *b, uint64_t v)
{
	uint8_t *p = enc_buf_grow(b, enc_uleb_size(v));
	if (p)
		enc_uleb(p, v);
}

void enc_buf_sleb(struct enc_buf *b, int64_t v)
{
	uint8_t *p = enc_buf_grow(b, enc_sleb_size(v));
	if (p)
		enc_sleb(p, v);
}

void enc_buf_cstr(struct enc_buf *b, const char *s)
{
	enc_buf_put(b, s, strlen(s) + 1);
}

void enc_buf_printf(struct enc_buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		/* A format the C library cannot render leaves no correct text to keep. */
		b->failed = 1;
		return;
	}
	/* vsnprintf always writes its NUL, so room for it is made and then given back. */
	char *p = (char *)enc_buf_grow(b, (size_t)n + 1);
	if (!p)
		return;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len--;
}

uint8_t *enc_buf_take(struct enc_buf *b, size_t *len)
{
	uint8_t *data = NULL;
	if (!b->failed) {
		data = b->data ? b->data : malloc(1);
		b->data = NULL;
	}
	if (len)
		*len = data ? b->len : 0;
	enc_buf_free(b);
	return data;
}
