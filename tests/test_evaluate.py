"""The common test evaluation: its keys, value ranges and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from contract import TEST_METRICS

from benchmark.evaluate import evaluate
from benchmark.metrics.clustering import active_units
from benchmark.models import build_model, model_from_config
from benchmark.signals import encode_all
from benchmark.surgery import remove_latent_dims
from benchmark.train import train

KEYS = {*TEST_METRICS, "test_fid_samples", "final_latent_dim"}


@pytest.fixture(scope="module")
def trained(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=3, hidden_dim=32)
    result = train(
        cfg,
        digits_data,
        digits_extractor,
        torch.device("cpu"),
        latent_dim=6,
        adaptive=False,
        progress=False,
    )
    return cfg, result.model


def _evaluate(model, digits_data, extractor, fid_samples=100, silhouette_samples=200):
    return evaluate(model, digits_data.test, extractor, fid_samples, silhouette_samples)


def test_exact_keys_and_finite_values(trained, digits_data, digits_extractor):
    _, model = trained
    metrics = _evaluate(model, digits_data, digits_extractor)
    assert set(metrics) == KEYS
    for key, value in metrics.items():
        assert isinstance(value, float), key
        assert math.isfinite(value), key


def test_value_ranges(trained, digits_data, digits_extractor):
    _, model = trained
    m = _evaluate(model, digits_data, digits_extractor)
    assert m["test_recon_loss"] > 0
    assert m["test_elbo"] <= -m["test_recon_loss"]  # KL >= 0
    assert m["test_fid"] >= -1e-6 and m["test_fid_recon"] >= -1e-6
    assert -1.0 <= m["test_silhouette"] <= 1.0
    assert 1.0 / digits_data.n_classes - 1e-9 <= m["test_cluster_acc"] <= 1.0
    assert 0 <= m["test_active_units"] <= model.latent_dim
    assert m["test_active_units"] == int(m["test_active_units"])
    assert m["test_fid_samples"] == 100.0
    assert m["final_latent_dim"] == model.latent_dim == 6


def test_active_units_are_counted_on_the_test_means(trained, digits_data, digits_extractor):
    _, model = trained
    m = _evaluate(model, digits_data, digits_extractor)
    means, _ = encode_all(model, digits_data.test.x)
    assert m["test_active_units"] == active_units(means.numpy())


def test_fid_sample_count_is_capped_at_the_test_size(trained, digits_data, digits_extractor):
    _, model = trained
    m = _evaluate(
        model, digits_data, digits_extractor, fid_samples=10_000, silhouette_samples=10_000
    )
    assert m["test_fid_samples"] == float(len(digits_data.test))


def test_deterministic_across_calls(trained, digits_data, digits_extractor):
    _, model = trained
    rng_before = torch.random.get_rng_state()
    first = _evaluate(model, digits_data, digits_extractor)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # global stream untouched
    torch.rand(123)  # global RNG use in between changes nothing
    second = _evaluate(model, digits_data, digits_extractor)
    assert first == second


def test_trained_model_beats_an_untrained_one(trained, digits_data, digits_extractor):
    _, model = trained
    torch.manual_seed(0)
    untrained = build_model(digits_data.image_shape, 6, 32)
    good = _evaluate(model, digits_data, digits_extractor)
    bad = _evaluate(untrained, digits_data, digits_extractor)
    assert good["test_recon_loss"] < bad["test_recon_loss"]
    assert good["test_elbo"] > bad["test_elbo"]


def test_final_latent_dim_follows_surgery(trained, digits_data, digits_extractor):
    _, model = trained
    state = {k: v.clone() for k, v in model.state_dict().items()}
    copy = model_from_config(model.config)
    copy.load_state_dict(state)
    remove_latent_dims(copy, None, [0, 3])
    m = _evaluate(copy, digits_data, digits_extractor)
    assert m["final_latent_dim"] == copy.latent_dim == 4
    assert m["test_active_units"] <= 4
    assert all(np.isfinite(list(m.values())))
