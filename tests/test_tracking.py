"""Where the tracking layer puts runs (a child run belongs to its parent's experiment,
whatever experiment the environment names), what it names them, and what it records of
the machine (load, GPU time) and lets MLflow print."""

from __future__ import annotations

import logging
import time

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient

from benchmark import tracking
from benchmark.tracking import store, usage


def test_nested_run_lands_in_parent_experiment(mlflow_store, monkeypatch, make_cfg):
    # what a user's shell may export while `mlflow run --experiment-name job` runs
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "shell-default")
    client = MlflowClient(mlflow_store)
    job = client.create_experiment("job")
    with (
        mlflow.start_run(experiment_id=job) as parent,
        tracking.tracked_run(make_cfg(), "fixed", torch.device("cpu"), nested=True) as run,
    ):
        child_id = run.info.run_id
    child = client.get_run(child_id)
    assert child.info.experiment_id == job
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    stray = client.get_experiment_by_name("shell-default")
    assert stray is None or not client.search_runs([stray.experiment_id])


# --- run names ---------------------------------------------------------------------------


def test_the_run_mlflow_run_created_is_renamed_for_what_it_becomes(
    mlflow_store, monkeypatch, make_cfg
):
    client = MlflowClient(mlflow_store)
    # what `mlflow run` does before the entry point starts: a run with a random name
    created = client.create_run(client.create_experiment("job")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", created)
    with tracking.tracked_run(make_cfg(seed=3), "adaptive", torch.device("cpu")) as run:
        assert run.info.run_id == created
    assert client.get_run(created).info.run_name == "adaptive seed=3"


def test_an_entry_point_run_ended_by_bad_input_is_named_after_the_entry_point(
    mlflow_store, monkeypatch, capsys
):
    from pipelines import fixed
    from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

    client = MlflowClient(mlflow_store)
    created = client.create_run(client.create_experiment("job")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", created)
    assert run_entry_point(fixed.main, ["--latent_dim", "x"]) == EXIT_BAD_INPUT
    run = client.get_run(created)
    assert run.info.status == "FAILED" and run.info.run_name == "fixed"
    assert "latent_dim" in capsys.readouterr().err


def test_report_runs_are_named_after_their_experiment(mlflow_store):
    with tracking.report_run("job-7") as run:
        pass
    assert MlflowClient(mlflow_store).get_run(run.info.run_id).info.run_name == "report job-7"


def test_search_and_trial_run_names_carry_search_seed_and_size():
    assert tracking.search_run_name("grid", 2) == "gridsearch seed=2"
    assert tracking.search_run_name("halving", 1) == "halving seed=1"
    assert tracking.trial_run_name("grid", 2, 16) == "grid seed=2 latent_dim=16"


# --- machine load, GPU time, MLflow's GPU notice -------------------------------------------


def test_cpu_runs_log_the_load_but_never_a_gpu_time(mlflow_store):
    with mlflow.start_run() as run, tracking.usage_metrics(torch.device("cpu")):
        pass
    metrics = MlflowClient(mlflow_store).get_run(run.info.run_id).data.metrics
    assert {"load_avg_1m_start", "load_avg_1m_end"} <= set(metrics)
    assert metrics["load_avg_1m_start"] >= 0
    assert "gpu_time_s" not in metrics


def test_cuda_runs_log_gpu_busy_seconds_from_the_utilisation(mlflow_store):
    readings = iter([100.0] * 1000)  # busy all the time
    start = time.monotonic()
    with (
        mlflow.start_run() as run,
        tracking.usage_metrics(
            torch.device("cuda"),
            read_gpu=lambda: usage.GpuReading(process=lambda: next(readings), device=lambda: 100.0),
        ),
    ):
        time.sleep(1.2)
    elapsed = time.monotonic() - start
    busy = MlflowClient(mlflow_store).get_run(run.info.run_id).data.metrics["gpu_time_s"]
    assert 0.8 <= busy <= elapsed + 0.1


def test_gpu_busy_meter_weighs_time_by_utilisation():
    with tracking.GpuBusyMeter(lambda: 25.0, interval_s=0.02) as meter:
        time.sleep(0.4)
    assert meter.busy_s == pytest.approx(0.1, abs=0.03)


def test_a_cuda_run_without_nvml_says_why_it_has_no_gpu_time(mlflow_store, monkeypatch):
    def missing(_device, _pid=None):
        raise ImportError("No module named 'pynvml'")

    monkeypatch.setattr(usage, "nvml_utilization", missing)
    with mlflow.start_run() as run, tracking.usage_metrics(torch.device("cuda")):
        pass
    data = MlflowClient(mlflow_store).get_run(run.info.run_id).data
    assert "gpu_time_s" not in data.metrics
    assert "nvidia-ml-py" in data.tags[usage.GPU_TIME_TAG]


def test_mlflow_gpu_skip_notice_is_muted_without_a_gpu(monkeypatch):
    logger = logging.getLogger(store.SYSTEM_METRICS_LOGGER)
    monkeypatch.setattr(logger, "filters", [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    tracking.quiet_gpu_metrics_notice()
    tracking.quiet_gpu_metrics_notice()  # idempotent: one filter
    assert len(logger.filters) == 1

    def record(message: str) -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, (), None)

    skip = "Skip logging GPU metrics. Set logger level to DEBUG for more details."
    assert not logger.filter(record(skip))
    assert logger.filter(record("Started monitoring system metrics."))


def test_mlflow_gpu_skip_notice_stays_where_there_is_a_gpu(monkeypatch):
    logger = logging.getLogger(store.SYSTEM_METRICS_LOGGER)
    monkeypatch.setattr(logger, "filters", [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    tracking.quiet_gpu_metrics_notice()
    assert logger.filters == []


def test_every_run_carries_the_contract_tags_by_their_names():
    # names users filter on in the UI; written out, not imported (a module move once
    # renamed "benchmark.device" as if it were a module path)
    import torch

    from benchmark.config import RunConfig
    from benchmark.tracking.runs import run_tags

    tags = run_tags(RunConfig(dataset="digits"), "adaptive", torch.device("cpu"))
    for name in (
        "benchmark.method",
        "benchmark.dataset",
        "benchmark.seed",
        "benchmark.preset",
        "benchmark.fid_backend",
        "benchmark.device",
    ):
        assert name in tags
    assert tags["benchmark.device"] == "cpu"
