#!/usr/bin/env bash
# Quick start 2: install what is missing, build (dev preset: warnings are errors), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# Formatting is part of the contract: fail early on unformatted sources.
files=$(git ls-files '*.cpp' '*.h' 2>/dev/null || find daemon tests bench -name '*.cpp' -o -name '*.h')
if [ -n "$files" ]; then
  clang-format --dry-run -Werror $files
fi
cmake --preset dev
cmake --build --preset dev
ctest --preset dev "$@"
