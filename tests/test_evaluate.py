"""The common test evaluation: its keys, value ranges and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from contract import TEST_METRICS

import benchmark.training.evaluation as evaluate_module
from benchmark.data import Split
from benchmark.metrics.clustering import active_units
from benchmark.metrics.fid import frechet_distance
from benchmark.models.surgery import remove_latent_dims
from benchmark.models.vaes import build_model, model_from_config
from benchmark.training.evaluation import evaluate, make_test_reference
from benchmark.training.loop import train
from benchmark.training.outputs import encode_all, image_grids

KEYS = {*TEST_METRICS, "test_fid_samples", "test_fid_floor", "final_latent_dim"}


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


def _evaluate(model, digits_data, extractor, fid_samples=100, silhouette_samples=200, test=None):
    test = test or digits_data.test
    reference = make_test_reference(extractor, test, fid_samples, spare=digits_data.val)
    return evaluate(model, test, extractor, reference, silhouette_samples)


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


# --- an unbiased protocol: stratified samples, whatever the order of the split ------------------


class RecordingExtractor:
    """The digits extractor, recording every batch of images it is asked about."""

    name = "recording"

    def __init__(self, inner) -> None:  # noqa: ANN001 - any extractor
        self.inner = inner
        self.calls: list[torch.Tensor] = []

    def features(self, images: torch.Tensor) -> np.ndarray:
        self.calls.append(images.clone())
        return self.inner.features(images)


def _class_ordered(split: Split) -> Split:
    order = torch.argsort(split.y, stable=True)
    return Split(split.x[order], split.y[order])


def _labels_of(images: torch.Tensor, split: Split) -> np.ndarray:
    """The label of each image, found by its exact row in the split."""
    flat = split.x.flatten(1)
    rows = [int(torch.nonzero((flat == im.flatten()).all(1))[0, 0]) for im in images]
    return split.y[rows].numpy()


def test_fid_reference_and_silhouette_cover_every_class_of_a_class_ordered_split(
    trained, digits_data, digits_extractor, monkeypatch
):
    """A split sorted by class: its first 100 images are classes 0-3 only. The test FID's
    reference and the silhouette sample must still hold every class in its share."""
    _, model = trained
    test = _class_ordered(digits_data.test)
    assert len(np.unique(test.y[:100].numpy())) <= 4  # the trap: x[:n] is biased
    seen_labels: list[np.ndarray] = []
    real_silhouette = evaluate_module.silhouette

    def record_silhouette(codes, labels):  # noqa: ANN001
        seen_labels.append(np.asarray(labels))
        return real_silhouette(codes, labels)

    monkeypatch.setattr(evaluate_module, "silhouette", record_silhouette)
    extractor = RecordingExtractor(digits_extractor)
    _evaluate(model, digits_data, extractor, fid_samples=100, silhouette_samples=200, test=test)
    counts = np.bincount(_labels_of(extractor.calls[0], test), minlength=10)
    share = np.bincount(test.y.numpy(), minlength=10) / len(test) * 100
    assert np.all(np.abs(counts - share) <= 1.0), counts  # proportional, up to one image
    sil_counts = np.bincount(seen_labels[0], minlength=10)
    assert np.all(np.abs(sil_counts - share * 2) <= 1.0), sil_counts


def test_metrics_do_not_depend_on_the_order_of_the_split(trained, digits_data, digits_extractor):
    """Shuffling the split's rows changes only which rows are where; the stratified
    samples are drawn by label and seed, so the class mix (and thus the statistics'
    expectation) is the same; the active units (a variance over the whole split) are
    exactly equal. (KMeans' initialisation depends on the row order, so the cluster
    accuracy is not compared.)"""
    _, model = trained
    ordered = _evaluate(model, digits_data, digits_extractor, test=_class_ordered(digits_data.test))
    plain = _evaluate(model, digits_data, digits_extractor)
    assert ordered["test_active_units"] == plain["test_active_units"]
    assert ordered["test_recon_loss"] == pytest.approx(plain["test_recon_loss"], rel=0.05)


def test_fid_floor_is_the_fid_between_two_disjoint_real_samples(digits_data, digits_extractor):
    test = digits_data.test
    small = make_test_reference(digits_extractor, test, 50, spare=digits_data.val)
    assert len(test) >= 2 * 50
    extractor = RecordingExtractor(digits_extractor)
    reference = make_test_reference(extractor, test, 50, spare=digits_data.val)
    first, second = extractor.calls
    shared = [(row == second.flatten(1)).all(1).any() for row in first.flatten(1)]
    assert not any(shared)  # disjoint samples
    assert reference.floor == pytest.approx(
        frechet_distance(digits_extractor.features(second), digits_extractor.features(first))
    )
    assert reference.floor == small.floor > 0


def test_fid_floor_takes_the_spare_split_when_the_split_is_too_small(digits_data, digits_extractor):
    n = len(digits_data.test)  # no room for a second disjoint sample of n
    extractor = RecordingExtractor(digits_extractor)
    reference = make_test_reference(extractor, digits_data.test, n, spare=digits_data.val)
    assert reference.n == n
    partner = extractor.calls[1]
    assert set(_labels_of(partner, digits_data.val)) == set(range(10))  # rows of val
    assert reference.floor > 0


def test_image_grids_show_the_same_labelled_images_for_every_model(trained, digits_data):
    """One column per class, the same test images for two different models."""
    _, model = trained
    torch.manual_seed(0)
    other = build_model(digits_data.image_shape, 3, 16)
    test = _class_ordered(digits_data.test)
    a, b = image_grids(model, test), image_grids(other, test)
    assert a.columns == b.columns == 10 and a.labels == b.labels == list(range(10))
    originals_a = torch.cat([a.pairs[0:10], a.pairs[20:30]])
    originals_b = torch.cat([b.pairs[0:10], b.pairs[20:30]])
    assert torch.equal(originals_a, originals_b)
    assert list(_labels_of(a.pairs[0:10], test)) == list(range(10))
    assert list(_labels_of(a.pairs[20:30], test)) == list(range(10))
    assert not torch.equal(a.pairs[10:20], b.pairs[10:20])  # the reconstructions differ
