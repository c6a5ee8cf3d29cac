"""Scale-out pieces without services: what the parent records in the study, how a worker
joins it (or refuses to), the wait for trials running elsewhere, `storage=env:NAME`,
and the masking of passwords in what is logged. The same paths against PostgreSQL and
an MLflow server, with real trainings, are in tests/test_services.py."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import mlflow
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

import benchmark.search.coordinator as coordinator
from benchmark import tracking
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.methods import tpe as tpe_method
from benchmark.search.attrs import set_study_attr, study_attrs
from benchmark.search.coordinator import run_workers_until_done
from benchmark.search.join import join_study
from benchmark.search.spec import MAX_ROUNDS, PARAM, PARENT_ATTRS, SearchSpec
from benchmark.search.storage import (
    PasswordInParameterError,
    open_storage,
    refuse_password,
    resolve_storage_url,
)
from benchmark.search.study import create_or_resume_study, record_parent
from benchmark.search.trials import search_has_work
from benchmark.search.worker import WorkerArgs
from benchmark.training.fingerprint import settings_fingerprint
from pipelines import worker
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture()
def store(mlflow_store):
    """A private tracking store for one test."""
    return mlflow_store


def _spec(tmp_path, **kwargs) -> SearchSpec:
    values = {
        "latent_sizes": [2, 4],
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        "study_name": "s",
        "heartbeat_interval": 2,
        "grace_period": 5,
    }
    return SearchSpec(**(values | kwargs)).validate()


def _complete(study: optuna.Study, size: int) -> None:
    study.add_trial(
        optuna.trial.create_trial(
            params={PARAM: size},
            distributions={PARAM: CategoricalDistribution([2, 4])},
            value=1.0,
        )
    )


def _statuses(**by_run: str):
    return lambda run_id: by_run.get(run_id)


# --- storage=env:NAME and password warnings ---------------------------------------------


def test_env_storage_reads_the_url_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("MY_STORAGE", url)
    assert resolve_storage_url("env:MY_STORAGE") == url
    assert resolve_storage_url(url) == url
    monkeypatch.delenv("MY_STORAGE")
    with pytest.raises(ConfigError, match="'MY_STORAGE', which is not set"):
        resolve_storage_url("env:MY_STORAGE")
    with pytest.raises(ConfigError, match="names the environment variable ''"):
        resolve_storage_url("env:")


def test_env_storage_opens_the_study_database(monkeypatch, tmp_path, make_cfg):
    monkeypatch.setenv("MY_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    spec = _spec(tmp_path, storage="env:MY_STORAGE")
    create_or_resume_study(spec, make_cfg(epochs=1))
    assert (tmp_path / "optuna.db").exists()
    assert [s.study_name for s in optuna.get_all_study_summaries(open_storage(spec))] == ["s"]


def test_a_password_in_the_storage_parameter_is_refused():
    with pytest.raises(PasswordInParameterError) as refused:
        refuse_password("postgresql://u:hunter2@db/optuna")
    line = str(refused.value)
    assert "PGPASSWORD" in line and "storage=env:NAME" in line and "hunter2" not in line
    refuse_password("postgresql://u@db/optuna")  # libpq finds the password itself
    refuse_password("env:OPTUNA_STORAGE")


def test_params_tags_and_failure_reasons_are_masked(store):
    with mlflow.start_run() as run:
        tracking.log_params({"where": "postgresql://u:hunter2@db/optuna"})
        tracking.set_tags({"benchmark.where": "http://u:hunter2@mlflow:5000"})
    tracking.mark_run_failed(run.info.run_id, "lost postgresql://u:hunter2@db/optuna")
    got = mlflow.get_run(run.info.run_id).data
    assert got.params["where"] == "postgresql://u:***@db/optuna"
    assert got.tags["benchmark.where"] == "http://u:***@mlflow:5000"
    assert got.tags[tracking.FAILURE_TAG] == "lost postgresql://u:***@db/optuna"


def test_a_tracking_uri_with_a_password_stops_mlflow_printing_run_urls(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    monkeypatch.setattr(mlflow, "get_tracking_uri", lambda: "http://u@mlflow:5000")
    tracking.quiet_secret_tracking_uri()
    assert "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ
    monkeypatch.setattr(mlflow, "get_tracking_uri", lambda: "http://u:pw@mlflow:5000")
    tracking.quiet_secret_tracking_uri()
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"


# --- what the parent records, how a worker joins ----------------------------------------


def test_record_parent_writes_what_a_worker_needs(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "http://u:secret@mlflow:5000")
    attrs = study_attrs(study)
    assert set(PARENT_ATTRS) <= set(attrs)
    # kept out of the user attributes, which Optuna's CLI and dashboard print in full
    assert set(PARENT_ATTRS).isdisjoint(study.user_attrs)
    assert attrs["config"] == cfg.to_dict()
    assert attrs["parent_run_id"] == "run1"
    assert attrs["parent_experiment_id"] == "7"
    assert attrs["tracking_uri"] == "http://u:***@mlflow:5000"
    assert (attrs["heartbeat_interval"], attrs["grace_period"]) == (2, 5)
    # a resumed parent re-points the workers
    record_parent(study, cfg, spec, "run2", "7", "sqlite:///m.db")
    assert study_attrs(study)["parent_run_id"] == "run2"


def test_join_study_rebuilds_the_search_with_this_machines_device(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2, device="auto")
    spec = _spec(tmp_path, search="halving")
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")
    joined = join_study(
        spec.storage,
        "s",
        3,
        {"device": "cpu", "data_dir": ""},
        0,
        _statuses(run1="RUNNING"),
        "sqlite:///m.db",
    )
    assert joined is not None
    assert joined.cfg.device == "cpu"
    assert settings_fingerprint(joined.cfg) == settings_fingerprint(cfg)
    assert joined.cfg.to_dict() | {"device": "auto"} == cfg.to_dict()
    assert joined.spec.search == "halving"
    assert joined.spec.latent_sizes == [2, 4]
    assert joined.spec.n_workers == 3
    assert (joined.spec.heartbeat_interval, joined.spec.grace_period) == (2, 5)
    assert (joined.parent_run_id, joined.experiment_id) == ("run1", "7")
    assert joined.study.study_name == "s"


def test_join_study_returns_none_when_nothing_is_left(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")
    for size in (2, 4):
        _complete(study, size)
    # even with the parent gone: a finished search needs no parent
    assert join_study(spec.storage, "s", 1, {}, 0, _statuses(), "x") is None


@pytest.mark.parametrize("budget", [1, 6])
def test_join_study_takes_a_sampled_searchs_trial_budget_from_the_study(tmp_path, make_cfg, budget):
    """A worker joining a tpe study trains under the coordinator's trial budget (fewer or
    more trials than the grid has sizes), not one trial per grid size."""
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path, search=tpe_method.METHOD.name, n_trials=budget)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")
    running = _statuses(run1="RUNNING")
    joined = join_study(spec.storage, "s", 1, {}, 0, running, "x")
    assert joined is not None
    assert (joined.spec.search, joined.spec.trial_budget) == (tpe_method.METHOD.name, budget)
    # the same start-up share of the budget as the coordinator's sampler
    assert joined.study.sampler._n_startup_trials == tpe_method.startup_trials(budget)
    sizes = IntDistribution(tpe_method.MIN_LATENT_DIM, cfg.initial_latent_dim)
    for i in range(budget):
        assert search_has_work(joined.study, joined.spec)
        # TPE's proposals: off the grid's sizes, the same size twice
        study.add_trial(
            optuna.trial.create_trial(
                params={PARAM: 3}, distributions={PARAM: sizes}, value=float(i)
            )
        )
    assert not search_has_work(joined.study, joined.spec)
    # the budget spent: nothing left to join, whichever grid sizes were never proposed
    assert join_study(spec.storage, "s", 1, {}, 0, running, "x") is None


def test_join_study_refuses_a_parent_this_tracking_store_lacks(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "http://u:secret@mlflow:5000")
    with pytest.raises(BenchmarkError) as info:
        join_study(spec.storage, "s", 1, {}, 5, _statuses(), "sqlite:///local.db")
    message = str(info.value)
    assert "parent run run1" in message
    assert "http://u:***@mlflow:5000" in message and "MLFLOW_TRACKING_URI" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        ("none", "study 's' does not exist"),
        ("study", "study 's' has no parent run yet"),
        ("finished-parent", "parent run run1 of study 's' is FINISHED"),
    ],
)
def test_join_study_waits_then_gives_up_with_one_line(tmp_path, make_cfg, prepare, expected):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    if prepare != "none":
        study = create_or_resume_study(spec, cfg)
    if prepare == "finished-parent":
        record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")
    start = time.monotonic()
    with pytest.raises(BenchmarkError) as info:
        join_study(spec.storage, "s", 1, {}, 1, _statuses(run1="FINISHED"), "sqlite:///m.db", 0.1)
    assert time.monotonic() - start >= 1
    assert str(info.value).startswith("gave up after 1 s: ")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_join_study_waits_for_a_parent_that_starts_later(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)

    def coordinator() -> None:
        time.sleep(0.5)
        study = create_or_resume_study(spec, cfg)
        record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")

    thread = threading.Thread(target=coordinator)
    thread.start()
    try:
        joined = join_study(
            spec.storage, "s", 1, {}, 30, _statuses(run1="RUNNING"), "sqlite:///m.db", 0.1
        )
    finally:
        thread.join()
    assert joined is not None and joined.parent_run_id == "run1"


def test_join_study_refuses_a_config_this_version_trains_differently(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "run1", "7", "sqlite:///m.db")
    set_study_attr(study, "config", cfg.to_dict() | {"warp_factor": 9})
    with pytest.raises(BenchmarkError, match="warp_factor are unknown here"):
        join_study(spec.storage, "s", 1, {}, 0, _statuses(run1="RUNNING"), "x")
    set_study_attr(study, "config", cfg.to_dict() | {"epochs": 3})
    with pytest.raises(BenchmarkError, match="would train another configuration"):
        join_study(spec.storage, "s", 1, {}, 0, _statuses(run1="RUNNING"), "x")


# --- waiting for trials that run elsewhere ----------------------------------------------


def _args(spec: SearchSpec, make_cfg) -> WorkerArgs:
    return WorkerArgs(make_cfg(epochs=1), spec, "parent", "0", "sqlite:///m.db", 1)


def _returns_within(seconds: float, call) -> list:
    """``call()``'s result, failing (instead of hanging) if it does not return in time."""
    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not return within {seconds:g} s"
    return result[0]


def test_coordinator_only_waits_for_remote_workers_and_starts_none(tmp_path, make_cfg, monkeypatch):
    def no_spawn(*_args):
        raise AssertionError("a coordinator started a local worker")

    monkeypatch.setattr(coordinator, "_run_local_workers", no_spawn)
    spec = _spec(tmp_path, coordinate_only=True)
    study = optuna.create_study()
    done = threading.Event()

    def remote_worker() -> None:
        for size in (2, 4):
            time.sleep(0.3)
            study.enqueue_trial({PARAM: size})
            trial = study.ask({PARAM: CategoricalDistribution([2, 4])})
            time.sleep(0.3)  # RUNNING meanwhile
            study.tell(trial, float(size))
        done.set()

    thread = threading.Thread(target=remote_worker, daemon=True)
    thread.start()
    codes = _returns_within(
        60, lambda: run_workers_until_done(study, _args(spec, make_cfg), poll_s=0.05)
    )
    thread.join(10)
    assert codes == []
    # it returned only once both sizes were done elsewhere
    assert done.is_set()
    assert sorted(t.params[PARAM] for t in study.get_trials(states=(TrialState.COMPLETE,))) == [
        2,
        4,
    ]


def test_parent_with_local_workers_waits_for_a_trial_running_elsewhere(
    tmp_path, make_cfg, monkeypatch
):
    study = optuna.create_study()
    remote = study.ask({PARAM: CategoricalDistribution([2, 4])})  # a remote worker's
    remote_size = remote.params[PARAM]
    spawned = []

    def local_round(args, n, prepared):
        spawned.append(n)
        _complete(study, 2 if remote_size == 4 else 4)
        return [0] * n

    monkeypatch.setattr(coordinator, "_run_local_workers", local_round)
    finished = []

    def finish_remote() -> None:
        time.sleep(1.0)
        finished.append(time.monotonic())
        study.tell(remote, 1.0)

    thread = threading.Thread(target=finish_remote)
    thread.start()
    try:
        codes = _returns_within(
            60,
            lambda: run_workers_until_done(
                study, _args(_spec(tmp_path, n_workers=2), make_cfg), 0.05
            ),
        )
        returned = time.monotonic()
    finally:
        thread.join()
    assert spawned == [2] and codes == [0, 0]
    # it returned only after the remote trial had finished
    assert finished and returned >= finished[0]


def test_local_rounds_are_bounded_when_workers_keep_dying(tmp_path, make_cfg, monkeypatch):
    rounds = []
    monkeypatch.setattr(
        coordinator, "_run_local_workers", lambda args, n, prepared: rounds.append(n) or [1]
    )
    study = optuna.create_study()
    codes = _returns_within(
        60, lambda: run_workers_until_done(study, _args(_spec(tmp_path), make_cfg), poll_s=0.01)
    )
    assert codes == [1] * MAX_ROUNDS
    assert rounds == [1] * MAX_ROUNDS


class _FakeProcess:
    """What the coordinator uses of a spawned worker process."""

    def __init__(self, events: list[str], name: str) -> None:
        self.events, self.name, self.exitcode = events, name, 0

    def join(self, timeout: float | None = None) -> None:
        self.events.append(f"join {self.name}")

    def is_alive(self) -> bool:
        return True

    def terminate(self) -> None:
        self.events.append(f"terminate {self.name}")

    def kill(self) -> None:
        self.events.append(f"kill {self.name}")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_with_prepared_data_one_of_n_workers_trains_in_this_process(
    tmp_path, make_cfg, monkeypatch, n
):
    """The first local worker trains here while the others start (the first start
    waits for the fork server's imports: seconds when nothing started it before), and
    every exit code is returned."""
    events: list[str] = []
    began_here = threading.Event()

    def start(args, count, first=0):
        # a cold server: the processes come only after the worker here has begun
        events.append(f"start {count} (after the worker here began: {began_here.wait(30)})")
        return [_FakeProcess(events, f"w{i}") for i in range(count)]

    def here(args, prepared):
        events.append(f"here {prepared}")
        began_here.set()
        return [0]

    monkeypatch.setattr(coordinator, "_start_workers", start)
    monkeypatch.setattr(coordinator, "_run_worker_here", here)
    servers = []  # the fork server starts only where a process will fork from it
    monkeypatch.setattr(coordinator.processes, "warm_up", lambda: servers.append(1))
    args = _args(_spec(tmp_path, n_workers=n), make_cfg)
    codes = _returns_within(20, lambda: coordinator._run_local_workers(args, n, "data"))
    assert codes == [0] * n
    assert servers == ([] if n == 1 else [1])
    joins = [f"join w{i}" for i in range(n - 1)]
    assert events == ["here data", f"start {n - 1} (after the worker here began: True)", *joins]
    # without this process's data (a `worker` entry point) all n are processes
    events.clear()
    began_here.set()
    assert coordinator._run_local_workers(args, n, prepared=None) == [0] * n
    assert events == [f"start {n} (after the worker here began: True)"] + [
        f"join w{i}" for i in range(n)
    ]


@pytest.mark.parametrize(
    ("device", "gpus", "here", "expected"),
    [
        ("cuda", 3, False, ["cuda:0", "cuda:1", "cuda:2", "cuda:0"]),
        ("auto", 2, True, ["cuda:1", "cuda:0", "cuda:1"]),  # the one here has cuda:0's data
        ("cuda", 1, False, ["cuda", "cuda"]),  # one GPU: nothing to spread
        ("cuda:1", 2, False, ["cuda:1", "cuda:1"]),  # pinned by the user
        ("cpu", 2, False, ["cpu", "cpu"]),
    ],
)
def test_local_workers_spread_over_the_visible_gpus(
    tmp_path, make_cfg, monkeypatch, device, gpus, here, expected
):
    """Worker i trains on GPU i mod n of the n visible ones (the compose file's GPU
    worker sees every card of its host); a pinned device and one GPU stay as given."""
    import benchmark.system.device as device_module

    started: list[list[tuple]] = []
    monkeypatch.setattr(device_module, "gpu_count", lambda: gpus)
    monkeypatch.setattr(
        coordinator.processes, "start", lambda _target, arg_sets: started.append(arg_sets) or []
    )
    monkeypatch.setattr(coordinator.processes, "warm_up", lambda: None)
    monkeypatch.setattr(coordinator, "_run_worker_here", lambda args, prepared: [0])
    cfg = make_cfg(epochs=1, device=device)
    args = WorkerArgs(cfg, _spec(tmp_path), "parent", "0", "sqlite:///m.db", 1)
    n = len(expected) + (1 if here else 0)
    coordinator._run_local_workers(args, n, prepared="data" if here else None)
    (arg_sets,) = started
    assert [a.cfg.device for (a,) in arg_sets] == expected
    # only the device differs from the search's configuration
    assert all(dataclasses.replace(a.cfg, device=device) == cfg for (a,) in arg_sets)


def test_a_stop_during_this_process_trial_stops_the_spawned_workers(
    tmp_path, make_cfg, monkeypatch
):
    import signal

    from benchmark.system.interrupts import RunInterrupted

    events: list[str] = []
    monkeypatch.setattr(
        coordinator, "_start_workers", lambda args, count, first=0: [_FakeProcess(events, "w0")]
    )

    def stopped_here(args, prepared):
        raise RunInterrupted(signal.SIGTERM)

    monkeypatch.setattr(coordinator, "_run_worker_here", stopped_here)
    monkeypatch.setattr(coordinator.processes, "warm_up", lambda: None)
    args = _args(_spec(tmp_path, n_workers=2), make_cfg)
    with pytest.raises(RunInterrupted):
        coordinator._run_local_workers(args, 2, prepared="data")
    # the spawned worker was told to stop (it ends its trial's run KILLED), and killed
    # when it was still alive after the grace period
    assert events == ["terminate w0", "join w0", "kill w0"]


def _write_sigint_handler(path: str) -> None:
    """A stand-in for a worker's main: how it started out handling SIGINT."""
    import signal

    with open(path, "w") as f:
        f.write(str(signal.getsignal(signal.SIGINT)))


def test_workers_start_ignoring_ctrl_c_and_this_process_handles_it_again(tmp_path, monkeypatch):
    """A Ctrl-C to the process group must not reach a worker before its main has
    installed its own handlers (it would die with a traceback): it starts with SIGINT
    ignored, as the fork server it comes from runs; this process's handler is as it
    was."""
    import signal

    monkeypatch.setattr(coordinator, "run_worker", _write_sigint_handler)
    monkeypatch.setattr(coordinator, "on_device", lambda args, _index: args)
    path = tmp_path / "sigint"
    before = signal.getsignal(signal.SIGINT)
    (proc,) = coordinator._start_workers(str(path), 1)
    proc.join(120)
    assert proc.exitcode == 0
    assert path.read_text() == str(signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_finished_worker_exits_with_its_exit_handlers_run_and_its_output_flushed(tmp_path):
    import subprocess
    import sys

    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, threading, time\n"
        "from benchmark.search.worker import _exit_without_teardown\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'a').write('atexit '))\n"
        # a non-daemon thread still writing: the exit waits for it
        f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(marker)!r}, 'a')"
        ".write('thread '))).start()\n"
        "print('done', end='')\n"
        "_exit_without_teardown()\n"
        "print(' not reached')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done"  # flushed (a pipe is block-buffered), nothing after
    assert marker.read_text() == "thread atexit "


# --- the worker entry point's bad inputs -------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "study_name is required"),
        (["--study_name", "s", "--n_workers", "0"], "n_workers=0 is too small"),
        (["--study_name", "s", "--wait", "-1"], "wait=-1 is too small"),
        (["--study_name", "s", "--wait", "soon"], "wait='soon' is not an integer"),
        (["--study_name", "s", "--sizes", "4"], "unknown parameter 'sizes'"),
        (["--study_name", "s", "--storage", "env:NOPE_NOT_SET"], "'NOPE_NOT_SET', which is not"),
    ],
)
def test_worker_bad_input_one_line(store, tmp_path, capsys, argv, expected):
    code = run_entry_point(worker.main, argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == EXIT_BAD_INPUT
    assert len(err) == 1 and err[0].startswith("error: ")
    assert expected in err[0]
    # nothing reached the tracking store, not even its creation
    assert not (tmp_path / "mlflow.db").exists()


def test_worker_gives_up_on_a_missing_study_and_fails_its_mlflow_run(
    store, tmp_path, capsys, monkeypatch
):
    with mlflow.start_run() as run:
        pass
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)  # as `mlflow run` would set it
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    code = run_entry_point(worker.main, ["--study_name", "s", "--storage", storage, "--wait", "0"])
    assert code == EXIT_BAD_INPUT
    assert "study 's' does not exist" in capsys.readouterr().err
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_worker_exits_cleanly_when_the_search_is_done(store, tmp_path, make_cfg, capsys):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "gone", "0", store)
    for size in (2, 4):
        _complete(study, size)
    code = run_entry_point(worker.main, ["--study_name", "s", "--storage", spec.storage])
    assert code == 0
    assert "has nothing left to train" in capsys.readouterr().out
    assert not (tmp_path / "mlflow.db").exists()


def test_gridsearch_coordinate_only_must_be_a_boolean(store, tmp_path, capsys):
    from pipelines import gridsearch

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    argv = ["--dataset", "digits", "--storage", storage, "--coordinate_only", "maybe"]
    code = run_entry_point(gridsearch.main, argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == EXIT_BAD_INPUT
    assert err == ["error: coordinate_only='maybe' is not a boolean; allowed: true, false"]
    assert not (tmp_path / "optuna.db").exists()
    assert not (tmp_path / "mlflow.db").exists()
