"""The interface every FID feature extractor implements, and the clip convention both
backends share."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) or clips (N, C, T, H, W) in [0, 1] to features (N, D)."""

    name: str

    def features(self, images: torch.Tensor) -> np.ndarray: ...

    def quality(self) -> dict[str, float]:
        """What is known about the features' quality, as run parameters (maybe empty)."""
        ...


def frames_as_channels(x: torch.Tensor) -> torch.Tensor:
    """Clips (N, C, T, H, W) as images (N, C * T, H, W), a view; images pass unchanged."""
    return x.flatten(1, 2) if x.dim() == 5 else x
