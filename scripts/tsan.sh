#!/usr/bin/env bash
# ThreadSanitizer (preset `tsan`). Default, and what CI runs: the whole suite, unit and integration
# tests (the real binary and the simulated org run instrumented too), as `ctest --preset tsan`;
# about 10 minutes on 2 cores once built. `--unit`: the unit tests only (every engine, audit,
# status and notify thread test, under 2 minutes). Any data race or lock-order report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# tests/tsan.supp: races inside uninstrumented libraries (OpenSSL, POCO's server stop,
# libfaketime), each explained there; none in bulkwarden's own code.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp ${TSAN_OPTIONS:-}"
cmake --preset tsan >/dev/null
if [ "${1:-}" = "--unit" ]; then
  cmake --build --preset tsan --target unit_tests
  build/tsan/tests/unit_tests --gtest_brief=1
else
  cmake --build --preset tsan
  ctest --preset tsan -j"$(nproc)"
fi
