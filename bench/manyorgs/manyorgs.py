#!/usr/bin/env python3
"""Many orgs per daemon (issue 14): one `bulkwarden run` governing N simulated orgs of J jobs each.

Phase 1 (schedule): every org has two query-jobs policies every --every minutes (default 1) (abort the stuck jobs, report
the failed ones; they share one listing per org per pass). Runs R rounds and reads the audit
trail: per org, each pass's lateness against its schedule (first pass + k minutes), and whether
any round was missed. Samples /proc/PID every 0.5 s: threads, VmRSS, CPU (utime + stime).
Phase 2 (idle): the same daemon restarted with the policies every 1h and the same state-dir: the
last passes are recent, so nothing is due; CPU over 60 s is the idle cost.

Usage: manyorgs.py --binary PATH [--orgs 1000] [--jobs 1000] [--stuck 10] [--rounds 3]
                   [--workers 0] [--idle 60] [--every 1]
Prints a Markdown summary on stdout. Needs nothing but Python 3 and Linux /proc.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime

TICK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)
    threads = int(fields[17])
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"t": time.monotonic(), "cpu": cpu, "threads": threads, "rss": rss, "fds": fds}


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class AuditTail:
    """Reads the audit trail as it grows, without re-reading what was read."""

    def __init__(self, path):
        self.path, self.offset, self.records, self.partial = path, 0, [], ""

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                text = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return self.records
        text = self.partial + text
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            try:
                self.records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return self.records


def write_config(d, urls, every, workers):
    orgs = []
    for i, (url, token) in enumerate(urls):
        tf = os.path.join(d, f"token-{i}")
        with open(tf, "w") as f:
            f.write(token + "\n")
        os.chmod(tf, 0o600)
        orgs.append(
            f"  - name: org-{i}\n    api-version: \"62.0\"\n    instance-url: {url}\n"
            f"    auth: {{ flow: access-token, access-token: {{ file: token-{i} }} }}\n")
    with open(os.path.join(d, "policies.yaml"), "w") as f:
        f.write(f"""policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: {{ every: {every} }}
    filters:
      - state: InProgress
      - older-than: {{ field: createdDate, age: 1h }}
    action: abort
  - name: report-failed
    resource: query-jobs
    schedule: {{ every: {every} }}
    filters:
      - state: Failed
    action: report
""")
    extra = f"workers: {workers}\n" if workers > 0 else ""
    with open(os.path.join(d, "bulkwarden.yaml"), "w") as f:
        f.write("orgs:\n" + "".join(orgs) +
                "policies: [policies.yaml]\naudit-log: audit.jsonl\nstate-dir: state\n" + extra)


def start_daemon(binary, d):
    err = open(os.path.join(d, "daemon.err"), "a")
    return subprocess.Popen([binary, "run", "--config", os.path.join(d, "bulkwarden.yaml")],
                            cwd=d, stdout=subprocess.DEVNULL, stderr=err)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--orgs", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--stuck", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--every", type=int, default=1, help="minutes between passes")
    a = ap.parse_args()
    a.binary = os.path.abspath(a.binary)
    n = a.orgs
    d = tempfile.mkdtemp(prefix="bw-manyorgs-")
    failed = max(1, a.jobs // 20)
    done = a.jobs - a.stuck - failed
    sim = subprocess.Popen(
        [a.binary, "sim", "--orgs", str(n),
         "--jobs", f"query:InProgress:{a.stuck}:age=1h-5h",
         "--jobs", f"query:Failed:{failed}:age=1m-3d",
         "--jobs", f"query:JobComplete:{done}:age=1m-3d"],
        cwd=d, stdout=subprocess.PIPE, stderr=open(os.path.join(d, "sim.err"), "w"), text=True)
    urls = []
    while len(urls) < n:
        line = sim.stdout.readline()
        if not line:
            sys.exit("the sim did not start: " + open(os.path.join(d, "sim.err")).read())
        parts = line.split()
        urls.append((parts[2], parts[4]))
    period = 60 * a.every
    write_config(d, urls, f"{a.every}m", a.workers)

    daemon = start_daemon(a.binary, d)
    samples = []
    audit_path = os.path.join(d, "audit.jsonl")
    tail = AuditTail(audit_path)
    started = time.time()
    deadline = time.monotonic() + period * a.rounds + 180
    while time.monotonic() < deadline and daemon.poll() is None:
        samples.append(proc_sample(daemon.pid))
        time.sleep(0.5)
        if len(samples) % 20 == 0:
            starts = sum(1 for r in tail.poll() if r.get("type") == "run-start")
            if starts >= n * a.rounds:
                break
    elapsed = time.time() - started
    stop(daemon)  # SIGTERM: the passes in flight finish their actions and write run-end

    records = tail.poll()
    starts = {}
    for r in records:
        if r.get("type") == "run-start":
            starts.setdefault(r["org"], []).append(ts(r["ts"]))
    ends = {r["run"]: r for r in records if r.get("type") == "run-end"}
    aborted = sum(1 for r in records if r.get("type") == "result" and r.get("outcome") == "applied")
    lateness = []
    first = []
    short = 0
    for org, times in starts.items():
        times.sort()
        first.append(times[0] - started)
        for k, t in enumerate(times[1:a.rounds], start=1):
            lateness.append(t - (times[0] + period * k))
        if len(times) < a.rounds:
            short += 1
    short += n - len(starts)
    lateness.sort()

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")

    # CPU per round: CPU over the sampled span / rounds (the first round includes the aborts).
    cpu_total = samples[-1]["cpu"] - samples[0]["cpu"] if samples else 0
    peak_threads = max(s["threads"] for s in samples)
    peak_rss = max(s["rss"] for s in samples)
    peak_fds = max(s["fds"] for s in samples)

    # Phase 2: idle.
    write_config(d, urls, "1h", a.workers)
    daemon = start_daemon(a.binary, d)
    time.sleep(5)  # start-up: config record, recovery; then nothing is due for an hour
    s0 = proc_sample(daemon.pid)
    time.sleep(a.idle)
    s1 = proc_sample(daemon.pid)
    before = len(records)
    idle_starts = sum(1 for r in tail.poll()[before:] if r.get("type") == "run-start")
    stop(daemon)

    mb = 1024 * 1024
    print(f"## {n} orgs x {a.jobs} jobs ({a.stuck} stuck, {failed} failed), {a.rounds} rounds of {a.every}m,"
          f" workers {a.workers or 'default'}, {os.cpu_count()} CPUs")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| passes (run-start records) | {sum(len(v) for v in starts.values())} over {elapsed:.0f} s |")
    print(f"| orgs with fewer than {a.rounds} passes | {short} |")
    print(f"| first pass after start: median / max | {pct(sorted(first), 0.5):.1f} s / {max(first):.1f} s |")
    print(f"| later passes' lateness vs schedule: median / p99 / max | {pct(lateness, 0.5):.2f} s / "
          f"{pct(lateness, 0.99):.2f} s / {max(lateness) if lateness else float('nan'):.2f} s |")
    print(f"| aborts applied | {aborted} (want {n * a.stuck}) |")
    print(f"| daemon threads: peak during passes / idle | {peak_threads} / {s1['threads']} |")
    print(f"| daemon RSS: peak during passes / idle | {peak_rss / mb:.0f} MB / {s1['rss'] / mb:.0f} MB |")
    print(f"| daemon open fds: peak during passes / idle | {peak_fds} / {s1['fds']} |")
    print(f"| daemon CPU per round of {n} org passes | {cpu_total / max(1, a.rounds):.2f} s "
          f"({1000 * cpu_total / max(1, sum(len(v) for v in starts.values())):.1f} ms per org pass) |")
    print(f"| idle CPU over {a.idle} s (nothing due) | {s1['cpu'] - s0['cpu']:.2f} s "
          f"({100 * (s1['cpu'] - s0['cpu']) / a.idle:.2f} % of one CPU); passes meanwhile: {idle_starts} |")
    print(f"\nwork dir: {d}")
    sys.stdout.flush()
    sim.send_signal(signal.SIGTERM)
    try:
        sim.wait(timeout=60)
    except subprocess.TimeoutExpired:
        sim.kill()
        sim.wait()


if __name__ == "__main__":
    main()
