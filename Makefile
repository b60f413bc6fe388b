# Thin wrapper over CMake; see README.md. `make run` and `make test` are the quick start.
MAKEFLAGS += --no-print-directory
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_Q := -DCMAKE_BUILD_TYPE=RelWithDebInfo
# make install: PREFIX/bin, PREFIX/lib/systemd/system, PREFIX/share/man, SYSCONFDIR/ringsock,
# all under DESTDIR. INSTALL_FROM=DIR installs an existing build instead of building (tests).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
INSTALL_FROM ?=

.PHONY: all deps test-deps release release-quiet asan tsan run install test test-release \
	test-asan test-tsan test-fuzz format clean

all: release

# What building and running need (make run, make release); test-deps adds the test tools.
deps:
	@tools/install-deps.sh build

test-deps:
	@tools/install-deps.sh test

release: deps
	@cmake -S . -B $(BUILD)/release $(CMAKE_Q) >/dev/null
	@cmake --build $(BUILD)/release -j $(JOBS)

asan: deps
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS)

tsan: deps
	@cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=thread >/dev/null
	@cmake --build $(BUILD)/tsan -j $(JOBS)

# The release build with its output in build.log, shown only if it fails: what make run uses.
release-quiet: deps
	@mkdir -p $(BUILD)/release
	@echo "ringsock: building $(BUILD)/release (log: $(BUILD)/release/build.log)"
	@{ cmake -S . -B $(BUILD)/release $(CMAKE_Q) && cmake --build $(BUILD)/release -j $(JOBS); } \
	    >$(BUILD)/release/build.log 2>&1 || \
	    { cat $(BUILD)/release/build.log; echo "ringsock: the build failed" >&2; exit 1; }

# The main job on the embedded default: echo server on loopback plus a short load run.
run: release-quiet
	@tools/demo.sh $(BUILD)/release

install: $(if $(INSTALL_FROM),,release)
	@tools/install.sh $(or $(INSTALL_FROM),$(BUILD)/release) "$(DESTDIR)" "$(PREFIX)" \
	    "$(SYSCONFDIR)"

test-release: release test-deps
	@cd $(BUILD)/release && ctest --output-on-failure -j $(JOBS)

test-asan: asan test-deps
	@cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer where it fits: the multi-threaded server paths (workers, start-up, stop, the
# drain, the watchdog reading the workers' heartbeats, the --stats reporter and the admin
# endpoint reading the workers' counters, the access log's rings drained by its thread).
test-tsan: tsan test-deps
	@cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) -R '^integ\.(stream|reset|halfclose|stats|drain|admin|config|access_log)\.|^integ\.(cli|systemd)$$|^unit\.(spsc|access_log)$$'

# The parsers, the HTTP service and the datagram service under libFuzzer (clang): a 10 s smoke
# run of each target from its seed corpus (docs/testing.md).
test-fuzz: test-deps
	@CC=clang cmake -S . -B $(BUILD)/fuzz -DRS_FUZZ=ON >/dev/null
	@cmake --build $(BUILD)/fuzz -j $(JOBS)
	@cd $(BUILD)/fuzz && ctest --output-on-failure -L fuzz-smoke

test: test-release test-asan test-tsan test-fuzz

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]')

clean:
	@rm -rf $(BUILD)
