#!/usr/bin/env python3
"""PyTorch's side of tutorials 03 (MLP) and 04 (CNN) on MNIST (issue 13).

Trains the same two models as `examples/03_digits_mlp.rs` and `examples/04_digits_cnn.rs`
on exactly the same rows of the MNIST test set, and prints test accuracy and training
time per seed, so the examples' figures can be put side by side with PyTorch's:

  mlp  Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10); 10 epochs
  cnn  Conv(32, 3x3) -> ReLU -> MaxPool(2) -> Conv(64, 3x3) -> ReLU -> MaxPool(2)
       -> Conv(64, 3x3) -> ReLU -> Flatten -> Linear(576, 64) -> ReLU -> Linear(64, 10); 5 epochs

both with Adam (lr 1e-3), batches of 32 reshuffled every epoch, cross-entropy on logits,
PyTorch's default initialisation (which ferrograd's layers copy), pixels scaled to [0, 1].

The rows. ferrograd's `train_test_split` (stratified, seed 42) shuffles with Rust's
`StdRng`, which Python cannot reproduce, so this script does not recompute the split: it
reads the row indices the Rust example writes when it runs on the MNIST test set,
`split_train.txt` (the 7,200 rows `fit` trains on), `split_val.txt` (the 800 rows it
validates on after every epoch) and `split_test.txt` (the 2,000 test rows), one index into
the `t10k` files per line. Make them first with

    cargo run --release --example 03_digits_mlp -- --mnist ../shared/data/mnist

(04 writes the same three files into its own folder). Their SHA-1 sums are printed, so a
reader can check that both sides used the same rows.

Two set-ups are run:
  same-rows   what the examples do: train on split_train, evaluate split_val after every
              epoch (inside the timed loop, as ferrograd's `fit` does), score split_test once.
  issue       the set-up of issue 13's accuracy figures: train on all 8,000 training rows
              (split_train + split_val), no validation, score split_test once.

Timing is the training loop only (batches, optimizer steps, per-epoch validation), with
`torch.set_num_threads(THREADS)` and OpenMP's waiting threads passive (see below;
`--omp-default` measures PyTorch's default instead); loading and the test evaluation are
outside it. Batches are cut from a `torch.randperm` of in-memory tensors, not a
`DataLoader` (whose per-sample collation would slow PyTorch down for reasons that have
nothing to do with the model).

Usage:
    reference.py [--mnist DIR] [--split DIR] [--seeds 0 1 2] [--threads 2]
                 [--models mlp cnn] [--setups same-rows issue] [--omp-default]

Defaults: --mnist $MNIST_DIR or ../shared/data/mnist, --split target/examples/03_digits_mlp
(paths relative to the repository root, where it is meant to be run from).
Needs torch and numpy (CPU is enough); they are never dependencies of the project.
The committed output is bench/tutorials/reference.txt.
"""

import argparse
import gzip
import hashlib
import os
import platform
import statistics
import struct
import sys
import time

# OpenMP's threads spin while they wait for work. On a machine whose cores are busy with
# other processes that made PyTorch at 2 threads 10-20x slower than at 1 (about 40 ms instead
# of 2.5 ms per MLP step, 220 ms instead of 27 per CNN step, measured here); waiting passively
# removes that trap. It must be set before torch loads its OpenMP runtime.
if "--omp-default" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

EPOCHS = {"mlp": 10, "cnn": 5}
BATCH = 32
LR = 1e-3


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not an IDX file of bytes"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"no {stem}[.gz] in {directory}")


def load_mnist_test(directory):
    """The 10,000 test images as [N, 1, 28, 28] float32 in [0, 1], and their labels."""
    images = read_idx(find(directory, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(directory, "t10k-labels-idx1-ubyte"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def read_rows(directory, part):
    path = os.path.join(directory, f"split_{part}.txt")
    if not os.path.exists(path):
        raise SystemExit(
            f"{path} is missing: run `cargo run --release --example 03_digits_mlp -- "
            "--mnist DIR` first (see this script's docstring)"
        )
    with open(path, "rb") as f:
        text = f.read()
    rows = [int(line) for line in text.split()]
    return torch.tensor(rows, dtype=torch.int64), hashlib.sha1(text).hexdigest()


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10),
    )


@torch.no_grad()
def accuracy(model, x, y, batch=256):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum().item()
    model.train()
    return correct / len(x)


def train(kind, seed, x_train, y_train, val):
    """Trains a fresh model; returns it and the seconds the training loop took."""
    torch.manual_seed(seed)
    model = {"mlp": mlp, "cnn": cnn}[kind]()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(seed)
    n = len(x_train)
    started = time.perf_counter()
    for _ in range(EPOCHS[kind]):
        model.train()
        for idx in torch.randperm(n, generator=order).split(BATCH):
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if val is not None:
            accuracy(model, *val)
    return model, time.perf_counter() - started


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mnist", default=os.environ.get("MNIST_DIR", "../shared/data/mnist"))
    p.add_argument("--split", default="target/examples/03_digits_mlp")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", choices=["mlp", "cnn"], default=["mlp", "cnn"])
    p.add_argument("--setups", nargs="+", choices=["same-rows", "issue"],
                   default=["same-rows", "issue"])
    p.add_argument("--omp-default", action="store_true",
                   help="leave OMP_WAIT_POLICY as it is (libgomp spins by default)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    x, y = load_mnist_test(args.mnist)
    rows = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"load average {loadavg()} at start")
    for part in ("train", "val", "test"):
        rows[part], sha = read_rows(args.split, part)
        print(f"split_{part}.txt: {len(rows[part])} rows, sha1 {sha}")
    assert len(set(torch.cat(list(rows.values())).tolist())) == len(x), "the rows must partition the set"

    x_test, y_test = x[rows["test"]], y[rows["test"]]
    summary = []
    for setup in args.setups:
        if setup == "same-rows":
            fit_rows = rows["train"]
            val = (x[rows["val"]], y[rows["val"]])
        else:
            fit_rows = torch.cat([rows["train"], rows["val"]])
            val = None
        x_train, y_train = x[fit_rows], y[fit_rows]
        for kind in args.models:
            accs, secs = [], []
            for seed in args.seeds:
                model, seconds = train(kind, seed, x_train, y_train, val)
                acc = accuracy(model, x_test, y_test)
                accs.append(acc)
                secs.append(seconds)
                print(f"setup={setup} model={kind} seed={seed} train_rows={len(x_train)} "
                      f"val_rows={0 if val is None else len(val[0])} epochs={EPOCHS[kind]} "
                      f"test_accuracy={100 * acc:.2f}% train_seconds={seconds:.1f} "
                      f"load={loadavg()}", flush=True)
            summary.append(
                f"{setup:9} {kind}: test accuracy {100 * statistics.mean(accs):.2f}% "
                f"({100 * min(accs):.2f}-{100 * max(accs):.2f}), training "
                f"{statistics.mean(secs):.1f} s ({min(secs):.1f}-{max(secs):.1f}) "
                f"over seeds {' '.join(map(str, args.seeds))}")
    print(f"load average {loadavg()} at end")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
