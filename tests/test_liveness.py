"""Worker runs beat in the study; the run of a worker whose machine died ends FAILED."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import optuna
import pytest
from commands import module_command, subprocess_env, wait_for_running_trial
from mlflow.tracking import MlflowClient

from benchmark.search.attrs import set_study_attr, study_attrs
from benchmark.search.liveness import (
    WorkerHeartbeat,
    beat_key,
    fail_dead_worker_runs,
    stale_worker_runs,
)
from benchmark.tracking import FAILURE_TAG


@pytest.fixture()
def store(mlflow_store, tmp_path):
    """A private MLflow store (with one experiment) and an Optuna study, both SQLite."""
    client = MlflowClient(mlflow_store)
    experiment = client.create_experiment("liveness")
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    return client, experiment, study


def test_stale_worker_runs_only_numbers_older_than_the_grace_period():
    attrs = {
        beat_key("old"): 100.0,
        beat_key("fresh"): 195.0,
        beat_key("stopped"): None,
        "worker_alive": 0.0,  # not a beat key
        "grace_period": 30,
    }
    assert stale_worker_runs(attrs, now=200.0, grace_s=30) == ["old"]
    assert stale_worker_runs(attrs, now=200.0, grace_s=120) == []


def test_fail_dead_worker_runs_ends_only_silent_running_runs(store):
    client, experiment, study = store
    dead, alive, finished = (client.create_run(experiment).info.run_id for _ in range(3))
    client.set_terminated(finished, "FINISHED")
    now = time.time()
    set_study_attr(study, beat_key(dead), now - 100)
    set_study_attr(study, beat_key(alive), now)
    set_study_attr(study, beat_key(finished), now - 100)

    assert fail_dead_worker_runs(study, grace_s=30) == [dead]

    assert client.get_run(dead).info.status == "FAILED"
    assert "stopped beating" in client.get_run(dead).data.tags[FAILURE_TAG]
    assert client.get_run(alive).info.status == "RUNNING"
    assert client.get_run(finished).info.status == "FINISHED"
    assert FAILURE_TAG not in client.get_run(finished).data.tags
    # judged once: a second pass finds nothing to end
    assert study_attrs(study)[beat_key(dead)] is None
    assert fail_dead_worker_runs(study, grace_s=30) == []


def test_heartbeat_beats_while_the_block_runs_and_clears_on_exit(store):
    _, _, study = store
    with WorkerHeartbeat(study, "w1", interval_s=0.05):
        first = study_attrs(study)[beat_key("w1")]
        deadline = time.monotonic() + 10
        while study_attrs(study)[beat_key("w1")] == first:
            assert time.monotonic() < deadline, "no second beat"
            time.sleep(0.02)
    assert study_attrs(study)[beat_key("w1")] is None


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
    # ended by the coordinator (no beat in the study) or, first, by the survivor's run
    # (its pid gone on this host): either way it says its process died
    reason = dead_worker.data.tags[FAILURE_TAG]
    assert "stopped beating" in reason or "process vanished" in reason, reason
    workers = [r for r in runs if r.data.tags.get("benchmark.method") == "worker"]
    assert sorted(r.info.status for r in workers) == ["FAILED", "FINISHED"]
    study = optuna.load_study(study_name=name, storage=storage)
    complete = sorted(t.params["latent_dim"] for t in study.trials if t.state.name == "COMPLETE")
    assert complete == [2, 4]
