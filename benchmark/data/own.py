"""What the user's own images (``dataset=folder`` and ``dataset=npz``) share: the grey
or colour rule, the square they are resized to, and how they are split.

- Grey or colour: the data is grey when every image is (a single-channel image, or a
  colour one whose three channels are equal at every pixel); one colour image makes the
  whole dataset RGB (grey images then repeat their channel three times).
- Size: every image is resized (bilinear, antialiased) to ``image_size`` x
  ``image_size``; by default 28 for grey data (the published MLP's MNIST input) and 64
  for colour (the published convolutional model's input). Colour sizes must be a
  multiple of 16 (the convolutional model halves the side four times).
- Shape: images of any size are accepted, as long as they are nearly square (the longer
  side at most MAX_ASPECT times the shorter): a resize to a square stretches the rest.
- Splits: stratified by class from the seed when there are labels, a seeded shuffle
  when there are none (see :mod:`benchmark.data.splits`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.config import IMAGE_SIZE_AUTO, RunConfig, refuse_unlabelled
from benchmark.data.splits import DatasetSplits, from_arrays, from_unlabelled_arrays
from benchmark.errors import ConfigError, DataError
from benchmark.models.vaes import CONV_SIDE_MULTIPLE

GREY_SIDE = 28  # MNIST's side: the published MLP's input
COLOUR_SIDE = 64  # EuroSAT's side: the published convolutional model's input
# Longest side / shortest side accepted (our choice): a 5:4 photo squashed to a square is
# still recognisable; a wider image should be cropped by the user, not stretched here.
MAX_ASPECT = 1.25
# Images resized per chunk, so a large npz file is never held twice in float.
RESIZE_CHUNK = 512


def default_sides(cfg: RunConfig, grey: bool) -> tuple[int, ...]:
    """The sides an image may end at: ``image_size`` when set; else, for a grey image,
    both defaults (the dataset may still turn out to be colour), for a colour one 64."""
    if cfg.image_size != IMAGE_SIZE_AUTO:
        return (cfg.image_size,)
    return (GREY_SIDE, COLOUR_SIDE) if grey else (COLOUR_SIDE,)


def final_side(cfg: RunConfig, grey: bool, source: str) -> int:
    """The side of the dataset's images; a colour size the convolutional model cannot
    take is one line naming ``source``."""
    if cfg.image_size == IMAGE_SIZE_AUTO:
        return GREY_SIDE if grey else COLOUR_SIDE
    if not grey and cfg.image_size % CONV_SIDE_MULTIPLE:
        raise DataError(
            f"{source} holds colour images: image_size={cfg.image_size} must be a multiple of "
            f"{CONV_SIDE_MULTIPLE} for the convolutional model (e.g. 32, 64, 96)"
        )
    return cfg.image_size


def check_aspect(height: int, width: int, what: str) -> None:
    """Refuse an image (or array of images) that is far from square."""
    if min(height, width) < 1 or max(height, width) > MAX_ASPECT * min(height, width):
        raise DataError(
            f"{what} is {width}x{height} (width x height); images are resized to a square, so "
            f"the longer side may be at most {MAX_ASPECT} times the shorter: crop them first"
        )


def channels_equal(rgb: np.ndarray) -> bool:
    """Whether an (..., 3) colour array is grey: its three channels equal everywhere."""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def resize_batch(x: np.ndarray, side: int) -> np.ndarray:
    """Images (N, C, H, W), uint8 or float in [0, 1], as float32 (N, C, side, side) in
    [0, 1] (bilinear, antialiased as PIL resizes); unchanged sizes are only converted."""
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    if tuple(x.shape[2:]) == (side, side):
        out = np.asarray(x, dtype=np.float32)
        return out / np.float32(scale) if scale != 1.0 else out
    out = np.empty((x.shape[0], x.shape[1], side, side), dtype=np.float32)
    for i in range(0, x.shape[0], RESIZE_CHUNK):
        chunk = torch.from_numpy(np.asarray(x[i : i + RESIZE_CHUNK], dtype=np.float32) / scale)
        resized = F.interpolate(
            chunk, size=(side, side), mode="bilinear", antialias=True, align_corners=False
        )
        out[i : i + len(chunk)] = resized.clamp_(0.0, 1.0).numpy()
    return out


def split_own(
    name: str, x: np.ndarray, y: np.ndarray | None, cfg: RunConfig, source: str
) -> DatasetSplits:
    """Images (N, C, S, S) and their labels (None: unlabelled) as the three splits."""
    if y is not None:
        return from_arrays(name, x, y, cfg)
    try:  # validated with the config too; checked again for callers that skip it
        refuse_unlabelled(cfg, source)
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    return from_unlabelled_arrays(name, x, cfg)


def layout_of(dataset: str, root: Path) -> str:
    """The layout a loader of the user's images expects, for error messages."""
    if dataset == "folder":
        return (
            f"{root}/<class>/*.png|jpg|jpeg (torchvision's ImageFolder layout: one folder per "
            "class, at least 2 classes, 8-bit grey or colour images)"
        )
    return (
        "an .npz file with an array x of shape (N, H, W) or (N, H, W, C), C = 1 or 3, uint8 "
        "0-255 or float in [0, 1], and optionally y, N integer labels of at least 2 classes"
    )
