"""Writers of tiny datasets in each real on-disk format (torchvision's MNIST idx files,
EuroSAT's class folders of JPEGs, SPRITES' NumPy files), for the loader and pipeline
tests, and the user's own images (ImageFolder class folders, ``.npz`` files). Written
independently of benchmark.data, so a test checks the loader against the
format, not against itself."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

EUROSAT_CLASSES = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
SPRITES_ACTIONS = ("walk", "spellcard", "slash")
SPRITES_DIRECTIONS = ("front", "left", "right")


def write_mnist_idx(
    root: Path, folder: str = "MNIST", per_class_train: int = 20, per_class_test: int = 5
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``<root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` with random
    28x28 digits; returns {"train": (images, labels), "t10k": ...} as written."""
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    out = {}
    for split, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = np.repeat(np.arange(10), per_class).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        images[:, 0, 0], images[:, 0, 1] = 255, 0  # the full range is present
        n = len(labels)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes()
        )
        out[split] = (images, labels)
    return out


def eurosat_image(label: int, index: int, side: int = 64) -> np.ndarray:
    """A (side, side, 3) uint8 image whose colour depends on the class (so a classifier
    can tell the classes apart) with per-image noise."""
    rng = np.random.default_rng(1000 * label + index)
    base = np.array([(37 * label) % 256, (91 * label + 50) % 256, (173 * label + 20) % 256])
    img = base + rng.integers(-30, 31, size=(side, side, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_eurosat(
    root: Path,
    per_class: int = 12,
    classes: tuple[str, ...] = EUROSAT_CLASSES,
    suffix: str = ".jpg",
    side: int = 64,
) -> dict[str, list[np.ndarray]]:
    """``<root>/eurosat/2750/<Class>/<Class>_<i><suffix>``; returns the pixel arrays
    written per class (before JPEG compression)."""
    from PIL import Image

    out: dict[str, list[np.ndarray]] = {}
    for label, name in enumerate(classes):
        folder = root / "eurosat" / "2750" / name
        folder.mkdir(parents=True)
        out[name] = []
        for i in range(per_class):
            img = eurosat_image(label, i, side)
            Image.fromarray(img, "RGB").save(folder / f"{name}_{i + 1}{suffix}")
            out[name].append(img)
    return out


def sprites_clips(label: int, n: int, seed: int) -> np.ndarray:
    """(n, 8, 64, 64, 3) uint8 clips: a square whose colour follows the class and whose
    position moves with the frame."""
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 40, size=(n, 8, 64, 64, 3), dtype=np.uint8)
    colour = np.array([(60 * label) % 256, (110 * label + 80) % 256, 200], dtype=np.uint8)
    for t in range(8):
        top = 8 + 4 * t
        clips[:, t, top : top + 16, 20:40] = colour
    return clips


def write_sprites(
    root: Path, per_class_train: int = 10, per_class_test: int = 2, dtype: str = "uint8"
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``<root>/sprites/npy/<action>_<direction>_frames_{train,test}.npy``, 9 classes
    (label 3 * action + direction); ``dtype`` "float32" writes values in [0, 1].
    Returns {"train": (clips, labels), "test": ...} in file order, uint8."""
    folder = root / "sprites" / "npy"
    folder.mkdir(parents=True)
    out: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for a, action in enumerate(SPRITES_ACTIONS):
        for d, direction in enumerate(SPRITES_DIRECTIONS):
            label = 3 * a + d
            for split, n in (("train", per_class_train), ("test", per_class_test)):
                clips = sprites_clips(label, n, seed=label * 2 + (split == "test"))
                data = clips if dtype == "uint8" else clips.astype(np.float32) / 255.0
                np.save(folder / f"{action}_{direction}_frames_{split}.npy", data)
                out[split][0].append(clips)
                out[split][1].append(np.full(n, label))
    return {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in out.items()}


def grey_image(label: int, index: int, height: int = 28, width: int = 28) -> np.ndarray:
    """A (height, width) uint8 grey image whose brightness depends on the class."""
    rng = np.random.default_rng(7000 + 100 * label + index)
    img = 40 + 60 * label + rng.integers(-30, 31, size=(height, width))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image_folder(
    root: Path,
    classes: tuple[str, ...] = ("cats", "dogs", "owls"),
    per_class: int = 10,
    colour: bool = False,
    sizes: tuple[tuple[int, int], ...] = ((28, 28),),
    suffix: str = ".png",
) -> dict[str, list[np.ndarray]]:
    """``<root>/<class>/<i><suffix>`` (torchvision's ImageFolder layout) with grey or
    colour images, image i of a class sized ``sizes[i % len(sizes)]`` (height, width);
    returns {class: [images as written]}."""
    from PIL import Image

    written: dict[str, list[np.ndarray]] = {}
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        written[name] = []
        for i in range(per_class):
            h, w = sizes[i % len(sizes)]
            pixels = (
                eurosat_image(label, i, max(h, w))[:h, :w] if colour else grey_image(label, i, h, w)
            )
            Image.fromarray(pixels).save(folder / f"{i:03d}{suffix}")
            written[name].append(pixels)
    return written


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """An ``.npz`` file holding ``arrays`` (``x``, ``y`` or anything else)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path
