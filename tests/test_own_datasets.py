"""The user's own images: `dataset=folder` (ImageFolder class folders) and `dataset=npz`
(arrays x and optional y): grey or colour from the pixels, the resize to image_size,
deterministic stratified splits, unlabelled data (label metrics NaN, what needs labels
refused), and every bad folder or file as one line naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dataset_files import grey_image, write_image_folder, write_npz
from PIL import Image

from benchmark.config import resolve_config
from benchmark.data import UNLABELLED, load_dataset
from benchmark.errors import BenchmarkError, ConfigError, DataError
from benchmark.models.vaes import build_model
from benchmark.training.evaluation import evaluate, make_test_reference


def _cfg(dataset: str, data_dir, **overrides):
    values = {"dataset": dataset, "data_dir": str(data_dir), "device": "cpu", **overrides}
    return resolve_config("quick", values)


def _one_line(kind: type[BenchmarkError], call) -> str:
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


def _rows(x: torch.Tensor) -> list[bytes]:
    return sorted(r.tobytes() for r in x.numpy().reshape(len(x), -1))


# --- folder ------------------------------------------------------------------------------------


def test_grey_folder_pixels_labels_and_splits(tmp_path):
    written = write_image_folder(tmp_path, per_class=10)
    data = load_dataset(_cfg("folder", tmp_path))
    assert (data.name, data.image_shape, data.n_classes, data.labelled) == (
        "folder",
        (1, 28, 28),
        3,
        True,
    )
    assert sum(data.sizes().values()) == 30
    # 28x28 images are not resized: every (image, label) pair appears once over the splits,
    # labelled by the sorted class-folder names
    expected = [
        np.concatenate([img.reshape(-1) / 255.0, [label]]).astype(np.float32).tobytes()
        for label, name in enumerate(sorted(written))
        for img in written[name]
    ]
    got = [
        np.concatenate([s.x.reshape(len(s), -1).numpy(), s.y[:, None].float().numpy()], axis=1)
        for s in (data.train, data.val, data.test)
    ]
    assert sorted(r.tobytes() for r in np.concatenate(got)) == sorted(expected)
    for part in (data.train, data.val, data.test):  # stratified: every class in every split
        assert set(part.y.tolist()) == {0, 1, 2}


def test_folder_split_is_deterministic_per_seed(tmp_path):
    write_image_folder(tmp_path, per_class=10)
    a, b = (load_dataset(_cfg("folder", tmp_path, seed=s)) for s in (1, 1))
    c = load_dataset(_cfg("folder", tmp_path, seed=2))
    assert _rows(a.test.x) == _rows(b.test.x)
    assert _rows(a.test.x) != _rows(c.test.x)


def test_any_size_is_resized_to_the_grey_default_or_image_size(tmp_path):
    write_image_folder(tmp_path, per_class=6, sizes=((20, 20), (40, 36), (100, 90)))
    assert load_dataset(_cfg("folder", tmp_path)).image_shape == (1, 28, 28)
    data = load_dataset(_cfg("folder", tmp_path, image_size=12))
    assert data.image_shape == (1, 12, 12)
    assert float(data.train.x.min()) >= 0.0 and float(data.train.x.max()) <= 1.0


def test_one_colour_image_makes_the_folder_rgb(tmp_path):
    write_image_folder(tmp_path, per_class=6)  # grey 28x28
    colour = np.zeros((30, 30, 3), dtype=np.uint8)
    colour[..., 0] = 200  # red
    Image.fromarray(colour).save(tmp_path / "dogs" / "red.png")
    data = load_dataset(_cfg("folder", tmp_path))
    assert data.image_shape == (3, 64, 64)  # the colour default
    x = torch.cat([data.train.x, data.val.x, data.test.x])
    equal = (x[:, 0] == x[:, 1]).flatten(1).all(1) & (x[:, 1] == x[:, 2]).flatten(1).all(1)
    assert int((~equal).sum()) == 1  # the grey images repeat their channel; one is red


def test_rgb_files_with_equal_channels_are_grey(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(6):
            grey = grey_image(ord(name) - 97, i)
            Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(
                tmp_path / name / f"{i}.png"
            )
    data = load_dataset(_cfg("folder", tmp_path))
    assert data.image_shape == (1, 28, 28)


def test_colour_sizes_are_multiples_of_16(tmp_path):
    write_image_folder(tmp_path, per_class=6, colour=True, sizes=((64, 64),), suffix=".jpg")
    assert load_dataset(_cfg("folder", tmp_path, image_size=32)).image_shape == (3, 32, 32)
    message = _one_line(DataError, lambda: load_dataset(_cfg("folder", tmp_path, image_size=40)))
    assert "image_size=40 must be a multiple of 16" in message and str(tmp_path) in message


def test_hidden_and_other_files_are_skipped(tmp_path):
    write_image_folder(tmp_path, per_class=6)
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / "._000.png").write_bytes(b"macOS resource fork")
    (tmp_path / ".thumbnails").mkdir()
    assert sum(load_dataset(_cfg("folder", tmp_path)).sizes().values()) == 18


def _make_folder(root, case: str):
    """A folder with one problem, and what its message must name."""
    if case == "no classes":
        Image.fromarray(grey_image(0, 0)).save(root / "loose.png")
        return root, "has no class folders (images directly in it are not read)"
    if case == "one class":
        write_image_folder(root, classes=("only",), per_class=4)
        return root, "has one class folder (only)"
    write_image_folder(root, per_class=6)
    if case == "empty class":
        (root / "zebras").mkdir()
        return root / "zebras", "has no images"
    if case == "unreadable":
        (root / "dogs" / "broken.png").write_bytes(b"this is not a png")
        return root / "dogs" / "broken.png", "cannot read image"
    if case == "truncated":
        path = root / "dogs" / "000.png"
        path.write_bytes(path.read_bytes()[:60])
        return path, "cannot read image"
    if case == "wide":
        Image.fromarray(grey_image(0, 0, 28, 56)).save(root / "cats" / "wide.png")
        return root / "cats" / "wide.png", "is 56x28 (width x height)"
    if case == "16-bit":
        Image.fromarray(np.full((28, 28), 4000, dtype=np.uint16)).save(root / "owls" / "deep.png")
        return root / "owls" / "deep.png", "pixel mode I"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["no classes", "one class", "empty class", "unreadable", "truncated", "wide", "16-bit"]
)
def test_bad_folders_are_one_line_naming_the_file(tmp_path, case):
    named, expected = _make_folder(tmp_path, case)
    message = _one_line(DataError, lambda: load_dataset(_cfg("folder", tmp_path)))
    assert str(named) in message and expected in message
    assert "ImageFolder" in message or "crop" in message  # what is allowed


# --- npz ---------------------------------------------------------------------------------------


def _labelled_x(n_per: int = 12, side: int = 28, classes: int = 3) -> tuple[np.ndarray, ...]:
    x = np.stack([grey_image(c, i, side, side) for c in range(classes) for i in range(n_per)])
    return x, np.repeat(np.arange(classes), n_per)


def test_npz_uint8_with_labels_of_any_integers(tmp_path):
    x, y = _labelled_x()
    path = write_npz(tmp_path / "mine.npz", x=x, y=np.array([5, 9, 40])[y])
    data = load_dataset(_cfg("npz", path))
    assert (data.image_shape, data.n_classes, data.labelled) == ((1, 28, 28), 3, True)
    got = torch.cat([data.train.x, data.val.x, data.test.x]).numpy()
    assert sorted(r.tobytes() for r in got.reshape(len(got), -1)) == sorted(
        r.tobytes() for r in (x.reshape(len(x), -1) / np.float32(255.0)).astype(np.float32)
    )
    labels = torch.cat([data.train.y, data.val.y, data.test.y])
    assert sorted(labels.tolist()) == sorted(y.tolist())  # 5, 9, 40 numbered 0, 1, 2


def test_npz_folder_float_and_channels(tmp_path):
    x, y = _labelled_x(side=20)
    write_npz(tmp_path / "data" / "only.npz", x=(x / 255.0)[..., None].astype(np.float32), y=y)
    data = load_dataset(_cfg("npz", tmp_path / "data"))  # a folder holding one file
    assert data.image_shape == (1, 28, 28)  # resized from 20 to the grey default
    colour = np.random.default_rng(0).random((36, 16, 16, 3)).astype(np.float32)
    write_npz(tmp_path / "c.npz", x=colour, y=y)
    assert load_dataset(_cfg("npz", tmp_path / "c.npz")).image_shape == (3, 64, 64)


def test_npz_without_labels_is_unlabelled_and_split_by_a_seeded_shuffle(tmp_path):
    x, _ = _labelled_x()
    path = write_npz(tmp_path / "u.npz", x=x)
    cfg = _cfg("npz", path, fid_backend="inception", adaptive="false")
    data = load_dataset(cfg)
    assert (data.labelled, data.n_classes) == (False, 0)
    assert set(torch.cat([data.train.y, data.val.y, data.test.y]).tolist()) == {UNLABELLED}
    assert sum(data.sizes().values()) == len(x)
    assert _rows(load_dataset(cfg).test.x) == _rows(data.test.x)
    other = load_dataset(_cfg("npz", path, fid_backend="inception", adaptive="false", seed=2))
    assert _rows(other.test.x) != _rows(data.test.x)


def test_without_labels_what_needs_them_is_refused_before_any_run(tmp_path):
    x, _ = _labelled_x()
    path = write_npz(tmp_path / "u.npz", x=x)
    domain = _one_line(ConfigError, lambda: _cfg("npz", path))
    assert str(path) in domain and "pass fid_backend=inception" in domain
    rule = _one_line(ConfigError, lambda: _cfg("npz", path, fid_backend="inception"))
    assert "silhouette" in rule and "-e fixed" in rule


class _MeanFeatures:
    """A stand-in extractor (no weights): per-image mean and spread of the pixels."""

    name = "inception"

    def features(self, images: torch.Tensor) -> np.ndarray:
        flat = images.flatten(1).double()
        return torch.stack([flat.mean(1), flat.std(1), flat[:, ::7].mean(1)], 1).numpy()

    def quality(self) -> dict[str, float]:
        return {}


def test_evaluation_without_labels_reports_label_metrics_as_not_available(tmp_path):
    x, y = _labelled_x()
    unlabelled = load_dataset(
        _cfg("npz", write_npz(tmp_path / "u.npz", x=x), fid_backend="inception", adaptive="false")
    )
    labelled = load_dataset(_cfg("npz", write_npz(tmp_path / "l.npz", x=x, y=y)))
    for data, available in ((unlabelled, False), (labelled, True)):
        torch.manual_seed(0)
        model = build_model(data.image_shape, 4, 16)
        extractor = _MeanFeatures()
        reference = make_test_reference(extractor, data.test, 4, spare=data.val)
        metrics = evaluate(model, data.test, extractor, reference, 10)
        for name in ("test_silhouette", "test_cluster_acc"):
            assert np.isnan(metrics[name]) != available, name
        assert all(np.isfinite(metrics[k]) for k in ("test_recon_loss", "test_fid", "test_elbo"))


def _make_npz(root, case: str):
    x, y = _labelled_x()
    if case == "no x":
        return write_npz(root / "f.npz", images=x, y=y), "has no array x (it holds images, y)"
    if case == "not npz":
        path = root / "f.npz"
        path.write_bytes(b"plain text")
        return path, "cannot read"
    if case == "channels":
        return write_npz(root / "f.npz", x=np.zeros((4, 8, 8, 2), np.uint8)), "x has shape"
    if case == "dtype":
        return write_npz(root / "f.npz", x=x.astype(np.int64), y=y), "x has dtype int64"
    if case == "range":
        return write_npz(root / "f.npz", x=x.astype(np.float32), y=y), "outside [0, 1]"
    if case == "wide":
        return write_npz(root / "f.npz", x=np.zeros((9, 8, 16), np.uint8), y=y[:9]), "crop"
    if case == "y length":
        return write_npz(root / "f.npz", x=x, y=y[:-1]), f"x holds {len(x)} images"
    if case == "y float":
        return write_npz(root / "f.npz", x=x, y=y.astype(np.float32)), "y has dtype float32"
    if case == "y one class":
        return write_npz(root / "f.npz", x=x, y=np.zeros(len(x), int)), "y holds one class"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    ["no x", "not npz", "channels", "dtype", "range", "wide", "y length", "y float", "y one class"],
)
def test_bad_npz_files_are_one_line_naming_the_file(tmp_path, case):
    path, expected = _make_npz(tmp_path, case)
    # unlabelled cases skip what needs labels, so the file problem itself is what fails
    message = _one_line(
        DataError,
        lambda: load_dataset(_cfg("npz", path, fid_backend="inception", adaptive="false")),
    )
    assert str(path) in message and expected in message


def test_npz_folder_must_hold_exactly_one_file(tmp_path):
    x, y = _labelled_x()
    write_npz(tmp_path / "a.npz", x=x, y=y)
    write_npz(tmp_path / "b.npz", x=x, y=y)
    message = _one_line(ConfigError, lambda: _cfg("npz", tmp_path))
    assert "exactly one .npz file (found: a.npz, b.npz)" in message


# --- image_size ---------------------------------------------------------------------------------


def test_image_size_is_refused_for_built_in_datasets_and_out_of_range(tmp_path):
    message = _one_line(ConfigError, lambda: resolve_config("quick", {"image_size": "32"}))
    assert "image_size applies to dataset=folder and npz only" in message
    write_image_folder(tmp_path, per_class=6)
    for bad in ("4", "1000", "-1"):
        message = _one_line(ConfigError, lambda b=bad: _cfg("folder", tmp_path, image_size=b))
        assert f"image_size={bad} is out of range" in message
    assert _cfg("folder", tmp_path, image_size="").image_size == 0  # empty: the default
