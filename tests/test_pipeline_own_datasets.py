"""The user's own images through the entry points: an adaptive run on a folder of PNGs,
a fixed run on an unlabelled npz file (label metrics NaN, not invented), and (slow)
`mlflow run` of `adaptive` and `benchmark` on a folder made here, offline."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
import torch
from commands import mlflow_run_command, subprocess_env
from dataset_files import grey_image, write_image_folder, write_npz
from mlflow.tracking import MlflowClient
from torch import nn

from benchmark.metrics import domain as domain_module
from benchmark.metrics import features as features_module
from benchmark.metrics.inception import InceptionFeatures
from pipelines import adaptive, fixed
from pipelines.cli import run_entry_point

TINY = ["--epochs", "2", "--initial_latent_dim", "6", "--fid_samples", "4", "--device", "cpu"]


@pytest.fixture()
def store(mlflow_store, tmp_path, monkeypatch):
    """A private tracking store and a fresh feature cache for one test."""
    monkeypatch.setenv("ALD_BENCHMARK_CACHE", str(tmp_path / "cache"))
    return mlflow_store


def _only_run(client: MlflowClient, experiment: str = "Default"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_adaptive_on_a_folder_of_pngs(store, tmp_path, monkeypatch):
    monkeypatch.setattr(domain_module, "DOMAIN_EPOCHS", 2)  # features need not be good
    write_image_folder(tmp_path / "pics", per_class=10, sizes=((30, 30), (40, 36)))
    argv = ["--dataset", "folder", "--data_dir", str(tmp_path / "pics"), *TINY]
    assert run_entry_point(adaptive.main, argv) == 0
    run = _only_run(MlflowClient(store))
    assert run.info.status == "FINISHED"
    assert run.data.tags["benchmark.dataset"] == "folder"
    assert run.data.params["data.image_shape"] == "1x28x28"
    assert run.data.params["config.image_size"] == "0"  # the default of grey images
    assert -1.0 <= run.data.metrics["test_silhouette"] <= 1.0  # labels: the class folders
    assert 0.0 <= run.data.metrics["test_cluster_acc"] <= 1.0


class _TinyInception(nn.Module):
    """Stands in for pytorch-fid's network (no weights here): returns [features]."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pooled = nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
        return [pooled[:, :, None, None]]


def test_fixed_on_an_unlabelled_npz_logs_label_metrics_as_nan(store, tmp_path, monkeypatch):
    monkeypatch.setattr(
        features_module,
        "InceptionFeatures",
        lambda device: InceptionFeatures(device, model=_TinyInception()),
    )
    x = np.stack([grey_image(i % 3, i, 20, 20) for i in range(40)])
    path = write_npz(tmp_path / "mine.npz", x=x)
    argv = ["--dataset", "npz", "--data_dir", str(path), "--fid_backend", "inception", *TINY]
    assert run_entry_point(fixed.main, [*argv, "--latent_dim", "3"]) == 0
    client = MlflowClient(store)
    run = _only_run(client)
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    # not available without labels: NaN, never a score under made-up labels
    assert math.isnan(metrics["test_silhouette"]) and math.isnan(metrics["test_cluster_acc"])
    history = client.get_metric_history(run.info.run_id, "val_silhouette")
    assert len(history) == 2 and all(math.isnan(m.value) for m in history)
    assert np.isfinite([metrics["test_fid"], metrics["test_recon_loss"]]).all()


# --- end to end: `mlflow run` on a folder made here ------------------------------------------


@pytest.fixture()
def offline_env(monkeypatch, tmp_path):
    """Environment for the `mlflow run` children: no request can reach anything."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: any request fails
    monkeypatch.setenv("NO_PROXY", "")


def _mlflow_run(store_uri: str, tmp_path, entry: str, *params: str):
    cmd = mlflow_run_command(entry, "own", list(params))
    env = subprocess_env(store_uri)
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_mlflow_run_adaptive_and_benchmark_on_a_folder(store, tmp_path, offline_env):
    pics = tmp_path / "pics"
    write_image_folder(pics, per_class=12, colour=True, sizes=((48, 48), (70, 64)))
    common = [f"data_dir={pics}", "dataset=folder", "epochs=2", "device=cpu", "image_size=32"]
    proc = _mlflow_run(store, tmp_path, "adaptive", *common, "fid_samples=8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store)
    run = _only_run(client, "own")
    assert run.info.status == "FINISHED"
    assert run.data.params["data.image_shape"] == "3x32x32"  # colour, at image_size
    proc = _mlflow_run(
        store, tmp_path, "benchmark", *common, "latent_sizes=2,4", f"output={tmp_path}/r.pdf"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = client.search_runs([client.get_experiment_by_name("own").experiment_id])
    assert all(r.info.status == "FINISHED" for r in runs)
    methods = {r.data.tags.get("benchmark.method") for r in runs}
    assert {"adaptive", "gridsearch", "fixed"} <= methods
    assert (tmp_path / "r.pdf").stat().st_size > 0
