"""``dataset=npz``: the user's images as NumPy arrays in one ``.npz`` file (``data_dir``
is the file, or a folder holding exactly one): ``x`` of shape (N, H, W) or
(N, H, W, C) with C = 1 or 3, uint8 0-255 or float in [0, 1], and optionally ``y``, N
integer labels (any integers, numbered 0.. in sorted order; at least two classes).
Without ``y`` the data is unlabelled (see :mod:`benchmark.data.own` for what that allows,
and for the grey/colour and size rules).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.config import RunConfig, npz_file
from benchmark.data.own import channels_equal, check_aspect, final_side, resize_batch, split_own
from benchmark.data.own import layout_of as own_layout
from benchmark.data.splits import DatasetSplits, one_line
from benchmark.errors import ConfigError, DataError


def _read_arrays(path: Path, layout: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if "x" not in names:
                raise DataError(
                    f"{path} has no array x (it holds {', '.join(names) or 'nothing'}); "
                    f"expected {layout}"
                )
            return archive["x"], (archive["y"] if "y" in names else None)
    except (OSError, ValueError, EOFError, KeyError) as exc:  # not a zip, pickled objects
        raise DataError(f"cannot read {path}: {one_line(exc)}; expected {layout}") from None


def _check_images(x: np.ndarray, path: Path, layout: str) -> np.ndarray:
    """``x`` as (N, C, H, W) in its own dtype, after checking shape, dtype and range."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] == 0:
        raise DataError(f"{path}: x has shape {tuple(x.shape)}; expected {layout}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{path}: x has dtype {x.dtype}; expected {layout}")
    if x.dtype != np.uint8 and not (x.min() >= 0.0 and x.max() <= 1.0):  # NaN fails too
        raise DataError(f"{path}: x has values outside [0, 1]; expected {layout}")
    check_aspect(int(x.shape[1]), int(x.shape[2]), f"{path}: every image of x")
    return x.transpose(0, 3, 1, 2)


def _check_labels(y: np.ndarray, n: int, path: Path, layout: str) -> np.ndarray:
    """``y`` numbered 0..K-1 in the sorted order of its values."""
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"{path}: y has shape {tuple(y.shape)} but x holds {n} images; expected {layout}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y has dtype {y.dtype}; expected {layout}")
    classes, numbered = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{path}: y holds one class ({classes[0]}); expected {layout} (leave y out for "
            "images without labels)"
        )
    return numbered.astype(np.int64)


def load_npz(cfg: RunConfig) -> DatasetSplits:
    """``dataset=npz``: arrays ``x`` and optional ``y`` from one file, resized and split."""
    try:
        path = npz_file(Path(cfg.data_dir))
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    layout = own_layout("npz", path)
    x, y = _read_arrays(path, layout)
    x = _check_images(x, path, layout)
    labels = None if y is None else _check_labels(y, len(x), path, layout)
    grey = x.shape[1] == 1 or channels_equal(x.transpose(0, 2, 3, 1))
    if grey and x.shape[1] == 3:
        x = x[:, :1]
    side = final_side(cfg, grey, str(path))
    return split_own("npz", resize_batch(x, side), labels, cfg, str(path))
