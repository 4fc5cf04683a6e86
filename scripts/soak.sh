#!/usr/bin/env bash
# Soak: the daemon against the simulated org with every fault on at once, for a while, then the
# audit trail and the org's final state are checked. docs/reliability.md ("Soak") says what it
# proves.
#
#   scripts/soak.sh [DURATION] [BINARY]
#
# DURATION: how long the daemon runs, in wall time: 40s, 30m, 4h (default 2h). Both clocks, the
# sim's and the daemon's (a test build's scaled clock, BULKWARDEN_TEST_CLOCK_SCALE; the binary
# must be built with BULKWARDEN_FAILPOINTS, as the dev preset is), run 360 times faster from one
# epoch, so 40 s of wall time are 4 hours of the org's time and 30m are 7.5 days. BINARY: the
# bulkwarden to run (default build/dev/bulkwarden). CI runs `scripts/soak.sh 40s`.
#
# Faults, all together, on a Developer Edition org (15,000 calls a day):
#   sim hours 0-1: the daily allowance is used up (15,000 calls made 23 h before the start by other
#     integrations; the rolling 24-hour window frees them at hour 1): 403 TotalRequests, the daemon
#     pauses and probes until the allowance has room again;
#   sim hours 1-2: the integration user lacks "Manage Data Integrations": actions on other users'
#     jobs end not-permitted with the hint naming the permission; the sim grants it at hour 2;
#   throughout: random 503s (14% of requests, seeded, Retry-After: 1), the concurrent long-running
#     request limit (more than 6 requests in flight, 5 ms each), rotating refresh tokens with access
#     tokens that expire every 30 sim minutes, chunked replies, 300 Bulk API 1.0 (Classic) jobs
#     besides the default scenario, and a new job every 2 sim minutes (stuck or finishing, query,
#     ingest or Classic, by the integration user or by others).
#
# Checks: the daemon exited 0 on SIGTERM; `audit verify` passes; every intent has a result; no job
# acted on twice (two results that settled the same action on one job: applied, already-terminal,
# not-found, unknown); no job's last result is refused or failed (a refused action left for a
# later pass) outside the pass SIGTERM stopped; the sim applied as many actions as the trail says;
# a Classic job was aborted; not-permitted came with its hint; each fault fired (503, concurrent
# 403, daily 403, permission refusal, rotation, new jobs); no invalid_grant; and at the end no job
# the policies match has been left active for longer than 45 sim minutes past its threshold
# (Classic included): every stuck job was aborted.
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
scale=360
epoch=$(date +%s%3N)  # both clocks read epoch + (wall - epoch) * scale
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/refresh-token"
user=005R0000000Hk3tIAC  # one of the four users the sim's scenario jobs are created by
"$bin" sim --seed 7 --time-scale "$scale" --clock-epoch "$epoch" --classic-jobs 300 \
  --edition developer --api-used 15000@23h \
  --fail-rate 0.02 --fail-retry-after 1 --concurrent-limit 7 --latency 1ms \
  --refresh-token-file "$dir/refresh-token" --rotate-refresh-tokens --token-lifetime 30m \
  --chunked --no-manage-data-integrations --grant-manage-data-integrations-after 2h \
  --user-id "$user" --new-jobs-every 2m --final-jobs "$dir/final-jobs" \
  > "$dir/sim.out" 2> "$dir/sim.err" &
sim_pid=$!
for _ in $(seq 100); do
  [ -s "$dir/sim.out" ] && break
  kill -0 "$sim_pid" 2>/dev/null || fail "the sim did not start: $(cat "$dir/sim.err")"
  sleep 0.1
done
url=$(sed -n '1s/^bulkwarden sim: \([^ ]*\) token .*/\1/p' "$dir/sim.out")
[ -n "$url" ] || fail "no sim URL in $(cat "$dir/sim.out")"

# The policies, in sim time. The final check below mirrors their filters.
cat > "$dir/policies.yaml" <<'EOF'
policies:
  - name: abort-stuck-queries
    resource: query-jobs
    job-types: [V2Query, Classic]
    mode: enforce
    schedule: { every: 5m }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 2h }
    action: abort
  - name: abort-stuck-ingest
    resource: ingest-jobs
    job-types: [V2Ingest, Classic]
    mode: enforce
    schedule: { every: 7m }
    filters:
      - state: [Open, UploadComplete, InProgress]
      - older-than: { field: createdDate, age: 6h }
    action: abort
  - name: delete-finished-ingest
    resource: ingest-jobs
    mode: enforce
    schedule: { every: 11m }
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
# The whole Developer Edition allowance is the daemon's to spend; after a daily-limit 403 it
# probes every 20 sim minutes.
api-budget: 100%
limit-pause: 20m
EOF

"$bin" validate --config "$dir/bulkwarden.yaml" > "$dir/validate.out" 2>&1 ||
  fail "validate: $(cat "$dir/validate.out")"
echo "soak: daemon against $url for $duration (both clocks x$scale); files in $dir"
BULKWARDEN_TEST_CLOCK_SCALE=$scale BULKWARDEN_TEST_CLOCK_EPOCH=$epoch \
  "$bin" run --config "$dir/bulkwarden.yaml" > "$dir/daemon.out" 2> "$dir/daemon.err" &
daemon_pid=$!
end=$((SECONDS + total))
while [ "$SECONDS" -lt "$end" ]; do
  kill -0 "$daemon_pid" 2>/dev/null || { wait "$daemon_pid" || true; fail "the daemon exited early: $(tail -5 "$dir/daemon.err")"; }
  sleep 1
done
grep -q "clock runs $scale times faster" "$dir/daemon.err" ||
  fail "the daemon did not run on the scaled clock (a build without BULKWARDEN_FAILPOINTS?)"
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
      action = str(field("\"action\":\"[a-z-]*\""))
      outcomes[outcome]++
      a = num(field("\"attempt\":[0-9]+")); if (a == "") a = 1
      attempts[a]++
      jid = field("\"job\":\\{\"id\":\"[0-9A-Za-z]+\"")
      sub(/^.*"id":"/, "", jid); sub(/"$/, "", jid)
      run = str(field("\"run\":\"[^\"]*\""))
      # The last result of each job and action in each pass (a run is one pass).
      if (jid != "") { last[run " " jid " " action] = outcome; lastRun[run " " jid " " action] = run }
      # Outcomes that settle an action: it took effect, the job had already finished or was
      # gone, or it may have taken effect. A second one for the same job and action means the
      # job was acted on twice.
      if (jid != "" && (outcome == "applied" || outcome == "already-terminal" ||
                        outcome == "not-found" || outcome == "unknown")) {
        key = jid " " action
        if (++settled[key] == 2) { print "acted on twice: " key " (last: " outcome ")"; bad = 1 }
      }
      if (outcome == "applied") {
        n_applied++
        if (index($0, "\"jobType\":\"Classic\"") > 0) n_classic++
      }
      if (outcome == "not-permitted" && index($0, "Manage Data Integrations") > 0) n_hinted++
    }
  }
  END {
    for (s in intents) if (!(s in answered)) { print "intent seq " s " has no result"; bad = 1 }
    # A refused action is retried within its pass (Retry-After honoured): none may end its pass
    # refused or failed, left for a later pass; only the pass SIGTERM stopped may leave one.
    for (k in last) if ((last[k] == "refused" || last[k] == "failed") && !(lastRun[k] in stopped)) {
      print "run, job and action " k " left " last[k] " for a later pass"; bad = 1
    }
    if (n_classic + 0 == 0) { print "no Classic job was aborted"; bad = 1 }
    if (n_hinted + 0 == 0) { print "no not-permitted result with its hint: the permission model was not exercised"; bad = 1 }
    printf "soak: %d intents, %d results, %d applied (%d Classic);", n_intents, n_results, n_applied + 0, n_classic + 0
    for (o in outcomes) printf " %s=%d", o, outcomes[o]
    printf "; results by attempt:"
    for (a = 1; a in attempts; a++) printf " %d=%d", a, attempts[a]
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

# Each fault fired (the sim counts them).
faults=$(grep '^bulkwarden sim: faults ' "$dir/sim.err") || fail "no faults line from the sim"
echo "soak: sim ${faults#bulkwarden sim: }"
for counter in unavailable concurrent_limited daily_limited forbidden rotations arrived_jobs; do
  n=$(printf '%s\n' "$faults" | sed -n "s/.* $counter=\([0-9]*\).*/\1/p")
  [ "${n:-0}" -gt 0 ] || fail "the fault $counter never fired: $faults"
done
if grep -q 'invalid_grant' "$dir/daemon.err"; then
  fail "invalid_grant in the daemon's log: $(grep -m3 invalid_grant "$dir/daemon.err")"
fi

# Every stuck job aborted: no job the abort policies match (their states, types and ages above)
# may still be active 45 sim minutes past its threshold (a pass every 5 or 7 sim minutes, plus
# the time between the daemon's stop and the sim's).
[ -s "$dir/final-jobs" ] || fail "the sim wrote no final job list"
awk -v grace=$((45 * 60 * 1000)) '
  NR == 1 { now = $2; next }
  {
    kind = $2; type = $3; state = $4; age = now - $5
    if (kind == "query" && (type == "V2Query" || type == "Classic") &&
        (state == "InProgress" || state == "UploadComplete") && age > 2 * 3600000 + grace) {
      print "left stuck: " $0; n++
    }
    if (kind == "ingest" && (type == "V2Ingest" || type == "Classic") &&
        (state == "Open" || state == "UploadComplete" || state == "InProgress") &&
        age > 6 * 3600000 + grace) {
      print "left stuck: " $0; n++
    }
  }
  END { if (n > 0) { print n " job(s) left stuck"; exit 1 } }' "$dir/final-jobs" > "$dir/stuck.out" ||
  fail "$(head -5 "$dir/stuck.out"; tail -1 "$dir/stuck.out")"
echo "soak: no stuck job left ($(($(wc -l < "$dir/final-jobs") - 1)) jobs in the org at the end)"
echo "soak: passed ($duration)"
rm -rf "$dir"
trap - EXIT
