"""Shared fixtures: tiny digits configs, the digits splits, and the domain feature
extractor trained ONCE per session into a temporary cache folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import torch
from commands import INHERITED_RUN_VARIABLES

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# The unit models are tiny: one intra-op thread is faster than two and, unlike two, does
# not slow down by 10-20x when another process holds one of the two cores.
torch.set_num_threads(1)

from benchmark.config import RunConfig, resolve_config  # noqa: E402
from benchmark.data import DatasetSplits, load_dataset  # noqa: E402
from benchmark.metrics.features import CACHE_ENV, make_feature_extractor  # noqa: E402
from benchmark.training.checkpoint import CHECKPOINT_ENV  # noqa: E402

# Small enough for a CPU run of a few seconds, large enough to shrink a few times.
TINY = {
    "dataset": "digits",
    "device": "cpu",
    "hidden_dim": 32,
    "initial_latent_dim": 16,
    "fid_samples": 50,
    "silhouette_samples": 200,
    "test_fid_samples": 100,
    "batch_size": 64,
}


def tiny_config(**overrides) -> RunConfig:
    """The `quick` preset on digits with tiny sizes; keyword overrides win."""
    values = dict(TINY)
    values.update(overrides)
    return resolve_config("quick", values)


@pytest.fixture(scope="session", autouse=True)
def domain_cache(tmp_path_factory) -> Iterator[Path]:
    """A session-wide cache folder for domain CNNs (``$ALD_BENCHMARK_CACHE``); autouse, so
    no test ever writes into (or reads a stale classifier from) the user's cache."""
    folder = tmp_path_factory.mktemp("ald_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv(CACHE_ENV, str(folder))
    # and the runs' checkpoints out of the work tree
    mp.setenv(CHECKPOINT_ENV, str(tmp_path_factory.mktemp("checkpoints")))
    mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    yield folder
    mp.undo()


@pytest.fixture(scope="session")
def digits_data() -> DatasetSplits:
    """digits splits (seed 1), on the CPU."""
    return load_dataset(tiny_config())


@pytest.fixture(scope="session")
def digits_extractor(domain_cache, digits_data):
    """The domain feature extractor of the digits training split, trained once."""
    return make_feature_extractor(
        "domain",
        digits_data.name,
        digits_data.train.x,
        digits_data.train.y,
        digits_data.n_classes,
    )


@pytest.fixture(scope="session")
def make_cfg():
    """Factory for tiny digits configs: ``make_cfg(epochs=3, ...)``."""
    return tiny_config


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch) -> Iterator[str]:
    """A private SQLite tracking store (``tmp_path/mlflow.db``) for one test, used from
    ``tmp_path`` (the default artifact root is relative to the working directory), with
    no run or experiment inherited from the environment. Ends runs left active."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    for name in INHERITED_RUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
