#!/usr/bin/env bash
# The man pages render without a warning from man/groff (and are not empty).
set -uo pipefail
failed=0
for page in "$@"; do
  out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  if [ -n "$out" ]; then
    echo "FAIL: $page: $out"; failed=1
  elif [ "$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)" -lt 20 ]; then
    echo "FAIL: $page renders to almost nothing"; failed=1
  else
    echo "ok: $page"
  fi
done
exit $failed
