"""The file-backed datasets of the paper: EuroSAT (torchvision's folder layout), SPRITES
(NumPy files), the download switch, and every bad input as one DataError line that
names the file and the expected layout."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from dataset_files import (
    EUROSAT_CLASSES,
    eurosat_image,
    write_eurosat,
    write_mnist_idx,
    write_sprites,
)

from benchmark.config import resolve_config
from benchmark.data import load_dataset
from benchmark.errors import ConfigError, DataError


def _cfg(dataset: str, data_dir, **overrides):
    values = {"dataset": dataset, "data_dir": str(data_dir), "device": "cpu", **overrides}
    return resolve_config("quick", values)


def _data_error(cfg) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(cfg)
    message = str(info.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


def _rows(x: torch.Tensor) -> list[bytes]:
    return sorted(r.tobytes() for r in x.numpy().reshape(len(x), -1))


# --- EuroSAT ----------------------------------------------------------------------------------


def test_eurosat_pixels_channels_labels_and_splits(tmp_path):
    # PNG: lossless, so the loaded pixels can be compared exactly with what was written
    written = write_eurosat(tmp_path, per_class=10, suffix=".png")
    cfg = _cfg("eurosat", tmp_path)
    data = load_dataset(cfg)
    assert data.name == "eurosat"
    assert data.image_shape == (3, 64, 64)
    assert data.n_classes == 10
    assert sum(data.sizes().values()) == 100
    # no official test set: three stratified splits of the whole folder
    for part in (data.train, data.val, data.test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.long
        assert np.bincount(part.y.numpy(), minlength=10).min() >= 1
    # every (image, label) pair of the folder appears exactly once over the splits, with
    # channels in RGB order and labels numbered by the sorted class-folder names
    expected = []
    for name in sorted(EUROSAT_CLASSES):
        label = sorted(EUROSAT_CLASSES).index(name)
        for img in written[name]:
            chw = img.transpose(2, 0, 1).astype(np.float32) / 255.0
            expected.append(chw.tobytes() + bytes([label]))
    got = []
    for part in (data.train, data.val, data.test):
        for x, y in zip(part.x.numpy(), part.y.numpy(), strict=True):
            got.append(x.tobytes() + bytes([int(y)]))
    assert sorted(got) == sorted(expected)
    # the channel order is visible: class 0's red, green, blue means follow its colour
    first = data.train.x[data.train.y == 0].mean(dim=(0, 2, 3))
    colour = eurosat_image(0, 0).reshape(-1, 3).mean(axis=0) / 255.0
    np.testing.assert_allclose(first.numpy(), colour, atol=0.05)


def test_eurosat_jpegs_load_close_to_the_written_pixels(tmp_path):
    write_eurosat(tmp_path, per_class=8)  # .jpg, as the official archive
    data = load_dataset(_cfg("eurosat", tmp_path))
    assert data.image_shape == (3, 64, 64) and data.n_classes == 10
    for part in (data.train, data.val, data.test):
        assert float(part.x.min()) >= 0.0 and float(part.x.max()) <= 1.0
    # JPEG is lossy, but each class keeps its colour channel by channel
    for label in range(10):
        mean = data.train.x[data.train.y == label].mean(dim=(0, 2, 3)).numpy()
        expected = eurosat_image(label, 0).reshape(-1, 3).mean(axis=0) / 255.0
        np.testing.assert_allclose(mean, expected, atol=0.06)


def test_eurosat_split_is_deterministic_per_seed(tmp_path):
    write_eurosat(tmp_path, per_class=10, suffix=".png")
    a = load_dataset(_cfg("eurosat", tmp_path, seed=3))
    b = load_dataset(_cfg("eurosat", tmp_path, seed=3))
    c = load_dataset(_cfg("eurosat", tmp_path, seed=4))
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.val.y, b.val.y)
    assert _rows(a.test.x) != _rows(c.test.x)


def test_eurosat_missing_folder_names_the_layout(tmp_path):
    (tmp_path / "eurosat").mkdir()  # the base folder without 2750/
    message = _data_error(_cfg("eurosat", tmp_path))
    assert str(tmp_path / "eurosat" / "2750") in message
    assert "eurosat/2750/<ClassName>/*.jpg" in message and "64x64" in message


def test_eurosat_empty_class_folder_is_named(tmp_path):
    write_eurosat(tmp_path, per_class=3)
    empty = tmp_path / "eurosat" / "2750" / "ZEmpty"
    empty.mkdir()
    message = _data_error(_cfg("eurosat", tmp_path))
    assert str(empty) in message and "no images" in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated", "runcated"),
        ("garbage", "cannot identify image"),
        ("wrong_size", "is 32x32 RGB"),
        ("grayscale", "64x64 L"),
    ],
)
def test_eurosat_bad_image_is_named(tmp_path, damage, expected):
    from PIL import Image

    write_eurosat(tmp_path, per_class=3)
    bad = tmp_path / "eurosat" / "2750" / "Forest" / "Forest_2.jpg"
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:300])
    elif damage == "garbage":
        bad.write_bytes(b"<html>404 Not Found</html>")
    elif damage == "wrong_size":
        Image.fromarray(eurosat_image(1, 1, side=32), "RGB").save(bad)
    else:
        Image.fromarray(eurosat_image(1, 1)[:, :, 0], "L").save(bad)
    message = _data_error(_cfg("eurosat", tmp_path))
    assert str(bad) in message
    assert expected in message
    assert "eurosat/2750/<ClassName>/*.jpg with 64x64 RGB images" in message


def test_eurosat_too_few_images_per_class_is_a_data_error(tmp_path):
    write_eurosat(tmp_path, per_class=1)
    message = _data_error(_cfg("eurosat", tmp_path))
    assert "stratified" in message and "10 classes" in message


# --- SPRITES ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_sprites_clips_labels_and_splits(tmp_path, dtype):
    written = write_sprites(tmp_path, per_class_train=10, per_class_test=2, dtype=dtype)
    cfg = _cfg("sprites", tmp_path)
    data = load_dataset(cfg)
    assert data.name == "sprites"
    assert data.image_shape == (3, 8, 64, 64)  # (RGB, frame, H, W): Conv3d's layout
    assert data.n_classes == 9
    clips, labels = written["test"]
    # the official test files are the test split, in file order (action-major), with
    # frames on axis 2 and RGB on axis 1
    expected = torch.from_numpy(clips.transpose(0, 4, 1, 2, 3).astype(np.float32) / 255.0)
    assert torch.equal(data.test.x, expected)
    assert data.test.y.tolist() == labels.tolist()
    assert sorted(set(labels.tolist())) == list(range(9))
    # clip 0 (class 0) has a square of colour (0, 80, 200) / 255 on dark noise whose top
    # edge is at row 8 + 4t in frame t: blue peaks there, red never does
    for t in range(8):
        red, green, blue = data.test.x[0, :, t, :, 30]
        assert int(torch.nonzero(blue == 200 / 255)[0]) == 8 + 4 * t
        assert float(green.max()) == pytest.approx(80 / 255)
        assert float(red.max()) < 40 / 255
    # train + val partition the official training files, stratified
    train_clips, train_labels = written["train"]
    assert len(data.train) + len(data.val) == len(train_labels) == 90
    assert np.bincount(data.val.y.numpy(), minlength=9).min() >= 1
    merged = torch.cat([data.train.x, data.val.x])
    source = torch.from_numpy(train_clips.transpose(0, 4, 1, 2, 3).astype(np.float32) / 255.0)
    assert _rows(merged) == _rows(source)


def test_sprites_missing_file_is_named(tmp_path):
    write_sprites(tmp_path, per_class_train=4, per_class_test=1)
    missing = tmp_path / "sprites" / "npy" / "slash_left_frames_test.npy"
    missing.unlink()
    message = _data_error(_cfg("sprites", tmp_path))
    assert str(missing) in message
    assert "sprites/npy/<action>_<direction>_frames_{train,test}.npy" in message
    assert "(N, 8, 64, 64, 3)" in message


def test_sprites_missing_folder_is_named(tmp_path):
    message = _data_error(_cfg("sprites", tmp_path))
    assert str(tmp_path / "sprites" / "npy" / "walk_front_frames_train.npy") in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated", "cannot read"),
        ("garbage", "cannot read"),
        ("wrong_shape", "has shape (4, 8, 32, 32, 3)"),
        ("frames_first", "has shape (4, 3, 8, 64, 64)"),
        ("int_dtype", "has dtype int64"),
        ("out_of_range", "outside [0, 1]"),
        ("nan", "outside [0, 1]"),
        ("pickled", "cannot read"),
    ],
)
def test_sprites_bad_file_is_named(tmp_path, damage, expected):
    write_sprites(tmp_path, per_class_train=4, per_class_test=1)
    bad = tmp_path / "sprites" / "npy" / "spellcard_right_frames_train.npy"
    clips = np.load(bad)
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:-5000])
    elif damage == "garbage":
        bad.write_bytes(b"\x93NUMPY not really")
    elif damage == "wrong_shape":
        np.save(bad, clips[:, :, :32, :32])
    elif damage == "frames_first":
        np.save(bad, clips.transpose(0, 4, 1, 2, 3))
    elif damage == "int_dtype":
        np.save(bad, clips.astype(np.int64))
    elif damage == "out_of_range":
        np.save(bad, clips.astype(np.float32))  # 0..255 as floats
    elif damage == "nan":
        floats = clips.astype(np.float32) / 255.0
        floats[0, 0, 0, 0, 0] = np.nan
        np.save(bad, floats)
    else:
        np.save(bad, np.array([{"frames": 1}] * 4, dtype=object), allow_pickle=True)
    message = _data_error(_cfg("sprites", tmp_path))
    assert str(bad) in message
    assert expected in message
    assert "(N, 8, 64, 64, 3) uint8, or float in [0, 1]" in message


# --- data_dir and download ----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "eurosat", "sprites"])
def test_missing_data_dir_fails_before_loading(tmp_path, dataset):
    with pytest.raises(ConfigError) as info:
        _cfg(dataset, tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "nowhere") in message and "download=true" in message
    with pytest.raises(ConfigError) as info:
        resolve_config("quick", {"dataset": dataset})
    assert "set data_dir" in str(info.value)


def test_sprites_cannot_be_downloaded(tmp_path):
    with pytest.raises(ConfigError) as info:
        _cfg("sprites", tmp_path, download="true")
    assert "cannot be downloaded" in str(info.value) and "\n" not in str(info.value)


@pytest.fixture()
def offline(monkeypatch):
    """Every torchvision download fails as it does without a network; records the URLs."""
    import torchvision.datasets.eurosat as eurosat_module
    import torchvision.datasets.mnist as mnist_module

    urls: list[str] = []

    def no_network(url, *args, **kwargs):
        urls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(mnist_module, "download_and_extract_archive", no_network)
    monkeypatch.setattr(eurosat_module, "download_and_extract_archive", no_network)
    return urls


@pytest.mark.parametrize(
    ("dataset", "layout"),
    [("mnist", "MNIST/raw"), ("fashion-mnist", "FashionMNIST/raw"), ("eurosat", "eurosat/2750")],
)
def test_download_offline_fails_with_one_line(tmp_path, offline, dataset, layout):
    target = tmp_path / "new" / "folder"  # download=true creates data_dir
    message = _data_error(_cfg(dataset, target, download="true"))
    assert offline, "the download was not attempted"
    assert f"cannot download {dataset} into {target}" in message
    assert "check the network" in message and layout in message
    assert target.is_dir()


def test_download_is_skipped_when_the_files_are_there(tmp_path, offline):
    write_mnist_idx(tmp_path, "MNIST", per_class_train=10, per_class_test=2)
    write_eurosat(tmp_path, per_class=8)
    assert len(load_dataset(_cfg("mnist", tmp_path, download="true")).test) == 20
    assert load_dataset(_cfg("eurosat", tmp_path, download="true")).n_classes == 10
    assert offline == []  # nothing was fetched


def test_download_false_never_fetches(tmp_path, offline):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    _data_error(_cfg("mnist", tmp_path))
    assert offline == []


def test_a_large_image_folder_is_read_with_a_progress_bar(tmp_path, monkeypatch, capsys):
    import benchmark.data.eurosat as data_module

    write_eurosat(tmp_path, per_class=3)
    monkeypatch.setattr(data_module, "PROGRESS_MIN_FILES", 30)  # exactly this folder
    data_module.read_eurosat_folder(tmp_path)
    assert "reading EuroSAT images" in capsys.readouterr().err
    monkeypatch.setattr(data_module, "PROGRESS_MIN_FILES", 31)  # one file short
    data_module.read_eurosat_folder(tmp_path)
    assert "reading EuroSAT images" not in capsys.readouterr().err
