"""Feature extractors for FID, behind one interface, chosen by name.

- ``domain`` (default): a small CNN classifier trained once on the dataset's training
  split, cached on disk keyed by dataset and split; its penultimate layer gives the
  features. Cheap enough to evaluate every epoch on a CPU.
- ``inception``: pytorch-fid's InceptionV3 pool features (2048-d), the paper's choice.
  Its weights are never bundled: offline, a missing weights file fails at once.

Clips (N, C, T, H, W) are handled by both: the domain CNN sees a clip's frames stacked
as channels (C * T of them), so its features describe motion as well as appearance;
Inception, an image network, gives a clip the mean of its frames' features.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from benchmark.errors import BenchmarkError

CACHE_ENV = "ALD_BENCHMARK_CACHE"
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# Domain classifier schedule (our choice: > 95% validation accuracy on mnist5k in seconds).
DOMAIN_EPOCHS = 8
DOMAIN_BATCH = 128
DOMAIN_LR = 1e-3
DOMAIN_FEATURE_DIM = 64
# Inputs this wide get a stride-2 first convolution (our choice: 64x64 RGB frames cost
# 4x less to classify, and 32x32 maps still leave two more downsamplings).
DOMAIN_DOWNSAMPLE_SIDE = 64


class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) or clips (N, C, T, H, W) in [0, 1] to features (N, D)."""

    name: str

    def features(self, images: torch.Tensor) -> np.ndarray: ...


def cache_dir() -> Path:
    """Where trained domain classifiers are kept (``$ALD_BENCHMARK_CACHE`` overrides)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ald-vae-benchmark"
    return Path(root)


def frames_as_channels(x: torch.Tensor) -> torch.Tensor:
    """Clips (N, C, T, H, W) as images (N, C * T, H, W), a view; images pass unchanged."""
    return x.flatten(1, 2) if x.dim() == 5 else x


def domain_channels(x: torch.Tensor) -> int:
    """Input channels of the domain CNN for data shaped like ``x``."""
    return int(frames_as_channels(x[:1]).shape[1])


def domain_first_stride(x: torch.Tensor) -> int:
    """Stride of the domain CNN's first convolution: 2 for images of 64 pixels or more
    (EuroSAT, SPRITES frames), which quarters its cost there; 1 for MNIST-sized images."""
    return 2 if int(x.shape[-1]) >= DOMAIN_DOWNSAMPLE_SIDE else 1


class DomainCNN(nn.Module):
    """Three small convolutions, a 64-d penultimate layer, then the class logits."""

    def __init__(self, channels: int, n_classes: int, first_stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, stride=first_stride, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(256, DOMAIN_FEATURE_DIM),
            nn.ReLU(),
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


def train_domain_classifier(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, seed: int = 0
) -> DomainCNN:
    """Train the domain CNN on (x, y) with a fixed seed (deterministic on CPU)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = frames_as_channels(x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DomainCNN(int(x.shape[1]), n_classes, domain_first_stride(x)).to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=DOMAIN_LR)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(DOMAIN_EPOCHS):
        order = torch.randperm(x.shape[0], generator=gen).to(x.device)
        for start in range(0, x.shape[0], DOMAIN_BATCH):
            idx = order[start : start + DOMAIN_BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


class DomainFeatures:
    """Penultimate-layer features of a domain CNN trained on the training split."""

    name = "domain"

    def __init__(self, model: DomainCNN) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        images = frames_as_channels(images)
        out = [self.model.body(images[i : i + 512]) for i in range(0, images.shape[0], 512)]
        return torch.cat(out).double().cpu().numpy()

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Classification accuracy, to show the features mean something."""
        x = frames_as_channels(x)
        pred = torch.cat([self.model(x[i : i + 512]).argmax(1) for i in range(0, x.shape[0], 512)])
        return float((pred == y).float().mean())

    @classmethod
    def for_dataset(
        cls, dataset: str, x: torch.Tensor, y: torch.Tensor, n_classes: int
    ) -> DomainFeatures:
        """Load the cached classifier for this dataset and split, training it on a miss."""
        path = cache_dir() / f"domain_cnn_{dataset}_{_split_key(dataset, x, y)}.pt"
        model = DomainCNN(domain_channels(x), n_classes, domain_first_stride(x)).to(x.device)
        if path.exists():
            model.load_state_dict(torch.load(path, map_location=x.device, weights_only=True))
            return cls(model)
        model = train_domain_classifier(x, y, n_classes)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)  # atomic: parallel workers never read half a file
        return cls(model)


def inception_weights_path() -> Path:
    """Where torch.hub (and so pytorch-fid) looks for the FID Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


class InceptionFeatures:
    """pytorch-fid's InceptionV3 (2048-d pool features); grayscale is repeated to RGB and a
    clip's features are the mean over its frames (an image network: FID over frames)."""

    name = "inception"
    DOWNLOAD_TIMEOUT_S = 30
    # Images per forward pass: 299x299 inputs; a GPU is only kept busy by larger batches.
    CPU_BATCH = 50
    CUDA_BATCH = 200

    def __init__(self, device: torch.device | str = "cpu", model: nn.Module | None = None) -> None:
        """The FID Inception on ``device``. ``model`` replaces it (any module returning
        ``[features]`` like pytorch-fid's), for tests and for timing without the weights."""
        self.device = torch.device(device)
        if model is not None:
            self.model = model.to(self.device).eval()
            return
        from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

        path = inception_weights_path()
        if not path.exists():
            # Online: fetch the file once, quietly. Offline: the lookup fails at once
            # (or within the timeout) and the user is told where to put the file.
            previous = socket.getdefaulttimeout()
            try:
                socket.setdefaulttimeout(self.DOWNLOAD_TIMEOUT_S)
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(FID_WEIGHTS_URL, str(path), progress=False)
            except Exception as exc:  # noqa: BLE001 - any failure here means "no weights"
                raise BenchmarkError(
                    f"fid_backend=inception needs the FID Inception weights and could not "
                    f"download them ({type(exc).__name__}): place {path.name} in {path.parent} "
                    "(or set TORCH_HOME), or use fid_backend=domain"
                ) from None
            finally:
                socket.setdefaulttimeout(previous)
        inception = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
        self.model = inception.to(self.device).eval()

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        if images.dim() == 5:  # clips: every frame through Inception, then the mean
            n, c, t, h, w = images.shape
            frames = images.transpose(1, 2).reshape(n * t, c, h, w)  # clip-major order
            return self.features(frames).reshape(n, t, -1).mean(axis=1)
        out = []
        step = self.CUDA_BATCH if self.device.type == "cuda" else self.CPU_BATCH
        for i in range(0, images.shape[0], step):
            batch = images[i : i + step].to(self.device)
            if batch.shape[1] == 1:
                batch = batch.repeat(1, 3, 1, 1)
            out.append(self.model(batch)[0].flatten(1))
        return torch.cat(out).double().cpu().numpy()


def make_feature_extractor(
    backend: str, dataset: str, train_x: torch.Tensor, train_y: torch.Tensor, n_classes: int
) -> FeatureExtractor:
    """The feature extractor named ``backend`` (``domain`` or ``inception``)."""
    if backend == "domain":
        return DomainFeatures.for_dataset(dataset, train_x, train_y, n_classes)
    if backend == "inception":
        return InceptionFeatures(train_x.device)
    raise BenchmarkError(f"unknown fid_backend {backend!r}; allowed: domain, inception")
