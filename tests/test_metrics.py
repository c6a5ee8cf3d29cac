"""FID, clustering metrics, active units and the feature extractors."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import torch
from numerics import assert_same_outputs

from benchmark.errors import BenchmarkError
from benchmark.metrics import (
    active_units,
    cluster_accuracy,
    frechet_distance,
    make_feature_extractor,
    silhouette,
)
from benchmark.metrics import domain as domain_module
from benchmark.metrics.clustering import UNLABELLED
from benchmark.metrics.features import (
    CACHE_ENV,
    DOMAIN_FEATURE_DIM,
    INCEPTION_WEIGHTS_FILE,
    DomainFeatures,
    cache_dir,
)

# --- Frechet distance ------------------------------------------------------------------------


def _whitened(n: int, d: int, seed: int) -> np.ndarray:
    """A sample whose empirical mean is 0 and empirical covariance is exactly I."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    a -= a.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(a, rowvar=False))
    return a @ np.linalg.inv(chol).T


def test_fid_of_identical_samples_is_zero():
    a = np.random.default_rng(0).normal(size=(400, 6))
    assert frechet_distance(a, a.copy()) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("shift", [0.5, 1.0, 3.0])
def test_fid_of_a_mean_shift_is_the_squared_distance(shift):
    a = _whitened(500, 5, seed=1)
    delta = np.array([shift, -shift, 0.0, 2 * shift, 0.0])
    assert frechet_distance(a, a + delta) == pytest.approx(float(delta @ delta), rel=1e-6, abs=1e-6)


def test_fid_closed_form_with_scaled_covariance():
    # sigma_a = I, sigma_b = C^2 (C diagonal): FID = |delta|^2 + sum (1 - c)^2
    a = _whitened(600, 4, seed=2)
    c = np.array([0.5, 1.0, 2.0, 3.0])
    delta = np.array([1.0, 0.0, -1.0, 0.5])
    expected = float(delta @ delta + ((1 - c) ** 2).sum())
    assert frechet_distance(a, a * c + delta) == pytest.approx(expected, rel=1e-6)


def test_fid_of_independent_gaussian_samples_approaches_squared_mean_difference():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5000, 3))
    b = rng.normal(size=(5000, 3)) + np.array([2.0, 0.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(4.0, abs=0.15)


def test_fid_grows_with_the_shift_and_is_symmetric():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 4))
    b = rng.normal(size=(300, 4))
    values = [frechet_distance(a, b + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[0] < values[-1]
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


# --- clustering --------------------------------------------------------------------------------


def _blobs(n_per: int = 60, k: int = 5, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 50.0
    ids = np.repeat(np.arange(k), n_per)
    return centres[ids] + rng.normal(size=(len(ids), d)) * 0.1, ids


def test_silhouette_of_well_separated_clusters_is_about_one():
    codes, ids = _blobs()
    assert silhouette(codes, ids) > 0.98


def test_silhouette_of_random_labels_is_about_zero():
    codes, _ = _blobs()
    labels = np.random.default_rng(1).integers(0, 5, size=len(codes))
    assert abs(silhouette(codes, labels)) < 0.2


def test_silhouette_needs_two_classes():
    codes, _ = _blobs()
    with pytest.raises(ValueError):
        silhouette(codes, np.zeros(len(codes), dtype=int))


def test_label_metrics_are_not_available_without_labels():
    # unlabelled data carries UNLABELLED everywhere: NaN, never a score under made-up labels
    codes, labels = _blobs()
    unlabelled = np.full(len(codes), UNLABELLED)
    assert np.isnan(silhouette(codes, unlabelled))
    assert np.isnan(cluster_accuracy(codes, unlabelled))
    assert silhouette(codes, labels) > 0.5  # the same codes with labels do score


def test_cluster_accuracy_is_one_for_separable_clusters_with_permuted_ids():
    codes, ids = _blobs(k=6)
    permuted = np.array([40, 3, 17, 0, 8, 21])[ids]  # arbitrary label values
    assert cluster_accuracy(codes, permuted) == pytest.approx(1.0)


def test_cluster_accuracy_counts_misassigned_points():
    codes, ids = _blobs(n_per=50, k=4)
    labels = ids.copy()
    labels[:10] = 1  # 10 points of cluster 0 carry another label
    assert cluster_accuracy(codes, labels) == pytest.approx(1 - 10 / len(ids))


def test_cluster_accuracy_of_random_labels_is_about_chance():
    rng = np.random.default_rng(2)
    codes = rng.normal(size=(1000, 4))
    labels = rng.integers(0, 10, size=1000)
    acc = cluster_accuracy(codes, labels)
    assert 0.08 < acc < 0.2


def test_active_units_counts_variance_above_threshold():
    rng = np.random.default_rng(0)
    n = 20_000
    stds = np.array([0.0, 0.05, 0.099, 0.101, 0.5, 2.0])  # variances 0 .. 4
    means = rng.normal(size=(n, len(stds)))
    means = (means - means.mean(0)) / means.std(0) * stds
    assert active_units(means) == 3
    assert active_units(means, threshold=0.2) == 2
    assert active_units(np.zeros((10, 4))) == 0


# --- domain feature extractor -------------------------------------------------------------------


def test_domain_extractor_cached_on_disk(domain_cache, digits_data, digits_extractor, monkeypatch):
    assert cache_dir() == domain_cache
    files = sorted(domain_cache.glob("domain_cnn_digits_*.pt"))
    assert files, "the trained classifier was not written to the cache folder"
    assert all(f.stat().st_size > 0 for f in files)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been loaded, not retrained")

    monkeypatch.setattr(domain_module, "train_domain_classifier", no_training)
    again = make_feature_extractor(
        "domain", "digits", digits_data.train.x, digits_data.train.y, digits_data.n_classes
    )
    val = digits_data.val.x
    assert_same_outputs(again.features(val), digits_extractor.features(val))
    assert sorted(domain_cache.glob("domain_cnn_digits_*.pt")) == files


def test_domain_cache_is_keyed_by_the_training_split(tmp_path, digits_data, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    calls = []

    def fake_training(x, y, n_classes, seed=0, **kwargs):
        calls.append(len(x))
        return domain_module.DomainCNN(int(x.shape[1]), n_classes).eval()

    monkeypatch.setattr(domain_module, "train_domain_classifier", fake_training)
    x, y = digits_data.train.x, digits_data.train.y
    DomainFeatures.for_dataset("digits", x, y, 10)
    DomainFeatures.for_dataset("digits", x, y, 10)  # hit
    DomainFeatures.for_dataset("digits", x[:-1], y[:-1], 10)  # other split: miss
    changed = x.clone()
    changed[-1] = 1 - changed[-1]  # same shape and labels, one image's pixels differ
    DomainFeatures.for_dataset("digits", changed, y, 10)  # miss
    assert calls == [len(x), len(x) - 1, len(x)]
    assert len(list(tmp_path.glob("domain_cnn_digits_*.pt"))) == 3
    assert not list(tmp_path.glob("*.tmp*"))


def test_domain_features_shape_and_accuracy(digits_data, digits_extractor):
    assert digits_extractor.name == "domain"
    feats = digits_extractor.features(digits_data.val.x)
    assert feats.shape == (len(digits_data.val), DOMAIN_FEATURE_DIM) == (len(digits_data.val), 64)
    assert feats.dtype == np.float64
    assert np.isfinite(feats).all()
    assert feats.std(axis=0).max() > 0  # not a constant map
    assert digits_extractor.accuracy(digits_data.val.x, digits_data.val.y) > 0.8


def test_domain_fid_separates_real_from_noise(digits_data, digits_extractor):
    real = digits_extractor.features(digits_data.val.x[:100])
    other_real = digits_extractor.features(digits_data.test.x[:100])
    noise = digits_extractor.features(
        torch.rand(100, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    )
    assert frechet_distance(real, other_real) < frechet_distance(real, noise)


def test_unknown_backend_raises(digits_data):
    with pytest.raises(BenchmarkError) as info:
        make_feature_extractor("kid", "digits", digits_data.train.x, digits_data.train.y, 10)
    assert "domain" in str(info.value) and "inception" in str(info.value)


def test_inception_without_weights_fails_fast_naming_the_file(tmp_path, monkeypatch, digits_data):
    torch_home = tmp_path / "torch_home"
    torch_home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(torch_home))

    def offline(*args, **kwargs):
        raise OSError("network disabled in this test")

    # Offline everywhere, also where the test machine has a network (no 100 MB download).
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    start = time.perf_counter()
    with pytest.raises(BenchmarkError) as info:
        make_feature_extractor("inception", "digits", digits_data.train.x, digits_data.train.y, 10)
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert INCEPTION_WEIGHTS_FILE == "pt_inception-2015-12-05-6726825d.pth"
    assert INCEPTION_WEIGHTS_FILE in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "\n" not in message
    assert elapsed < 10.0
    assert not (torch_home / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE).exists()
