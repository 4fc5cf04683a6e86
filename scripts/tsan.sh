#!/usr/bin/env bash
# ThreadSanitizer (preset `tsan`). Default: the whole suite, unit and integration tests (the real
# binary and the simulated org run instrumented too), as `ctest --preset tsan`; about as long as
# the dev suite times five. `--unit`: the unit tests only, which CI runs (every engine, audit,
# status and notify thread test, in a few minutes). Any data race or lock-order report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
cmake --preset tsan >/dev/null
if [ "${1:-}" = "--unit" ]; then
  cmake --build --preset tsan --target unit_tests
  build/tsan/tests/unit_tests --gtest_brief=1
else
  cmake --build --preset tsan
  ctest --preset tsan -j"$(nproc)"
fi
