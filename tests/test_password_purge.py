"""A storage URL with a password, refused: `mlflow run` had logged it as a parameter of
the run it created before the project started, so the project purges that run from a
local tracking store (under `mlflow run` once the CLI has exited, since the CLI reads
the run again), and nothing of any run, in any lifecycle stage, holds the password."""

from __future__ import annotations

import subprocess
import sys
import time

import mlflow
import pytest
from commands import mlflow_run_command, subprocess_env
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from benchmark.tracking import cli_status
from pipelines import gridsearch, worker
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

SECRET = "hunter2-secret"
URL = f"postgresql://bench:{SECRET}@localhost:1/optuna"


def _run_as_mlflow_run_made_it(monkeypatch, entry: str) -> str:
    """The run `mlflow run` creates for an entry point: every -P logged, then the entry
    point started with MLFLOW_RUN_ID."""
    with mlflow.start_run() as run:
        mlflow.log_params({"storage": URL, "study_name": "s"})
        mlflow.set_tag("mlflow.project.entryPoint", entry)
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    # mlflow.start_run above ended it; `mlflow run` leaves it RUNNING for the entry point
    MlflowClient().update_run(run.info.run_id, "RUNNING")
    return run.info.run_id


def _everything_stored(uri: str) -> str:
    """Every param, tag and artifact path of every run of every experiment, in every
    lifecycle stage, as one text."""
    client = MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    parts = []
    for run in client.search_runs(exps, run_view_type=ViewType.ALL):
        parts += [*run.data.params.values(), *run.data.tags.values()]
        parts += [a.path for a in client.list_artifacts(run.info.run_id)]
    return "\n".join(parts)


ARGS = {
    "gridsearch": (gridsearch.main, ["--dataset", "digits", "--epochs", "1", "--storage", URL]),
    "worker": (worker.main, ["--study_name", "s", "--storage", URL]),
}


@pytest.mark.parametrize("entry", sorted(ARGS))
def test_a_refused_password_leaves_no_trace_in_a_local_store(
    mlflow_store, monkeypatch, capsys, entry
):
    run_id = _run_as_mlflow_run_made_it(monkeypatch, entry)
    assert SECRET in _everything_stored(mlflow_store)
    main, argv = ARGS[entry]
    assert run_entry_point(main, argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert SECRET not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]

    assert "holds a password" in line and f"the run {run_id} holding it was purged" in line
    assert SECRET not in _everything_stored(mlflow_store)
    with pytest.raises(MlflowException):
        MlflowClient().get_run(run_id)  # gone, not only deleted


def test_under_mlflow_run_the_purge_waits_for_the_cli_to_exit(mlflow_store, monkeypatch, capsys):
    """The CLI reads the run after the entry point's exit (a purged run would make it
    fail with a traceback): the guard purges only once the CLI's process is gone."""
    run_id = _run_as_mlflow_run_made_it(monkeypatch, "gridsearch")
    cli = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    monkeypatch.setattr(cli_status, "mlflow_cli_pid", lambda: cli.pid)
    main, argv = ARGS["gridsearch"]
    assert run_entry_point(main, argv) == EXIT_BAD_INPUT
    assert "purged" in capsys.readouterr().err
    # the CLI still runs: the run is there for it to read (deleted, parameters and all)
    assert MlflowClient().get_run(run_id).info.lifecycle_stage == "deleted"
    cli.wait()
    deadline = time.monotonic() + 60
    while SECRET in _everything_stored(mlflow_store) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert SECRET not in _everything_stored(mlflow_store)


@pytest.mark.slow
def test_through_mlflow_run_itself_no_run_holds_the_password(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = mlflow_run_command("gridsearch", "pw", {"dataset": "digits", "storage": URL})
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=subprocess_env(uri), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode != 0
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "holds a password" in line and "purged" in line and SECRET not in line
    deadline = time.monotonic() + 60  # the guard purges once the CLI has exited
    while SECRET in _everything_stored(uri) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert SECRET not in _everything_stored(uri)
