#!/usr/bin/env bash
# One command for the end-to-end benchmark: bulkwarden `run --once` against the jsforce script an
# admin would write, on the same simulated org, at 0 ms and 20 ms per request.
#
#   bench/e2e/run.sh [--reps N] [--scenarios 10k,100k] [--latencies 0,20] [--concurrency 25]
#
# Builds the release binary if it is missing (or BULKWARDEN=/path/to/bulkwarden), installs jsforce
# into bench/e2e/node_modules with npm (Node.js 18 or later must be installed), then prints a
# Markdown table of medians, then the idle check. Every run starts a fresh `bulkwarden sim`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

binary="${BULKWARDEN:-$root/build/release/bulkwarden}"
if [ ! -x "$binary" ]; then
  echo "run.sh: building $binary" >&2
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target bulkwarden)
fi
command -v node >/dev/null || { echo "run.sh: Node.js is needed (e.g. apt-get install nodejs)" >&2; exit 69; }
command -v /usr/bin/time >/dev/null || { echo "run.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 69; }
if [ ! -d "$here/node_modules/jsforce" ]; then
  echo "run.sh: installing jsforce into $here/node_modules" >&2
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
echo "run.sh: $(nproc) CPUs, $(uptime)" >&2
python3 "$here/harness.py" --binary "$binary" "$@"
echo
echo "Idle daemon (bench/e2e/idle.sh):"
BULKWARDEN="$binary" "$here/idle.sh"
