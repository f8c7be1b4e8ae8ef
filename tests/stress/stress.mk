# `make stress`: the long torn-read stress run (tests/integration/stress in its large
# mode: 8 reader processes by read(), pread() and mmap against 3,000 commits, up to
# ~17 minutes). `make test` runs the small mode. STRESS_SEED=N picks another sequence.
stress: deps-test
	@$(MAKE) --no-print-directory build/test/dsymfs
	@STRESS=large tests/integration/stress

.PHONY: stress
