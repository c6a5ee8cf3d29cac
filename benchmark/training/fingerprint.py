"""The one fingerprint of what a training computes, and of what a search's trials share.

Two runs with the same fingerprint train the same thing: a checkpoint is resumed only
under its own fingerprint, and a worker joins a study only when its settings give the
study's. Both hash the same settings: the run config without what decides only where a
training runs and where its data come from (``NOT_TRAINING``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from benchmark.config import RunConfig

if TYPE_CHECKING:  # the objectives need torch; a study's name (search.spec) must not
    from benchmark.training.objective import TrainingObjective

# Settings that do not change what is trained: where it runs, where data come from, and
# what only a search or the benchmark job reads (its sizes, the baseline's size).
NOT_TRAINING = (
    "device",
    "data_dir",
    "latent_sizes",
    "download",
    "baseline_latent_dim",
)


def training_settings(cfg: RunConfig) -> dict[str, object]:
    """The settings of ``cfg`` that change what a training computes."""
    return {k: v for k, v in cfg.to_dict().items() if k not in NOT_TRAINING}


def digest(data: object, length: int) -> str:
    """A short hex hash of ``data`` as sorted JSON (its key order does not count)."""
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:length]


def training_fingerprint(
    cfg: RunConfig,
    adaptive: bool,
    latent_dim: int | None,
    objective: TrainingObjective | None = None,
) -> str:
    """Hash of everything that decides what one training computes: its settings, whether
    it shrinks, its size (a fixed size; ``None``: the initial size), and its objective
    when that is not the plain ELBO (a checkpoint is never resumed under another one)."""
    from benchmark.training.objective import ELBO

    size = None if adaptive else (latent_dim or cfg.initial_latent_dim)
    base = digest(training_settings(cfg) | {"adaptive": adaptive, "latent_dim": size}, 16)
    if objective is None or objective.describe() == ELBO.describe():
        return base
    return hashlib.sha1(f"{base}|{objective.describe()}".encode()).hexdigest()[:16]


def settings_fingerprint(cfg: RunConfig) -> str:
    """Hash of the settings every trial of a search shares (the same settings as
    :func:`training_fingerprint`, without the size a trial gets)."""
    data = training_settings(cfg)
    data.pop("adaptive", None)
    return digest(data, 12)
