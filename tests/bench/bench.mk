# `make bench`: the benchmark (tests/bench/bench.py; docs/performance.md). Installs what it
# needs, builds build/rel/dsymfs and the bench tools, measures, prints one table and writes
# build/bench/results/. `make test` runs only a tiny smoke version (tests/integration/bench-smoke).
# Options go through BENCH_ARGS, e.g. make bench BENCH_ARGS='--rounds 5 --no-callgrind'; the
# plot (gnuplot) and callgrind (valgrind) are installed only for the runs that use them.
BENCH_DEBS   = $(RUN_DEBS) clang-16 lld-16 lldb-16 llvm-16 python3 \
               $(if $(findstring --no-plot,$(BENCH_ARGS)),,gnuplot-nox) \
               $(if $(findstring --no-callgrind,$(BENCH_ARGS)),,valgrind)
BENCH_CFLAGS = $(WARN) -O2 -g
BENCH_ARGS  ?=

# benchtool formats its protocol text with the client library (optimized, static).
build/bench/benchtool: tests/bench/benchtool.c build/rel/libdsymfs.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iclient $^ -o $@
build/bench/flatfs: tests/bench/flatfs.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(shell pkg-config --cflags fuse3) $< -o $@ $(shell pkg-config --libs fuse3)

bench-tools: build/bench/benchtool build/bench/flatfs

bench:
	@tests/need-debs $(BENCH_DEBS)
	@$(MAKE) --no-print-directory build/rel/dsymfs bench-tools
	@python3 tests/bench/bench.py $(BENCH_ARGS)

.PHONY: bench bench-tools

# `make bench-profile`: where the daemon spends its time (perf and callgrind), written to
# build/bench/results/profile.txt.
bench-profile:
	@tests/need-debs $(BENCH_DEBS) linux-perf
	@$(MAKE) --no-print-directory build/rel/dsymfs bench-tools
	@python3 tests/bench/bench.py --profile $(BENCH_ARGS)

.PHONY: bench-profile
