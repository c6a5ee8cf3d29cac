"""Choosing the torch device from the `device` parameter."""

from __future__ import annotations

import torch

from benchmark.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU. ``cuda`` without a GPU fails with one line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                "device=cuda asked for, but no CUDA GPU is available; use auto or cpu"
            )
        return torch.device("cuda")
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device {name!r}; allowed: auto, cpu, cuda")
