"""PyTorch's half of the attention workloads of ferrograd-bench (bench/src/attention.rs):
causal F.scaled_dot_product_attention forward + backward on [8, 4, L, 16] float32 inputs,
milliseconds per step (median of 7 samples), at 1 and 2 threads.

    /work/venv/bin/python bench/attention_reference.py
"""

import statistics
import time

import torch
import torch.nn.functional as F


def step(q, k, v, w):
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (out * w).sum().backward()


def bench(length, threads, warmup, reps, samples=7):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(4)
    q, k, v, w = (torch.rand(8, 4, length, 16, generator=g) * 2 - 1 for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)
    for _ in range(warmup):
        step(q, k, v, w)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(reps):
            step(q, k, v, w)
        times.append((time.perf_counter() - start) / reps * 1e3)
    return statistics.median(times)


def main():
    print(f"# torch {torch.__version__}")
    for length, warmup, reps in [(64, 5, 20), (256, 2, 5)]:
        for threads in (1, 2):
            ms = bench(length, threads, warmup, reps)
            print(f"bench impl=pytorch workload=attn_s{length} threads={threads} unit=ms median={ms:.6f}")


if __name__ == "__main__":
    main()
