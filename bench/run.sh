#!/usr/bin/env bash
# Issue 11's side-by-side benchmark: builds ferrograd-bench, then runs it and
# bench/pytorch_reference.py alternately over several rounds at 1 and 2 threads and prints
# the table (medians, min-max, ratio). Options go to bench/run.py (--rounds, --samples,
# --threads, --workloads, --out); the PyTorch script runs under $BENCH_PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 cargo build --release -p ferrograd-bench
exec python3 bench/run.py "$@"
