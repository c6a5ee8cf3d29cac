"""The ``inception`` FID feature extractor: pytorch-fid's InceptionV3 pool features
(2048-d), the paper's choice. Its weights are never bundled: offline, a missing weights
file fails at once. An image network: a clip's features are the mean of its frames'.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from benchmark.errors import BenchmarkError

INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"


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
    QUIET_BATCHES = 2  # passes of at most this many batches show no progress bar

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
        starts = range(0, images.shape[0], step)
        # on a CPU a batch costs about 10 s: a longer pass (a test reference, the test
        # FIDs) says what it is doing
        bar = tqdm(
            starts,
            desc=f"Inception features of {images.shape[0]} images",
            unit="batch",
            leave=False,
            disable=len(starts) <= self.QUIET_BATCHES,
        )
        for i in bar:
            batch = images[i : i + step].to(self.device)
            if batch.shape[1] == 1:
                batch = batch.repeat(1, 3, 1, 1)
            out.append(self.model(batch)[0].flatten(1))
        return torch.cat(out).double().cpu().numpy()

    def quality(self) -> dict[str, float]:
        """Nothing measured: the published network, not trained here."""
        return {}
