"""The split types every loader returns and the deterministic splitting they share.

Labelled data is split stratified by class from the seed; unlabelled data (an ``npz``
file without ``y``) by a seeded shuffle, and its label tensors hold :data:`UNLABELLED`
in every place, so code that only indexes labels (samples, grids) keeps working while
the label metrics say "not available" (see :mod:`benchmark.metrics.clustering`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from benchmark.config import RunConfig
from benchmark.errors import DataError
from benchmark.metrics.clustering import UNLABELLED as UNLABELLED


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
    """The three splits of one dataset plus what the model needs to know about it.

    ``labelled`` is false for data without labels: then every label is
    :data:`UNLABELLED` and ``n_classes`` is 0."""

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int
    labelled: bool = True
    # With ``subset``: the drawn images' indices into the pool they were drawn from (the
    # official training files where there is an official test set, else every image),
    # sorted; None for the whole dataset.
    subset_indices: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(C, H, W) for images, (C, T, H, W) for clips."""
        return tuple(int(s) for s in self.train.x.shape[1:])

    def to(self, device: torch.device | str) -> DatasetSplits:
        return DatasetSplits(
            self.name,
            self.train.to(device),
            self.val.to(device),
            self.test.to(device),
            self.n_classes,
            self.labelled,
            self.subset_indices,
        )

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def one_line(exc: BaseException) -> str:
    """First line of an exception's message, or its type when it has none."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _no_file_on_the_way(path: Path, root: Path, layout: str) -> None:
    """Refuse a file that stands where one of the folders from ``root`` down to ``path``
    should be (a user who made ``raw`` a file would otherwise read "missing")."""
    for folder in reversed(path.relative_to(root).parents):
        if (root / folder).exists() and not (root / folder).is_dir():
            raise DataError(f"{root / folder} is a file, not a folder; expected {layout}")


def expect_file(path: Path, root: Path, layout: str, what: str = "") -> None:
    """``path`` (under ``root``, the data_dir) is a file, else one DataError line naming
    what is there instead: a folder, a file on the way, or nothing ("missing"). A
    PermissionError from a folder this user may not enter goes on to
    :func:`benchmark.data.load_dataset`, which words it."""
    if path.is_file():
        return
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file; expected {layout}")
    _no_file_on_the_way(path, root, layout)
    raise DataError(f"missing {what}{path}; expected {layout}")


def expect_folder(path: Path, root: Path, layout: str) -> None:
    """``path`` (under ``root``) is a folder, else one DataError line: a file there or on
    the way is named as a file, else the folder "does not exist"."""
    if path.is_dir():
        return
    _no_file_on_the_way(path / "_", root, layout)  # path itself included
    raise DataError(f"{path} does not exist; expected {layout}")


def stratified_three_way(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Stratified train/val/test index split that depends only on the labels and the seed."""
    idx = np.arange(len(y))
    rest, test = stratified_split(idx, y, test_fraction, seed)
    val_share = val_fraction / (1.0 - test_fraction)
    train, val = stratified_split(rest, y[rest], val_share, seed)
    return np.sort(train), np.sort(val), np.sort(test)


def stratified_split(
    idx: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``train_test_split`` stratified by ``y``; too few images per class is a DataError."""
    try:
        return train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(idx)} images of {len(np.unique(y))} classes into stratified "
            f"splits ({one_line(exc)}); every class needs more images"
        ) from None


def shuffled_three_way(
    n: int, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Train/val/test indices of ``n`` unlabelled images from a seeded shuffle (the same
    fractions and the same seed semantics as the stratified split)."""
    idx = np.arange(n)
    try:
        rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed)
        val_share = val_fraction / (1.0 - test_fraction)
        train, val = train_test_split(rest, test_size=val_share, random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot split {n} images into three splits ({one_line(exc)})") from None
    return np.sort(train), np.sort(val), np.sort(test)


def to_split(x: np.ndarray, y: np.ndarray) -> Split:
    """Float32 pixels in [0, 1] (uint8 sources are divided by 255) and long labels."""
    if x.dtype == np.uint8:
        pixels = np.ascontiguousarray(x, dtype=np.float32)
        pixels /= 255.0  # in place: no second float copy
    else:
        pixels = np.ascontiguousarray(x, dtype=np.float32)
    return Split(torch.from_numpy(pixels), torch.as_tensor(y, dtype=torch.long))


def draw_subset(name: str, y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified sample of ``size`` of the labels ``y``, drawn
    with ``seed`` (scikit-learn's stratified ``train_test_split``: each class keeps its
    share, rounded). A size the pool cannot give, or one too small to hold every class, is
    a DataError that says what is allowed."""
    n_classes = int(len(np.unique(y)))
    if size > len(y):
        raise DataError(
            f"subset={size} is larger than {name}'s {len(y)} images to draw from; allowed: "
            f"0 (every image) or up to {len(y)}"
        )
    if size == len(y):
        return np.arange(len(y))
    try:
        chosen, _ = train_test_split(
            np.arange(len(y)), train_size=size, stratify=y, random_state=seed
        )
    except ValueError as exc:
        raise DataError(
            f"cannot draw a stratified subset={size} of {name}'s {len(y)} images of "
            f"{n_classes} classes ({one_line(exc)}); choose a larger subset"
        ) from None
    return np.sort(chosen)


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> DatasetSplits:
    """Labelled images (N, C, H, W) split three ways, stratified from ``cfg.seed``; with
    ``cfg.subset``, a stratified sample of that many (drawn from ``cfg.subset_seed``) is
    split instead, and its indices into ``x`` are kept."""
    chosen = None
    if cfg.subset:
        chosen = draw_subset(name, y, cfg.subset, cfg.subset_seed)
        x, y = x[chosen], y[chosen]
    tr, va, te = stratified_three_way(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    return DatasetSplits(
        name,
        to_split(x[tr], y[tr]),
        to_split(x[va], y[va]),
        to_split(x[te], y[te]),
        int(len(np.unique(y))),
        subset_indices=chosen,
    )


def from_unlabelled_arrays(name: str, x: np.ndarray, cfg: RunConfig) -> DatasetSplits:
    """Unlabelled images (N, C, H, W) split three ways by a seeded shuffle; every label
    is :data:`UNLABELLED`."""
    tr, va, te = shuffled_three_way(len(x), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    y = np.full(len(x), UNLABELLED, dtype=np.int64)
    return DatasetSplits(
        name,
        to_split(x[tr], y[tr]),
        to_split(x[va], y[va]),
        to_split(x[te], y[te]),
        0,
        labelled=False,
    )
