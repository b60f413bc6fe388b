# Thin wrapper over CMake; see README.md. `make run` and `make test` are the quick start.
MAKEFLAGS += --no-print-directory
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_Q := -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps release asan tsan run test test-release test-asan test-tsan test-fuzz format clean

all: release

deps:
	@tools/install-deps.sh

release: deps
	@cmake -S . -B $(BUILD)/release $(CMAKE_Q) >/dev/null
	@cmake --build $(BUILD)/release -j $(JOBS)

asan: deps
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS)

tsan: deps
	@cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=thread >/dev/null
	@cmake --build $(BUILD)/tsan -j $(JOBS)

# The main job on the embedded default: echo server on loopback plus a short load run.
run: release
	@tools/demo.sh $(BUILD)/release

test-release: release
	@cd $(BUILD)/release && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	@cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer where it fits: the multi-threaded server paths (workers, start-up, stop, and
# the --stats reporter reading the workers' counters).
test-tsan: tsan
	@cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) -R '^integ\.(stream|reset|halfclose|stats|config)\.|^integ\.cli$$'

# The parsers, the HTTP service and the datagram service under libFuzzer (clang): a 10 s smoke
# run of each target from its seed corpus (docs/testing.md).
test-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD)/fuzz -DRS_FUZZ=ON >/dev/null
	@cmake --build $(BUILD)/fuzz -j $(JOBS)
	@cd $(BUILD)/fuzz && ctest --output-on-failure -L fuzz-smoke

test: test-release test-asan test-tsan test-fuzz

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]')

clean:
	@rm -rf $(BUILD)
