"""Choosing the torch device from the `device` parameter."""

from __future__ import annotations

import gc

import torch

from benchmark.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU. ``cuda`` without a GPU fails with one
    line; so does ``cuda:N`` (GPU N of the visible ones) where fewer than N + 1 are
    visible."""
    if name.startswith("cuda:") and name[5:].isdigit():
        index, visible = int(name[5:]), gpu_count()
        if index >= visible:
            raise ConfigError(
                f"device={name} asked for, but {visible} CUDA GPU(s) are visible "
                f"(cuda:0 to cuda:{visible - 1}); use cuda, auto or a smaller index"
                if visible
                else f"device={name} asked for, but no CUDA GPU is available; use auto or cpu"
            )
        return torch.device("cuda", index)
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
    raise ConfigError(f"unknown device {name!r}; allowed: auto, cpu, cuda, cuda:N")


def gpu_count() -> int:
    """How many CUDA GPUs this process sees (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def worker_device(name: str, index: int) -> str:
    """The device of a search's local worker ``index`` (0, 1, ...) on this machine:
    with ``cuda`` or ``auto`` and several visible GPUs, GPU ``index mod n``, so that the
    workers spread over the cards instead of all training on the first; otherwise
    ``name`` as given (a pinned ``cuda:N``, ``cpu``, one GPU)."""
    if name not in ("cuda", "auto"):
        return name
    visible = gpu_count()
    return f"cuda:{index % visible}" if visible > 1 else name


def release_device_memory(device: torch.device) -> None:
    """Give the memory of tensors this process no longer holds back to the device: a
    process that only waits (a search's coordinator) must not keep, in PyTorch's caching
    allocator, the GPU memory its checks used while workers train on that GPU."""
    gc.collect()  # tensors in reference cycles (a model and its optimizer) go now
    if device.type == "cuda":
        torch.cuda.empty_cache()
