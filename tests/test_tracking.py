"""Where the tracking layer puts runs: a child run belongs to its parent's experiment,
whatever experiment the environment names."""

from __future__ import annotations

import mlflow
import torch
from mlflow.tracking import MlflowClient

from benchmark import tracking


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
