"""Ctrl-C and SIGTERM through `mlflow run` itself, as users stop it: the run ends KILLED
(MLflow's CLI overwrites it FAILED after the entry point exits; the guard the entry
point leaves behind puts KILLED back) and resumes with ``-P resume_run_id`` to FINISHED
with every epoch, whichever signal stopped it and whoever received it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import mlflow
import psutil
import pytest
from commands import mlflow_run_command, subprocess_env, wait_for_epochs
from mlflow.tracking import MlflowClient

from benchmark.tracking.cli_status import INTERRUPTED_PREFIX, mlflow_cli_pid, restore_killed
from benchmark.tracking.tags import FAILURE_TAG

PARAMS = {"dataset": "digits", "epochs": "8", "seed": "3", "device": "cpu", "fid_samples": "100"}


def test_outside_mlflow_run_there_is_no_cli_to_guard_against():
    assert mlflow_cli_pid() is None


def test_the_guard_puts_back_killed_only_on_a_run_a_signal_stopped(mlflow_store):
    client = MlflowClient()
    exp = client.get_experiment_by_name("Default").experiment_id
    stopped, failed = (client.create_run(exp) for _ in range(2))
    client.set_tag(stopped.info.run_id, FAILURE_TAG, f"{INTERRUPTED_PREFIX}SIGINT")
    client.set_tag(failed.info.run_id, FAILURE_TAG, "ValueError: bad")
    for run in (stopped, failed):  # what MLflow's CLI does after a non-zero exit
        client.set_terminated(run.info.run_id, "FAILED", end_time=2000)
    assert restore_killed(stopped.info.run_id, 1000)
    assert not restore_killed(failed.info.run_id, 1000)
    back = client.get_run(stopped.info.run_id).info
    assert (back.status, back.end_time) == ("KILLED", 1000)
    assert client.get_run(failed.info.run_id).info.status == "FAILED"
    assert not restore_killed(stopped.info.run_id, 1000)  # already KILLED: untouched


def _entry_point(cli: subprocess.Popen) -> psutil.Process | None:
    for child in psutil.Process(cli.pid).children(recursive=True):
        try:
            if "pipelines.adaptive" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def _status_settles(client: MlflowClient, run_id: str, want: str, within_s: float) -> str:
    """The run's status once it is ``want`` or ``within_s`` has passed."""
    deadline = time.monotonic() + within_s
    status = client.get_run(run_id).info.status
    while status != want and time.monotonic() < deadline:
        time.sleep(0.3)
        status = client.get_run(run_id).info.status
    return status


# (signal, sent to the whole process group as a terminal does, else to the entry point
# alone as `kill PID` does); every case is resumed
CASES = [
    (signal.SIGINT, True),
    (signal.SIGINT, False),
    (signal.SIGTERM, True),
    (signal.SIGTERM, False),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "to_group"),
    CASES,
    ids=[
        "ctrl-c to the group",
        "sigint to the entry point",
        "sigterm to the group",
        "sigterm to the entry point",
    ],
)
def test_a_signal_through_mlflow_run_ends_the_run_killed_and_resumes(
    sig: signal.Signals, to_group: bool, tmp_path
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = subprocess_env(uri, MLFLOW_EXPERIMENT_NAME="Default")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    cmd = mlflow_run_command("adaptive", "Default", PARAMS)
    # its own process group, as a terminal starts a command line
    cli = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    run_id = wait_for_epochs(client, cli, 2)
    if to_group:
        os.killpg(cli.pid, sig)
    else:
        entry = _entry_point(cli)
        assert entry is not None
        entry.send_signal(sig)
    _, err = cli.communicate(timeout=120)
    assert (
        f"ended KILLED. To continue it, run the same command with -P resume_run_id={run_id}" in err
    )
    # the CLI's FAILED is undone within seconds (the guard imports MLflow first)
    assert _status_settles(client, run_id, "KILLED", within_s=60) == "KILLED"
    run = client.get_run(run_id)
    assert run.data.tags[FAILURE_TAG] == f"interrupted by {signal.Signals(sig).name}"
    stopped_at = len(client.get_metric_history(run_id, "latent_dim"))
    assert stopped_at < int(PARAMS["epochs"])  # stopped before its end: a resume has work
    again = subprocess.run(
        mlflow_run_command("adaptive", "Default", PARAMS | {"resume_run_id": run_id}),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = client.get_run(run_id)
    assert resumed.info.status == "FINISHED"
    history = client.get_metric_history(run_id, "train_loss")
    # every epoch once: an epoch logged but stopped before its checkpoint runs again on
    # resume, and its step is not logged a second time
    assert sorted(m.step for m in history) == list(range(1, int(PARAMS["epochs"]) + 1))
    assert resumed.data.metrics["final_latent_dim"] >= 1
