"""EuroSAT RGB in torchvision's folder layout (27,000 64x64 JPEGs in 10 class folders),
downloaded there by torchvision when asked."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm.auto import tqdm

from benchmark.config import RunConfig
from benchmark.data.idx import prepare_download
from benchmark.data.splits import DatasetSplits, expect_folder, from_arrays, one_line
from benchmark.errors import DataError

# EuroSAT RGB (torchvision's layout): <data_dir>/eurosat/2750/<ClassName>/*.jpg, 64x64.
EUROSAT_SIDE = 64
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Image folders with at least this many files show a progress bar while they are read.
PROGRESS_MIN_FILES = 2000

T = TypeVar("T")


def read_in_threads(read: Callable[[Path], T], paths: Sequence[Path], desc: str) -> list[T]:
    """``read`` applied to every path in threads (PIL decodes outside the GIL: 27,000
    small JPEGs take seconds), with a progress bar for folders of PROGRESS_MIN_FILES
    files or more (tens of seconds on a small CPU)."""
    workers = min(16, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            tqdm(
                pool.map(read, paths),
                total=len(paths),
                desc=desc,
                unit="image",
                leave=False,
                disable=len(paths) < PROGRESS_MIN_FILES,
            )
        )


def eurosat_layout(root: Path) -> str:
    """The folder layout the EuroSAT loader expects, for error messages."""
    return (
        f"{root}/eurosat/2750/<ClassName>/*.jpg with {EUROSAT_SIDE}x{EUROSAT_SIDE} RGB images "
        "(torchvision's EuroSAT layout)"
    )


def _read_eurosat_image(path: Path, layout: str) -> np.ndarray:
    """One image as uint8 (64, 64, 3) in RGB order; any problem names the file."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            size, mode = img.size, img.mode
            if size == (EUROSAT_SIDE, EUROSAT_SIDE) and mode == "RGB":
                return np.asarray(img, dtype=np.uint8)
    except IsADirectoryError:  # named as an image, so meant as one: not skipped in silence
        raise DataError(f"{path} is a folder, not a file; expected {layout}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's errors for bad files
        raise DataError(f"cannot read image {path}: {one_line(exc)}; expected {layout}") from None
    raise DataError(f"image {path} is {size[0]}x{size[1]} {mode}; expected {layout}")


def _download_eurosat(root: Path) -> None:
    import torchvision

    prepare_download(root, "eurosat")
    try:
        torchvision.datasets.EuroSAT(root=str(root), download=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "no files"
        raise DataError(
            f"cannot download eurosat into {root} ({type(exc).__name__}: {one_line(exc)}); "
            f"check the network, or place the files as {eurosat_layout(root)} and set "
            "download=false"
        ) from None


def read_eurosat_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All images under ``<root>/eurosat/2750`` as uint8 (N, 3, 64, 64), their labels
    (the index of the class folder in sorted order, as torchvision's ImageFolder numbers
    them) and the class names."""
    layout = eurosat_layout(root)
    folder = root / "eurosat" / "2750"
    expect_folder(folder, root, layout)
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise DataError(f"{folder} has {len(classes)} class folders; expected {layout}")
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = sorted(f for f in (folder / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {folder / name} has no images; expected {layout}")
        paths += files
        labels += [label] * len(files)
    images = read_in_threads(
        lambda p: _read_eurosat_image(p, layout), paths, "reading EuroSAT images"
    )
    x = np.stack(images).transpose(0, 3, 1, 2)  # (N, H, W, RGB) -> (N, RGB, H, W)
    return x, np.asarray(labels, dtype=np.int64), classes


def load_eurosat(cfg: RunConfig) -> DatasetSplits:
    """EuroSAT RGB (27,000 64x64 satellite images, 10 land-use classes) from torchvision's
    layout, downloaded there by torchvision when ``cfg.download``. There is no official
    test set: the three splits are stratified from the seed, as for mnist5k."""
    root = Path(cfg.data_dir)
    if cfg.download:
        _download_eurosat(root)
    x, y, _ = read_eurosat_folder(root)
    return from_arrays("eurosat", x, y, cfg)
