"""The paper's four datasets through the whole pipeline: per-dataset presets, the training
loop with cuts on the convolutional models, bad dataset files as one-line errors with no
run left RUNNING, and (slow) `mlflow run` on tiny files in each real format, offline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from commands import mlflow_run_command, subprocess_env
from dataset_files import write_eurosat, write_mnist_idx, write_sprites
from mlflow.tracking import MlflowClient

from benchmark import tracking
from benchmark.config import available_presets, load_dataset_overrides, load_preset, resolve_config
from benchmark.data import load_dataset
from benchmark.metrics.features import make_feature_extractor
from benchmark.training.loop import train
from pipelines import adaptive, fixed
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

REPO = Path(__file__).resolve().parents[1]
STORE_FILE = "mlflow.db"
WRITERS = {
    "mnist": lambda root: write_mnist_idx(root, "MNIST"),
    "fashion-mnist": lambda root: write_mnist_idx(root, "FashionMNIST"),
    "eurosat": lambda root: write_eurosat(root, per_class=10),
    "sprites": lambda root: write_sprites(root, per_class_train=10, per_class_test=2),
}
ARCHITECTURE = {"mnist": "mlp", "fashion-mnist": "mlp", "eurosat": "conv", "sprites": "conv3d"}
SHAPE = {
    "mnist": "1x28x28",
    "fashion-mnist": "1x28x28",
    "eurosat": "3x64x64",
    "sprites": "3x8x64x64",
}


@pytest.fixture()
def store(mlflow_store, tmp_path, monkeypatch):
    """A private tracking store and a fresh feature cache for one test."""
    monkeypatch.setenv("ALD_BENCHMARK_CACHE", str(tmp_path / "cache"))
    return mlflow_store


# --- presets per dataset ------------------------------------------------------------------------


def test_paper_preset_per_dataset():
    # docs/method.md, docs/paper-preset.md: initial size 64, 200 epochs, Adam amsgrad
    # lr 1e-3, batch 64 (16 for SPRITES); the convolutional models' linear layers have
    # 256 units
    expected_batch = {"mnist": 64, "fashion-mnist": 64, "eurosat": 64, "sprites": 16}
    expected_hidden = {"mnist": 400, "fashion-mnist": 400, "eurosat": 256, "sprites": 256}
    for dataset, batch in expected_batch.items():
        cfg = resolve_config("paper", {"dataset": dataset, "data_dir": str(REPO)})
        assert (cfg.initial_latent_dim, cfg.epochs, cfg.batch_size) == (64, 200, batch)
        assert cfg.amsgrad is True and cfg.lr == pytest.approx(1e-3)
        assert (cfg.patience, cfg.coarse_step, cfg.fine_step) == (5, 5, 1)
        assert cfg.hidden_dim == expected_hidden[dataset]
        assert len(cfg.latent_sizes) >= 5 and max(cfg.latent_sizes) == 64
        assert cfg.amp is False and cfg.download is False
    grid = resolve_config("paper", {"dataset": "eurosat", "data_dir": str(REPO)}).latent_sizes
    assert grid == load_dataset_overrides("paper", "eurosat")["latent_sizes"]


def test_quick_preset_gives_sprites_its_batch_and_the_conv_width():
    cfg = resolve_config("quick", {"dataset": "sprites", "data_dir": str(REPO)})
    assert (cfg.batch_size, cfg.hidden_dim) == (16, 256)
    assert cfg.epochs == load_preset("quick")["epochs"]


def test_explicit_parameters_beat_the_per_dataset_values():
    cfg = resolve_config(
        "paper",
        {"dataset": "sprites", "data_dir": str(REPO), "batch_size": "8", "latent_sizes": "4,8"},
    )
    assert (cfg.batch_size, cfg.latent_sizes, cfg.hidden_dim) == (8, [4, 8], 256)


@pytest.mark.parametrize("preset", ["paper", "quick"])
@pytest.mark.parametrize("dataset", ["mnist5k", "digits"])
def test_embedded_datasets_keep_the_preset_values(preset, dataset):
    cfg = resolve_config(preset, {"dataset": dataset})
    for key, value in load_preset(preset).items():
        assert getattr(cfg, key) == value, key
    assert cfg.hidden_dim == 400


def test_the_per_dataset_file_is_not_a_preset():
    assert "_datasets" not in available_presets()
    assert set(available_presets()) == {"paper", "quick"}


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_boolean_parameters_are_checked(value):
    for name in ("amp", "download"):
        with pytest.raises(Exception, match=f"{name}='{value}' is not a boolean"):
            resolve_config("quick", {name: value})


# --- the training loop on the convolutional models ----------------------------------------------


@pytest.mark.parametrize("dataset", ["eurosat", "sprites"])
def test_training_cuts_the_convolutional_models(tmp_path, monkeypatch, dataset):
    from benchmark.metrics import domain as domain_module

    monkeypatch.setattr(domain_module, "DOMAIN_EPOCHS", 2)  # features need not be good
    WRITERS[dataset](tmp_path)
    cfg = resolve_config(
        "quick",
        {
            "dataset": dataset,
            "data_dir": str(tmp_path),
            "device": "cpu",
            "epochs": 4,
            "patience": 1,
            "initial_latent_dim": 12,
            "hidden_dim": 16,
            "batch_size": 32,
        },
    )
    data = load_dataset(cfg)
    extractor = make_feature_extractor(
        "domain", data.name, data.train.x, data.train.y, data.n_classes
    )
    result = train(cfg, data, extractor, torch.device("cpu"), progress=False)
    # the first decision after patience + 1 evaluations (the published timing)
    assert [h.latent_dim for h in result.history] == [12, 12, 7, 2]
    assert result.model.config.architecture == ("conv" if dataset == "eurosat" else "conv3d")
    for h in result.history:
        assert np.isfinite([h.train_loss, h.val_recon_loss, h.val_fid, h.val_fid_recon]).all()
        assert -1.0 <= h.val_silhouette <= 1.0


# --- bad files: one line, exit 2, no run left RUNNING ------------------------------------------


def _damage(root: Path, dataset: str) -> Path:
    """Write the dataset, then spoil one file; returns that file."""
    WRITERS[dataset](root)
    if dataset == "mnist":
        bad = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
        bad.write_bytes(bad.read_bytes()[:-100])
    elif dataset == "fashion-mnist":
        bad = root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
        bad.unlink()
    elif dataset == "eurosat":
        from PIL import Image

        bad = root / "eurosat" / "2750" / "River" / "River_3.jpg"
        Image.new("RGB", (32, 32)).save(bad)
    else:
        bad = root / "sprites" / "npy" / "walk_left_frames_test.npy"
        bad.write_bytes(bad.read_bytes()[:1000])
    return bad


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "eurosat", "sprites"])
def test_bad_files_fail_with_one_line_and_no_run(store, tmp_path, capsys, dataset):
    bad = _damage(tmp_path / "data", dataset)
    argv = ["--dataset", dataset, "--data_dir", str(tmp_path / "data"), "--epochs", "1"]
    code = run_entry_point(adaptive.main, argv)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert str(bad) in err  # the file is named
    # no run: MLflow never even created its store (a run needs one)
    assert not (tmp_path / STORE_FILE).exists()


def test_bad_files_end_the_run_mlflow_created_failed(store, tmp_path, monkeypatch):
    bad = _damage(tmp_path / "data", "sprites")
    client = MlflowClient(store)
    run = client.create_run(client.create_experiment("pre"))
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    argv = ["--latent_dim", "4", "--dataset", "sprites", "--data_dir", str(tmp_path / "data")]
    assert run_entry_point(fixed.main, argv) == EXIT_BAD_INPUT
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FAILED"
    assert str(bad) in after.data.tags[tracking.FAILURE_TAG]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--dataset", "eurosat", "--data_dir", "/no/such/dir"], "data_dir '/no/such/dir'"),
        (["--dataset", "sprites", "--data_dir", "/tmp", "--download", "true"], "cannot be down"),
        (["--dataset", "mnist", "--download", "true"], "set data_dir"),
        (["--dataset", "digits", "--amp", "perhaps"], "amp='perhaps' is not a boolean"),
        (["--dataset", "digits", "--download", "soon"], "download='soon' is not a boolean"),
    ],
)
def test_bad_dataset_parameters_fail_before_any_run(store, tmp_path, capsys, argv, expected):
    code = run_entry_point(adaptive.main, argv)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1 and expected in err
    assert not (tmp_path / STORE_FILE).exists()  # no store, so no run


# --- end to end: `mlflow run` on tiny files in each real format -----------------------------------


def _mlflow_run(store_uri: str, cwd: Path, *params: str) -> subprocess.CompletedProcess:
    cmd = mlflow_run_command("adaptive", "datasets", list(params))
    env = subprocess_env(store_uri)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _only_run(client: MlflowClient):
    runs = client.search_runs([client.get_experiment_by_name("datasets").experiment_id])
    assert len(runs) == 1
    return runs[0]


@pytest.fixture()
def no_network_env(monkeypatch, tmp_path):
    """Environment for the `mlflow run` children: no proxy can reach anything, and the
    torchvision and torch hub caches point into the test's folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: any request fails
    monkeypatch.setenv("NO_PROXY", "")


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "eurosat", "sprites"])
def test_mlflow_run_adaptive_on_each_dataset_format(store, tmp_path, no_network_env, dataset):
    data_dir = tmp_path / "data"
    WRITERS[dataset](data_dir)
    proc = _mlflow_run(
        store, tmp_path, f"dataset={dataset}", f"data_dir={data_dir}", "epochs=2", "device=cpu"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store)
    run = _only_run(client)
    assert run.info.status == "FINISHED"
    assert run.data.tags["benchmark.dataset"] == dataset
    assert run.data.params["data.image_shape"] == SHAPE[dataset]
    assert run.data.params["config.download"] == "False"
    assert run.data.params["config.amp"] == "False"
    assert len(client.get_metric_history(run.info.run_id, "val_fid")) == 2
    assert np.isfinite(run.data.metrics["test_fid"])
    images = {a.path for a in client.list_artifacts(run.info.run_id, "images")}
    assert images == {"images/reconstructions.png", "images/prior_samples.png"}
    model = tracking.load_model(run.info.run_id)
    assert model.config.architecture == ARCHITECTURE[dataset]
    assert "x".join(str(s) for s in model.config.image_shape) == SHAPE[dataset]


@pytest.mark.slow
def test_mlflow_run_with_a_missing_folder_fails_cleanly(store, tmp_path, no_network_env):
    missing = tmp_path / "not-there"
    proc = _mlflow_run(store, tmp_path, "dataset=eurosat", f"data_dir={missing}", "epochs=2")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(missing) in errors[0]
    run = _only_run(MlflowClient(store))
    assert run.info.status == "FAILED"
    assert str(missing) in run.data.tags[tracking.FAILURE_TAG]
