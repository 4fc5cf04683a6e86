#!/usr/bin/env python3
"""End-to-end benchmark: `bulkwarden run --once` against the jsforce admin script.

For every scenario and injected latency, runs both clients REPS times, alternating which goes
first, each against a fresh `bulkwarden sim` process, and reports medians of: process wall time,
pass time (listing + actions, without process start), CPU time (user + sys), peak RSS, and API
calls (the sim's own request counter, printed at exit), with the lower bound of a pass:
pages x RTT + ceil(actions / concurrency) x RTT. Run it through bench/e2e/run.sh.
"""
import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (sim --jobs specs, jobs to abort). The stuck jobs are InProgress for 1 to 5 hours; the
# rest are finished jobs of any age and active jobs younger than the 30-minute threshold.
SCENARIOS = {
    "10k": (["query:InProgress:1000:age=1h-5h", "query:JobComplete:8000:age=1m-3d",
             "query:InProgress:1000:age=1m-20m"], 1000),
    "100k": (["query:InProgress:5000:age=1h-5h", "query:JobComplete:85000:age=1m-3d",
              "query:InProgress:10000:age=1m-20m"], 5000),
}

POLICY = """policies:
  - name: abort-stuck-queries
    description: Abort query jobs queued or running for more than 30 minutes
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
    action: abort
"""


class Sim:
    def __init__(self, binary, specs, latency_ms, workdir):
        args = [binary, "sim", "--latency", f"{latency_ms}ms"]
        for s in specs:
            args += ["--jobs", s]
        self.err_path = os.path.join(workdir, "sim.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline().split()
        # bulkwarden sim: URL token TOKEN
        if len(line) < 5:
            raise RuntimeError(f"sim did not start: {line}")
        self.url, self.token = line[2], line[4]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.err.close()
        counters = {}
        with open(self.err_path) as f:
            for line in f:
                if "requests=" in line:
                    for kv in line.split(":", 1)[1].split():
                        k, v = kv.split("=")
                        counters[k] = int(v)
        return counters


def timed(args, cwd, env=None):
    """Runs args under /usr/bin/time; returns (rc, stdout, stderr, wall, cpu, maxrss_kb)."""
    tf = os.path.join(cwd, "time.out")
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-o", tf, "-f", "%e %U %S %M"] + args, cwd=cwd,
                       capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    with open(tf) as f:
        _, user, sys_, rss = f.read().split()[-4:]
    return p.returncode, p.stdout, p.stderr, wall, float(user) + float(sys_), int(rss)


def run_bulkwarden(binary, sim, concurrency, workdir):
    d = tempfile.mkdtemp(prefix="bw-", dir=workdir)
    with open(os.path.join(d, "token"), "w") as f:
        f.write(sim.token + "\n")
    os.chmod(os.path.join(d, "token"), 0o600)
    with open(os.path.join(d, "policies.yaml"), "w") as f:
        f.write(POLICY)
    with open(os.path.join(d, "bulkwarden.yaml"), "w") as f:
        f.write(f"""orgs:
  - name: sim
    api-version: "62.0"
    instance-url: {sim.url}
    auth: {{ flow: access-token, access-token: {{ file: token }} }}
policies: [policies.yaml]
audit-log: audit.jsonl
state-dir: state
concurrency: {concurrency}
""")
    rc, out, err, wall, cpu, rss = timed(
        [binary, "run", "--once", "--config", os.path.join(d, "bulkwarden.yaml")], d)
    if rc != 0:
        raise RuntimeError(f"bulkwarden exited {rc}: {err}")
    end = None
    with open(os.path.join(d, "audit.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["type"] == "run-end":
                end = r
    shutil.rmtree(d)
    return {"wall": wall, "cpu": cpu, "rss_kb": rss, "pass_ms": end["duration_ms"],
            "pages": end["pages"], "acted": end["acted"],
            "applied": end["outcomes"].get("applied", 0)}


def run_jsforce(sim, concurrency, workdir, mode):
    rc, out, err, wall, cpu, rss = timed(
        ["node", os.path.join(HERE, "cleanup-jsforce.js"), sim.url, sim.token, str(concurrency),
         mode], workdir)
    if rc != 0:
        raise RuntimeError(f"jsforce script exited {rc}: {err}")
    r = json.loads(out.strip().splitlines()[-1])
    return {"wall": wall, "cpu": cpu, "rss_kb": rss, "pass_ms": r["passMs"], "pages": r["pages"],
            "acted": r["applied"] + r["alreadyTerminal"] + r["failed"], "applied": r["applied"]}


def loadavg():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scenarios", default="10k,100k")
    ap.add_argument("--latencies", default="0,20", help="ms, comma-separated")
    ap.add_argument("--concurrency", type=int, default=25)
    ap.add_argument("--jsforce-mode", choices=["chunks", "pool"], default="chunks",
                    help="bounded Promise.all as batches of CONCURRENCY (default) or a worker pool")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="bulkwarden-e2e-")
    runs = []
    rows = []
    try:
        for scen in args.scenarios.split(","):
            specs, expected = SCENARIOS[scen]
            for lat in [int(x) for x in args.latencies.split(",")]:
                results = {"bulkwarden": [], "jsforce": []}
                for rep in range(args.reps):
                    order = ["bulkwarden", "jsforce"] if rep % 2 == 0 else ["jsforce", "bulkwarden"]
                    for tool in order:
                        sim = Sim(args.binary, specs, lat, workdir)
                        load = loadavg()
                        try:
                            if tool == "bulkwarden":
                                r = run_bulkwarden(args.binary, sim, args.concurrency, workdir)
                            else:
                                r = run_jsforce(sim, args.concurrency, workdir, args.jsforce_mode)
                        finally:
                            counters = sim.stop()
                        r.update(tool=tool, scenario=scen, latency_ms=lat, rep=rep, load=load,
                                 api_calls=counters.get("requests"),
                                 applied_in_sim=counters.get("applied_aborts"))
                        bound = (r["pages"] + math.ceil(r["acted"] / args.concurrency)) * lat
                        r["bound_ms"] = bound
                        r["ratio_to_bound"] = r["pass_ms"] / bound if bound else None
                        if r["applied_in_sim"] != expected:
                            raise RuntimeError(f"{tool} {scen}: {r['applied_in_sim']} aborts "
                                               f"applied, expected {expected}")
                        runs.append(r)
                        results[tool].append(r)
                        print(f"  {scen} {lat}ms rep {rep} {tool:10s} wall {r['wall']:.3f}s "
                              f"pass {r['pass_ms']} ms"
                              + (f" ({r['ratio_to_bound']:.3f}x bound)" if bound else "")
                              + f" cpu {r['cpu']:.2f}s rss {r['rss_kb'] / 1024:.1f} MB "
                              f"calls {r['api_calls']} load {load:.2f}", file=sys.stderr)
                med = {}
                for tool, rs in results.items():
                    m = lambda k: statistics.median(x[k] for x in rs)
                    med[tool] = {k: m(k) for k in ("wall", "pass_ms", "cpu", "rss_kb", "api_calls")}
                    med[tool]["bound_ms"] = rs[0]["bound_ms"]
                    med[tool]["ratio"] = (statistics.median(x["ratio_to_bound"] for x in rs)
                                          if rs[0]["bound_ms"] else None)
                    med[tool]["load"] = statistics.median(x["load"] for x in rs)
                rows.append((scen, lat, med))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)

    print(f"\nMedians of {args.reps} runs each, concurrency {args.concurrency}, jsforce aborts "
          f"in {args.jsforce_mode}, "
          f"{os.cpu_count()} CPUs; load = median 1-min load average at the start of a run.\n")
    print("| scenario | latency | client | process wall | pass | lower bound | pass / bound "
          "| CPU (user+sys) | peak RSS | API calls | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scen, lat, med in rows:
        for tool in ("bulkwarden", "jsforce"):
            m = med[tool]
            ratio = f"{m['ratio']:.3f}x" if m["ratio"] else "n/a"
            print(f"| {scen} | {lat} ms | {tool} | {m['wall']:.3f} s | {m['pass_ms']:.0f} ms "
                  f"| {m['bound_ms']} ms | {ratio} | {m['cpu']:.2f} s | "
                  f"{m['rss_kb'] / 1024:.1f} MB | {m['api_calls']:.0f} | {m['load']:.2f} |")
    print("\n| scenario | latency | jsforce / bulkwarden: process wall | pass | CPU | peak RSS "
          "| API calls |")
    print("|---|---|---|---|---|---|---|")
    for scen, lat, med in rows:
        b, j = med["bulkwarden"], med["jsforce"]
        print(f"| {scen} | {lat} ms | {j['wall'] / b['wall']:.2f}x | "
              f"{j['pass_ms'] / max(b['pass_ms'], 1):.2f}x | {j['cpu'] / max(b['cpu'], 0.01):.2f}x "
              f"| {j['rss_kb'] / b['rss_kb']:.2f}x | {j['api_calls'] / b['api_calls']:.2f}x |")
    peaks = {scen: med["bulkwarden"]["rss_kb"] for scen, lat, med in rows}
    if "10k" in peaks and "100k" in peaks:
        print(f"\nbulkwarden peak RSS, 100k / 10k jobs: {peaks['100k'] / peaks['10k']:.2f}x")


if __name__ == "__main__":
    main()
