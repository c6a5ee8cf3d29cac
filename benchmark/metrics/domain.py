"""The ``domain`` FID feature extractor: a small CNN classifier trained once on the
dataset's training split, cached on disk keyed by dataset, split and training recipe; its
penultimate layer gives the features. Cheap enough to evaluate every epoch on a CPU.

Clips (N, C, T, H, W) are seen as their frames stacked as channels (C * T of them), so
the features describe motion as well as appearance. ``quality()`` reports the
classifier's accuracy on the validation split and its dead feature units.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from benchmark.metrics.extractor import frames_as_channels

# CACHE_ENV re-exported: tests and scripts point the cache elsewhere through this module
from benchmark.system.cache import CACHE_ENV as CACHE_ENV
from benchmark.system.cache import cache_dir, write_atomically

# Domain classifier recipe. Bump DOMAIN_VERSION whenever DomainCNN or its training
# changes: it (and the schedule constants below) are part of the cache key, so a
# classifier trained by an older recipe is never loaded.
DOMAIN_VERSION = "2"
# Schedule (our choice): about DOMAIN_TRAIN_SAMPLES images seen in all (epochs: that over
# the training images, from 1 to DOMAIN_EPOCHS), on a class-stratified seeded subsample
# of at most DOMAIN_MAX_IMAGES training images, Adam with a one-cycle learning rate,
# random shifts of up to DOMAIN_SHIFT pixels. Measured with
#   python scripts/measure_domain_extractor.py digits mnist5k mnist fashion-mnist
# (paper preset splits, fresh cache, torch's 2 threads on this project's 2-core CPU,
# first use = training + validation pass; seeds 0-2 of train_domain_classifier for the
# ranges):
#   mnist         51,000 images, 1 epoch:  26 s, val acc 0.988 (0.9876-0.9881), 0 dead
#   mnist5k        3,500 images, 17 epochs: 28 s, val acc 0.989 (0.9893-0.9907), 0 dead
#   fashion-mnist 51,000 images, 1 epoch:  26 s, val acc 0.878 (0.8777-0.8837), 0 dead
#   digits         1,257 images, 30 epochs:  7 s, val acc 0.963, 0 dead
# Other jobs shared those 2 cores, lightly then; with 4 busy processes on them, training
# ran 2-6x slower (a 40,000-image variant of this recipe: 54-144 s on MNIST).
# Version 1 (8 epochs of Adam at 1e-3, no BatchNorm, a ReLU feature layer): 0.85-0.88 on
# mnist5k, 28 of 64 units dead, > 15 min on MNIST.
DOMAIN_TRAIN_SAMPLES = 60_000
DOMAIN_MAX_IMAGES = 60_000
DOMAIN_EPOCHS = 30  # most epochs (small training splits: digits, mnist5k)
DOMAIN_BATCH = 128
DOMAIN_LR = 5e-3  # OneCycle's peak
DOMAIN_SHIFT = 2
DOMAIN_FEATURE_DIM = 64
# Inputs this wide get a stride-2 first convolution (our choice: 64x64 RGB frames cost
# 4x less to classify, and 32x32 maps still leave two more downsamplings).
DOMAIN_DOWNSAMPLE_SIDE = 64
# A feature unit is dead when its values on the validation images spread less than this
# (a ReLU unit that is 0 on all of them, a unit with zero weights): FID learns nothing
# from it.
DEAD_UNIT_SPREAD = 1e-6


def domain_channels(x: torch.Tensor) -> int:
    """Input channels of the domain CNN for data shaped like ``x``."""
    return int(frames_as_channels(x[:1]).shape[1])


def domain_first_stride(x: torch.Tensor) -> int:
    """Stride of the domain CNN's first convolution: 2 for images of 64 pixels or more
    (EuroSAT, SPRITES frames), which quarters its cost there; 1 for MNIST-sized images."""
    return 2 if int(x.shape[-1]) >= DOMAIN_DOWNSAMPLE_SIDE else 1


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


class DomainCNN(nn.Module):
    """Three convolutions with BatchNorm (16, 32, 64 channels, max-pooled twice), then the
    64-d feature layer, then the class logits.

    The feature layer is linear and batch-normalised, with no activation: its units cannot
    die (a ReLU there left 28 of 64 at zero on every image), they are on one scale (no unit
    dominates the Frechet distance) and close to Gaussian, which FID assumes. The logits are
    a linear map of exactly these features."""

    def __init__(self, channels: int, n_classes: int, first_stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn_relu(channels, 16, first_stride),
            nn.MaxPool2d(2),
            *_conv_bn_relu(16, 32),
            nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(256, DOMAIN_FEATURE_DIM),
            nn.BatchNorm1d(DOMAIN_FEATURE_DIM),
        )
        self.head = nn.Linear(DOMAIN_FEATURE_DIM, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# The cache key samples every image at this pixel stride instead of hashing every pixel
# (SPRITES' training split is 3 GB of floats; hashing it all cost seconds every run).
KEY_PIXEL_STRIDE = 97


def _split_key(dataset: str, x: torch.Tensor, y: torch.Tensor) -> str:
    """Names the split a classifier was trained on: dataset, shape, every label and a
    strided sample of every image's pixels (exact values, so any machine and thread
    count gets the same key for the same data)."""
    digest = hashlib.sha1()
    digest.update(f"{dataset}:{tuple(x.shape)}:{x.dtype}".encode())
    digest.update(x.detach().flatten(1)[:, ::KEY_PIXEL_STRIDE].cpu().numpy().tobytes())
    digest.update(y.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def domain_recipe() -> str:
    """The classifier's version and training schedule, as part of its cache key."""
    return (
        f"v{DOMAIN_VERSION}:samples={DOMAIN_TRAIN_SAMPLES}:max_images={DOMAIN_MAX_IMAGES}:"
        f"epochs={DOMAIN_EPOCHS}:batch={DOMAIN_BATCH}:lr={DOMAIN_LR}:shift={DOMAIN_SHIFT}:"
        f"dim={DOMAIN_FEATURE_DIM}"
    )


def domain_cache_path(dataset: str, x: torch.Tensor, y: torch.Tensor) -> Path:
    """The cache file of the classifier for this dataset, split and recipe."""
    key = hashlib.sha1(f"{domain_recipe()}:{_split_key(dataset, x, y)}".encode())
    return cache_dir() / f"domain_cnn_{dataset}_{key.hexdigest()[:16]}.pt"


def domain_schedule(n_images: int) -> tuple[int, int]:
    """(training images, epochs) for a training split of ``n_images``: at most
    DOMAIN_MAX_IMAGES images, and epochs for about DOMAIN_TRAIN_SAMPLES images seen
    (at least 1, at most DOMAIN_EPOCHS)."""
    used = min(n_images, DOMAIN_MAX_IMAGES)
    epochs = max(1, min(DOMAIN_EPOCHS, round(DOMAIN_TRAIN_SAMPLES / max(used, 1))))
    return used, epochs


def stratified_subsample(y: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """Indices of ``n`` of the labels ``y``, each class in proportion to its share
    (a seeded shuffle, grouped by class, read at even steps); all of them if n >= len(y)."""
    total = int(y.shape[0])
    if n >= total:
        return torch.arange(total)
    order = torch.randperm(total, generator=gen)
    order = order[torch.sort(y.cpu()[order], stable=True).indices]
    return order[torch.linspace(0, total - 1, n).round().long()]


def draw_shifts(n: int, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Offsets (2, n, 1, 1, 1) in [0, 2 * pixels] for :func:`shift_images`, drawn from
    ``gen`` on the CPU."""
    return torch.randint(0, 2 * pixels + 1, (2, n, 1, 1, 1), generator=gen)


def random_shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Every image moved by its own random offset of up to ``pixels`` in each direction
    (edges replicated), the same size as ``x`` (N, C, H, W)."""
    if pixels <= 0:
        return x
    return shift_images(x, pixels, draw_shifts(int(x.shape[0]), pixels, gen).to(x.device))


def shift_images(x: torch.Tensor, pixels: int, offsets: torch.Tensor) -> torch.Tensor:
    """The images ``x`` (N, C, H, W) moved by ``offsets`` (:func:`draw_shifts`, on
    ``x``'s device), edges replicated."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pixels,) * 4, mode="replicate")
    dy, dx = offsets
    rows = dy + torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


def _draw_plan(used: int, epochs: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Every epoch's image order (epochs, used) and every step's shifts (epochs, steps,
    2, DOMAIN_BATCH, 1, 1, 1), drawn from ``gen`` in the order a step-by-step draw takes
    them (an epoch's order, then each of its steps' shifts), so the training is the
    same as one that draws as it goes."""
    steps = math.ceil(used / DOMAIN_BATCH)
    orders = torch.empty(epochs, used, dtype=torch.long)
    shifts = torch.zeros(epochs, steps, 2, DOMAIN_BATCH, 1, 1, 1, dtype=torch.long)
    for epoch in range(epochs):
        orders[epoch] = torch.randperm(used, generator=gen)
        for step, start in enumerate(range(0, used, DOMAIN_BATCH)):
            n = min(DOMAIN_BATCH, used - start)
            if n >= 2 and DOMAIN_SHIFT > 0:  # a batch of one is skipped and draws nothing
                shifts[epoch, step, :, :n] = draw_shifts(n, DOMAIN_SHIFT, gen)
    return orders, shifts


def train_domain_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    seed: int = 0,
    *,
    desc: str = "domain feature extractor",
    progress: bool = True,
) -> DomainCNN:
    """Train the domain CNN on (x, y) with a fixed seed (deterministic on CPU), showing a
    progress bar (``desc``) unless ``progress`` is false (or ``TQDM_DISABLE`` is set)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = frames_as_channels(x)
    used, epochs = domain_schedule(int(x.shape[0]))
    keep = stratified_subsample(y, used, gen).to(x.device)
    if used < x.shape[0]:
        x, y = x[keep], y[keep]
    steps_per_epoch = math.ceil(used / DOMAIN_BATCH)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DomainCNN(int(x.shape[1]), n_classes, domain_first_stride(x)).to(x.device)
        opt = torch.optim.Adam(model.parameters(), lr=DOMAIN_LR)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=DOMAIN_LR, total_steps=epochs * steps_per_epoch
        )
        model.train()
        orders, shifts = _draw_plan(used, epochs, gen)
        # one copy to the device for the whole training: per step it would hold the
        # host until the GPU had caught up, every step
        orders, shifts = orders.to(x.device), shifts.to(x.device)
        bar = tqdm(total=epochs * steps_per_epoch, desc=desc, unit="batch", disable=not progress)
        with bar:
            for epoch in range(epochs):
                order = orders[epoch]
                for step, start in enumerate(range(0, used, DOMAIN_BATCH)):
                    idx = order[start : start + DOMAIN_BATCH]
                    if idx.numel() < 2:  # BatchNorm needs two images
                        schedule.step()
                        bar.update()
                        continue
                    offsets = shifts[epoch, step, :, : idx.numel()]
                    batch = shift_images(x[idx], DOMAIN_SHIFT, offsets)
                    opt.zero_grad(set_to_none=True)
                    loss = F.cross_entropy(model(batch), y[idx])
                    loss.backward()
                    opt.step()
                    schedule.step()
                    bar.update()
                    if bar.n % 20 == 1:
                        bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{loss.item():.3f}")
    return model.eval()


class DomainFeatures:
    """Penultimate-layer features of a domain CNN trained on the training split.

    ``val_accuracy`` and ``dead_units`` describe it on the validation images it was given
    (None without them): classification accuracy, and feature units that are constant on
    every one of those images."""

    name = "domain"
    # Images per forward pass and their memory layout. Measured on 1,000 MNIST images,
    # one CPU thread: batches of 512 in the default layout 0.71 s, batches of 128
    # channels-last 0.2-0.3 s (oneDNN's convolutions and pooling prefer that layout and
    # small batches stay in cache); cuDNN prefers the large batch.
    BATCH_CPU = 128
    BATCH_CUDA = 512

    def __init__(
        self,
        model: DomainCNN,
        val_x: torch.Tensor | None = None,
        val_y: torch.Tensor | None = None,
    ) -> None:
        self.model = model.eval().to(memory_format=torch.channels_last)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.val_accuracy: float | None = None
        self.dead_units: int | None = None
        if val_x is not None and val_y is not None:
            self.val_accuracy, self.dead_units = self.evaluate(val_x, val_y)

    @torch.no_grad()
    def _body(self, images: torch.Tensor) -> torch.Tensor:
        images = frames_as_channels(images)
        step = self.BATCH_CUDA if images.is_cuda else self.BATCH_CPU
        return torch.cat(
            [
                self.model.body(images[i : i + step].contiguous(memory_format=torch.channels_last))
                for i in range(0, len(images), step)
            ]
        )

    def features(self, images: torch.Tensor) -> np.ndarray:
        return self._body(images).double().cpu().numpy()

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Classification accuracy, to show the features mean something."""
        return self.evaluate(x, y)[0]

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """(accuracy, dead feature units) on images ``x`` with labels ``y``."""
        feats = self._body(x)
        pred = self.model.head(feats).argmax(1)
        accuracy = float((pred == y.to(pred.device)).float().mean())
        spread = feats.max(dim=0).values - feats.min(dim=0).values
        return accuracy, int((spread <= DEAD_UNIT_SPREAD).sum())

    def quality(self) -> dict[str, float]:
        """``extractor_val_acc`` and ``extractor_dead_units`` on the validation split;
        empty when none was given."""
        if self.val_accuracy is None or self.dead_units is None:
            return {}
        return {
            "extractor_val_acc": float(self.val_accuracy),
            "extractor_dead_units": int(self.dead_units),  # a count
        }

    @classmethod
    def for_dataset(
        cls,
        dataset: str,
        x: torch.Tensor,
        y: torch.Tensor,
        n_classes: int,
        val_x: torch.Tensor | None = None,
        val_y: torch.Tensor | None = None,
        *,
        progress: bool = True,
    ) -> DomainFeatures:
        """Load the cached classifier for this dataset, split and recipe, training it on a
        miss (with a progress bar unless ``progress`` is false); its quality is measured
        on (val_x, val_y) when given, also when it comes from the cache."""
        path = domain_cache_path(dataset, x, y)
        model = DomainCNN(domain_channels(x), n_classes, domain_first_stride(x)).to(x.device)
        if path.exists():
            model.load_state_dict(torch.load(path, map_location=x.device, weights_only=True))
            return cls(model, val_x, val_y)
        model = train_domain_classifier(
            x, y, n_classes, desc=f"domain feature extractor ({dataset})", progress=progress
        )
        write_atomically(path, lambda tmp: torch.save(model.state_dict(), tmp))
        return cls(model, val_x, val_y)
