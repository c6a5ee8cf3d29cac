"""Liveness records (benchmark.tracking.liveness): one heartbeat a run, kept in a small
artifact instead of a tag; the run of a worker whose machine died ends FAILED."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import optuna
import pytest
from commands import module_command, record_liveness, subprocess_env, wait_for_running_trial
from mlflow.tracking import MlflowClient

from benchmark.search.attrs import set_study_attr
from benchmark.search.dead_workers import fail_dead_worker_runs
from benchmark.tracking import FAILURE_TAG, RunHeartbeat, read_liveness
from benchmark.tracking.liveness import this_process


@pytest.fixture()
def store(mlflow_store, tmp_path):
    """A private MLflow store (with one experiment) and an Optuna study, both SQLite."""
    client = MlflowClient(mlflow_store)
    experiment = client.create_experiment("liveness")
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    set_study_attr(study, "parent_experiment_id", experiment)
    return client, experiment, study


def _worker_run(client, experiment, study_name="s", method="worker") -> str:  # noqa: ANN001
    tags = {"benchmark.method": method, "benchmark.study_name": study_name}
    return client.create_run(experiment, tags=tags).info.run_id


def test_fail_dead_worker_runs_ends_only_the_studys_silent_running_workers(store):
    client, experiment, study = store
    now = time.time()
    dead, alive, finished = (_worker_run(client, experiment) for _ in range(3))
    other_study = _worker_run(client, experiment, study_name="other")
    not_a_worker = _worker_run(client, experiment, method="adaptive")
    for run_id in (dead, finished, other_study, not_a_worker):
        record_liveness(client, run_id, "elsewhere:1", now - 100)
    record_liveness(client, alive, "elsewhere:1", now)
    client.set_terminated(finished, "FINISHED")

    assert fail_dead_worker_runs(study, grace_s=30) == [dead]

    assert client.get_run(dead).info.status == "FAILED"
    assert "stopped beating 100 s ago" in client.get_run(dead).data.tags[FAILURE_TAG]
    for run_id in (alive, other_study, not_a_worker):
        assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(finished).info.status == "FINISHED"
    assert FAILURE_TAG not in client.get_run(finished).data.tags
    # a second pass finds nothing more to end
    assert fail_dead_worker_runs(study, grace_s=30) == []


def test_a_dead_worker_on_this_host_is_told_by_its_pid_at_once(store):
    client, experiment, study = store
    child = subprocess.Popen(["true"])
    child.wait()
    dead = _worker_run(client, experiment)
    record_liveness(client, dead, f"{socket.gethostname()}:{child.pid}", time.time())
    assert fail_dead_worker_runs(study, grace_s=3600) == [dead]
    assert "vanished" in client.get_run(dead).data.tags[FAILURE_TAG]


def test_one_heartbeat_a_run_beats_in_an_artifact_and_no_tag(store):
    client, experiment, _ = store
    run_id = client.create_run(experiment).info.run_id
    with RunHeartbeat(run_id, interval_s=0.05) as outer:
        first = read_liveness(run_id)
        assert first is not None and first.process == this_process()
        with RunHeartbeat(run_id, interval_s=0.05) as inner:  # the same run again: no thread
            assert outer._thread.is_alive() and not inner._thread.is_alive()
        deadline = time.monotonic() + 10
        while read_liveness(run_id).beat == first.beat:
            assert time.monotonic() < deadline, "no second beat"
            time.sleep(0.05)
        assert outer._thread.is_alive()  # the inner block's end did not stop it
    assert not outer._thread.is_alive()
    tags = client.get_run(run_id).data.tags
    assert not [k for k in tags if "heartbeat" in k or "process" in k]
    assert read_liveness(client.create_run(experiment).info.run_id) is None


@pytest.mark.slow
def test_a_worker_machine_that_dies_leaves_no_run_running(tmp_path):
    """A coordinator, a `worker` whose whole process group is SIGKILLed mid-trial (its
    machine dies), then a second worker that trains what is left."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    name = "machine-death"
    env = subprocess_env(uri, MLFLOW_EXPERIMENT_NAME=name)

    def start(module: str, args: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(
            module_command(module, args),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a "machine" to kill
        )

    search = {"dataset": "digits", "latent_sizes": "2,4", "epochs": "20"}
    search |= {"storage": storage, "study_name": name, "coordinate_only": "true"}
    search |= {"heartbeat_interval": "1", "grace_period": "4"}
    coordinator = start("pipelines.gridsearch", search)
    worker = {"study_name": name, "storage": storage, "n_workers": "1"}
    doomed = start("pipelines.worker", worker)
    procs = [coordinator, doomed]
    try:
        victim = wait_for_running_trial(
            storage, name, min_epochs=1, attr="worker_run_id", timeout=300
        )
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.communicate(timeout=60)
        survivor = start("pipelines.worker", worker)
        procs.append(survivor)
        outs = [p.communicate(timeout=600)[0] for p in (coordinator, survivor)]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    for p, out in zip((coordinator, survivor), outs, strict=True):
        assert p.returncode == 0, out[-3000:]

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    dead_worker = client.get_run(victim.user_attrs["worker_run_id"])
    assert dead_worker.info.status == "FAILED"
    # ended by the coordinator or, first, by the survivor's run (its pid gone on this
    # host): either way it says its process died
    reason = dead_worker.data.tags[FAILURE_TAG]
    assert "vanished" in reason, reason
    workers = [r for r in runs if r.data.tags.get("benchmark.method") == "worker"]
    assert sorted(r.info.status for r in workers) == ["FAILED", "FINISHED"]
    study = optuna.load_study(study_name=name, storage=storage)
    complete = sorted(t.params["latent_dim"] for t in study.trials if t.state.name == "COMPLETE")
    assert complete == [2, 4]
