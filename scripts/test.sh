#!/usr/bin/env bash
# Installs what steward needs, builds it, and runs every test (unit and end to end) with ctest.
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies "${STEWARD_TEST_PACKAGES[@]}"
build_steward
echo "== running tests"
(cd "$STEWARD_BUILD" && ctest --output-on-failure -j "$(nproc)" --timeout 300)

# Once more with AddressSanitizer and UndefinedBehaviorSanitizer in the daemon, its plugins and
# the tests: memory errors, undefined behaviour and leaks (LeakSanitizer, checked when a daemon
# stops) fail the run.
echo "== running tests under AddressSanitizer and UndefinedBehaviorSanitizer"
STEWARD_BUILD="$STEWARD_BUILD-sanitize" build_steward -DSTEWARD_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug
# intercept_tls_get_addr=0: GCC 12's LeakSanitizer, tracking the dynamic TLS of libraries loaded
# with dlopen (plugins and what they link), can record a block at a bogus address on Debian 12's
# glibc, and its leak check then dies scanning it ("Tracer caught signal 11", in
# ScanRangeForPointers) when a daemon whose folder holds the test plugins stops. Without it,
# static TLS, stacks, registers and globals are still scanned.
(cd "$STEWARD_BUILD-sanitize" && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" \
  ctest --output-on-failure -j "$(nproc)" --timeout 600)

# The fuzz targets (clang libFuzzer) on the operator input, the wire format and the config file,
# each for a bounded time from the committed corpus.
"$(dirname "$0")/fuzz.sh" 30
