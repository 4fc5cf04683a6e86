#!/usr/bin/env bash
# Quick start 1: install what is missing, build (release), and run `bulkwarden demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target bulkwarden
exec ./build/release/bulkwarden demo "$@"
