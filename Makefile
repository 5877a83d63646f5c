# Thin wrapper: every target installs what it needs, then calls CMake/CTest.
#   make run    build and run the agent on its embedded default config (:9842)
#   make test   build and run every test, the sanitizer builds and a short run of every
#               fuzzer (CI runs this with CI=true)
#   make bench  measurements against the Debian peers (not part of make test)
#   make fuzz   the libFuzzer targets in tests/fuzz
#   make package  the Debian package (debian/), checked by lintian, in build/package
PRESET ?= $(if $(filter true,$(CI)),ci,release)
BUILD_DIR := build/$(PRESET)
ARGS ?=
CTEST_ARGS ?=

.PHONY: all deps test-deps bench-deps package-deps configure build run test test-tsan test-asan bench fuzz package clean

all: build

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test --fuzz

bench-deps:
	@deploy/install-deps.sh --bench

package-deps:
	@deploy/install-deps.sh --package

# RUNBOOK_BASE_URL=https://... makes the installed alerts' runbook_url point there;
# JOB_SELECTOR='job="my-job"' the rules and dashboards select that scrape job (docs/scaling.md).
package: package-deps
	@deploy/packaging/build-package.sh build/package

configure:
	@cmake --preset $(PRESET) >/dev/null

build: deps configure
	@cmake --build --preset $(PRESET)

run: deps configure
	@cmake --build --preset $(PRESET) --target assets-agent
	@echo "assets-agent: metrics at http://localhost:9842/metrics, status page at http://localhost:9842/ (Ctrl-C stops)"
	@exec $(BUILD_DIR)/assets-agent $(ARGS)

# The concurrency tests under ThreadSanitizer, the unit and integration tests under
# AddressSanitizer, every fuzzer for TEST_FUZZ_SECONDS, the Debian package (its test
# installs it), then every test; ctest's summary is last.
TEST_FUZZ_SECONDS ?= 30
test: test-deps configure
	@cmake --build --preset $(PRESET)
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	@$(MAKE) --no-print-directory package
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j2 $(CTEST_ARGS)

test-tsan:
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan --target store_test scheduler_test agent_test
	@cd build/tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure --timeout 600 -R '^(Store|Scheduler|FanOut|DueTime|AgentTest)\.'

test-asan:
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	@cd build/asan && ctest --output-on-failure --timeout 600 -j2 -L 'unit|integration'

# Speed and memory side by side with blackbox_exporter, node_exporter, postgres_exporter
# and the floors (bench/README.md): bench/results/DATE.json, docs/benchmarks.md and its
# plots. BENCH_ARGS=--quick tries the bench itself in a few minutes.
BENCH_ARGS ?=
bench: bench-deps configure
	@cmake --build --preset $(PRESET) --target assets-agent bench_probe_floor bench_library_floor backups_bench certificates_bench
	@bench/bench.py --build-dir $(BUILD_DIR) $(BENCH_ARGS)

# Every libFuzzer target for FUZZ_SECONDS (default 60) each; clang from Debian. A finding
# fails the target; its input is kept in build/fuzz/findings.
fuzz:
	@deploy/install-deps.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target fuzzers
	@tests/fuzz/run.sh build/fuzz

clean:
	@rm -rf build
