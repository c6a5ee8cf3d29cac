"""A training's state at the end of an epoch, saved so that a stopped run continues
where it stopped: the model at its current size, the optimizer's state, the controller,
every random stream, the history so far, and the fingerprint of what is being trained
(:mod:`benchmark.training.fingerprint`).

Written atomically (a kill during a save leaves the previous epoch's file), to
``<checkpoint root>/<MLflow run id>.pt``; the root is ``$ALD_BENCHMARK_CHECKPOINTS`` or
``checkpoints/`` in the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import ConfigError
from benchmark.system.cache import write_atomically
from benchmark.training.controller import AldController

CHECKPOINT_ENV = "ALD_BENCHMARK_CHECKPOINTS"


def checkpoint_root() -> Path:
    """Folder of the checkpoints (``$ALD_BENCHMARK_CHECKPOINTS`` overrides)."""
    return Path(os.environ.get(CHECKPOINT_ENV) or "checkpoints")


def checkpoint_path(run_id: str) -> Path:
    """Where the checkpoint of MLflow run ``run_id`` is kept."""
    return checkpoint_root() / f"{run_id}.pt"


@dataclass
class RandomStreams:
    """Every random stream a training draws from: the batch shuffle's generator, torch's
    global stream (sampling, dropout), and the CUDA stream of the training's own device
    (only that one: a run trains on one device, and a resume on a host that shows fewer
    GPUs, e.g. a worker pinned with ``CUDA_VISIBLE_DEVICES``, must still find it)."""

    shuffle: torch.Tensor
    torch: torch.Tensor
    cuda: torch.Tensor | None = None

    @classmethod
    def capture(cls, shuffle: torch.Generator, device: torch.device) -> RandomStreams:
        """The streams' states now."""
        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(shuffle.get_state(), torch.get_rng_state(), cuda)

    def restore(self, shuffle: torch.Generator, device: torch.device) -> None:
        """Set the streams to these states (the CUDA one on ``device``, when the
        checkpoint was made on CUDA and the training runs on CUDA again)."""
        shuffle.set_state(self.shuffle)
        torch.set_rng_state(self.torch)
        if self.cuda is not None and device.type == "cuda":
            torch.cuda.set_rng_state(self.cuda, device)


@dataclass(kw_only=True)
class Checkpoint:
    """The state after epoch ``epoch`` (1-based, as in the records); built with
    keywords only (two of its fields hold tensors of one type)."""

    fingerprint: str
    epoch: int
    latent_dim: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    controller: AldController | None
    latent_ids: list[int]
    history: list[Any]  # EpochRecords (benchmark.training.loop imports this module, not back)
    train_time_s: float
    stopped_epoch: int | None
    rng: RandomStreams
    scaler_state: dict[str, Any] | None = None

    def save(self, path: Path) -> None:
        """Write this checkpoint to ``path`` atomically."""
        write_atomically(path, lambda tmp: torch.save(self.__dict__, tmp))


def load_checkpoint(path: Path, fingerprint: str) -> Checkpoint:
    """The checkpoint at ``path``; refused with one line when it was made by a training
    of another configuration."""
    if not path.exists():
        raise ConfigError(f"no checkpoint to resume from at {path}")
    # our own file, holding the controller and the records: not weights only
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"checkpoint {path} was made by a training with another configuration; resume "
            "with the parameters of the interrupted run, or start a new run"
        )
    return Checkpoint(**state)
