"""Stopping a run: SIGINT and SIGTERM end it KILLED with one line, SIGKILL leaves a run
that the next command ends FAILED, and each stopped run continues in place with
``resume_run_id`` to the same end as a run that never stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from commands import module_command, record_liveness, subprocess_env, wait_for_epochs
from mlflow.tracking import MlflowClient

from benchmark import tracking
from benchmark.system.pids import pid_alive

# --- the reaper, on runs made by hand ---------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_run(client: MlflowClient, process: str, beat: float, epochs: int = 0) -> str:
    run = client.create_run("0")
    run_id = run.info.run_id
    client.set_tag(run_id, "benchmark.method", "adaptive")
    record_liveness(client, run_id, process, beat)
    for step in range(1, epochs + 1):
        client.log_metric(run_id, "latent_dim", 8, step=step)
    return run_id


def test_runs_whose_process_vanished_are_ended_failed(mlflow_store):
    client = MlflowClient()
    host, now = socket.gethostname(), time.time()
    old = now - tracking.VANISHED_AFTER_S - 60
    dead_here = _running_run(client, f"{host}:{_dead_pid()}", now, epochs=3)
    alive_here = _running_run(client, f"{host}:{os.getpid()}", old)  # alive: never judged by age
    silent_elsewhere = _running_run(client, "elsewhere:1", old, epochs=5)
    beating_elsewhere = _running_run(client, "elsewhere:1", now)
    kept = _running_run(client, f"{host}:{_dead_pid()}", now)
    not_ours = client.create_run("0").info.run_id  # no liveness record: not the project's
    ended = tracking.reap_vanished_runs("0", keep={kept})
    assert sorted(ended) == sorted([dead_here, silent_elsewhere])
    for run_id, epoch in ((dead_here, 3), (silent_elsewhere, 5)):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags[tracking.FAILURE_TAG] == f"process vanished, last epoch {epoch}"
    for run_id in (alive_here, beating_elsewhere, kept, not_ours):
        assert client.get_run(run_id).info.status == "RUNNING"


# --- signals to a real entry point, then resume ---------------------------------------

ARGS = {"dataset": "digits", "epochs": "10", "seed": "3", "device": "cpu", "fid_samples": "100"}
STOP_AFTER_EPOCHS = 2  # before the first cut (quick: the first decision closes epoch 3)


def _final(client: MlflowClient, run_id: str) -> dict[str, float]:
    metrics = client.get_run(run_id).data.metrics
    return {k: v for k, v in metrics.items() if k.startswith("test_") or k == "final_latent_dim"}


def _only_run(client: MlflowClient) -> str:
    (run,) = client.search_runs(["0"])
    return run.info.run_id


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, domain_cache) -> dict[str, float]:
    tmp = tmp_path_factory.mktemp("whole")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    done = subprocess.run(
        module_command("pipelines.adaptive", ARGS),
        env=subprocess_env(uri),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(uri)
    return _final(client, _only_run(client))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signalled_run_ends_cleanly_and_resumes_to_the_same_end(sig, uninterrupted, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = subprocess_env(uri)
    client = MlflowClient(uri)
    proc = subprocess.Popen(
        module_command("pipelines.adaptive", ARGS),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = wait_for_epochs(client, proc, STOP_AFTER_EPOCHS)
    started = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30
    run = client.get_run(run_id)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert run.info.status == "RUNNING"  # nothing could end it; the next command does
    else:
        name = signal.Signals(sig).name
        assert proc.returncode == 128 + sig
        assert "Traceback" not in err
        last = [line for line in err.splitlines() if line.strip()][-1]
        assert last.startswith(f"interrupted by {name}: run {run_id} ended KILLED.")
        assert f"-P resume_run_id={run_id}" in last
        assert run.info.status == "KILLED"
        assert run.data.tags[tracking.FAILURE_TAG] == f"interrupted by {name}"

    resumed = subprocess.run(
        module_command("pipelines.adaptive", ARGS | {"resume_run_id": run_id}),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert len(client.search_runs(["0"])) == 1  # continued in place, no second run
    steps = [m.step for m in client.get_metric_history(run_id, "latent_dim")]
    assert set(steps) == set(range(1, int(ARGS["epochs"]) + 1))
    final = _final(client, run_id)
    assert final["final_latent_dim"] == uninterrupted["final_latent_dim"]
    assert final == pytest.approx(uninterrupted, rel=1e-5)


# --- a grid search stopped by a signal, then run again ---------------------------------

SEARCH_SIZES = (2, 4, 8)


def _search_command(storage: str) -> list[str]:
    args = {
        "dataset": "digits",
        "latent_sizes": ",".join(map(str, SEARCH_SIZES)),
        "epochs": "6",
        "device": "cpu",
        "fid_samples": "100",
        "storage": storage,
        "study_name": "stopped",
        "n_workers": "2",
        "heartbeat_interval": "1",
        "grace_period": "3",
    }
    return module_command("pipelines.gridsearch", args)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGKILL, True)],
    ids=["ctrl-c to the group", "sigterm to the parent", "sigkill to the group"],
)
def test_a_stopped_search_leaves_nothing_running_and_loses_no_size(sig, group, tmp_path):
    import optuna
    from commands import wait_for_running_trial
    from optuna.trial import TrialState

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    env = subprocess_env(uri)
    client = MlflowClient(uri)
    proc = subprocess.Popen(
        _search_command(storage),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell job has
    )
    victim = wait_for_running_trial(storage, "stopped", min_epochs=1)
    started = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=90)
    stopped_in = time.monotonic() - started
    worker = int(victim.user_attrs["worker_pid"])
    deadline = time.monotonic() + 30
    while pid_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(worker), "a worker outlived its search"
    statuses = {r.info.run_id: r.info.status for r in client.search_runs(["0"])}
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert stopped_in < 30
        assert proc.returncode == 128 + sig, out[-3000:]
        assert "Traceback" not in out
        assert "ended KILLED. To continue, run the same command again" in out
        assert "RUNNING" not in statuses.values(), statuses
        assert statuses[victim.user_attrs["mlflow_run_id"]] == "KILLED"

    again = subprocess.run(
        _search_command(storage), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="stopped", storage=storage)
    complete = sorted(
        t.params["latent_dim"] for t in study.trials if t.state == TrialState.COMPLETE
    )
    assert complete == list(SEARCH_SIZES)
    runs = client.search_runs(["0"])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parents = [r for r in runs if r.data.tags.get("benchmark.method") == "gridsearch"]
    assert sorted(r.info.status for r in parents) == sorted(
        ["FINISHED", "FAILED" if sig == signal.SIGKILL else "KILLED"]
    )
