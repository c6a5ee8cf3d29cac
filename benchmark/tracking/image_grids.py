"""Image grids as PNG files people can read: tiles upscaled without smoothing to a
readable size, one column per class with the class written above it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

# Each tile is upscaled by a whole factor (nearest neighbour, so pixels stay pixels)
# until its shorter side is at least this many screen pixels (digits: 8 px -> 32 px).
MIN_TILE_SIDE = 28
LABEL_BAND = 14  # pixels above the grid for the class labels


def upscale_factor(images: torch.Tensor, min_side: int = MIN_TILE_SIDE) -> int:
    """The whole factor that brings the tiles' shorter side to at least ``min_side``."""
    side = min(int(images.shape[-1]), int(images.shape[-2]))
    return max(1, -(-min_side // side))


def tile(images: torch.Tensor, columns: int, padding: int = 2) -> torch.Tensor:
    """``images`` (N, C, H, W) laid out ``columns`` per row on a white (1.0) canvas with
    ``padding`` pixels around every tile, grey repeated to three channels: the layout of
    torchvision's ``make_grid``. Written here because importing torchvision (it imports
    torch._dynamo) adds seconds to every grid-search worker process's start-up
    (``scripts/bench_worker_startup.py``), and a worker needs nothing else of it."""
    n, channels, height, width = images.shape
    if channels == 1:
        images = images.expand(n, 3, height, width)
    cols = min(columns, n)
    rows = -(-n // cols)
    step_y, step_x = height + padding, width + padding
    canvas = images.new_ones(images.shape[1], rows * step_y + padding, cols * step_x + padding)
    for i in range(n):
        y, x = (i // cols) * step_y + padding, (i % cols) * step_x + padding
        canvas[:, y : y + height, x : x + width] = images[i]
    return canvas


def grid_image(
    images: torch.Tensor, columns: int, labels: list[str] | None = None, padding: int = 2
) -> Image.Image:
    """A PIL image of ``images`` (N, C, H, W) in [0, 1], ``columns`` per row, each tile
    upscaled by :func:`upscale_factor`; ``labels`` (one per column) go in a band above."""
    factor = upscale_factor(images)
    tiles = images.detach().float().cpu().clamp(0, 1)
    if factor > 1:
        tiles = F.interpolate(tiles, scale_factor=factor, mode="nearest")
    grid = tile(tiles, columns, padding)
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    picture = Image.fromarray(array if array.shape[2] == 3 else array[:, :, 0])
    if not labels:
        return picture
    canvas = Image.new(picture.mode, (picture.width, picture.height + LABEL_BAND), "white")
    canvas.paste(picture, (0, LABEL_BAND))
    draw = ImageDraw.Draw(canvas)
    step = tiles.shape[-1] + padding
    for c, text in enumerate(labels[:columns]):
        draw.text((padding + c * step + 2, 1), text, fill="black")
    return canvas


def save_grid(
    path: Path | str, images: torch.Tensor, columns: int, labels: list[str] | None = None
) -> None:
    """Write :func:`grid_image` as a PNG."""
    grid_image(images, columns, labels).save(path)
