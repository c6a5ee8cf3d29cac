"""The adaptive entry point: end to end through `mlflow run`, and its bad inputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from commands import mlflow_run_command, subprocess_env
from contract import EPOCH_METRICS, EXTRACTOR_PARAMS, FINAL_METRICS
from mlflow.tracking import MlflowClient

from benchmark import tracking
from benchmark.config import resolve_config
from pipelines import adaptive
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point


@pytest.fixture()
def store(mlflow_store, tmp_path, monkeypatch):
    """A private tracking store and a fresh feature cache for one test."""
    monkeypatch.setenv("ALD_BENCHMARK_CACHE", str(tmp_path / "cache"))
    return mlflow_store


def _mlflow_run(store_uri: str, cwd: Path, *params: str) -> subprocess.CompletedProcess:
    cmd = mlflow_run_command("adaptive", "e2e", list(params))
    env = subprocess_env(store_uri)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _only_run(client: MlflowClient):
    exp = client.get_experiment_by_name("e2e")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
def test_mlflow_run_adaptive_on_digits_end_to_end(store, tmp_path):
    proc = _mlflow_run(store, tmp_path, "dataset=digits", "epochs=30")
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store)
    run = _only_run(client)
    assert run.info.status == "FINISHED"
    assert run.data.tags["benchmark.method"] == "adaptive"
    assert run.data.tags["benchmark.dataset"] == "digits"
    assert run.data.tags["benchmark.fid_backend"] == "domain"
    assert run.data.params["config.epochs"] == "30"
    for name in EPOCH_METRICS:
        assert len(client.get_metric_history(run.info.run_id, name)) == 30, name
    dims = [
        m.value
        for m in sorted(
            client.get_metric_history(run.info.run_id, "latent_dim"), key=lambda m: m.step
        )
    ]
    assert dims[0] == 64
    assert all(b <= a for a, b in zip(dims, dims[1:], strict=False)), dims
    assert dims[-1] < 64
    for name in FINAL_METRICS:
        assert name in run.data.metrics, name
    assert run.data.metrics["final_latent_dim"] <= dims[-1]
    assert run.data.metrics["wall_clock_s"] >= run.data.metrics["train_time_s"] > 0
    # CPU seconds of the run: some, and no more than every core busy for the whole run
    cpu = run.data.metrics["cpu_time_s"]
    assert 0 < cpu <= run.data.metrics["wall_clock_s"] * (os.cpu_count() or 1) + 1
    # the FIDs' noise floors and the extractor's quality, beside the FIDs
    assert run.data.metrics["val_fid_floor"] > 0 and run.data.metrics["test_fid_floor"] > 0
    for name in EXTRACTOR_PARAMS:
        assert name in run.data.params, name
    assert 0.9 <= float(run.data.params["fid.extractor_val_acc"]) <= 1.0
    assert int(run.data.params["fid.extractor_dead_units"]) <= 3

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "history.csv", "images", "model"} <= artifacts
    images = {a.path for a in client.list_artifacts(run.info.run_id, "images")}
    assert images == {"images/reconstructions.png", "images/prior_samples.png"}
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="history.csv", dst_path=tmp_path
    )
    history = pd.read_csv(local)
    assert history["latent_dim"].tolist() == dims
    model = tracking.load_model(run.info.run_id)
    assert model.latent_dim == run.data.metrics["final_latent_dim"]


@pytest.mark.slow
def test_mlflow_run_bad_input_fails_cleanly(store, tmp_path):
    proc = _mlflow_run(store, tmp_path, "dataset=digits", "epochs=0")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: epochs=0 is too small; the number of epochs must be a positive integer"
    ]
    run = _only_run(MlflowClient(store))
    assert run.info.status == "FAILED"
    assert "epochs=0" in run.data.tags[tracking.FAILURE_TAG]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--dataset", "cifar"], "unknown dataset 'cifar'; allowed: mnist5k, digits"),
        (["--preset", "fast"], "unknown preset 'fast'; allowed: paper, quick"),
        (["--epochs", "-3"], "epochs=-3 is too small"),
        (["--epochs", "ten"], "epochs='ten' is not an integer"),
        (["--initial_latent_dim", "1"], "the initial latent size must be >= 2"),
        (["--prune_order", "random"], "unknown prune_order 'random'; allowed: last, kl"),
        (["--device", "tpu"], "unknown device 'tpu'; allowed: auto, cpu, cuda"),
        (["--fid_backend", "clip"], "unknown fid_backend 'clip'; allowed: domain, inception"),
        (["--dataset", "mnist", "--data_dir", "/does/not/exist"], "data_dir '/does/not/exist'"),
        (["--learning_rate", "1"], "unknown parameter 'learning_rate'; allowed: dataset"),
        (["--seed"], "parameter 'seed' has no value"),
    ],
)
def test_bad_input_one_line_nonzero_exit_no_run(store, capsys, argv, expected):
    code = run_entry_point(adaptive.main, ["--dataset", "digits", *argv])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1
    assert expected in err
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_inception_without_weights_fails_at_once(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = run_entry_point(adaptive.main, ["--dataset", "digits", "--fid_backend", "inception"])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1
    assert "pt_inception-2015-12-05-6726825d.pth" in err
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in err
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_error_ends_the_run_mlflow_run_created(store, monkeypatch, capsys):
    """`mlflow run` creates the run before the entry point starts: a bad input ends it
    FAILED with the reason as a tag."""
    client = MlflowClient(store)
    exp_id = client.create_experiment("pre")
    run = client.create_run(exp_id)
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    code = run_entry_point(adaptive.main, ["--dataset", "nope"])
    assert code == EXIT_BAD_INPUT
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FAILED"
    assert "unknown dataset 'nope'" in after.data.tags[tracking.FAILURE_TAG]
    assert "error: unknown dataset" in capsys.readouterr().err


def test_nan_training_stops_with_failed_run(store, monkeypatch, capsys):
    import torch

    import benchmark.training.loop as train_module

    real = train_module.negative_elbo
    monkeypatch.setattr(
        train_module, "negative_elbo", lambda *a, **k: real(*a, **k) * torch.tensor(float("nan"))
    )
    code = run_entry_point(adaptive.main, ["--dataset", "digits", "--epochs", "3"])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert "non-finite loss at epoch 1" in err
    runs = mlflow.search_runs(search_all_experiments=True)
    assert runs["status"].tolist() == ["FAILED"]
    assert "non-finite loss" in runs[f"tags.{tracking.FAILURE_TAG}"].iloc[0]


def test_resolved_config_is_logged_as_params(store):
    cfg = resolve_config("quick", {"dataset": "digits", "epochs": "2", "seed": "7"})
    code = run_entry_point(adaptive.main, ["--dataset", "digits", "--epochs", "2", "--seed", "7"])
    assert code == 0
    run = mlflow.search_runs(search_all_experiments=True).iloc[0]
    assert run["status"] == "FINISHED"
    for key, value in cfg.to_params().items():
        assert run[f"params.config.{key}"] == value
    assert run["tags.benchmark.seed"] == "7"
    assert run["metrics.final_latent_dim"] == 64  # too few epochs for a decision
