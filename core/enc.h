/* enc: little-endian and LEB128 encoders, and a growable byte buffer.
 *
 * Every encoder has a size function beside it, so a layout can be computed without
 * producing bytes. Integers are always written byte by byte in little-endian order; no
 * host struct is ever copied into an output. The buffer grows by doubling; a failed
 * growth leaves it unchanged and sets its sticky `failed` flag, so a sequence of puts
 * can be checked once at the end with enc_buf_error().
 */
#ifndef DSYMFS_ENC_H
#define DSYMFS_ENC_H

#include <stddef.h>
#include <stdint.h>

void enc_u16(uint8_t *p, uint16_t v);
void enc_u32(uint8_t *p, uint32_t v);
void enc_u64(uint8_t *p, uint64_t v);
uint16_t enc_get_u16(const uint8_t *p);
uint32_t enc_get_u32(const uint8_t *p);
uint64_t enc_get_u64(const uint8_t *p);

size_t enc_uleb_size(uint64_t v);
size_t enc_sleb_size(int64_t v);
/* Write v at p; returns the number of bytes written (== the size function's answer). */
size_t enc_uleb(uint8_t *p, uint64_t v);
size_t enc_sleb(uint8_t *p, int64_t v);
/* ULEB128 of v padded with continuation bytes to exactly `width` bytes (1..10), so a
 * value can be patched later without moving anything. v must fit in 7*width bits. */
void enc_uleb_padded(uint8_t *p, uint64_t v, size_t width);

struct enc_buf {
	uint8_t *data;  /* owned; free with enc_buf_free */
	size_t len;
	size_t cap;
	int failed;     /* set once an allocation failed; later puts are ignored */
};

void enc_buf_init(struct enc_buf *b);
/* Frees b->data and re-initializes b. Safe on a zeroed or already-freed buffer. */
void enc_buf_free(struct enc_buf *b);
/* 0, or -ENOMEM if any put since init failed. */
int enc_buf_error(const struct enc_buf *b);
/* Makes room for n more bytes and returns a pointer to them (len grows by n), or NULL
 * after setting `failed`. */
uint8_t *enc_buf_grow(struct enc_buf *b, size_t n);
void enc_buf_put(struct enc_buf *b, const void *p, size_t n);
void enc_buf_u8(struct enc_buf *b, uint8_t v);
void enc_buf_u16(struct enc_buf *b, uint16_t v);
void enc_buf_u32(struct enc_buf *b, uint32_t v);
void enc_buf_u64(struct enc_buf *b, uint64_t v);
void enc_buf_uleb(struct enc_buf *b, uint64_t v);
void enc_buf_sleb(struct enc_buf *b, int64_t v);
/* The string's bytes and its terminating NUL. */
void enc_buf_cstr(struct enc_buf *b, const char *s);
/* printf-style append of text (no NUL is kept in len). */
void enc_buf_printf(struct enc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them with free()) and re-initializes b.
 * Returns NULL if the buffer failed; an empty buffer gives a valid 1-byte allocation. */
uint8_t *enc_buf_take(struct enc_buf *b, size_t *len);

#endif
