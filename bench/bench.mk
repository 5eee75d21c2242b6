# 'make bench': Shortlinks measured side by side with a minimal Go redirect
# server, in one run on this machine (see docs/performance.md). Include this
# file from the Makefile, or run it alone: make -f bench/bench.mk bench
# Pass options through BENCH_FLAGS, e.g. BENCH_FLAGS='-rounds 5 -duration 20s'
# (go run ./bench/run -h lists them).

BENCH_FLAGS ?=

.PHONY: bench
bench:
	@command -v wrk >/dev/null || apt-get install -y wrk
	go run ./bench/run $(BENCH_FLAGS)
