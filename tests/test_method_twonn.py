"""`twonn`: the size is the rounded TwoNN intrinsic dimension of the training images,
checked on data whose dimension is known, on a seeded stratified sample, and the method
runs as one fixed-size training at that size with the estimate's time counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from benchmark.data.splits import Split
from benchmark.jobs.rivals import run_rival
from benchmark.methods import METHODS
from benchmark.methods.twonn import twonn_size
from benchmark.tracking.training_run import prepare


def _embedded(dim: int, n: int = 2000, ambient: int = 64, seed: int = 0) -> Split:
    """``n`` points of a ``dim``-dimensional Gaussian, linearly embedded in 8x8 images."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, ambient))
    labels = torch.tensor(rng.integers(0, 4, size=n))
    return Split(torch.tensor(x, dtype=torch.float32).reshape(n, 1, 8, 8), labels)


@pytest.mark.parametrize("dim", [2, 5, 9])
def test_a_linearly_embedded_gaussian_gets_its_dimension(make_cfg, dim):
    choice = twonn_size(_embedded(dim), make_cfg())
    assert choice.size == dim
    assert abs(choice.params["dimension"] - dim) < 0.5 and choice.params["images"] == 2000


def test_the_estimate_reads_a_seeded_stratified_sample(make_cfg):
    split = _embedded(5, n=3000)
    first = twonn_size(split, make_cfg(seed=1), max_images=800)
    assert first.params["images"] == 800
    assert twonn_size(split, make_cfg(seed=1), max_images=800) == first
    other = twonn_size(split, make_cfg(seed=2), max_images=800)
    assert other.params["dimension"] != first.params["dimension"]  # another sample


def test_identical_images_are_refused_with_one_line(make_cfg):
    split = Split(torch.ones(50, 1, 8, 8), torch.zeros(50))
    with pytest.raises(ValueError, match="TwoNN estimated no dimension from 50 images"):
        twonn_size(split, make_cfg())


def test_twonn_trains_once_at_its_size_and_counts_the_estimate(mlflow_store, make_cfg):
    cfg = make_cfg(epochs=2)
    prepared = prepare(cfg)
    outcome = run_rival(METHODS["twonn"], cfg, prepared)
    (run_id,) = outcome.run_ids
    run = MlflowClient().get_run(run_id)
    dimension = float(run.data.params["twonn.dimension"])
    assert outcome.latent_dim == round(dimension) == int(run.data.params["fixed_latent_dim"])
    assert 2 <= outcome.latent_dim <= 20  # digits: 8x8 images of ten digits
    assert run.info.run_name == f"twonn seed=1 latent_dim={outcome.latent_dim}"
    assert run.data.tags["benchmark.selection_method"] == "twonn"
    rule_s = run.data.metrics["size_rule_wall_clock_s"]
    assert rule_s > 0
    assert outcome.wall_clock_s == pytest.approx(run.data.metrics["wall_clock_s"] + rule_s)
