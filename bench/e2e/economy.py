#!/usr/bin/env python3
"""API economy benchmark (issue 15): calls a day and crossing-to-intent lag.

Runs the daemon (`bulkwarden run`) against `bulkwarden sim` with the example policies of
policies/ (the abort policies switched to enforce) for WINDOW seconds of wall time, while stuck
query jobs cross the 30-minute threshold of abort-stuck-query-jobs one every INTERVAL seconds,
and reads what happened from the audit trail and the sim's request counter:

- calls by purpose, from the `calls` object of every `run-end` record;
- the follow-up passes and their reads; the scheduled passes and their pages;
- per crossing job, the lag from its crossing (createdDate + 30m) to its `intent` record.

Calls a day are extrapolated: the schedule's share exactly (each policy's passes a day times the
pages its resource lists), the crossings' share from the measured calls per crossing times the
crossings a day (86,400 / INTERVAL). "Before" (a relist per crossing, as the daemon did before
follow-ups read the crossing jobs) replaces each follow-up's reads by a listing of the resource.
Not a timed test: run it by hand, `bench/e2e/economy.py --binary build/release/bulkwarden`.
"""
import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THRESHOLD_S = 30 * 60
PAGE = 1000


def policies_text():
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "policies"))):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(ROOT, "policies", name)) as f:
            text = f.read()
        body = text.split("policies:\n", 1)[1]
        if "action: abort" in body:
            body = body.replace("mode: dry-run", "mode: enforce")
        out.append(body)
    return "policies:\n" + "".join(out)


def passes_a_day(text):
    """Scheduled passes a day per resource: every policy here is an interval policy."""
    per = {}
    for m in re.finditer(r"resource: (\S+)\n\s+mode: \S+\n\s+schedule: \{ every: (\d+)([mh]) \}",
                         text):
        every = int(m.group(2)) * (60 if m.group(3) == "m" else 3600)
        per.setdefault(m.group(1), set()).add(every)
    # Ticks of policies of one resource coincide when one interval divides another (they start
    # together): the distinct tick times in a day.
    out = {}
    for res, everies in per.items():
        ticks = set()
        for e in everies:
            ticks.update(range(0, 86400, e))
        out[res] = len(ticks)
    return out


def parse_ts(s):
    s = s.replace("+0000", "+00:00").replace("Z", "+00:00")
    return dt.datetime.fromisoformat(s).timestamp()


def run(binary, jobs, crossings, interval, window, workdir):
    specs = [f"query:JobComplete:{jobs - crossings - 20}:age=1m-20h",
             "ingest:JobComplete:20:age=1m-20h"]
    # Crossing jobs: ages spread so that one crosses 30m every `interval` seconds from t0 + 5 s.
    sim_args = [binary, "sim", "--empty"]
    for s in specs:
        sim_args += ["--jobs", s]
    for k in range(crossings):
        age_ms = THRESHOLD_S * 1000 - int((5 + k * interval) * 1000)
        sim_args += ["--jobs", f"query:InProgress:1:age={age_ms}ms"]
    sim_err = open(os.path.join(workdir, "sim.err"), "w")
    sim = subprocess.Popen(sim_args, stdout=subprocess.PIPE, stderr=sim_err, text=True)
    t0 = time.time()
    head = sim.stdout.readline().split()
    url, token = head[2], head[4]
    with open(os.path.join(workdir, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(workdir, "token"), 0o600)
    text = policies_text()
    with open(os.path.join(workdir, "policies.yaml"), "w") as f:
        f.write(text)
    with open(os.path.join(workdir, "bulkwarden.yaml"), "w") as f:
        f.write(f"""orgs:
  - name: bench
    instance-url: {url}
    auth: {{ flow: access-token, access-token: {{ file: token }} }}
policies: [policies.yaml]
audit-log: audit.jsonl
state-dir: state
concurrency: 8
api-budget: 100%
""")
    err = open(os.path.join(workdir, "daemon.err"), "w")
    daemon = subprocess.Popen([binary, "run", "--config", "bulkwarden.yaml"], cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=err)
    time.sleep(window)  # a benchmark's measuring window, not a test's wait
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()
    sim.send_signal(signal.SIGTERM)
    sim.wait()
    sim_err.close()
    with open(os.path.join(workdir, "sim.err")) as f:
        sim_requests = int(re.search(r"requests=(\d+)", f.read()).group(1))
    records = [json.loads(line) for line in open(os.path.join(workdir, "audit.jsonl"))]
    return t0, text, records, sim_requests


def analyse(t0, text, records, sim_requests, crossings, interval, window, pages):
    calls = {}
    follow_ups = 0
    follow_up_reads = 0
    scheduled = 0
    starts = {r["run"]: r for r in records if r["type"] == "run-start"}
    for r in records:
        if r["type"] != "run-end":
            continue
        for k, v in r.get("calls", {}).items():
            calls[k] = calls.get(k, 0) + v
        if starts.get(r["run"], {}).get("follow_up"):
            follow_ups += 1
            follow_up_reads += r.get("calls", {}).get("follow-up", 0)
        else:
            scheduled += 1
    lags = []
    for r in records:
        if r["type"] != "intent" or r.get("policy") != "abort-stuck-query-jobs":
            continue
        crossed = parse_ts(r["job"]["createdDate"]) + THRESHOLD_S
        lags.append(parse_ts(r["ts"]) - crossed)
    crossed_in_window = min(crossings, int((window - 5) / interval) + 1)
    per_day = 86400 / interval
    sched = passes_a_day(text)
    schedule_calls = sched.get("query-jobs", 0) * pages["query"] + \
        sched.get("ingest-jobs", 0) * pages["ingest"]
    actions_per_crossing = calls.get("action", 0) / max(crossed_in_window, 1)
    reads_per_crossing = follow_up_reads / max(crossed_in_window, 1)
    follow_ups_per_crossing = follow_ups / max(crossed_in_window, 1)
    after = schedule_calls + per_day * (reads_per_crossing + actions_per_crossing)
    before = schedule_calls + per_day * (follow_ups_per_crossing * pages["query"] +
                                         actions_per_crossing)
    lags.sort()
    return {
        "window_s": window, "crossings_in_window": crossed_in_window,
        "sim_requests": sim_requests, "calls_by_purpose": calls,
        "scheduled_passes": scheduled, "follow_ups": follow_ups,
        "follow_up_reads": follow_up_reads,
        "schedule_calls_a_day": schedule_calls,
        "crossings_a_day": round(per_day),
        "after_calls_a_day": round(after), "before_calls_a_day": round(before),
        "lag_median_s": round(statistics.median(lags), 3) if lags else None,
        "lag_p99_s": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 3) if lags else None,
        "intents": len(lags),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "bulkwarden"))
    ap.add_argument("--jobs", type=int, default=50000, help="jobs in the org (default 50000)")
    ap.add_argument("--interval", type=float, default=10, help="seconds between crossings")
    ap.add_argument("--window", type=float, default=300, help="seconds measured")
    ap.add_argument("--quiet", action="store_true", help="a quiet org: 500 jobs, no crossing")
    a = ap.parse_args()
    jobs = 500 if a.quiet else a.jobs
    crossings = 0 if a.quiet else int(a.window / a.interval) + 2
    workdir = tempfile.mkdtemp(prefix="bw-economy-")
    try:
        t0, text, records, sim_requests = run(a.binary, jobs, crossings, a.interval, a.window,
                                              workdir)
        pages = {"query": -(-(jobs - 20) // PAGE), "ingest": 1}
        out = analyse(t0, text, records, sim_requests, max(crossings, 0), a.interval, a.window,
                      pages)
        out["jobs"] = jobs
        out["pages"] = pages
        print(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
