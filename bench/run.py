#!/usr/bin/env python3
"""Runs ferrograd-bench and bench/pytorch_reference.py side by side and prints the table.

Called by bench/run.sh after it builds the release binary; needs only the standard
library (the PyTorch script runs under BENCH_PYTHON, default `python3`).

Each round, for each thread count, runs every timed workload in one ferrograd process and
one PyTorch process (which goes first alternates by round), then each `mem_` workload in
a process of its own per implementation. The samples of all rounds are pooled: the table
shows their median, min and max, and ratio = ferrograd median / PyTorch median (below 1
means ferrograd is faster or smaller, except for W5's GFLOP/s, where above 1 is better).
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMED = ["w1_b128", "w1_b32", "w2", "w3", "w4", "w5", "w6"]
MEMORY = ["mem_base", "mem_w1", "mem_w2"]
LABELS = {
    "w1_b128": "W1 MLP step 784-128-10, Adam, batch 128 (ms)",
    "w1_b32": "W1 MLP step, batch 32 (ms)",
    "w2": "W2 MNIST CNN step, batch 32 (ms)",
    "w3": "W3 per-op overhead, 1,000 ops on a 16-vector + backward (us/op)",
    "w4": "W4 LSTM step, seq 28, in 28, hidden 128, batch 64 (ms)",
    "w5": "W5 matmul 1024^3 f32 (GFLOP/s, higher is better)",
    "w6": "W6 one 60,000-sample epoch of W1, batch 128 (s)",
    "mem_base": "peak RSS, library loaded only (MiB)",
    "mem_w1": "peak RSS of W1 batch 128 (MiB)",
    "mem_w2": "peak RSS of W2 (MiB)",
}


def parse_lines(text):
    """The `bench ...` lines of a run's output as dicts."""
    out = []
    for line in text.splitlines():
        if not line.startswith("bench "):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        fields["samples"] = [float(x) for x in fields["samples"].split(",") if x]
        out.append(fields)
    return out


class Runner:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.join(ROOT, "target", "release", "ferrograd-bench")
        self.python = os.environ.get("BENCH_PYTHON", "python3")
        self.torch_ok = True
        self.rows = []  # (impl, workload, threads, round, unit, value)
        self.loads = []  # 1-minute load average before each process
        self.torch_version = None

    def run(self, impl, threads, workloads, rnd):
        env = dict(os.environ)
        for var in ("FERROGRAD_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        common = ["--threads", str(threads), "--samples", str(self.args.samples), *workloads]
        if impl == "ferrograd":
            cmd = [self.binary, *common]
        else:
            if not self.torch_ok:
                return
            cmd = [self.python, os.path.join(HERE, "pytorch_reference.py"), *common]
        print(f"round {rnd}, {threads} thread(s): {impl} {' '.join(workloads)}", file=sys.stderr)
        self.loads.append(os.getloadavg()[0])
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            if impl == "pytorch":
                print(f"PyTorch reference failed (exit {p.returncode}); continuing without it:\n"
                      f"{p.stderr.strip()}", file=sys.stderr)
                self.torch_ok = False
                return
            sys.exit(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr}")
        for word in p.stdout.split():
            if word.startswith("torch="):
                self.torch_version = word[len("torch="):]
        for f in parse_lines(p.stdout):
            for v in f["samples"]:
                self.rows.append((f["impl"], f["workload"], threads, rnd, f["unit"], v))

    def all_rounds(self):
        timed = [w for w in self.args.workloads if w in TIMED]
        memory = [w for w in self.args.workloads if w in MEMORY]
        for rnd in range(1, self.args.rounds + 1):
            order = ["ferrograd", "pytorch"] if rnd % 2 else ["pytorch", "ferrograd"]
            for threads in self.args.threads:
                if timed:
                    for impl in order:
                        self.run(impl, threads, timed, rnd)
                for w in memory:
                    for impl in order:
                        self.run(impl, threads, [w], rnd)

    def summary(self):
        """Per (workload, threads): unit and each implementation's (median, min, max, n)."""
        pooled = {}
        for impl, w, t, _, unit, v in self.rows:
            pooled.setdefault((w, t), {"unit": unit}).setdefault(impl, []).append(v)
        out = []
        for w in self.args.workloads:
            for t in self.args.threads:
                d = pooled.get((w, t))
                if not d:
                    continue
                row = {"workload": w, "threads": t, "unit": d["unit"]}
                for impl in ("pytorch", "ferrograd"):
                    xs = d.get(impl)
                    if xs:
                        row[impl] = {"median": statistics.median(xs), "min": min(xs),
                                     "max": max(xs), "n": len(xs)}
                if "pytorch" in row and "ferrograd" in row and row["pytorch"]["median"]:
                    row["ratio"] = row["ferrograd"]["median"] / row["pytorch"]["median"]
                out.append(row)
        return out


def fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def cell(s):
    if not s:
        return "—"
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def table(summary):
    lines = ["| workload | threads | PyTorch median (min–max) | ferrograd median (min–max) | ratio |",
             "|---|---|---|---|---|"]
    for r in summary:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "—"
        lines.append(f"| {LABELS.get(r['workload'], r['workload'])} | {r['threads']} | "
                     f"{cell(r.get('pytorch'))} | {cell(r.get('ferrograd'))} | {ratio} |")
    return "\n".join(lines)


def machine(runner):
    """The CPU, its core count, PyTorch's version and the load seen during the run: on a
    shared machine a load above the core count makes threaded timings meaningless."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    loads = runner.loads or [float("nan")]
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": runner.torch_version,
            "load_min": min(loads), "load_max": max(loads)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of alternating runs (3)")
    ap.add_argument("--samples", type=int, default=5, help="samples per workload per run (5)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    ap.add_argument("--workloads", default=",".join(TIMED + MEMORY),
                    help="comma-separated workloads (all, W1-W6 then the memory runs)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench"),
                    help="folder for samples.csv, summary.json and table.md (target/bench)")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    args.workloads = args.workloads.split(",")
    unknown = [w for w in args.workloads if w not in TIMED + MEMORY]
    if unknown or args.rounds < 1 or args.samples < 1 or min(args.threads) < 1:
        ap.error(f"bad settings (unknown workloads: {unknown})")

    runner = Runner(args)
    runner.all_rounds()
    summary = runner.summary()
    m = machine(runner)
    text = table(summary) + (
        f"\n\n{m['cpu']}, {m['cores']} cores, PyTorch {m['torch'] or 'not run'}; "
        f"{args.rounds} rounds x {args.samples} samples; 1-minute load average "
        f"{m['load_min']:.1f}–{m['load_max']:.1f} during the run")
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["impl", "workload", "threads", "round", "unit", "value"])
        w.writerows(runner.rows)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"rounds": args.rounds, "samples": args.samples, "machine": m,
                   "results": summary}, f, indent=1)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nsamples, summary and table in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
