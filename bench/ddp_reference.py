"""PyTorch's half of `ferrograd-bench ddp` (issue 15): images per second of W2's MNIST CNN
trained by W DistributedDataParallel workers on this machine (gloo backend over
loopback, one process per worker), each on its own batch of 32, and the time of an
all-reduce of the whole gradient alone. Prints the line format of `ferrograd-bench ddp`
with impl=pytorch.

    python bench/ddp_reference.py [--workers W] [--steps N] [--batch B] [--threads T]

Needs ``torch`` (CPU is enough); PyTorch is never a dependency of the library or of
``cargo test``.
"""

import argparse
import os
import statistics
import sys
import time


def worker(rank, args, out):
    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.workers)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1 + rank)
    x = torch.rand((args.batch, 1, 28, 28), generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    steps = []
    for s in range(3 + args.steps):
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
        if s >= 3:
            steps.append(time.perf_counter() - start)
    numel = sum(p.numel() for p in model.parameters())
    grads = torch.full((numel,), 0.5)
    reduces = []
    for _ in range(30):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(grads)
        reduces.append(time.perf_counter() - start)
    if rank == 0:
        step = statistics.median(steps)
        out.put(
            f"bench impl=pytorch workload=ddp_w2 backend=gloo workers={args.workers} "
            f"threads={args.threads} batch={args.batch} unit=images/s "
            f"median={args.workers * args.batch / step:.1f} step_ms={step * 1e3:.3f} "
            f"allreduce_ms={statistics.median(reduces) * 1e3:.3f} grad_mb={numel * 4 / 1e6:.2f}"
        )
    dist.destroy_process_group()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    try:
        import torch.multiprocessing as mp
    except ImportError as e:
        print(f"ddp_reference.py: cannot import torch ({e})", file=sys.stderr)
        return 3
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    mp.spawn(worker, args=(args, out), nprocs=args.workers, join=True)
    print(out.get())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
