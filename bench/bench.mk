# 'make bench': Shortlinks measured side by side with a minimal Go redirect
# server, in one run on this machine (see docs/performance.md). Include this
# file from the Makefile, or run it alone: make -f bench/bench.mk bench
# Pass options through BENCH_FLAGS, e.g. BENCH_FLAGS='-rounds 5 -duration 20s'
# (go run ./bench/compare -h lists them). BENCH_AGAINST=<commit> also
# measures that commit's hot configuration in the same rounds, so a change's
# effect reads as two ratios to the same baseline runs, e.g.
#   make bench BENCH_AGAINST=main BENCH_FLAGS='-configs sqlite-hot'

BENCH_FLAGS   ?=
BENCH_AGAINST ?=

.PHONY: bench
bench:
	@command -v wrk >/dev/null || apt-get install -y wrk
	go run ./bench/compare $(if $(BENCH_AGAINST),-against $(BENCH_AGAINST)) $(BENCH_FLAGS)
