"""The domain FID feature extractor: its quality report (validation accuracy, dead
feature units), its cache key's recipe version, its schedule, its progress bar."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.metrics import domain as domain_module
from benchmark.metrics import make_feature_extractor
from benchmark.metrics.features import (
    DOMAIN_FEATURE_DIM,
    DomainCNN,
    DomainFeatures,
    InceptionFeatures,
    domain_cache_path,
    domain_schedule,
    random_shift,
    stratified_subsample,
    train_domain_classifier,
)


def _with_val(data):
    return make_feature_extractor(
        "domain",
        data.name,
        data.train.x,
        data.train.y,
        data.n_classes,
        data.val.x,
        data.val.y,
    )


def test_quality_reports_validation_accuracy_and_dead_units(digits_data, digits_extractor):
    extractor = _with_val(digits_data)  # the session's classifier, from the cache
    quality = extractor.quality()
    assert set(quality) == {"extractor_val_acc", "extractor_dead_units"}
    assert isinstance(quality["extractor_val_acc"], float)
    assert isinstance(quality["extractor_dead_units"], int)  # a count, logged as one
    assert 0.0 <= quality["extractor_val_acc"] <= 1.0
    assert quality["extractor_val_acc"] > 0.9
    assert (
        quality["extractor_val_acc"]
        == extractor.val_accuracy
        == pytest.approx(digits_extractor.accuracy(digits_data.val.x, digits_data.val.y))
    )
    assert isinstance(extractor.dead_units, int)
    assert 0 <= extractor.dead_units <= 2  # a normalised linear feature layer: none die
    assert quality["extractor_dead_units"] == extractor.dead_units
    # no validation split given: nothing to report
    assert digits_extractor.quality() == {}
    assert digits_extractor.val_accuracy is None and digits_extractor.dead_units is None


def test_inception_quality_is_empty():
    class _MeanPool(nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [x.mean(dim=(2, 3))[:, :, None, None]]

    assert InceptionFeatures(model=_MeanPool()).quality() == {}


def test_dead_units_counts_units_that_are_constant_on_every_image(digits_data):
    torch.manual_seed(0)
    model = DomainCNN(1, 10).eval()
    features = model.body[-2]  # the Linear of the feature layer, before its BatchNorm
    assert isinstance(features, nn.Linear) and features.out_features == DOMAIN_FEATURE_DIM
    with torch.no_grad():
        for unit in (3, 17):
            features.weight[unit] = 0.0
            features.bias[unit] = 0.0
    extractor = DomainFeatures(model, digits_data.val.x, digits_data.val.y)
    assert extractor.dead_units == 2
    assert extractor.quality()["extractor_dead_units"] == 2.0
    feats = extractor.features(digits_data.val.x)
    assert np.ptp(feats[:, 3]) == 0.0 and np.ptp(feats[:, 17]) == 0.0


def test_dead_units_of_a_relu_feature_layer_that_is_zero_everywhere():
    x = torch.rand(50, 1, 8, 8)
    y = torch.arange(50) % 10
    model = DomainCNN(1, 10).eval()
    model.body.append(nn.ReLU())  # the old design: a ReLU on the features
    with torch.no_grad():
        model.body[-2].bias[:5] = -1e6  # BatchNorm's shift: five units never active,
        model.body[-2].bias[5:] = 10.0  # the others always
    extractor = DomainFeatures(model, x, y)
    assert extractor.dead_units == 5
    assert (extractor.features(x)[:, :5] == 0).all()


def test_cache_key_changes_with_the_recipe(digits_data, monkeypatch):
    x, y = digits_data.train.x, digits_data.train.y
    path = domain_cache_path("digits", x, y)
    assert path.name.startswith("domain_cnn_digits_") and path.suffix == ".pt"
    assert domain_cache_path("digits", x, y) == path  # stable
    monkeypatch.setattr(domain_module, "DOMAIN_VERSION", "999")
    assert domain_cache_path("digits", x, y) != path
    monkeypatch.undo()
    assert domain_cache_path("digits", x, y) == path
    monkeypatch.setattr(domain_module, "DOMAIN_LR", domain_module.DOMAIN_LR / 2)
    assert domain_cache_path("digits", x, y) != path


def test_a_new_recipe_version_retrains_instead_of_loading(tmp_path, digits_data, monkeypatch):
    monkeypatch.setenv(domain_module.CACHE_ENV, str(tmp_path))
    calls = []

    def fake_training(x, y, n_classes, seed=0, **kwargs):
        calls.append(kwargs)
        return DomainCNN(int(x.shape[1]), n_classes).eval()

    monkeypatch.setattr(domain_module, "train_domain_classifier", fake_training)
    x, y, val = digits_data.train.x, digits_data.train.y, digits_data.val
    first = DomainFeatures.for_dataset("digits", x, y, 10, val.x, val.y)
    cached = DomainFeatures.for_dataset("digits", x, y, 10, val.x, val.y)  # hit
    assert len(calls) == 1
    assert calls[0]["desc"] == "domain feature extractor (digits)"
    assert cached.quality() == first.quality() != {}  # measured after a cached load too
    monkeypatch.setattr(domain_module, "DOMAIN_VERSION", "old-and-new")
    DomainFeatures.for_dataset("digits", x, y, 10)  # another recipe: miss
    assert len(calls) == 2
    assert len(list(tmp_path.glob("domain_cnn_digits_*.pt"))) == 2


def test_schedule_caps_images_and_epochs():
    cap = domain_module.DOMAIN_MAX_IMAGES
    budget = domain_module.DOMAIN_TRAIN_SAMPLES
    assert domain_schedule(51_000) == (51_000, max(1, round(budget / 51_000)))
    most = domain_module.DOMAIN_EPOCHS
    assert domain_schedule(3_500) == (3_500, min(most, round(budget / 3_500)))
    assert domain_schedule(1_257)[1] == domain_module.DOMAIN_EPOCHS  # tiny split: the cap
    assert domain_schedule(10 * cap) == (cap, 1)  # huge split: a subsample, one epoch


def test_stratified_subsample_keeps_class_shares_and_is_seeded():
    y = torch.cat([torch.zeros(600), torch.ones(300), torch.full((100,), 2)]).long()
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]
    idx = stratified_subsample(y, 100, torch.Generator().manual_seed(0))
    assert len(idx) == len(set(idx.tolist())) == 100
    assert torch.bincount(y[idx]).tolist() == [60, 30, 10]
    again = stratified_subsample(y, 100, torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)
    assert torch.equal(stratified_subsample(y, 5000, torch.Generator()), torch.arange(len(y)))


def test_random_shift_translates_each_image():
    x = torch.rand(16, 3, 10, 10)
    assert random_shift(x, 0, torch.Generator()) is x
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    for i in range(len(x)):  # every output image is one 10x10 window of its padded image
        windows = [padded[i, :, r : r + 10, c : c + 10] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_training_is_deterministic_and_shows_a_progress_bar(digits_data, monkeypatch, capsys):
    monkeypatch.setattr(domain_module, "DOMAIN_EPOCHS", 1)
    x, y = digits_data.train.x, digits_data.train.y
    a = train_domain_classifier(x, y, 10, seed=3, desc="domain feature extractor (digits)")
    err = capsys.readouterr().err
    assert "domain feature extractor (digits)" in err and "batch" in err
    b = train_domain_classifier(x, y, 10, seed=3, progress=False)
    assert capsys.readouterr().err == ""
    c = train_domain_classifier(x, y, 10, seed=4, progress=False)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_long_inception_passes_show_progress_and_short_ones_stay_quiet(capsys):
    class _MeanPool(nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [x.mean(dim=(2, 3))[:, :, None, None]]

    extractor = InceptionFeatures(model=_MeanPool())
    step = extractor.CPU_BATCH
    short = extractor.features(torch.rand(step * extractor.QUIET_BATCHES, 1, 4, 4))
    assert "Inception features" not in capsys.readouterr().err
    long = extractor.features(torch.rand(step * (extractor.QUIET_BATCHES + 1), 1, 4, 4))
    assert f"Inception features of {len(long)} images" in capsys.readouterr().err
    assert short.shape == (step * extractor.QUIET_BATCHES, 3)


def _draw_as_it_goes(used, epochs, gen):
    """The draws a step-by-step loop makes: an epoch's order, then its steps' shifts."""
    orders, shifts = [], []
    for _ in range(epochs):
        orders.append(torch.randperm(used, generator=gen))
        for start in range(0, used, domain_module.DOMAIN_BATCH):
            n = min(domain_module.DOMAIN_BATCH, used - start)
            if n >= 2:
                shifts.append(domain_module.draw_shifts(n, domain_module.DOMAIN_SHIFT, gen))
    return orders, shifts


@pytest.mark.parametrize("used", [300, 257])  # 257: a last batch of one, which draws nothing
def test_the_training_plan_is_the_draws_of_a_step_by_step_loop(used):
    orders, shifts = domain_module._draw_plan(used, 3, torch.Generator().manual_seed(5))
    want_orders, want_shifts = _draw_as_it_goes(used, 3, torch.Generator().manual_seed(5))
    assert all(torch.equal(orders[e], want_orders[e]) for e in range(3))
    got = [
        shifts[e, s, :, : min(domain_module.DOMAIN_BATCH, used - start)]
        for e in range(3)
        for s, start in enumerate(range(0, used, domain_module.DOMAIN_BATCH))
        if used - start >= 2
    ]
    assert len(got) == len(want_shifts)
    assert all(torch.equal(a, b) for a, b in zip(got, want_shifts, strict=True))


def test_the_extractor_training_copies_to_the_device_once_not_every_step(monkeypatch):
    """Twice the steps, the same copies: the data, the pre-drawn plan and the model's
    state go to the device once, nothing goes per step or per epoch."""
    original = torch.Tensor.to
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(600, 1, 8, 8, generator=gen)
    y = torch.arange(600) % 3
    monkeypatch.setattr(domain_module, "DOMAIN_MAX_IMAGES", 600)

    def copies_and_steps(train_samples: int) -> tuple[int, int]:
        copies = []

        def counting_to(self, *args, **kwargs):
            copies.append(args)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(domain_module, "DOMAIN_TRAIN_SAMPLES", train_samples)
        used, epochs = domain_schedule(600)
        monkeypatch.setattr(torch.Tensor, "to", counting_to)
        try:
            train_domain_classifier(x, y, 3, seed=1, progress=False)
        finally:
            monkeypatch.setattr(torch.Tensor, "to", original)
        return len(copies), epochs * -(-used // domain_module.DOMAIN_BATCH)

    few, few_steps = copies_and_steps(1800)
    many, many_steps = copies_and_steps(3600)
    assert many_steps == 2 * few_steps >= 20
    assert many == few, f"{few} copies for {few_steps} steps, {many} for {many_steps}"
