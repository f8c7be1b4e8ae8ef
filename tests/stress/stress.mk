# `make stress`: the long stress run (tests/integration/stress in its large mode: 4
# compilers on 2 images, 8 readers by read(), pread() and mmap, random SIGKILLs of the
# daemon and restarts on its state_dir, for 620 s of load). `make test` runs the small
# mode. STRESS_SEED=N picks another sequence, STRESS_SECONDS=N another length.
stress: deps-test
	@$(MAKE) --no-print-directory build/test/dsymfs
	@STRESS=large tests/integration/stress

.PHONY: stress
