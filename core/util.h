/* util: the small mechanics every module needs once: growing an array, searching a
 * sorted one, hashing bytes, showing a value inside an error message. Byte order lives in
 * enc.h.
 *
 * Contract: util_grow either succeeds or leaves the array and its capacity as they were
 * (-ENOMEM), so a caller's error path frees what it had; util_search makes O(log n) calls
 * of its predicate; util_hash is 64-bit FNV-1a, stable across runs and builds (names are
 * keyed and files are named by it), and not meant to resist chosen inputs.
 *
 * Everything here is static inline: the client library links nothing of core/ and must
 * not export these names into the programs that link it, yet uses the same growth.
 */
#ifndef DSYMFS_UTIL_H
#define DSYMFS_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The fewest elements a first allocation makes room for. */
#define UTIL_GROW_MIN 8

/* Makes *arrp (the address of a caller's T * array whose room is *cap elements of elem
 * bytes) hold at least need elements: the capacity at least doubles, so n appends cost
 * O(n), and never passes PTRDIFF_MAX bytes. On success the array is never NULL, even for
 * need == 0. -ENOMEM (too large, or no memory) leaves *arrp and *cap unchanged. The array
 * stays the caller's (free()). A caller that wants a larger first allocation asks for it
 * in need. elem > 0. */
static inline int util_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void *arr;
	/* arrp is a T ** for any T: its bytes are copied rather than read through a void **,
	 * which would access a T * as another type. */
	memcpy(&arr, arrp, sizeof arr);
	if (arr && need <= *cap)
		return 0;
	size_t most = (size_t)PTRDIFF_MAX / elem;
	if (need > most)
		return -ENOMEM;
	size_t n = *cap <= most / 2 ? *cap * 2 : most;
	if (n < need)
		n = need;
	if (n < UTIL_GROW_MIN)
		n = UTIL_GROW_MIN < most ? UTIL_GROW_MIN : most;
	void *p = realloc(arr, n * elem);
	if (!p)
		return -ENOMEM;
	memcpy(arrp, &p, sizeof p);
	*cap = n;
	return 0;
}

/* The first index i in [0, n) for which before(arg, i) is false, or n when there is
 * none. before must hold for a prefix of the indexes and fail for the rest: "element i
 * sorts before the key" finds the first element >= key (its index, or where it would
 * go); "element i <= key" finds one past the last element <= key. */
static inline size_t util_search(size_t n, bool (*before)(const void *arg, size_t i),
				 const void *arg)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (before(arg, mid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* 64-bit FNV-1a of n bytes (p may be NULL when n is 0). */
static inline uint64_t util_hash(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3u;
	return h;
}

/* util_hash of a string's bytes, without its NUL. */
static inline uint64_t util_hash_str(const char *s)
{
	return util_hash(s, strlen(s));
}

/* The longest rendering of a value inside an error message, NUL included. */
#define UTIL_SHOW_MAX 48

/* s[0..n) for an error message, as the protocol's parser renders it (and the client
 * library, which must give the same words): escaped as in a quoted value, so control
 * bytes cannot break the one-line reply, and cut with "..." so a long value cannot push
 * the reason out of the caller's buffer. Writes bytes directly rather than through
 * snprintf: the parser prepares labels on its success path too. Returns out. */
static inline const char *util_show(char out[UTIL_SHOW_MAX], const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char one[4];
		size_t l = 0;
		if (ch == '"' || ch == '\\') {
			one[l++] = '\\';
			one[l++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			one[l++] = '\\';
			one[l++] = 'x';
			one[l++] = hex[ch >> 4];
			one[l++] = hex[ch & 15];
		} else {
			one[l++] = (char)ch;
		}
		if (w + l + 4 > UTIL_SHOW_MAX) {
			memcpy(out + w, "...", 3);
			w += 3;
			break;
		}
		memcpy(out + w, one, l);
		w += l;
	}
	out[w] = 0;
	return out;
}

#endif
