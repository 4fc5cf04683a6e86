#!/usr/bin/env bash
# The layers of daemon/ (docs/design.md, section 1): which folders a folder's files may not
# include from. status/ meters through the engine's hooks and includes nothing from salesforce/;
# sim/ is independent of the client; the lower layers know nothing of those above them.
set -uo pipefail
daemon=${1:?usage: layering_test.sh daemon/}
# folder: the folders its files must not include from
rules=(
  "status: salesforce"
  "sim: salesforce engine app status"
  "salesforce: engine app status cluster notify"
  "audit: salesforce engine app status"
  "policy: salesforce engine app status audit"
  "model: salesforce engine app status audit policy"
)
# Prints each include of `daemon` that breaks a rule; returns 1 if any.
check() {
  local root=$1 rule folder forbidden bad=0 hits
  for rule in "${rules[@]}"; do
    folder=${rule%%:*}
    for forbidden in ${rule#*:}; do
      hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]$forbidden/" \
        "$root/$folder" --include='*.h' --include='*.cpp' 2>/dev/null)
      if [ -n "$hits" ]; then
        echo "FAIL: $folder/ includes from $forbidden/:"
        echo "$hits"
        bad=1
      fi
    done
  done
  return $bad
}
# The check itself catches a breach (so that a passing run means something).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/status"
printf '#pragma once\n#  include "salesforce/BulkJobs.h"\n' > "$scratch/status/Bad.h"
if check "$scratch" >/dev/null; then
  echo "FAIL: the check missed status/ including salesforce/"
  exit 1
fi
check "$daemon" || exit 1
echo "ok: ${#rules[@]} layering rules hold"
