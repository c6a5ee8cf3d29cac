"""What a search is: its spec (what is searched, where the study lives, how many
workers), the constants every process of a search must agree on, and the names and
fingerprints that tie a study to one training configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config import OWN_DATASETS, RunConfig
from benchmark.errors import ConfigError
from benchmark.methods import METHODS
from benchmark.methods import grid as grid_method
from benchmark.training.fingerprint import digest, settings_fingerprint

# The registry's study methods (grid, halving, tpe, hyperband), in report order.
SEARCHES = tuple(m.name for m in METHODS.values() if m.is_study)
DEFAULT_STORAGE = "sqlite:///optuna-studies.db"
PARAM = "latent_dim"
# Hex digits of the settings hash that ends a default study name.
STUDY_HASH_LENGTH = 6
# A killed worker's trial is retried at most this often.
MAX_RETRY = 3
# Heartbeats (seconds): a trial whose worker has been silent for `grace_period` is stale.
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30
# Rounds of workers the parent starts before giving up on sizes that keep failing.
MAX_ROUNDS = 1 + MAX_RETRY
# Successive halving (our choice for a handful of sizes): first rung after
# `epochs // HALVING_MIN_RESOURCE_DIVISOR` epochs, keep the best 1/3 at each rung.
HALVING_MIN_RESOURCE_DIVISOR = 8
HALVING_REDUCTION_FACTOR = 3
# `storage=env:NAME` reads the URL from the environment variable NAME, so that a password
# never appears in a command line (`mlflow run` logs every -P value as a param).
ENV_STORAGE_PREFIX = "env:"
# Study user attributes the parent run writes for workers on other machines.
PARENT_ATTRS = (
    "config",
    "parent_run_id",
    "parent_experiment_id",
    "tracking_uri",
    "heartbeat_interval",
    "grace_period",
)


@dataclass
class SearchSpec:
    """How a search is run: what is searched, where the study lives, how many workers."""

    search: str = grid_method.METHOD.name
    latent_sizes: list[int] = field(default_factory=lambda: [4, 8, 16, 32, 64])
    storage: str = DEFAULT_STORAGE
    study_name: str = ""
    n_workers: int = 1
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S
    grace_period: int = GRACE_PERIOD_S
    # Start no local worker: create the study and the parent run, then wait for workers
    # started elsewhere (the `worker` entry point) until every size is done.
    coordinate_only: bool = False
    # Trials of a sampled search (tpe); 0: as many as the grid has sizes.
    n_trials: int = 0

    @property
    def sampled(self) -> bool:
        """Whether the sampler proposes sizes instead of taking each grid size once (its
        trials run as one plain ``study.optimize`` under a trial budget, in one local
        worker)."""
        return self.search in SEARCHES and METHODS[self.search].proposes_sizes

    @property
    def trial_budget(self) -> int:
        """How many trials a sampled search trains (``n_trials`` or the grid's size)."""
        return self.n_trials or len(self.latent_sizes)

    @property
    def local_workers(self) -> int:
        """Worker processes this machine starts."""
        return 0 if self.coordinate_only else self.n_workers

    def validate(self) -> SearchSpec:
        if self.search not in SEARCHES:
            raise ConfigError(f"unknown search {self.search!r}; allowed: {', '.join(SEARCHES)}")
        if self.n_workers < 1:
            raise ConfigError(f"n_workers={self.n_workers} is too small; it must be >= 1")
        if self.n_trials < 0:
            raise ConfigError(f"n_trials={self.n_trials} is too small; it must be >= 0")
        if self.sampled and (self.n_workers != 1 or self.coordinate_only):
            # its trials are proposed as it goes, not a grid's sizes on the study's queue
            raise ConfigError(
                f"search={self.search} runs with one local worker only "
                f"(n_workers=1, coordinate_only=false)"
            )
        if self.heartbeat_interval < 1 or self.grace_period <= self.heartbeat_interval:
            raise ConfigError(
                f"heartbeat_interval={self.heartbeat_interval}, grace_period="
                f"{self.grace_period}: need 1 <= heartbeat_interval < grace_period"
            )
        return self


def derive_study_name(cfg: RunConfig, search: str, n_trials: int = 0) -> str:
    """``<dataset>-<preset>-seed<seed>-<search>-<settings>``: the same command resumes the
    same study, and a changed one starts its own.

    ``<settings>`` is a short hash of what the study's trials share (the training
    settings, the sizes searched, a sampled search's budget ``n_trials``) and, for a
    dataset of the user's own files, which files (the resolved ``data_dir``): with
    ``latent_sizes=4,8,16`` after ``4,16`` the default name is another study, not a
    refused resume, and one folder's trained sizes are never taken for another's."""
    data = {
        "settings": settings_fingerprint(cfg),
        "latent_sizes": sorted(cfg.latent_sizes),
        "search": search,
        "n_trials": n_trials,
    }
    if cfg.dataset in OWN_DATASETS:
        data["data"] = str(Path(cfg.data_dir).expanduser().resolve())
    return f"{cfg.dataset}-{cfg.preset}-seed{cfg.seed}-{search}-{digest(data, STUDY_HASH_LENGTH)}"
