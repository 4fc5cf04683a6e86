#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`) and runs each for a bounded time (default 30 s,
# or $1 seconds), starting from the seed corpora in tests/fuzz/corpus. Fails on any finding
# (crash, leak, timeout, sanitizer report); the reproducer is left in build/fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
mkdir -p build/fuzz/findings
status=0
# job_list_diff checks the streaming list mapping against its document-tree oracle; it starts from
# the job_list seeds. evaluator runs random regexes over random job fields (three-valued logic);
# log feeds the log sanitiser and secret redactor; audit_record the audit trail's record reader.
for target in job_list job_list_diff log policy time evaluator audit_record; do
  work="build/fuzz/corpus/$target"
  seeds="tests/fuzz/corpus/${target%_diff}"
  mkdir -p "$work"
  echo "fuzz_$target: ${seconds}s"
  if ! "build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=8192 \
      -rss_limit_mb=2048 -timeout=10 -dict=tests/fuzz/dictionary.txt \
      -artifact_prefix="build/fuzz/findings/$target-" "$work" "$seeds" \
      > "build/fuzz/$target.log" 2>&1; then
    echo "fuzz_$target: FINDING (see build/fuzz/$target.log and build/fuzz/findings/)"
    tail -30 "build/fuzz/$target.log"
    status=1
  else
    grep -E '^Done' "build/fuzz/$target.log" || true
  fi
done
exit $status
