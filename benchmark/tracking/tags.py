"""The tags this project writes on runs, run names, and ending a run by its id.

Naming follows docs/tracking.md; the run names (``mlflow.runName``) say what a run is,
so that no run of this project carries one of MLflow's random names."""

from __future__ import annotations

import mlflow
from mlflow.tracking import MlflowClient

from benchmark.methods import grid as grid_method
from benchmark.system.masking import mask_secrets

FAILURE_TAG = "benchmark.failure_reason"
# On the run `mlflow run` creates for `-P resume_run_id=ID`: the run it continues.
CONTINUES_TAG = "benchmark.continues_run"
STOPPED_EARLY_TAG = "benchmark.stopped_early"
# MLflow's own tag for the name shown in the UI; setting it renames a run that exists
# already (the one `mlflow run` created before the entry point started).
RUN_NAME_TAG = "mlflow.runName"
# `worker`: the run of a worker that joined a search from another machine (pipelines.worker);
# `report`, `benchmark`: a report's run, the benchmark job's run (which ends in a report)
METHODS = ("adaptive", "gridsearch", "fixed", "report", "benchmark", "worker")
# On every run a selection method creates (its trials, retrains, the search parent): the
# method's registry name (benchmark.methods), by which the report groups runs.
SELECTION_METHOD_TAG = "benchmark.selection_method"
# MLflow caps tag values; a reason longer than this is cut.
MAX_TAG_CHARS = 4000


def one_line(text: str) -> str:
    """``text`` on one line, passwords masked, cut to what a tag can hold."""
    line = " ".join(mask_secrets(str(text)).split())
    return line[:MAX_TAG_CHARS]


def name_run(run_id: str, name: str) -> None:
    """Give run ``run_id`` the name ``name`` in the MLflow UI (also a run that exists)."""
    MlflowClient().set_tag(run_id, RUN_NAME_TAG, one_line(name))


def trial_run_name(search: str, seed: int, latent_dim: int) -> str:
    """The name of a search trial's run: ``grid seed=1 latent_dim=16``."""
    return f"{search} seed={seed} latent_dim={latent_dim}"


def search_run_name(search: str, seed: int) -> str:
    """The name of a search's parent run: ``gridsearch seed=1`` (``halving seed=1``)."""
    name = "gridsearch" if search == grid_method.METHOD.name else search
    return f"{name} seed={seed}"


def mark_run_failed(run_id: str, reason: str) -> None:
    """End an existing run FAILED with the reason as a tag (for errors raised before
    :func:`~benchmark.tracking.runs.tracked_run` could attach to the run that
    ``mlflow run`` created)."""
    client = MlflowClient()
    client.set_tag(run_id, FAILURE_TAG, one_line(reason))
    client.set_terminated(run_id, "FAILED")


def run_status(run_id: str) -> str | None:
    """The status of a run in this process's tracking store (``RUNNING``, ``FINISHED``,
    ...), or None when the store has no such run (a worker checks its search's parent)."""
    try:
        return MlflowClient().get_run(run_id).info.status
    except mlflow.exceptions.MlflowException:
        return None
