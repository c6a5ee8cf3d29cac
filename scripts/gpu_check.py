"""GPU check: the `paper` preset on full-size datasets in each real on-disk format, timed
on CUDA, plus the cost of an Inception FID on the GPU. Run by scripts/gpu_check.sh
(which also does the setup, the `mlflow run` and the speed script); see docs/gpu.md.

    python scripts/gpu_check.py [--out gpu-check] [--epochs 3] [--scale 1.0]

Writes fake data of the real formats and sizes (EuroSAT JPEG folders, MNIST idx files,
SPRITES NumPy files) under ``--data-root``, so the check needs no network and no dataset
download, then prints a Markdown table of median epoch times (the first epoch, with
cuDNN's autotuning and CUDA's lazy start, is left out) and writes it with the raw
numbers to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the check runs from a checkout, installed or not

from benchmark.config import resolve_config  # noqa: E402
from benchmark.data import SPRITES_ACTIONS, SPRITES_DIRECTIONS, load_dataset  # noqa: E402
from benchmark.metrics.features import (  # noqa: E402
    InceptionFeatures,
    inception_weights_path,
    make_feature_extractor,
)
from benchmark.metrics.fid import frechet_distance  # noqa: E402
from benchmark.training.loop import train  # noqa: E402

# The real datasets' sizes (EuroSAT RGB: 27,000 images in 10 classes; MNIST: 60,000 +
# 10,000; SPRITES: 9,000 training and 2,664 test clips in 9 classes).
EUROSAT_PER_CLASS = 2700
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000
SPRITES_TRAIN_PER_CLASS, SPRITES_TEST_PER_CLASS = 1000, 296
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


def write_eurosat(root: Path, per_class: int) -> None:
    """``<root>/eurosat/2750/<Class>/<Class>_<i>.jpg``: 64x64 RGB JPEGs, a colour per class."""
    from PIL import Image

    def one_class(label: int) -> None:
        folder = root / "eurosat" / "2750" / EUROSAT_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(label)
        base = rng.integers(40, 216, size=3)
        for i in range(per_class):
            img = np.clip(base + rng.integers(-40, 41, size=(64, 64, 3)), 0, 255)
            Image.fromarray(img.astype(np.uint8), "RGB").save(folder / f"{i + 1}.jpg")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(one_class, range(10)))


def write_mnist(root: Path, n_train: int, n_test: int) -> None:
    """``<root>/MNIST/raw/*-ubyte``: idx files of random binary 28x28 images."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = (rng.random((n, 28, 28)) > 0.8).astype(np.uint8) * 255
        (raw / f"{split}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes()
        )


def write_sprites(root: Path, per_class_train: int, per_class_test: int) -> None:
    """``<root>/sprites/npy/<action>_<direction>_frames_{train,test}.npy``, uint8 clips."""
    folder = root / "sprites" / "npy"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for action in SPRITES_ACTIONS:
        for direction in SPRITES_DIRECTIONS:
            for split, n in (("train", per_class_train), ("test", per_class_test)):
                clips = rng.integers(0, 256, size=(n, 8, 64, 64, 3), dtype=np.uint8)
                np.save(folder / f"{action}_{direction}_frames_{split}.npy", clips)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_training(dataset: str, data_dir: Path, epochs: int, amp: bool, device: str) -> dict:
    """The `paper` preset's model, batch and signals on ``device`` for ``epochs`` epochs."""
    cfg = resolve_config(
        "paper",
        {
            "dataset": dataset,
            "data_dir": str(data_dir),
            "device": device,
            "epochs": epochs,
            "amp": str(amp).lower(),
        },
    )
    dev = torch.device(device)
    t0 = time.perf_counter()
    data = load_dataset(cfg)
    t1 = time.perf_counter()
    data = data.to(dev)
    extractor = make_feature_extractor(
        "domain", data.name, data.train.x, data.train.y, data.n_classes
    )
    _sync(dev)
    t2 = time.perf_counter()
    result = train(cfg, data, extractor, dev, progress=False)
    steady = result.history[1:] or result.history
    row = {
        "dataset": dataset,
        "amp": amp,
        "batch_size": cfg.batch_size,
        "train_images": len(data.train),
        "architecture": result.model.config.architecture,
        "load_s": t1 - t0,
        "domain_cnn_s": t2 - t1,
        "train_epoch_s": statistics.median(h.train_epoch_time_s for h in steady),
        "val_signals_s": statistics.median(h.val_time_s for h in steady),
        "epoch_s": statistics.median(h.epoch_time_s for h in steady),
        "first_epoch_s": result.history[0].epoch_time_s,
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else 0,
    }
    del data, extractor, result
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return row


def inception_extractor(device: str) -> tuple[InceptionFeatures, str]:
    """The FID Inception on ``device``; with random weights of the same architecture when
    the weights file is absent (the cost of a forward pass does not depend on them)."""
    if inception_weights_path().exists():
        return InceptionFeatures(device), "pytorch-fid weights"
    from unittest import mock

    import pytorch_fid.inception as fid_inception

    # Build pytorch-fid's network without loading (or downloading) its weights.
    with (
        mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: {}),
        mock.patch.object(torch.nn.Module, "load_state_dict", lambda *a, **k: None),
    ):
        net = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    return InceptionFeatures(device, model=net), "random weights (file absent)"


def time_inception(device: str, n: int = 100, repeats: int = 3) -> list[dict]:
    """Seconds for one Inception FID term: features of n generated images (or clips) on
    ``device``, and the Frechet distance to n reference features (scipy, on the CPU)."""
    extractor, weights = inception_extractor(device)
    dev = torch.device(device)
    rows = []
    for what, shape in (("64x64 RGB images", (3, 64, 64)), ("8-frame clips", (3, 8, 64, 64))):
        gen = torch.Generator(device=dev).manual_seed(0)
        reference = extractor.features(torch.rand(n, *shape, device=dev, generator=gen))
        feats, dist = [], []
        for _ in range(repeats):
            x = torch.rand(n, *shape, device=dev, generator=gen)
            _sync(dev)
            t0 = time.perf_counter()
            f = extractor.features(x)  # ends with a copy to the host: synchronised
            t1 = time.perf_counter()
            frechet_distance(f, reference)
            t2 = time.perf_counter()
            feats.append(t1 - t0)
            dist.append(t2 - t1)
        rows.append(
            {
                "input": f"{n} {what}",
                "weights": weights,
                "features_s": statistics.median(feats),
                "frechet_s": statistics.median(dist),
            }
        )
    return rows


def markdown(card: str, training: list[dict], inception: list[dict], epochs: int) -> str:
    """The tables for README/docs."""
    lines = [
        f"GPU: {card}; torch {torch.__version__}; `paper` preset, fake data of the real "
        f"formats and sizes; median over epochs 2..{epochs}.",
        "",
        "| dataset | model | batch | train images | amp | training epoch (s) | "
        "validation signals (s) | epoch (s) | load (s) | domain CNN (s)* | peak GPU GiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in training:
        lines.append(
            f"| {r['dataset']} | {r['architecture']} | {r['batch_size']} | {r['train_images']} "
            f"| {'on' if r['amp'] else 'off'} | {r['train_epoch_s']:.2f} | "
            f"{r['val_signals_s']:.2f} | {r['epoch_s']:.2f} | {r['load_s']:.1f} | "
            f"{r['domain_cnn_s']:.1f} | {r['max_memory_gib']:.1f} |"
        )
    lines += [
        "",
        "*training the FID feature classifier; the amp row finds it in the cache (its time "
        "is hashing the training split for the cache key).",
        "",
        "| Inception FID term | weights | features on GPU (s) | Frechet distance, CPU (s) |",
        "|---|---|---|---|",
    ]
    for r in inception:
        lines.append(
            f"| {r['input']} | {r['weights']} | {r['features_s']:.3f} | {r['frechet_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check", help="folder for results")
    parser.add_argument("--data-root", default="", help="where to write the fake datasets")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real sizes")
    parser.add_argument("--datasets", default="mnist,eurosat,sprites")
    parser.add_argument("--inception-samples", type=int, default=100)
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of the script")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: gpu_check needs a CUDA GPU; none is visible to torch")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.data_root or tempfile.mkdtemp(prefix="gpu-check-data-"))
    card = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (dry run)"
    print(f"card: {card}; torch {torch.__version__}; data under {root}", flush=True)

    datasets = [d for d in args.datasets.split(",") if d]
    t0 = time.perf_counter()
    writers = {
        "mnist": lambda: write_mnist(
            root, int(MNIST_TRAIN * args.scale), int(MNIST_TEST * args.scale)
        ),
        "eurosat": lambda: write_eurosat(root, int(EUROSAT_PER_CLASS * args.scale)),
        "sprites": lambda: write_sprites(
            root,
            int(SPRITES_TRAIN_PER_CLASS * args.scale),
            int(SPRITES_TEST_PER_CLASS * args.scale),
        ),
    }
    for name in datasets:
        writers[name]()
    print(f"wrote {', '.join(datasets)} in {time.perf_counter() - t0:.1f} s", flush=True)

    training = []
    for name in datasets:
        for amp in (False, True):
            row = timed_training(name, root, args.epochs, amp, args.device)
            print(json.dumps(row), flush=True)
            training.append(row)
    inception = time_inception(args.device, args.inception_samples)
    for row in inception:
        print(json.dumps(row), flush=True)

    table = markdown(card, training, inception, args.epochs)
    (out / "gpu_check.md").write_text(table + "\n")
    (out / "gpu_check.json").write_text(
        json.dumps({"card": card, "training": training, "inception": inception}, indent=2)
    )
    print(table)


if __name__ == "__main__":
    main()
