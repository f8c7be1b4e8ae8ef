# libFuzzer targets (included by the top Makefile). Built with clang-16 from the core
# sources directly (not the Makefile's objects), with ASan and UBSan; driven by
# tests/fuzz/run.
#
#   make fuzz                     run each target for FUZZ_SECONDS (default 300), growing a
#                                 local corpus in build/fuzz/corpus/TARGET (outside git),
#                                 seeded from tests/fuzz/corpus/TARGET; crashes land in
#                                 build/fuzz/artifacts/; output in build/fuzz/TARGET.log
#   make fuzz FUZZ_TARGETS=ctl    just one target (ctl: the control protocol, macho: the
#                                 executable reader, journal: restoring a damaged
#                                 state_dir); FUZZ_JOBS=N runs N processes each;
#                                 FUZZ_FLAGS passes more libFuzzer options
#   make fuzz FUZZ_FAST=1         the same with build/fuzz-fast/: -O2, no sanitizers, for
#                                 many more executions per second (a crash found there is
#                                 replayed under the sanitizers to be understood)
#   make fuzz-replay              each target once over its committed corpus (what
#                                 tests/integration/fuzz-replay does in `make test`)
#   make fuzz-merge               minimize seeds + local corpus into build/fuzz/merged/
#
# A crash: once understood, copy build/fuzz/artifacts/TARGET-crash-* into
# tests/fuzz/corpus/TARGET/ as a regression input. Replay one input with
# build/fuzz/fuzz_TARGET FILE (fuzz_ctl: FUZZ_CTL_TRACE=1 prints every write's result).
FUZZ_CC      ?= clang-16
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= ctl macho journal
FUZZ_FAST    ?=
FUZZ_JOBS    ?= 1
FUZZ_FLAGS   ?=
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Wall -Wextra -Wno-unused-parameter -Icore \
                -DFUZZ_EXE_DIR='"$(abspath tests/fuzz/exe)"'
FUZZ_FAST_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -fsanitize=fuzzer \
                -Wall -Wextra -Wno-unused-parameter -Icore \
                -DFUZZ_EXE_DIR='"$(abspath tests/fuzz/exe)"'
FUZZ_DEBS    := clang-16 libclang-rt-16-dev
FUZZ_BIN     := build/fuzz$(if $(FUZZ_FAST),-fast)
FUZZ_CORE_SRC = $(sort $(wildcard core/*.c))
FUZZ_CORE_HDR = $(sort $(wildcard core/*.h))

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/dsym_check.h tests/fuzz/fuzz.mk $(FUZZ_CORE_SRC) $(FUZZ_CORE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_CORE_SRC) -o $@ -lpthread
build/fuzz-fast/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/dsym_check.h tests/fuzz/fuzz.mk $(FUZZ_CORE_SRC) $(FUZZ_CORE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FAST_CFLAGS) $< $(FUZZ_CORE_SRC) -o $@ -lpthread

fuzz-deps:
	@tests/need-debs $(FUZZ_DEBS)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_BIN)/fuzz_%)

fuzz: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),FUZZ_BIN_DIR=$(abspath $(FUZZ_BIN)) tests/fuzz/run fuzz $(t) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_FLAGS) &&) true

fuzz-replay: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),FUZZ_BIN_DIR=$(abspath $(FUZZ_BIN)) tests/fuzz/run replay $(t) &&) true

fuzz-merge: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),FUZZ_BIN_DIR=$(abspath $(FUZZ_BIN)) tests/fuzz/run merge $(t) &&) true

.PHONY: fuzz fuzz-build fuzz-deps fuzz-replay fuzz-merge

# The dictionary comes from the command table: `make fuzz-dict` rewrites tests/fuzz/ctl.dict,
# tests/integration/fuzz-dict fails while it differs from what the table gives.
build/fuzz/ctl-dict: tests/fuzz/ctl-dict.c core/cmd.def
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -Icore $< -o $@

fuzz-dict: build/fuzz/ctl-dict
	build/fuzz/ctl-dict >tests/fuzz/ctl.dict

.PHONY: fuzz-dict
