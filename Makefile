# dsymfs: `make` builds the daemon, `make test` runs every suite with sanitizers,
# `make run` mounts the embedded default configuration at $(MNT).
CC       ?= cc
PREFIX   ?= /usr/local
MNT      ?= /tmp/dsymfs
SUITE    ?=
PKGS     := fuse3 inih
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
DEPFLAGS := -MMD -MP -Icore -Iconf
REL_CFLAGS  := $(WARN) -O2 -g
TEST_CFLAGS := $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
# Each layer sees only its own libraries' headers, so the layer rule is enforced by the
# compiler: a FUSE include in core/ or conf/ does not build.
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
LAYER_CFLAGS :=
build/rel/conf/%.o build/test/conf/%.o: LAYER_CFLAGS := $(shell pkg-config --cflags inih 2>/dev/null)
build/rel/fs/%.o build/test/fs/%.o: LAYER_CFLAGS := $(FUSE_CFLAGS)
build/test/tests/unit/%.o: LAYER_CFLAGS := -Ifs $(FUSE_CFLAGS) $(shell pkg-config --cflags cunit 2>/dev/null)
LIBS      = $(shell pkg-config --libs $(PKGS)) -lpthread
TEST_LIBS = $(LIBS) $(shell pkg-config --libs cunit)

RUN_DEBS  := gcc make pkg-config libfuse3-dev fuse3 libinih-dev
TEST_DEBS := $(RUN_DEBS) libcunit1-dev clang-16 lld-16 lldb-16 llvm-16 python3 mandoc

CORE := $(sort $(wildcard core/*.c))
CONF := $(sort $(wildcard conf/*.c))
FS   := $(sort $(wildcard fs/*.c))
UNIT := $(sort $(wildcard tests/unit/*.c))

# The package check runs first; the build is a new make, which reads pkg-config's flags
# once the packages are there.
all: deps-run
	@$(MAKE) --no-print-directory build/rel/dsymfs

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(LAYER_CFLAGS) $(DEPFLAGS) -c $< -o $@
build/test/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LAYER_CFLAGS) $(DEPFLAGS) -c $< -o $@

build/rel/libdsymfs-core.a: $(CORE:%.c=build/rel/%.o)
	$(AR) rcs $@ $^
build/test/libdsymfs-core.a: $(CORE:%.c=build/test/%.o)
	$(AR) rcs $@ $^

build/rel/dsymfs: $(FS:%.c=build/rel/%.o) $(CONF:%.c=build/rel/%.o) build/rel/libdsymfs-core.a
	$(CC) $(REL_CFLAGS) $^ -o $@ $(LIBS)
build/test/dsymfs: $(FS:%.c=build/test/%.o) $(CONF:%.c=build/test/%.o) build/test/libdsymfs-core.a
	$(CC) $(TEST_CFLAGS) $^ -o $@ $(LIBS)
# The unit tests link the FUSE layer's modules but not its session (main.c, ops.c): as an
# archive, so only what a suite uses is pulled in.
build/test/libdsymfs-fs.a: $(filter-out build/test/fs/main.o build/test/fs/ops.o,$(FS:%.c=build/test/%.o))
	$(AR) rcs $@ $^
build/test/unit: $(UNIT:%.c=build/test/%.o) $(CONF:%.c=build/test/%.o) build/test/libdsymfs-fs.a \
		 build/test/libdsymfs-core.a
	$(CC) $(TEST_CFLAGS) $^ -o $@ $(TEST_LIBS)

# Package checks run before anything is compiled, so a fresh machine needs only make.
deps-run:
	@tests/need-debs $(RUN_DEBS)
deps-test:
	@tests/need-debs $(TEST_DEBS)

# The FUSE layer must not know file formats and the core must not know FUSE. The include
# paths above enforce the second half; this also catches <fuse3/...> spelled in full.
check-layers:
	@! grep -n 'fuse' core/*.[ch] conf/*.[ch] | grep -v '^[^:]*:[0-9]*: \*' | grep -i 'include.*fuse' \
	  || (echo "core/ or conf/ includes a FUSE header" && false)
	@! grep -nE 'debug_info|DW_TAG|LC_SEGMENT|MH_MAGIC' fs/*.c fs/*.h 2>/dev/null \
	  || (echo "fs/ encodes a file format" && false)

TEST_BINS := build/test/unit $(if $(FS),build/test/dsymfs)

test: deps-test
	@$(MAKE) --no-print-directory check-layers $(TEST_BINS)
	@tests/run $(SUITE)

run: deps-run
	@$(MAKE) --no-print-directory build/rel/dsymfs
	@mkdir -p $(MNT)
	build/rel/dsymfs -f $(MNT)

install: all
	install -D -m 755 build/rel/dsymfs $(DESTDIR)$(PREFIX)/bin/dsymfs
	install -D -m 644 client/dsymfs_lldb.py $(DESTDIR)$(PREFIX)/share/dsymfs/dsymfs_lldb.py
	install -D -m 644 docs/man/dsymfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/dsymfs.1
	install -D -m 644 docs/man/dsymfs-protocol.5 $(DESTDIR)$(PREFIX)/share/man/man5/dsymfs-protocol.5

# The client library for compilers (client/, docs/client.md): libdsymfs.a, libdsymfs.so
# with a soname, and at install the header, both libraries and the pkg-config module.
CLIENT_VERSION := 1.0.0
CLIENT_SONAME  := libdsymfs.so.1
CLIENT_LIBDIR   = $(DESTDIR)$(PREFIX)/lib

all: client
build/rel/client/dsymfs.o: REL_CFLAGS += -fPIC
build/rel/libdsymfs.a: build/rel/client/dsymfs.o
	$(AR) rcs $@ $^
build/rel/$(CLIENT_SONAME): build/rel/client/dsymfs.o
	$(CC) -shared -Wl,-soname,$(CLIENT_SONAME) $^ -o $@
client: build/rel/libdsymfs.a build/rel/$(CLIENT_SONAME)

# The unit suite round-trips the client's lines through the daemon's parser.
build/test/unit: build/test/client/dsymfs.o
build/test/tests/unit/test_client.o: DEPFLAGS += -Iclient

install: install-client
install-client: client
	install -D -m 644 client/dsymfs.h $(DESTDIR)$(PREFIX)/include/dsymfs.h
	install -D -m 644 build/rel/libdsymfs.a $(CLIENT_LIBDIR)/libdsymfs.a
	install -D -m 755 build/rel/$(CLIENT_SONAME) $(CLIENT_LIBDIR)/$(CLIENT_SONAME)
	ln -sf $(CLIENT_SONAME) $(CLIENT_LIBDIR)/libdsymfs.so
	install -d $(CLIENT_LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(CLIENT_VERSION)|' client/dsymfs.pc.in \
	  >$(CLIENT_LIBDIR)/pkgconfig/dsymfs.pc

.PHONY: client install-client

clean:
	rm -rf build

.PHONY: all test run install clean deps-run deps-test check-layers

# Benchmarks (`make bench`), fuzzing (`make fuzz`) and the long stress run (`make stress`)
# live beside their code.
-include tests/bench/bench.mk tests/fuzz/fuzz.mk tests/stress/stress.mk
-include $(shell find build -name '*.d' 2>/dev/null)
