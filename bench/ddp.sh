#!/usr/bin/env bash
# Issue 15's data-parallel benchmark: images/s of W2's MNIST CNN (batch 32 per worker) at
# 1 and 2 workers, as threads and as MPI ranks (when Open MPI is installed), against one
# worker on 2 kernel threads and, with $BENCH_PYTHON's torch, PyTorch DDP (gloo), in
# interleaved rounds. Prints every line of `ferrograd-bench ddp` / bench/ddp_reference.py.
#     bench/ddp.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-30}
features=()
if command -v mpirun >/dev/null; then features=(--features mpi); fi
cargo build --release -p ferrograd-bench "${features[@]}" >&2
bench=target/release/ferrograd-bench
python=${BENCH_PYTHON:-python3}
torch=no
if "$python" -c 'import torch' 2>/dev/null; then torch=yes; fi
echo "# $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) before"
for round in $(seq "$rounds"); do
    echo "# round $round"
    for w in 1 2; do
        "$bench" ddp --workers "$w" --steps "$steps"
        if [ ${#features[@]} -gt 0 ]; then
            mpirun --allow-run-as-root --oversubscribe -np "$w" "$bench" ddp --mpi --steps "$steps"
        fi
        if [ "$torch" = yes ]; then
            "$python" bench/ddp_reference.py --workers "$w" --steps "$steps"
        fi
    done
    "$bench" ddp --workers 1 --threads 2 --steps "$steps"
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) after"
