/* Suite handle: fs/handle.c's list of open handles and what freeing a control, bytes or
 * directory handle releases (DWARF handles are left to the read path's own tests). The
 * list is checked by walking its links; releases by what the image shows afterwards
 * (ctl.h: a control session closed with a batch pending publishes nothing and notes the
 * drop in the image's error log) and by the leak checker. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "fs.h"
#include "gen.h"
#include "handle.h"
#include "image.h"
#include "unit.h"

/* The handles on l, head first, with every prev link checked against the walk. */
static size_t list_length(struct handle_list *l)
{
	size_t n = 0;
	struct handle *prev = NULL;
	for (struct handle *h = l->head; h; prev = h, h = h->next, n++)
		CU_ASSERT_PTR_EQUAL(h->prev, prev);
	return n;
}

static bool on_list(struct handle_list *l, const struct handle *x)
{
	for (struct handle *h = l->head; h; h = h->next)
		if (h == x)
			return true;
	return false;
}

static void test_handles_join_and_leave_the_list_in_any_order(void)
{
	struct handle_list l;
	handle_list_init(&l);
	CU_ASSERT_EQUAL(list_length(&l), 0);
	struct handle *h[5];
	const enum handle_kind kinds[] = {HANDLE_DWARF, HANDLE_BYTES, HANDLE_CONTROL, HANDLE_DIR};
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL_FATAL(handle_new(&l, kinds[i % 4], &h[i]), 0);
		CU_ASSERT_EQUAL(h[i]->kind, kinds[i % 4]);
		CU_ASSERT_EQUAL(list_length(&l), (size_t)i + 1);
	}
	/* The middle, the head, the tail, then the rest. */
	const int order[] = {2, 4, 0, 1, 3};
	for (int i = 0; i < 5; i++) {
		handle_free(&l, h[order[i]]);
		CU_ASSERT_EQUAL(list_length(&l), (size_t)(4 - i));
		for (int j = i + 1; j < 5; j++)
			CU_ASSERT_TRUE(on_list(&l, h[order[j]]));
	}
	CU_ASSERT_PTR_NULL(l.head);
	handle_list_destroy(&l);
}

static void test_half_filled_handles_free_cleanly(void)
{
	struct handle_list l;
	handle_list_init(&l);
	for (int k = HANDLE_DWARF; k <= HANDLE_DIR; k++) {
		struct handle *h;
		CU_ASSERT_EQUAL_FATAL(handle_new(&l, (enum handle_kind)k, &h), 0);
		handle_free(&l, h);
	}
	struct handle_bytes zero = {0};
	handle_bytes_release(&zero);
	CU_ASSERT(!zero.g && !zero.owned && !zero.data && !zero.len);
	handle_list_destroy(&l);
}

/* A registry with one image Foo. */
static struct ctl_registry *foo_registry(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	struct image_origin o = {0};
	char err[256];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	return r;
}

static struct handle *control_handle(struct handle_list *l, struct ctl_registry *r)
{
	struct handle *h;
	CU_ASSERT_EQUAL_FATAL(handle_new(l, HANDLE_CONTROL, &h), 0);
	CU_ASSERT_EQUAL_FATAL(ctl_session_new(r, &h->u.ctl), 0);
	return h;
}

static void say(struct handle *h, const char *text)
{
	CU_ASSERT_EQUAL(ctl_session_write(h->u.ctl, text, strlen(text)), (ssize_t)strlen(text));
}

/* The image's error log as a string (malloc'd; caller frees). */
static char *errors_of(struct image *im)
{
	char *text;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(image_errors_text(im, &text, &len), 0);
	char *s = strndup(text, len);
	CU_ASSERT_FATAL(s != NULL);
	free(text);
	return s;
}

static uint64_t current_number(struct image *im)
{
	struct gen *g = image_current(im);
	uint64_t n = gen_number(g);
	gen_unref(g);
	return n;
}

static void test_closing_a_control_handle_drops_its_pending_batch(void)
{
	struct ctl_registry *r = foo_registry();
	struct image *im = ctl_registry_at(r, 0);
	struct handle_list l;
	handle_list_init(&l);

	struct handle *done = control_handle(&l, r), *open = control_handle(&l, r);
	say(done, "file 1 path=/src/a.c\ncommit\n");
	size_t len;
	CU_ASSERT_STRING_EQUAL(ctl_session_result(done->u.ctl, &len), "ok generation=2 decls=0\n");
	say(open, "file 2 path=/src/b.c\n");
	handle_free(&l, done);
	char *s = errors_of(im);
	CU_ASSERT_STRING_EQUAL(s, "");   /* nothing was pending */
	free(s);

	handle_free(&l, open);
	s = errors_of(im);
	CU_ASSERT(strlen(s) > 0);
	free(s);
	CU_ASSERT_EQUAL(current_number(im), 2);
	struct gen *g = image_current(im);
	const char *files;
	CU_ASSERT_EQUAL(gen_text(g, GEN_TEXT_FILES, &files, &len), 0);
	CU_ASSERT_PTR_NULL(memmem(files, len, "/src/b.c", 8));
	CU_ASSERT_PTR_NOT_NULL(memmem(files, len, "/src/a.c", 8));
	gen_unref(g);
	handle_list_destroy(&l);
	ctl_registry_free(r);
}

static void test_unmount_frees_every_handle_left_open(void)
{
	struct conf c;
	char err[256];
	CU_ASSERT_FATAL(conf_load_string(&c, "[dsymfs]\nlog_level = error\n[image Foo]\n", "handle",
					 err, sizeof err) == 0);
	struct fs *fs = NULL;
	CU_ASSERT_FATAL(fs_new(&c, &fs, err, sizeof err) == 0);
	struct image *im = ctl_registry_at(fs->reg, 0);

	/* One of each kind the kernel may never release, each holding something. */
	struct handle *ctl = control_handle(&fs->handles, fs->reg);
	say(ctl, "file 1 path=/src/a.c\n");
	struct handle *bytes, *dir;
	CU_ASSERT_EQUAL_FATAL(handle_new(&fs->handles, HANDLE_BYTES, &bytes), 0);
	bytes->u.bytes.g = image_current(im);
	bytes->u.bytes.owned = strdup("status text");
	CU_ASSERT_FATAL(bytes->u.bytes.owned != NULL);
	bytes->u.bytes.data = bytes->u.bytes.owned;
	bytes->u.bytes.len = strlen(bytes->u.bytes.owned);
	CU_ASSERT_EQUAL_FATAL(handle_new(&fs->handles, HANDLE_DIR, &dir), 0);
	dir->u.dir.v = calloc(2, sizeof *dir->u.dir.v);
	CU_ASSERT_FATAL(dir->u.dir.v != NULL);
	dir->u.dir.v[0].name = strdup("control");
	dir->u.dir.v[1].name = strdup("status");
	dir->u.dir.n = 2;
	CU_ASSERT_EQUAL(list_length(&fs->handles), 3);

	/* The control session logs its dropped batch into its image while freeing: the
	 * handles must go before the registry (the sanitizer catches the other order). */
	fs_free(fs);
}

struct churn {
	struct handle_list *l;
	int rounds;
};

static void *churn(void *arg)
{
	struct churn *c = arg;
	struct handle *mine[8];
	for (int r = 0; r < c->rounds; r++) {
		for (int i = 0; i < 8; i++)
			if (handle_new(c->l, HANDLE_BYTES, &mine[i]))
				return (void *)1;
		for (int i = 7; i >= 0; i -= 2)
			handle_free(c->l, mine[i]);
		for (int i = 0; i < 8; i += 2)
			handle_free(c->l, mine[i]);
	}
	return NULL;
}

static void test_threads_open_and_close_handles_at_once(void)
{
	struct handle_list l;
	handle_list_init(&l);
	struct churn c = {&l, 500};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, churn, &c), 0);
	for (int i = 0; i < 4; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		CU_ASSERT_PTR_NULL(rc);
	}
	CU_ASSERT_EQUAL(list_length(&l), 0);
	handle_list_destroy(&l);
}

static const struct unit_test handle_tests[] = {
	{"handles_join_and_leave_the_list_in_any_order",
	 test_handles_join_and_leave_the_list_in_any_order},
	{"half_filled_handles_free_cleanly", test_half_filled_handles_free_cleanly},
	{"closing_a_control_handle_drops_its_pending_batch",
	 test_closing_a_control_handle_drops_its_pending_batch},
	{"unmount_frees_every_handle_left_open", test_unmount_frees_every_handle_left_open},
	{"threads_open_and_close_handles_at_once", test_threads_open_and_close_handles_at_once},
	{NULL, NULL},
};

UNIT_SUITE(handle, handle_tests)
