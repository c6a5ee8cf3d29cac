"""SPRITES clips (8 frames of 64x64 RGB, 9 action-direction classes) from the NumPy
files its generator writes (github.com/YingzhenLi/Sprites)."""

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

# SPRITES as its generator writes it and the published loaders read it: one file per
# action and direction; the class is 3 * action + direction.
SPRITES_ACTIONS = ("walk", "spellcard", "slash")
SPRITES_DIRECTIONS = ("front", "left", "right")
SPRITES_CLIP_SHAPE = (8, 64, 64, 3)  # frames, height, width, RGB
# Clips converted to float32 per chunk, so a file is never held twice in float.
SPRITES_CHUNK = 256


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


def _open_sprites_file(path: Path, root: Path, layout: str) -> np.ndarray:
    """Memory-map one frames file under the data_dir ``root`` and check its shape and
    dtype (values are checked while converting)."""
    expect_file(path, root, layout, "SPRITES file ")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {one_line(exc)}; expected {layout}") from None
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
            files.append((path, _open_sprites_file(path, root, layout), 3 * a + d))
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
                raise DataError(f"cannot read {path}: {one_line(exc)}; expected {layout}") from None
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
    validation is a stratified share of the official training files. With
    ``cfg.subset``, a stratified sample of the official training clips is split three
    ways (as mnist5k is) and the test files are not read."""
    root = Path(cfg.data_dir)
    x_tr, y_tr = _read_sprites_split(root, "train")
    if cfg.subset:  # drawn from the official training files, split as mnist5k is
        return from_arrays("sprites", x_tr, y_tr, cfg)
    x_te, y_te = _read_sprites_split(root, "test")
    tr, va = stratified_split(np.arange(len(y_tr)), y_tr, cfg.val_fraction, cfg.seed)
    tr, va = np.sort(tr), np.sort(va)
    return DatasetSplits(
        "sprites",
        to_split(x_tr[tr], y_tr[tr]),
        to_split(x_tr[va], y_tr[va]),
        to_split(x_te, y_te),
        len(SPRITES_ACTIONS) * len(SPRITES_DIRECTIONS),
    )
