/* libFuzzer target: the Mach-O executable reader (macho_parse_exe).
 *
 * Each input is a file given as `exe`: thin, fat, truncated, with overlapping tables or
 * absurd counts and offsets. The reader must refuse what it cannot use with a message and
 * never read outside the input (the input is copied to a buffer of exactly its size, so
 * ASan sees any overrun). When it accepts a file, the result is checked (abort() with a
 * message otherwise, so libFuzzer saves the input):
 *  - at most MACHO_MAX_SEGS segments and MACHO_MAX_SECTS sections; names NUL-terminated
 *    within 16 bytes; every kept symbol in a section that exists (1 <= n_sect <= total);
 *  - macho_segtab_copy is a deep, equal copy; macho_segtab_find finds every section at its
 *    ordinal;
 *  - the dSYM header written for this identity and segment table (macho_dsym_write_header
 *    with empty symbol and DWARF tables) is itself accepted by macho_parse_exe with the
 *    same identity and the same segments and sections (less a __DWARF segment of the
 *    executable, which a dSYM replaces with its own, and __LINKEDIT's sizes);
 *  - a failure leaves *out zeroed and a non-empty one-line message (macho.h promises one
 *    line; FUZZ_SKIP=one-line skips this check, to fuzz past that bug while it is open).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macho.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_macho: invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool skip_one_line(void)
{
	const char *skip = getenv("FUZZ_SKIP");
	return skip && strstr(skip, "one-line");
}

static void check_names(const struct macho_segtab *t)
{
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct macho_segment *s = &t->segs[i];
		if (memchr(s->segname, 0, 17) == NULL)
			die("segment %u's name is not terminated", i);
		if (s->nsects && !s->sects)
			die("segment %u has %u sections and no array", i, s->nsects);
		for (uint32_t j = 0; j < s->nsects; j++)
			if (!memchr(s->sects[j].sectname, 0, 17) || !memchr(s->sects[j].segname, 0, 17))
				die("section %u,%u's names are not terminated", i, j);
	}
}

static bool same_section(const struct macho_section *a, const struct macho_section *b)
{
	return !strcmp(a->sectname, b->sectname) && !strcmp(a->segname, b->segname) &&
	       a->addr == b->addr && a->size == b->size && a->align == b->align &&
	       a->flags == b->flags && a->reserved1 == b->reserved1 &&
	       a->reserved2 == b->reserved2 && a->reserved3 == b->reserved3;
}

static bool is_dwarf(const struct macho_segment *s)
{
	return !strcmp(s->segname, "__DWARF");
}

/* The executable's segments as a dSYM header carries them: without __DWARF. */
static uint32_t copied(const struct macho_segtab *t)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nsegs; i++)
		n += !is_dwarf(&t->segs[i]);
	return n;
}

static void check_dsym_roundtrip(const struct macho_exe *e)
{
	/* A dSYM adds its own __DWARF segment: one more than the reader's limit is a shape
	 * the writer can make and the reader refuses; not what this target looks for. */
	if (copied(&e->segtab) >= MACHO_MAX_SEGS)
		return;
	struct macho_dsym_layout l = {
		.ident = &e->ident,
		.segtab = &e->segtab,
	};
	size_t hdr = macho_dsym_header_size(&l);
	size_t len = (hdr + 0xfff) & ~(size_t)0xfff;
	l.symoff = l.stroff = l.dwarf_fileoff = len;
	uint8_t *buf = calloc(1, len);
	if (!buf)
		die("out of memory");
	macho_dsym_write_header(&l, buf);
	struct macho_exe d;
	char err[512];
	int rc = macho_parse_exe(buf, len, &d, err, sizeof err);
	if (rc)
		die("the dSYM header written for an accepted executable is refused: %s", err);
	if (memcmp(d.ident.uuid, e->ident.uuid, 16) || d.ident.cputype != e->ident.cputype ||
	    d.ident.cpusubtype != e->ident.cpusubtype || d.ident.has_build != e->ident.has_build ||
	    (e->ident.has_build && (d.ident.platform != e->ident.platform ||
				    d.ident.minos != e->ident.minos ||
				    d.ident.sdk != e->ident.sdk)))
		die("the dSYM header's identity differs from the executable's");
	if (d.segtab.nsegs != copied(&e->segtab) + 1)
		die("the dSYM header has %u segments, the executable %u (+ __DWARF)",
		    d.segtab.nsegs, copied(&e->segtab));
	uint32_t k = 0;
	for (uint32_t i = 0; i < e->segtab.nsegs; i++) {
		const struct macho_segment *a = &e->segtab.segs[i];
		if (is_dwarf(a))
			continue;
		const struct macho_segment *b = &d.segtab.segs[k++];
		bool linkedit = !strcmp(a->segname, "__LINKEDIT");
		if (strcmp(a->segname, b->segname) || a->vmaddr != b->vmaddr ||
		    (!linkedit && a->vmsize != b->vmsize) || a->maxprot != b->maxprot ||
		    a->initprot != b->initprot || a->flags != b->flags || a->nsects != b->nsects)
			die("segment %u (%s) changed in the dSYM header", i, a->segname);
		for (uint32_t j = 0; j < a->nsects; j++)
			if (!same_section(&a->sects[j], &b->sects[j]))
				die("section %u of segment %s changed in the dSYM header", j,
				    a->segname);
	}
	if (!is_dwarf(&d.segtab.segs[k]))
		die("the dSYM header's last segment is %s, not __DWARF", d.segtab.segs[k].segname);
	macho_exe_free(&d);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: the fuzzer's own buffer may have slack ASan cannot see. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct macho_exe e;
	memset(&e, 0xa5, sizeof e);
	char err[512];
	err[0] = 0;
	int rc = macho_parse_exe(copy, size, &e, err, sizeof err);
	if (rc) {
		if (rc != -EINVAL && rc != -ENOTSUP && rc != -ENOMEM)
			die("macho_parse_exe returned %d", rc);
		struct macho_exe zero;
		memset(&zero, 0, sizeof zero);
		if (memcmp(&e, &zero, sizeof e))
			die("a refused file left *out non-zero");
		if (!err[0] || (strchr(err, '\n') && !skip_one_line()))
			die("a refusal without a one-line message: \"%s\"", err);
		free(copy);
		return 0;
	}
	if (e.ident.cputype != MACHO_CPU_X86_64 && e.ident.cputype != MACHO_CPU_ARM64)
		die("accepted CPU type 0x%x", e.ident.cputype);
	if (e.segtab.nsegs > MACHO_MAX_SEGS)
		die("%u segments accepted", e.segtab.nsegs);
	uint32_t nsects = macho_segtab_nsects(&e.segtab);
	if (nsects > MACHO_MAX_SECTS)
		die("%u sections accepted", nsects);
	check_names(&e.segtab);
	for (uint32_t i = 0; i < e.nsyms; i++) {
		const struct macho_sym *s = &e.syms[i];
		if (!s->name)
			die("symbol %u has no name", i);
		if (s->sect == 0 || s->sect > nsects)
			die("symbol %u (%s) kept with n_sect %u of %u sections", i, s->name, s->sect,
			    nsects);
	}

	struct macho_segtab t;
	if (macho_segtab_copy(&e.segtab, &t) == 0) {
		if (t.nsegs != e.segtab.nsegs)
			die("macho_segtab_copy copied %u of %u segments", t.nsegs, e.segtab.nsegs);
		uint32_t ord = 0;
		for (uint32_t i = 0; i < t.nsegs; i++) {
			const struct macho_segment *a = &e.segtab.segs[i], *b = &t.segs[i];
			if (a->nsects && a->sects == b->sects)
				die("macho_segtab_copy shares a section array");
			if (strcmp(a->segname, b->segname) || a->nsects != b->nsects)
				die("macho_segtab_copy changed segment %u", i);
			if (macho_segtab_find_seg(&t, a->segname) == NULL)
				die("macho_segtab_find_seg misses %s", a->segname);
			for (uint32_t j = 0; j < a->nsects; j++) {
				ord++;
				if (!same_section(&a->sects[j], &b->sects[j]))
					die("macho_segtab_copy changed section %u,%u", i, j);
				uint32_t got = 0;
				const struct macho_section *f = macho_segtab_find(
					&t, b->sects[j].segname, b->sects[j].sectname, &got);
				/* The first section of that name pair wins. */
				if (!f || got > ord || (got == ord && f != &b->sects[j]))
					die("macho_segtab_find(%s, %s) gives ordinal %u, expected %u",
					    b->sects[j].segname, b->sects[j].sectname, got, ord);
			}
		}
		macho_segtab_free(&t);
	}
	check_dsym_roundtrip(&e);
	macho_exe_free(&e);
	struct macho_exe zero;
	memset(&zero, 0, sizeof zero);
	if (memcmp(&e, &zero, sizeof e))
		die("macho_exe_free left the struct non-zero");
	free(copy);
	return 0;
}
