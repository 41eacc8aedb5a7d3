#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer (gcc) in build-asan/
# and runs them: every unit test and every fuzz corpus/regression replay, each error fatal, leaks
# reported by LeakSanitizer at each test's exit. CI (.ci/run) runs this after the main tests.
# Needs the main setup first (scripts/setup.sh: packages and models).
#
#   scripts/sanitize_tests.sh            build and run
#   scripts/sanitize_tests.sh -R Tokenizer   extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEER_SANITIZE=address,undefined \
  -DSTEER_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)" --target unit_base_tests unit_engine_tests fuzz_replay_tests

supp=$PWD/tests/sanitizers
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_container_overflow=0:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
# The CLI scripts and the install test build or run the release binary; they run in the main suite.
ctest --test-dir build-asan -j"$(nproc)" -L unit -E '^(Cli\.|install_find_package|public_headers_self_contained)' \
  --output-on-failure "$@"
