"""Image grids people can read: upscaled without smoothing, labelled columns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.tracking.image_grids import (
    LABEL_BAND,
    MIN_TILE_SIDE,
    grid_image,
    tile,
    upscale_factor,
)


def test_small_tiles_are_upscaled_to_a_readable_side():
    assert upscale_factor(torch.zeros(1, 1, 8, 8)) == 4  # digits: 8 px -> 32 px
    assert upscale_factor(torch.zeros(1, 1, 28, 28)) == 1  # MNIST is readable as it is
    assert upscale_factor(torch.zeros(1, 3, 64, 64)) == 1
    assert 8 * upscale_factor(torch.zeros(1, 1, 8, 8)) >= MIN_TILE_SIDE


def test_upscaling_is_nearest_neighbour_and_labels_add_a_band():
    images = torch.rand(20, 1, 8, 8)
    plain = grid_image(images, columns=10)
    labelled = grid_image(images, columns=10, labels=[str(c) for c in range(10)])
    pad = 2
    assert plain.size == (10 * (32 + pad) + pad, 2 * (32 + pad) + pad)
    assert labelled.size == (plain.width, plain.height + LABEL_BAND)
    tile = np.asarray(plain)[pad : pad + 32, pad : pad + 32, 0]  # grey tiles are drawn in RGB
    # every 4x4 block holds one source pixel's value: no smoothing
    blocks = tile.reshape(8, 4, 8, 4)
    assert (blocks == blocks[:, :1, :, :1]).all()
    expected = (images[0, 0].numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(blocks[:, 0, :, 0], expected)
    band = np.asarray(labelled)[:LABEL_BAND]
    assert (band < 255).any()  # the labels are drawn
    assert np.array_equal(band[0, 0], [255, 255, 255])  # on white, in every channel
    assert (band.min(axis=2) == band.max(axis=2)).all()  # black on white: no colour


@pytest.mark.parametrize(
    ("shape", "columns"), [((20, 1, 8, 8), 10), ((7, 3, 5, 6), 3), ((2, 1, 4, 4), 5)]
)
def test_tiles_are_laid_out_as_torchvision_lays_them_out(shape, columns):
    from torchvision.utils import make_grid

    images = torch.rand(*shape)
    expected = make_grid(images, nrow=columns, padding=2, pad_value=1.0)
    assert torch.equal(tile(images, columns, padding=2), expected)
