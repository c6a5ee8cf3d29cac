"""``dataset=folder``: the user's images in torchvision's ImageFolder layout,
``<data_dir>/<class>/*.png|jpg|jpeg``, labelled by their class folder (sorted names,
numbered from 0 as ImageFolder numbers them). Grey or colour, any nearly square size:
see :mod:`benchmark.data.own` for the rules.

Files with other suffixes, and hidden files and folders (names starting with ``.``:
``.DS_Store``, macOS's ``._name.png``), are skipped; images in sub-folders of a class
folder belong to that class. A folder named like an image (``a.png/``) is refused, not
skipped: its name says the user meant an image there. A class folder, or a sub-folder,
this user may not read is refused too (a walk that skipped it would lose its images
in silence).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.config import RunConfig
from benchmark.data.eurosat import IMAGE_SUFFIXES, read_in_threads
from benchmark.data.own import channels_equal, check_aspect, default_sides, final_side, split_own
from benchmark.data.own import layout_of as own_layout
from benchmark.data.splits import DatasetSplits, one_line
from benchmark.errors import DataError

# PIL modes read as grey or as colour; others (16-bit, 32-bit integer and float pixels)
# are refused rather than guessed at (their value range is not known).
GREY_MODES = ("1", "L", "LA")
COLOUR_MODES = ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


@dataclass
class _Image:
    """One image read at the sides it may end at: (S, S) grey or (S, S, 3) colour."""

    grey: bool
    by_side: dict[int, np.ndarray]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _refuse(exc: OSError) -> None:
    """``os.walk``'s error hook: raise what it would skip (a folder it cannot list)."""
    raise exc


def _class_files(folder: Path, layout: str) -> list[Path]:
    """The images of one class folder (its visible sub-folders too), in sorted order.
    ``os.walk`` with errors raised, not ``Path.rglob``: rglob skips a sub-folder it may
    not list without a word (Python 3.11), and its images with it."""
    files = []
    for top, folders, names in os.walk(folder, onerror=_refuse):
        folders[:] = [name for name in folders if _visible(Path(name))]  # not walked
        for name in folders:
            if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                raise DataError(f"{Path(top) / name} is a folder, not a file; expected {layout}")
        files += [
            Path(top) / name
            for name in names
            if _visible(Path(name))
            and Path(name).suffix.lower() in IMAGE_SUFFIXES
            and (Path(top) / name).is_file()  # a link to nothing is skipped, as before
        ]
    return sorted(files)


def _read_image(path: Path, cfg: RunConfig, layout: str) -> _Image:
    """Decode one image, decide whether it is grey, and resize it to its possible sides."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            mode = img.mode
            if mode not in GREY_MODES + COLOUR_MODES:
                raise DataError(
                    f"image {path} has pixel mode {mode} (16-bit, 32-bit or float pixels); "
                    f"expected {layout}"
                )
            check_aspect(img.height, img.width, f"image {path}")
            if mode in GREY_MODES:
                grey, picture = True, img.convert("L")
            else:
                # the alpha channel is dropped (RGBA first: a palette's transparency)
                rgb = img.convert("RGBA").convert("RGB") if "A" in mode or mode == "P" else img
                rgb = rgb.convert("RGB")
                grey = channels_equal(np.asarray(rgb))
                # exact: with R = G = B, PIL's integer luma conversion gives back R
                picture = rgb.convert("L") if grey else rgb
            resample = Image.Resampling.BILINEAR  # antialiased when shrinking
            sides = default_sides(cfg, grey)
            return _Image(
                grey,
                {s: np.asarray(picture.resize((s, s), resample), dtype=np.uint8) for s in sides},
            )
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path}: {one_line(exc)}; expected {layout}") from None


def read_image_folder(root: Path, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every image under ``root``'s class folders as uint8 (N, C, S, S), their labels and
    the class names; a bad folder or image is one DataError line naming it."""
    layout = own_layout("folder", root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and _visible(d))
    if not classes:
        loose = any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir() if p.is_file())
        hint = " (images directly in it are not read)" if loose else ""
        raise DataError(f"{root} has no class folders{hint}; expected {layout}")
    if len(classes) == 1:
        raise DataError(
            f"{root} has one class folder ({classes[0]}); expected {layout} (for images without "
            "labels use dataset=npz without y)"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = _class_files(root / name, layout)
        if not files:
            raise DataError(f"class folder {root / name} has no images; expected {layout}")
        paths += files
        labels += [label] * len(files)
    images = read_in_threads(lambda p: _read_image(p, cfg, layout), paths, "reading images")
    grey = all(img.grey for img in images)
    side = final_side(cfg, grey, str(root))
    if grey:
        x = np.stack([img.by_side[side] for img in images])[:, None]
    else:
        rgb = [
            np.repeat(img.by_side[side][..., None], 3, axis=2) if img.grey else img.by_side[side]
            for img in images
        ]
        x = np.stack(rgb).transpose(0, 3, 1, 2)  # (N, H, W, RGB) -> (N, RGB, H, W)
    return x, np.asarray(labels, dtype=np.int64), classes


def load_folder(cfg: RunConfig) -> DatasetSplits:
    """``dataset=folder``: the class folders of ``cfg.data_dir``, split stratified."""
    root = Path(cfg.data_dir)
    x, y, _ = read_image_folder(root, cfg)
    return split_own("folder", x, y, cfg, str(root))
