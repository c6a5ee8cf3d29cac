"""MNIST-format datasets (mnist, fashion-mnist) in torchvision's layout of idx files,
downloaded there by torchvision when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.config import RunConfig
from benchmark.data.splits import (
    DatasetSplits,
    expect_file,
    from_arrays,
    one_line,
    stratified_split,
    to_split,
)
from benchmark.errors import DataError


def prepare_download(root: Path, name: str) -> None:
    """Create ``root`` for a download; a failure is one DataError line."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create data_dir {root} to download {name}: {one_line(exc)}"
        ) from None


def read_idx(path: Path, images: bool, layout: str, root: Path) -> np.ndarray:
    """One idx file (torchvision's reader) under the data_dir ``root`` as uint8; any
    problem names the file."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    expect_file(path, root, layout)
    try:
        data = (read_image_file if images else read_label_file)(str(path))
    except (RuntimeError, OSError, ValueError, AssertionError, TypeError, IndexError) as exc:
        # torchvision checks the idx magic number with `assert` (no message)
        raise DataError(f"cannot read {path}: {one_line(exc)}; expected {layout}") from None
    if images and tuple(data.shape[1:]) != (28, 28):
        raise DataError(
            f"{path} holds {data.shape[1]}x{data.shape[2]} images; expected 28x28 in {layout}"
        )
    return data.numpy().astype(np.uint8 if images else np.int64)


def load_torchvision_mnist_like(
    name: str, folder: str, cls_name: str, cfg: RunConfig
) -> DatasetSplits:
    """MNIST-format datasets in torchvision's layout: ``<data_dir>/<folder>/raw/*-ubyte``
    (downloaded there by torchvision when ``cfg.download``).

    The official test set is the test split; validation is a stratified share of
    the official training set. With ``cfg.subset`` a stratified sample of the official
    training set is split three ways instead (as mnist5k is), and the test files are
    not read.
    """
    root = Path(cfg.data_dir)
    raw = root / folder / "raw"
    layout = f"{raw}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
    if cfg.download:
        import torchvision

        prepare_download(root, name)
        try:  # downloads only what is missing
            getattr(torchvision.datasets, cls_name)(root=str(root), train=True, download=True)
        except Exception as exc:  # noqa: BLE001 - any failure here means "no files"
            raise DataError(
                f"cannot download {name} into {root} ({type(exc).__name__}: {one_line(exc)}); "
                f"check the network, or place the files as {layout} and set download=false"
            ) from None
    splits = {}
    # a subset is drawn from the official training files and split as mnist5k is
    for split in ("train",) if cfg.subset else ("train", "t10k"):
        x = read_idx(raw / f"{split}-images-idx3-ubyte", True, layout, root)
        y = read_idx(raw / f"{split}-labels-idx1-ubyte", False, layout, root)
        if len(x) != len(y):
            raise DataError(
                f"{raw}/{split}-images-idx3-ubyte has {len(x)} images but "
                f"{split}-labels-idx1-ubyte {len(y)} labels; expected {layout}"
            )
        splits[split] = (x[:, None], y)
    x_tr, y_tr = splits["train"]
    if cfg.subset:
        return from_arrays(name, x_tr, y_tr, cfg)
    tr, va = stratified_split(np.arange(len(y_tr)), y_tr, cfg.val_fraction, cfg.seed)
    tr, va = np.sort(tr), np.sort(va)
    return DatasetSplits(
        name,
        to_split(x_tr[tr], y_tr[tr]),
        to_split(x_tr[va], y_tr[va]),
        to_split(*splits["t10k"]),
        int(len(np.unique(y_tr))),
    )
