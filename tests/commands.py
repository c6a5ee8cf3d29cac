"""Command lines and environments for the child processes the end-to-end tests start
(`mlflow run` of this project, `python -m <entry point module>`). Not a test module: the
test modules import it as they import tests/services.py and tests/dataset_files.py.

One place builds a child's environment, so that no child inherits the run or the
experiment of the test session or of another test's fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState

REPO = Path(__file__).resolve().parents[1]
# What `mlflow run` (or a test's fixture) leaves in the environment to point a process at
# a run or an experiment; a child that inherited one would log into it.
INHERITED_RUN_VARIABLES = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


def subprocess_env(tracking_uri: str, **extra: str) -> dict[str, str]:
    """The environment of a child process: a copy of ``os.environ`` without
    :data:`INHERITED_RUN_VARIABLES`, with ``MLFLOW_TRACKING_URI`` set to ``tracking_uri``
    and telemetry off, then ``extra`` applied (it may set any variable, one of the
    dropped ones included, e.g. ``MLFLOW_EXPERIMENT_NAME``)."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_RUN_VARIABLES}
    env |= {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    return env | extra


def mlflow_run_command(
    entry_point: str, experiment: str, params: dict[str, str] | list[str]
) -> list[str]:
    """``mlflow run`` of this project's ``entry_point`` with the local environment
    manager into ``experiment``; ``params`` as a ``{name: value}`` dict or as
    ``"name=value"`` strings, each passed with ``-P`` in the given order."""
    pairs = [f"{k}={v}" for k, v in params.items()] if isinstance(params, dict) else params
    cmd = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", entry_point]
    cmd += ["--env-manager", "local", "--experiment-name", experiment]
    for pair in pairs:
        cmd += ["-P", pair]
    return cmd


def module_command(module: str, args: dict[str, str]) -> list[str]:
    """``python -m module --name value ...`` with this interpreter, ``args`` in order."""
    cmd = [sys.executable, "-m", module]
    for name, value in args.items():
        cmd += [f"--{name}", value]
    return cmd


def wait_for_running_trial(
    storage: str,
    study_name: str,
    min_epochs: int = 2,
    attr: str = "worker_pid",
    timeout: float = 600,
    spawned_only: bool = False,
) -> FrozenTrial:
    """The first RUNNING trial of the study that has the user attribute ``attr`` and has
    reported ``min_epochs`` epochs: a trial a test may kill the worker of.
    ``spawned_only``: one of a spawned worker process, never of the worker that runs in
    the search's own process (killing that one kills the search)."""
    deadline = time.monotonic() + timeout
    # one storage (one connection pool) for all the polls: a new one per poll would
    # leave PostgreSQL with a connection per poll until garbage collection
    rdb = optuna.storages.RDBStorage(storage)
    while time.monotonic() < deadline:
        try:
            study = optuna.load_study(study_name=study_name, storage=rdb)
        except KeyError:  # not created yet
            time.sleep(0.5)
            continue
        for t in study.get_trials(states=(TrialState.RUNNING,)):
            if spawned_only and t.user_attrs.get("worker_in_parent"):
                continue
            if t.user_attrs.get(attr) and len(t.intermediate_values) >= min_epochs:
                return t
        time.sleep(0.2)
    raise AssertionError(f"no trial of {study_name!r} reached the kill point in time")


def wait_for_epochs(client: MlflowClient, proc: subprocess.Popen, n: int) -> str:
    """The id of the first run of the default experiment once it logged ``n`` epochs;
    fails with ``proc``'s stderr when it ends first or 300 s pass."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        runs = client.search_runs(["0"])
        if runs and len(client.get_metric_history(runs[0].info.run_id, "latent_dim")) >= n:
            return runs[0].info.run_id
        time.sleep(0.2)
    raise AssertionError(f"no run reached epoch {n}: {proc.communicate()[1][-2000:]}")


def record_liveness(client, run_id: str, process: str, beat: float) -> None:  # noqa: ANN001
    """Write ``run_id``'s liveness record (benchmark.tracking.liveness) by hand: its
    process as ``host:pid`` and its last beat."""
    import json

    from benchmark.tracking import LIVENESS_FILE

    client.log_text(run_id, json.dumps({"process": process, "beat": beat}), LIVENESS_FILE)


def study_named(storage: str, prefix: str) -> str:
    """The one study in ``storage`` whose name starts with ``prefix`` (a default study
    name ends with a hash of its settings, which a test need not spell out)."""
    names = [n for n in optuna.get_all_study_names(storage) if n.startswith(prefix)]
    assert len(names) == 1, names
    return names[0]
