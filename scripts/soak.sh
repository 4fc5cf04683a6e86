#!/usr/bin/env bash
# Soak: the daemon against the simulated org with every fault on at once, for a while, then the
# audit trail is checked. docs/reliability.md ("Soak") says what it proves.
#
#   scripts/soak.sh [DURATION] [BINARY]
#
# DURATION: how long the daemon runs, in wall time: 90s, 30m, 4h (default 2h); the sim clock runs
# 60 times faster, so an hour of wall time is 2.5 days of the org's time. BINARY: the bulkwarden
# to run (default build/dev/bulkwarden). CI runs `scripts/soak.sh 40s`.
#
# Faults, all together: every 7th request refused with 503 (Retry-After: 1), the concurrent
# long-running request limit (more than 6 requests in flight, 5 ms latency each), rotating
# refresh tokens with access tokens that expire every 30 sim minutes, chunked replies, 300 Bulk
# API 1.0 (Classic) jobs, and a permission model: the integration user lacks "Manage Data
# Integrations" and created a quarter of the jobs, so the rest must be refused as not-permitted.
#
# Checks: `audit verify` passes; every intent has a result; no job has two `applied` results
# (acted on twice); no job's last result is `refused` or `failed` (a refused action left for a
# later pass); the sim applied as many actions as the trail says; no invalid_grant (a rotated
# refresh token lost); the daemon exited 0 on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-2h}
bin=${2:-build/dev/bulkwarden}
[ -x "$bin" ] || { echo "soak: no binary at $bin (build first)" >&2; exit 66; }
seconds() {
  case "$1" in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *[0-9]) echo "$1" ;;
    *) echo "soak: bad duration '$1' (e.g. 90s, 30m, 4h)" >&2; exit 64 ;;
  esac
}
total=$(seconds "$duration")

dir=$(mktemp -d /tmp/bulkwarden-soak-XXXXXX)
sim_pid=
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail() {
  echo "soak: FAILED: $*" >&2
  echo "soak: files kept in $dir" >&2
  trap - EXIT
  cleanup
  exit 1
}

umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/refresh-token"
user=005R0000000Hk3tIAC  # one of the four users the sim's scenario jobs are created by
"$bin" sim --seed 7 --time-scale 60 --classic-jobs 300 \
  --fail-every 7 --fail-retry-after 1 --concurrent-limit 6 --latency 5ms \
  --refresh-token-file "$dir/refresh-token" --rotate-refresh-tokens --token-lifetime 30m \
  --chunked --no-manage-data-integrations --user-id "$user" \
  > "$dir/sim.out" 2> "$dir/sim.err" &
sim_pid=$!
for _ in $(seq 100); do
  [ -s "$dir/sim.out" ] && break
  kill -0 "$sim_pid" 2>/dev/null || fail "the sim did not start: $(cat "$dir/sim.err")"
  sleep 0.1
done
url=$(sed -n '1s/^bulkwarden sim: \([^ ]*\) token .*/\1/p' "$dir/sim.out")
[ -n "$url" ] || fail "no sim URL in $(cat "$dir/sim.out")"

cat > "$dir/policies.yaml" <<'EOF'
policies:
  - name: abort-stuck-queries
    resource: query-jobs
    job-types: [V2Query, Classic]
    mode: enforce
    schedule: { every: 5s }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 2h }
    action: abort
  - name: abort-stuck-ingest
    resource: ingest-jobs
    job-types: [V2Ingest, Classic]
    mode: enforce
    schedule: { every: 7s }
    filters:
      - state: [Open, UploadComplete, InProgress]
      - older-than: { field: createdDate, age: 6h }
    action: abort
  - name: delete-finished-ingest
    resource: ingest-jobs
    mode: enforce
    schedule: { every: 11s }
    filters:
      - state: [JobComplete, Failed, Aborted]
      - older-than: { field: systemModstamp, age: 1d }
    action: delete
EOF
cat > "$dir/bulkwarden.yaml" <<EOF
orgs:
  - name: soak
    api-version: "62.0"
    instance-url: $url
    auth:
      flow: refresh-token
      login-url: $url
      client-id: 3MVG9SimulatedOrgConsumerKey
      refresh-token: { file: $dir/refresh-token }
policies: [policies.yaml]
audit-log: audit.jsonl
state-dir: state
concurrency: 8
EOF

"$bin" validate --config "$dir/bulkwarden.yaml" > "$dir/validate.out" 2>&1 ||
  fail "validate: $(cat "$dir/validate.out")"
echo "soak: daemon against $url for $duration (sim time x60); files in $dir"
"$bin" run --config "$dir/bulkwarden.yaml" > "$dir/daemon.out" 2> "$dir/daemon.err" &
daemon_pid=$!
end=$((SECONDS + total))
while [ "$SECONDS" -lt "$end" ]; do
  kill -0 "$daemon_pid" 2>/dev/null || { wait "$daemon_pid" || true; fail "the daemon exited early: $(tail -5 "$dir/daemon.err")"; }
  sleep 1
done
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
[ "$rc" -eq 0 ] || fail "the daemon exited $rc on SIGTERM: $(tail -5 "$dir/daemon.err")"
kill -TERM "$sim_pid"
wait "$sim_pid" || true
sim_pid=

audit=$dir/audit.jsonl
[ -s "$audit" ] || fail "no audit trail"
"$bin" audit verify "$audit" > "$dir/verify.out" 2>&1 || fail "audit verify: $(cat "$dir/verify.out")"

# One record per line, written by bulkwarden: the fields are found by their JSON keys.
awk '
  function field(re,   m) { return match($0, re) ? substr($0, RSTART, RLENGTH) : "" }
  function num(s) { sub(/^[^0-9]*/, "", s); return s }
  function str(s) { sub(/^"[^"]*":"?/, "", s); sub(/"$/, "", s); return s }
  {
    type = str(field("\"type\":\"[a-z-]*\""))
    # The pass SIGTERM ended: run-end says "stopped":true (a retry backoff cut short leaves a
    # refused action), or counts actions it never started.
    if (type == "run-end" && (index($0, "\"stopped\":true") > 0 || index($0, "\"not-started\":") > 0)) {
      stopped[str(field("\"run\":\"[^\"]*\""))] = 1
    }
    if (type == "intent") {
      intents[num(field("\"seq\":[0-9]+"))] = 1; n_intents++
    } else if (type == "result") {
      n_results++
      ref = num(field("\"intent\":[0-9]+"))
      answered[ref] = 1
      outcome = str(field("\"outcome\":\"[a-z-]*\""))
      outcomes[outcome]++
      jid = field("\"job\":\\{\"id\":\"[0-9A-Za-z]+\"")
      sub(/^.*"id":"/, "", jid); sub(/"$/, "", jid)
      if (jid != "") { last[jid] = outcome; lastRun[jid] = str(field("\"run\":\"[^\"]*\"")) }
      if (outcome == "applied") {
        id = field("\"job\":\\{\"id\":\"[0-9A-Za-z]+\"")
        sub(/^.*"id":"/, "", id); sub(/"$/, "", id)
        if (++applied[id] == 2) { print "acted on twice: " id; bad = 1 }
        n_applied++
      }
    }
  }
  END {
    for (s in intents) if (!(s in answered)) { print "intent seq " s " has no result"; bad = 1 }
    # A refused action is retried within its pass (Retry-After honoured): none may end its pass
    # refused or failed, left for a later pass; only the pass SIGTERM stopped may leave one.
    for (j in last) if ((last[j] == "refused" || last[j] == "failed") && !(lastRun[j] in stopped)) {
      print "job " j " left " last[j] " for a later pass"; bad = 1
    }
    printf "soak: %d intents, %d results, %d applied;", n_intents, n_results, n_applied + 0
    for (o in outcomes) printf " %s=%d", o, outcomes[o]
    printf "\n"
    print n_applied + 0 > "/dev/stderr"
    exit bad
  }' "$audit" > "$dir/check.out" 2> "$dir/applied.count" || fail "$(cat "$dir/check.out")"
cat "$dir/check.out"
trail_applied=$(cat "$dir/applied.count")
sim_applied=$(sed -n 's/.*applied_aborts=\([0-9]*\) applied_deletes=\([0-9]*\).*/\1 \2/p' "$dir/sim.err" |
  awk '{ print $1 + $2 }')
[ -n "$sim_applied" ] || fail "no counters line from the sim: $(tail -3 "$dir/sim.err")"
[ "$sim_applied" -eq "$trail_applied" ] ||
  fail "the sim applied $sim_applied actions, the trail records $trail_applied applied"
[ "$trail_applied" -gt 0 ] || fail "nothing was applied: the soak proved nothing"
grep -q '"outcome":"not-permitted"' "$audit" || fail "no not-permitted outcome: the permission model was not exercised"
grep -q '"jobType":"Classic"' "$audit" || fail "no Classic job was acted on"
if grep -q 'invalid_grant' "$dir/daemon.err"; then
  fail "invalid_grant in the daemon's log: $(grep -m3 invalid_grant "$dir/daemon.err")"
fi
echo "soak: passed ($duration)"
rm -rf "$dir"
trap - EXIT
