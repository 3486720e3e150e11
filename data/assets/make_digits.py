"""Re-encodes scikit-learn's copy of the UCI 8x8 digits as gzip IDX files (see README.md).

python -m venv /tmp/stenv && /tmp/stenv/bin/pip install scikit-learn numpy
/tmp/stenv/bin/python data/assets/make_digits.py
"""

import gzip
import os

import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
here = os.path.dirname(os.path.abspath(__file__))


def idx(arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.tobytes()


for name, arr in [
    ("digits-images-idx3-ubyte.gz", d.images.astype(np.uint8)),
    ("digits-labels-idx1-ubyte.gz", d.target.astype(np.uint8)),
]:
    with gzip.GzipFile(os.path.join(here, name), "wb", mtime=0) as f:
        f.write(idx(arr))
print("class counts:", np.bincount(d.target))
