"""Choosing the torch device from the `device` parameter."""

from __future__ import annotations

import gc

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


def release_device_memory(device: torch.device) -> None:
    """Give the memory of tensors this process no longer holds back to the device: a
    process that only waits (a search's coordinator) must not keep, in PyTorch's caching
    allocator, the GPU memory its checks used while workers train on that GPU."""
    gc.collect()  # tensors in reference cycles (a model and its optimizer) go now
    if device.type == "cuda":
        torch.cuda.empty_cache()
