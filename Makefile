# Two commands on a fresh Debian 12 machine: `make demo` and `make test`.
# Both install missing Debian packages first (scripts/install-deps), then
# configure, build and run. `make bench` runs the benchmarks. `make check`
# runs only the house rules (docs/HACKING.md).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build build-asan test test-release test-asan demo bench \
	format clean check test-tsan check-tidy check-stdio-strict install \
	package-check

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DCONCORDAT_SANITIZE=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every test, in the release build (with the house rules, label checks) and
# in the ASan + UBSan build; then the threaded tests under TSan. The static
# analyzer (check-tidy, about four minutes) is one of .ci/run's heavier
# checks, so that `make test` stays within fifteen minutes on two cores.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)
	JOBS=$(JOBS) tests/checks/run-tsan . $(TSAN_BUILD)

# The house rules alone (tests/checks): includes, sizes, format, stream
# writers, each library linked alone and the proof that it can fail.
check: build
	cd $(BUILD) && ctest --output-on-failure -L checks

# The tests of the verification pool and the audit hasher under TSan, in
# their own build folder (only those tests are built).
test-tsan: deps
	JOBS=$(JOBS) tests/checks/run-tsan . $(TSAN_BUILD)

# clang-tidy's static analyzer over the project's sources.
check-tidy: build
	JOBS=$(JOBS) tests/checks/check-tidy . $(BUILD)

# Stream writers in the library parts, without today's exceptions (fails
# until the verbs have moved to <folder>/verbs/).
check-stdio-strict: build
	tests/checks/check-stdio --strict $(BUILD)

# Installs under PREFIX (default /usr/local; the package uses /usr), into
# DESTDIR when given: programs, man pages, example configuration,
# sysusers.d, tmpfiles.d and the systemd units (docs/operations.md).
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# Builds the Debian package in a scratch copy and installs it into a fresh
# Debian 12 root (scripts/package-check); needs the network for debootstrap
# the first time.
package-check:
	scripts/package-check $(BUILD)

# Builds only the programs the demo runs, quietly (the output goes to
# $(BUILD)/demo-build.log, shown when the build fails), then runs the demo
# and keeps its configuration in $(DEMO_DIR) (scripts/demo --help).
DEMO_DIR ?= $(BUILD)/demo
DEMO_TARGETS = concordat concordat-broker concordat-agent demo_show
demo: deps
	@mkdir -p $(BUILD); log=$(BUILD)/demo-build.log; \
	echo "Building the demo's programs ($(DEMO_TARGETS)); log: $$log"; \
	if ! { { [ -f $(BUILD)/CMakeCache.txt ] || \
	    cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo; } && \
	    cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS); } \
	    >$$log 2>&1; then \
		cat $$log; echo "make demo: the build failed (log: $$log)" >&2; \
		exit 1; \
	fi
	@scripts/demo --keep $(DEMO_DIR) $(BUILD)

# The benchmarks' own packages (Mosquitto as the peer) first; then a
# configure run so that CMake finds libmosquitto and builds bench_mqtt.
bench: deps $(BUILD)/CMakeCache.txt
	@scripts/install-bench-deps
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	scripts/bench $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
