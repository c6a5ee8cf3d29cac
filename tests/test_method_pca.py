"""`pca`: the size is the number of principal components that explain 95% of the
training images' variance, checked against an eigendecomposition done here, and the
method runs as one fixed-size training at that size with the PCA's time counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from benchmark.data.splits import Split
from benchmark.jobs.rivals import run_rival
from benchmark.methods import METHODS
from benchmark.methods.pca import VARIANCE_SHARE, pca_size
from benchmark.tracking.training_run import prepare


def _components_for(x: np.ndarray, share: float) -> int:
    """The fewest components whose eigenvalues of the covariance reach ``share``."""
    eig = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    return int(np.searchsorted(np.cumsum(eig) / eig.sum(), share) + 1)


def test_images_in_a_three_dimensional_subspace_need_three_components():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 64))
    codes = rng.normal(size=(500, 3)) * np.array([3.0, 2.0, 1.0])
    x = codes @ basis + 1e-3 * rng.normal(size=(500, 64))
    split = Split(torch.tensor(x, dtype=torch.float32).reshape(500, 1, 8, 8), torch.zeros(500))
    choice = pca_size(split, None)
    assert choice.size == 3
    assert choice.params["images"] == 500 and choice.params["explained"] >= VARIANCE_SHARE


@pytest.mark.parametrize("share", [0.5, 0.8, VARIANCE_SHARE])
def test_the_count_on_digits_matches_the_covariances_eigenvalues(make_cfg, share):
    data = prepare(make_cfg()).data
    flat = data.train.x.reshape(len(data.train), -1).double().numpy()
    choice = pca_size(data.train, None, share)
    assert choice.size == _components_for(flat, share)
    assert 1 < choice.size < flat.shape[1]


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5])
def test_a_share_outside_zero_one_is_refused(share):
    split = Split(torch.rand(20, 1, 8, 8), torch.zeros(20))
    with pytest.raises(ValueError, match="must be in"):
        pca_size(split, None, share)


def test_pca_trains_once_at_its_size_and_counts_the_pca(mlflow_store, make_cfg):
    cfg = make_cfg(epochs=2)
    prepared = prepare(cfg)
    outcome = run_rival(METHODS["pca"], cfg, prepared)
    (run_id,) = outcome.run_ids
    run = MlflowClient().get_run(run_id)
    expected = _components_for(
        prepared.data.train.x.reshape(len(prepared.data.train), -1).double().numpy(),
        VARIANCE_SHARE,
    )
    assert outcome.latent_dim == expected == int(run.data.params["fixed_latent_dim"])
    assert run.info.run_name == f"pca seed=1 latent_dim={expected}"
    assert run.data.tags["benchmark.selection_method"] == "pca"
    assert run.data.params["pca.variance_share"] == str(VARIANCE_SHARE)
    rule_s = run.data.metrics["size_rule_wall_clock_s"]
    assert 0 < rule_s < run.data.metrics["wall_clock_s"] + rule_s
    assert outcome.wall_clock_s == pytest.approx(run.data.metrics["wall_clock_s"] + rule_s)
