#!/usr/bin/env python3
"""The PyTorch half of issue 11's side-by-side benchmark.

The same workloads, shapes, warm-up and sample plan as ``ferrograd-bench``
(bench/src/workloads.rs), printing the same line format:

    bench impl=pytorch workload=w1_b128 threads=1 unit=ms median=... min=... max=... n=7 samples=...

Usage: pytorch_reference.py [--threads N] [--samples N] [WORKLOAD ...]   (default: all)

The thread count (``--threads``, else FERROGRAD_NUM_THREADS, else 1) goes to
``torch.set_num_threads``. Needs ``torch`` (CPU is enough); PyTorch is never a
dependency of the library or of ``cargo test``: install it in a virtual
environment outside the repository (see the README's Benchmarks section).
"""

import os
import statistics
import sys
import time

WORKLOADS = ["w1_b128", "w1_b32", "w2", "w3", "w4", "w5", "w6", "mem_base", "mem_w1", "mem_w2"]
USAGE = "usage: pytorch_reference.py [--threads N] [--samples N] [WORKLOAD ...]"


def parse(argv):
    """Threads, samples and workload names from the command line."""
    threads = int(os.environ.get("FERROGRAD_NUM_THREADS", "1"))
    samples = 7
    names = []
    it = iter(argv)
    for a in it:
        if a in ("--threads", "--samples"):
            v = int(next(it))
            if v <= 0:
                raise SystemExit(f"{a} must be a positive integer\n{USAGE}")
            if a == "--threads":
                threads = v
            else:
                samples = v
        elif a == "all":
            names += [w for w in WORKLOADS if not w.startswith("mem_")]
        elif a in WORKLOADS:
            names.append(a)
        else:
            raise SystemExit(f"unknown workload or option `{a}`\n{USAGE}")
    if not names:
        names = [w for w in WORKLOADS if not w.startswith("mem_")]
    return threads, samples, names


def time_per_call(warmup, samples, reps, f):
    """`samples` samples of the mean seconds per call over `reps` calls, after `warmup`."""
    for _ in range(warmup):
        f()
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(reps):
            f()
        out.append((time.perf_counter() - start) / reps)
    return out


def peak_rss_mib():
    """This process's peak resident set size (VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv):
    threads, samples, names = parse(argv)
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        print(f"pytorch_reference.py: cannot import torch ({e})", file=sys.stderr)
        return 3
    torch.set_num_threads(threads)

    def random_batch(shape, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.rand(shape, generator=g), torch.randint(0, 10, (shape[0],), generator=g)

    def mlp():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def cnn():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(9216, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    class LstmHead(nn.Module):
        """One LSTM layer, a linear head on the last hidden state."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, 1, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    def lstm():
        torch.manual_seed(0)
        return LstmHead()

    class TrainStep:
        def __init__(self, model, shape):
            self.model = model
            self.opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            self.x, self.y = random_batch(shape, 1)

        def step_on(self, x, y):
            self.opt.zero_grad()
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.opt.step()
            return loss.item()

        def step(self):
            return self.step_on(self.x, self.y)

        def time(self, warmup, reps):
            return time_per_call(warmup, samples, reps, self.step)

    def op_overhead():
        ops = 1000
        x0 = torch.linspace(-1.0, 1.0, 16)
        c = torch.full((16,), 0.5)

        def chain():
            x = x0.clone().requires_grad_(True)
            y = x
            for i in range(ops):
                r = i % 3
                y = y + c if r == 0 else (y * c if r == 1 else torch.tanh(y))
            y.sum().backward()
            return x.grad

        return [s * 1e6 / ops for s in time_per_call(5, samples, 20, chain)]

    def matmul_gflops(n):
        g = torch.Generator().manual_seed(2)
        a = torch.rand((n, n), generator=g) * 2 - 1
        b = torch.rand((n, n), generator=g) * 2 - 1
        with torch.no_grad():
            secs = time_per_call(1, samples, 3, lambda: torch.matmul(a, b))
        return [2.0 * n**3 / s / 1e9 for s in secs]

    def mlp_epoch(n, batch):
        # As ferrograd's W6: each sample is the first epoch of a fresh model, shuffled,
        # batches gathered by index.
        x, y = random_batch((n, 784), 3)
        g = torch.Generator().manual_seed(0)
        out = []
        for _ in range(samples):
            t = TrainStep(mlp(), (batch, 784))
            perm = torch.randperm(n, generator=g)
            start = time.perf_counter()
            for i in range(0, n, batch):
                idx = perm[i:i + batch]
                t.step_on(x[idx], y[idx])
            out.append(time.perf_counter() - start)
        return out

    def peak_memory(t, steps):
        for _ in range(steps):
            t.step()
        return [peak_rss_mib()]

    ms = lambda v: ("ms", [s * 1e3 for s in v])  # noqa: E731
    run = {
        "w1_b128": lambda: ms(TrainStep(mlp(), (128, 784)).time(10, 20)),
        "w1_b32": lambda: ms(TrainStep(mlp(), (32, 784)).time(10, 50)),
        "w2": lambda: ms(TrainStep(cnn(), (32, 1, 28, 28)).time(3, 3)),
        "w3": lambda: ("us", op_overhead()),
        "w4": lambda: ms(TrainStep(lstm(), (64, 28, 28)).time(2, 2)),
        "w5": lambda: ("GFLOP/s", matmul_gflops(1024)),
        "w6": lambda: ("s", mlp_epoch(60_000, 128)),
        "mem_base": lambda: ("MiB", [peak_rss_mib()]),
        "mem_w1": lambda: ("MiB", peak_memory(TrainStep(mlp(), (128, 784)), 30)),
        "mem_w2": lambda: ("MiB", peak_memory(TrainStep(cnn(), (32, 1, 28, 28)), 10)),
    }
    print(f"# pytorch_reference threads={threads} samples={samples} torch={torch.__version__}")
    for name in names:
        unit, xs = run[name]()
        print(
            f"bench impl=pytorch workload={name} threads={threads} unit={unit} "
            f"median={statistics.median(xs):.6f} min={min(xs):.6f} max={max(xs):.6f} "
            f"n={len(xs)} samples={','.join(f'{x:.6f}' for x in xs)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
