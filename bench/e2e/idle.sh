#!/usr/bin/env bash
# Idle cost of the daemon: starts `bulkwarden run` (schedule every 1h) against a fresh sim holding
# the 10k scenario, lets the first pass abort its 1,000 stuck jobs, then over 10 s of idling
# counts context switches of every thread over 10 s (/proc/PID/task/*/status), then syscalls over
# the next 10 s (strace -f -c, if installed), and reports VmRSS. Usage: bench/e2e/idle.sh [BULKWARDEN]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "${1:-${BULKWARDEN:-$here/../../build/release/bulkwarden}}")"
[ -x "$binary" ] || { echo "idle.sh: $binary is not an executable" >&2; exit 66; }
dir="$(mktemp -d)"
rp= sp=
trap 'kill $rp $sp 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
"$binary" sim --jobs query:InProgress:1000:age=1h-5h --jobs query:JobComplete:8000:age=1m-3d \
  --jobs query:InProgress:1000:age=1m-20m >sim.out 2>sim.err &
sp=$!
while [ ! -s sim.out ]; do
  kill -0 "$sp" 2>/dev/null || { echo "idle.sh: the sim did not start: $(cat sim.err)" >&2; exit 1; }
  sleep 0.05
done
read -r _ _ url _ token <sim.out
echo "$token" >token && chmod 600 token
cat >policies.yaml <<'YAML'
policies:
  - name: abort-stuck-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
    action: abort
YAML
cat >bulkwarden.yaml <<YAML
orgs:
  - name: sim
    api-version: "62.0"
    instance-url: $url
    auth: { flow: access-token, access-token: { file: token } }
policies: [policies.yaml]
audit-log: audit.jsonl
state-dir: state
concurrency: 25
YAML
"$binary" run --config bulkwarden.yaml 2>run.err &
rp=$!
# Wait for the first pass to end.
for _ in $(seq 200); do grep -q '"type":"run-end"' audit.jsonl 2>/dev/null && break; sleep 0.05; done
sleep 1
switches() {
  local total=0 f v
  for f in /proc/$rp/task/*/status; do
    v=$(awk '/^(non)?voluntary_ctxt_switches/{s+=$2}END{print s}' "$f")
    total=$((total + v))
  done
  echo "$total"
}
before=$(switches)
sleep 10
after=$(switches)
if command -v strace >/dev/null; then
  calls=$(timeout -s INT 10 strace -f -c -p "$rp" 2>&1 | awk '/total$/{print $4}' || true)
else
  calls="(strace not installed)"
fi
grep -h 'query-jobs' run.err | sed 's/^/  first pass: /'
echo "idle after the pass: $((after - before)) context switches in 10 s (all $(ls /proc/$rp/task | wc -l) threads); syscalls in the next 10 s (strace -f -c): ${calls:-0}"
grep -E '^(VmRSS|VmHWM|RssAnon|RssFile)' /proc/$rp/status | tr -s ' \t' ' ' | paste -sd' ' | sed 's/^/memory: /'
