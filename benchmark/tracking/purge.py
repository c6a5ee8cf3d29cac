"""Purging one run from a database-backed tracking store, for good: what `mlflow gc`
does for one run. Its own module, so that the run helpers (:mod:`.runs`) and the guard
that purges after `mlflow run`'s CLI exits (:mod:`.cli_status`) share it without
importing each other."""

from __future__ import annotations

import contextlib

from mlflow.tracking import MlflowClient


def purge_run(run_id: str) -> None:
    """Delete run ``run_id`` permanently from a database store, artifacts first: what
    `mlflow gc` does for one run (MLflow's store has no public call for it)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = MlflowClient()
    run = client.get_run(run_id)
    with contextlib.suppress(Exception):  # no artifact written yet is the usual case
        get_artifact_repository(run.info.artifact_uri).delete_artifacts()
    client._tracking_client.store._hard_delete_run(run_id)
