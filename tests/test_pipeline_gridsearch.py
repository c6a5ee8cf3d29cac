"""The gridsearch entry point end to end: `mlflow run` twice with 2 workers, and a worker
killed in the middle of a trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pytest
from commands import (
    mlflow_run_command,
    module_command,
    study_named,
    subprocess_env,
    wait_for_running_trial,
)
from contract import EPOCH_METRICS
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from benchmark import tracking

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture()
def env(tmp_path):
    return subprocess_env(
        f"sqlite:///{tmp_path / 'mlflow.db'}", ALD_BENCHMARK_CACHE=str(tmp_path / "cache")
    )


def _runs(env, experiment: str = "grid"):
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(experiment)
    return client, client.search_runs([exp.experiment_id], max_results=1000)


def test_mlflow_run_twice_trains_each_size_exactly_once(env, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    cmd = mlflow_run_command(
        "gridsearch",
        "grid",
        {
            "dataset": "digits",
            "latent_sizes": "4,8,16",
            "epochs": "4",
            "n_workers": "2",
            "storage": storage,
        },
    )
    for _ in range(2):
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    study_name = study_named(storage, "digits-quick-seed1-grid-")
    client, runs = _runs(env)
    parents = [r for r in runs if r.data.tags["benchmark.method"] == "gridsearch"]
    trials = [r for r in runs if r.data.tags["benchmark.method"] == "fixed"]
    assert [p.info.status for p in parents] == ["FINISHED", "FINISHED"]
    assert sorted(int(r.data.params["fixed_latent_dim"]) for r in trials) == [4, 8, 16]
    assert all(r.info.status == "FINISHED" for r in trials)
    first = min(parents, key=lambda r: r.info.start_time)
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {first.info.run_id}
    # the runs `mlflow run` created are renamed from inside; trials carry seed and size
    assert [p.info.run_name for p in parents] == ["gridsearch seed=1"] * 2
    assert sorted(r.info.run_name for r in trials) == [
        f"grid seed=1 latent_dim={n}" for n in (16, 4, 8)
    ]
    for p in parents:
        assert p.data.metrics["best_latent_dim"] in (4, 8, 16)
        assert p.data.metrics["sum_trial_wall_clock_s"] > 0
        assert p.data.tags["benchmark.study_name"] == study_name
    # the same per-epoch metrics as an adaptive run
    for name in EPOCH_METRICS:
        assert len(client.get_metric_history(trials[0].info.run_id, name)) == 4

    study = optuna.load_study(study_name=study_name, storage=storage)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted(t.params["latent_dim"] for t in complete) == [4, 8, 16]
    # Any other trial lost a race between the two workers' asks for a size: it is PRUNED
    # as surplus and never trained (no MLflow run), as docs/methods.md describes.
    others = [t for t in study.trials if t.state != TrialState.COMPLETE]
    for t in others:
        assert t.state == TrialState.PRUNED and t.user_attrs.get("surplus") is True, t
        assert "mlflow_run_id" not in t.user_attrs
    # one of the two workers trained in the search's own process (it starts first, while
    # the other one's process starts): its trials name it, and share one pid
    here = [t for t in complete if t.user_attrs.get("worker_in_parent")]
    assert here, [t.user_attrs for t in complete]
    assert len({t.user_attrs["worker_pid"] for t in here}) == 1
    by_id = {r.info.run_id: r for r in trials}
    for t in complete:
        run = by_id[t.user_attrs["mlflow_run_id"]]
        assert run.data.tags["benchmark.trial_number"] == str(t.number)
        assert int(run.data.params["fixed_latent_dim"]) == t.params["latent_dim"]

    # Optuna's own CLI reads the study
    listing = subprocess.run(
        [
            str(Path(sys.executable).parent / "optuna"),
            "trials",
            "--study-name",
            study_name,
            "--storage",
            storage,
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count('"COMPLETE"') == 3


def test_worker_killed_mid_trial_is_retried_and_completes_once(env, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    name = "kill-test"
    proc = subprocess.Popen(
        module_command(
            "pipelines.gridsearch",
            {
                "dataset": "digits",
                "latent_sizes": "4,8,16",
                "epochs": "30",
                "n_workers": "2",
                "storage": storage,
                "study_name": name,
                "heartbeat_interval": "1",
                "grace_period": "4",
            },
        ),
        cwd=REPO,
        env=env | {"MLFLOW_EXPERIMENT_NAME": "grid"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        victim = wait_for_running_trial(storage, name, timeout=300, spawned_only=True)
        os.kill(int(victim.user_attrs["worker_pid"]), signal.SIGKILL)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]

    study = optuna.load_study(study_name=name, storage=storage)
    states = Counter((t.params["latent_dim"], t.state) for t in study.trials)
    for size in (4, 8, 16):
        assert states[(size, TrialState.COMPLETE)] == 1, states
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == killed.params

    client, runs = _runs(env)
    fixed = [r for r in runs if r.data.tags["benchmark.method"] == "fixed"]
    finished = Counter(
        int(r.data.params["fixed_latent_dim"]) for r in fixed if r.info.status == "FINISHED"
    )
    assert finished == {4: 1, 8: 1, 16: 1}
    # killed after two epochs, so with a checkpoint: the retry continued the killed
    # trial's run in place and finished it
    run_id = killed.user_attrs["mlflow_run_id"]
    assert retry[0].user_attrs["mlflow_run_id"] == run_id
    resumed = client.get_run(run_id)
    assert resumed.info.status == "FINISHED"
    assert tracking.FAILURE_TAG not in resumed.data.tags
    assert not [r for r in runs if r.info.status == "RUNNING"]
