"""The Optuna search (benchmark.search) and its entry point (pipelines.gridsearch),
in-process: study naming and fingerprints, spec validation, bad inputs, a study with
another search space, resume, selection and successive halving (URL masking is in
tests/test_masking.py).

Worker processes fork from a server that imported the package once; the tracking URI
is handed to them explicitly (and they take this process's environment), so a private
SQLite tracking store per test works. The feature
cache stays the session's (conftest), so the domain CNN is trained once per session.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from commands import study_named
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

import benchmark.search.coordinator as coordinator
from benchmark import tracking
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.methods import tpe as tpe_method
from benchmark.search.attrs import VALUE_NOTE, VALUE_NOTE_ATTR, set_study_attr, study_attrs
from benchmark.search.progress import SearchProgress, search_progress, trial_bar
from benchmark.search.rows import TrialRow, per_size_table, trial_cost_s, trial_rows
from benchmark.search.spec import (
    MAX_ROUNDS,
    PARAM,
    SearchSpec,
    derive_study_name,
)
from benchmark.search.study import create_or_resume_study, load_study
from benchmark.search.trials import (
    SEARCH_RUN_ATTR,
    TAKEN_UP_ATTR,
    claim_queued_trial,
    has_work,
    missing_sizes,
    pending_sizes,
    queue_sizes,
    recover_stale_trials,
    train_queued,
    trial_size,
)
from benchmark.search.worker import WorkerArgs, work
from benchmark.selection import SIGNALS, select_latent_dim
from benchmark.training.fingerprint import settings_fingerprint
from pipelines import gridsearch
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY_SEARCH = ["--dataset", "digits", "--epochs", "1", "--n_workers", "1"]


@pytest.fixture()
def store(mlflow_store, digits_extractor):
    """A private tracking store for one test, with the digits extractor already cached
    (whichever test came first would otherwise print its training bar on stderr)."""
    return mlflow_store


def _all_runs(uri: str) -> list[Run]:
    client = MlflowClient(uri)
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exp_ids) if exp_ids else []


def _by_method(runs: list[Run], method: str) -> list[Run]:
    return [r for r in runs if r.data.tags.get("benchmark.method") == method]


def _study_names(storage_file: Path) -> list[str]:
    """Studies in a SQLite file (none when the file was never created)."""
    if not storage_file.exists():
        return []
    return [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{storage_file}")]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


# --- study name, fingerprint, spec ---------------------------------------------------


def test_derive_study_name_names_the_search_and_hashes_its_settings(make_cfg, tmp_path):
    name = derive_study_name(make_cfg(), "grid")
    assert re.fullmatch(r"digits-quick-seed1-grid-[0-9a-f]{6}", name), name
    assert derive_study_name(make_cfg(), "grid") == name  # the same command, the same study
    assert derive_study_name(make_cfg(seed=7), "halving").startswith("digits-quick-seed7-halving-")
    # a changed search is another study, not a refused resume
    others = [
        derive_study_name(make_cfg(latent_sizes=[4, 8, 16]), "grid"),
        derive_study_name(make_cfg(epochs=3), "grid"),
        derive_study_name(make_cfg(), "tpe", n_trials=5),
        derive_study_name(make_cfg(), "tpe", n_trials=6),
    ]
    assert len({name, *others}) == 5
    # where the data come from does not change a canonical dataset's study...
    assert derive_study_name(make_cfg(data_dir=str(tmp_path)), "grid") == name
    # ...but it is what an own dataset is: another folder is another study
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    folder_a = derive_study_name(make_cfg(dataset="folder", data_dir=str(a)), "grid")
    folder_b = derive_study_name(make_cfg(dataset="folder", data_dir=str(b)), "grid")
    assert folder_a != folder_b


def test_settings_fingerprint_tracks_what_a_trial_trains(make_cfg):
    base = settings_fingerprint(make_cfg(epochs=3))
    assert base == settings_fingerprint(make_cfg(epochs=3))
    assert len(base) == 12
    # what a trial trains changes the fingerprint
    assert settings_fingerprint(make_cfg(epochs=4)) != base
    assert settings_fingerprint(make_cfg(epochs=3, lr=0.01)) != base
    assert settings_fingerprint(make_cfg(epochs=3, seed=2)) != base
    assert settings_fingerprint(make_cfg(epochs=3, fid_backend="inception")) != base
    # the searched sizes and the device do not
    assert settings_fingerprint(make_cfg(epochs=3, device="auto")) == base
    assert settings_fingerprint(make_cfg(epochs=3, latent_sizes="2,4")) == base
    assert settings_fingerprint(make_cfg(epochs=3, latent_sizes=[8, 64, 3])) == base


def test_search_spec_defaults_validate():
    spec = SearchSpec()
    assert spec.validate() is spec
    assert SearchSpec(
        search="halving", n_workers=4, heartbeat_interval=1, grace_period=2
    ).validate()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"search": "random"}, "unknown search 'random'; allowed: grid, halving, tpe, hyperband"),
        ({"n_workers": 0}, "n_workers=0 is too small"),
        ({"n_workers": -2}, "n_workers=-2 is too small"),
        ({"heartbeat_interval": 10, "grace_period": 10}, "heartbeat_interval < grace_period"),
        ({"heartbeat_interval": 10, "grace_period": 5}, "heartbeat_interval < grace_period"),
        ({"heartbeat_interval": 0, "grace_period": 5}, "1 <= heartbeat_interval"),
    ],
)
def test_search_spec_validate_refuses_with_one_line(kwargs, expected):
    with pytest.raises(ConfigError) as info:
        SearchSpec(**kwargs).validate()
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


# --- study bookkeeping without training ----------------------------------------------


def _spec(tmp_path: Path, **kwargs) -> SearchSpec:
    values = {
        "latent_sizes": [2, 4],
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        "study_name": "s",
    }
    return SearchSpec(**(values | kwargs)).validate()


def test_create_or_resume_study_records_and_checks_the_search_space(tmp_path, make_cfg):
    cfg = make_cfg(epochs=2)
    spec = _spec(tmp_path)
    study = create_or_resume_study(spec, cfg)
    assert study_attrs(study) == {
        "latent_sizes": [2, 4],
        "search": "grid",
        "config_fingerprint": settings_fingerprint(cfg),
        "dataset": "digits",
        "preset": "quick",
        VALUE_NOTE_ATTR: VALUE_NOTE,
    }
    # what Optuna's CLI and dashboard print: what the trial value is, nothing more
    assert study.user_attrs == {VALUE_NOTE_ATTR: VALUE_NOTE}
    assert study.metric_names == ["val_fid"]
    study.add_trial(
        create_trial(
            params={PARAM: 2},
            distributions={PARAM: CategoricalDistribution([2, 4])},
            value=1.0,
        )
    )
    # the same command resumes the same study
    again = create_or_resume_study(spec, cfg)
    assert again._study_id == study._study_id
    assert len(again.get_trials()) == 1

    refusals = [
        (_spec(tmp_path, latent_sizes=[2, 8]), cfg, "latent_sizes=[2, 4], not [2, 8]"),
        (_spec(tmp_path, latent_sizes=[4, 2]), cfg, "latent_sizes=[2, 4], not [4, 2]"),
        (_spec(tmp_path, search="halving"), cfg, "search='grid', not 'halving'"),
        (spec, make_cfg(epochs=3), "config_fingerprint="),
    ]
    for other_spec, other_cfg, expected in refusals:
        with pytest.raises(BenchmarkError) as info:
            create_or_resume_study(other_spec, other_cfg)
        assert expected in str(info.value)
        assert "\n" not in str(info.value)
    summaries = optuna.get_all_study_summaries(spec.storage)
    assert [s.study_name for s in summaries] == ["s"]
    assert summaries[0].user_attrs == study.user_attrs
    assert summaries[0].n_trials == 1


def _trial(size: int | None, state: TrialState, **user_attrs) -> FrozenTrial:
    params = {} if size is None else {PARAM: size}
    dists = {} if size is None else {PARAM: CategoricalDistribution([2, 4, 8, 16, 32])}
    value = 1.0 if state == TrialState.COMPLETE else None
    return create_trial(
        state=state, params=params, distributions=dists, value=value, user_attrs=user_attrs
    )


def test_pending_sizes_has_work_and_trial_rows():
    study = optuna.create_study()
    assert pending_sizes(study, [2, 4, 8]) == [2, 4, 8]
    assert has_work(study, [2, 4, 8])
    study.add_trial(_trial(2, TrialState.COMPLETE, val_fid=3.0, mlflow_run_id="r2"))
    study.add_trial(_trial(4, TrialState.PRUNED, mlflow_run_id="r4"))
    set_study_attr(study, "parent_run_id", "now")  # the search invocation running now
    study.add_trial(_trial(8, TrialState.FAIL, worker_host="h", search_run_id="now"))
    study.add_trial(_trial(16, TrialState.PRUNED, surplus=True))  # took nothing
    assert pending_sizes(study, [2, 4, 8, 16]) == [16]
    assert has_work(study, [2, 4, 8, 16])
    assert not has_work(study, [2, 4, 8])
    study.add_trial(_trial(8, TrialState.WAITING))  # a queued retry is work
    assert pending_sizes(study, [2, 4, 8]) == []
    assert has_work(study, [2, 4, 8])

    rows = trial_rows(study)
    # surplus and queued trials are not reported; trial order is kept
    assert [(r.latent_dim, r.trial_number, r.state) for r in rows] == [
        (2, 0, "COMPLETE"),
        (4, 1, "PRUNED"),
        (8, 2, "FAIL"),
    ]
    assert [r.mlflow_run_id for r in rows] == ["r2", "r4", ""]
    assert rows[0].values == {"val_fid": 3.0}
    assert rows[2].values == {}  # a string attribute is not a value


def test_search_bar_counts_sizes_done_and_trial_bars_name_search_seed_and_size():
    study = optuna.create_study()
    with SearchProgress(study, [2, 4, 8], "grid seed=1: sizes done", interval_s=0.05) as shown:
        assert (shown.bar.n, shown.bar.total) == (0, 3)
        study.add_trial(_trial(2, TrialState.COMPLETE))
        study.add_trial(_trial(4, TrialState.PRUNED))
        study.add_trial(_trial(8, TrialState.FAIL))  # not done: it will be trained again
        deadline = time.monotonic() + 10
        while shown.bar.n != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shown.bar.n == 2
    bar = trial_bar("halving", 3, 16, epochs=5)
    try:
        assert (bar.desc, bar.total) == ("halving seed=3 latent_dim=16", 5)
    finally:
        bar.close()


def test_a_sampled_search_bar_counts_trials_done_out_of_its_trial_budget():
    """tpe proposes sizes off the grid and may repeat one: its bar counts trials, and
    its total is the trial budget, not the number of grid sizes."""
    spec = SearchSpec(search=tpe_method.METHOD.name, latent_sizes=[2, 4, 8], n_trials=5)
    study = optuna.create_study()
    with search_progress(study, spec, seed=1, interval_s=0.05) as shown:
        assert (shown.bar.n, shown.bar.total, shown.bar.unit) == (0, 5, "trial")
        assert shown.bar.desc == "tpe seed=1: trials done"
        for size, state in ((16, TrialState.COMPLETE), (16, TrialState.PRUNED)):
            study.add_trial(_trial(size, state))  # off the grid, and twice
        study.add_trial(_trial(2, TrialState.FAIL))  # not done: proposed again
        study.add_trial(_trial(4, TrialState.PRUNED, surplus=True))  # not a trial of it
        deadline = time.monotonic() + 10
        while shown.bar.n != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shown.bar.n == 2
    # without a budget given, as many trials as the grid has sizes
    spec.n_trials = 0
    with search_progress(study, spec, seed=1) as shown:
        assert shown.bar.total == 3
    # a grid search's bar counts its sizes
    grid = SearchSpec(latent_sizes=[2, 4, 8, 16], n_trials=5)
    with search_progress(optuna.create_study(), grid, seed=2) as shown:
        assert (shown.bar.total, shown.bar.unit) == (4, "size")
        assert shown.bar.desc == "grid seed=2: sizes done"


def test_a_failed_size_is_trained_again_by_the_next_search_invocation_only():
    study = optuna.create_study()
    set_study_attr(study, "parent_run_id", "now")
    study.add_trial(_trial(2, TrialState.COMPLETE))
    study.add_trial(_trial(4, TrialState.PRUNED))
    study.add_trial(_trial(8, TrialState.FAIL, search_run_id="now"))
    # failed in this invocation: not again now (a failure would repeat for ever)
    assert pending_sizes(study, [2, 4, 8]) == []
    assert missing_sizes(study, [2, 4, 8]) == [8]
    # the next invocation trains it again; pruned and complete sizes are results
    set_study_attr(study, "parent_run_id", "next")
    assert pending_sizes(study, [2, 4, 8]) == [8]
    # until the size has failed MAX_ROUNDS times
    for _ in range(MAX_ROUNDS - 1):
        study.add_trial(_trial(8, TrialState.FAIL, search_run_id="earlier"))
    assert pending_sizes(study, [2, 4, 8]) == []
    assert missing_sizes(study, [2, 4, 8]) == [8]


def test_trials_no_worker_took_up_are_failed_after_the_grace_period():
    # a worker stopped inside `ask` leaves a RUNNING trial that its objective never
    # marked (and maybe without a heartbeat): a resumed search must not wait for it
    study = optuna.create_study()
    old = datetime.now() - timedelta(seconds=600)
    cases = {
        "never taken up": ({}, old),
        "taken up": ({TAKEN_UP_ATTR: 1}, old),
        "retry inheriting a stale mark": ({TAKEN_UP_ATTR: 0}, old),
        "just asked": ({}, datetime.now()),
    }
    for attrs, started in cases.values():
        trial = _trial(None, TrialState.RUNNING, **attrs)
        trial.datetime_start = started
        study.add_trial(trial)
    # a trial claimed from the queue is left to its heartbeat, recorded before its claim
    claimed = create_trial(state=TrialState.RUNNING, system_attrs={"fixed_params": {PARAM: 4}})
    claimed.datetime_start = old
    study.add_trial(claimed)
    assert recover_stale_trials(study, grace_period=60) == [0, 2]
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [
        TrialState.FAIL,
        TrialState.RUNNING,
        TrialState.FAIL,
        TrialState.RUNNING,
        TrialState.RUNNING,
    ]
    assert pending_sizes(study, [2, 4]) == [2]


# --- the grid on Optuna's queue -------------------------------------------------------


def test_the_parent_queues_each_size_that_no_trial_holds_once():
    study = optuna.create_study()
    study.add_trial(_trial(2, TrialState.COMPLETE))
    study.add_trial(_trial(16, TrialState.RUNNING))
    study.add_trial(_trial(8, TrialState.FAIL, search_run_id="earlier"))  # retried now
    assert queue_sizes(study, [2, 4, 8, 16], "now") == [4, 8]
    queued = study.get_trials(states=(TrialState.WAITING,))
    assert [trial_size(t) for t in queued] == [4, 8]
    # each names the invocation that queued it, which a failure of it then belongs to
    assert [t.user_attrs for t in queued] == [{SEARCH_RUN_ATTR: "now"}] * 2
    # a queued size is taken: a second call (or a resumed parent) queues nothing
    assert queue_sizes(study, [2, 4, 8, 16], "now") == []
    assert queue_sizes(study, [2, 4, 8, 16], "next") == []
    assert len(study.get_trials()) == 5


def test_claimed_trials_are_told_as_optimize_tells_them_and_the_worker_goes_on():
    study = optuna.create_study()
    queue_sizes(study, [2, 4, 8, 16, 32], "now")

    def objective(trial: optuna.Trial) -> float:
        size = trial.suggest_categorical(PARAM, [2, 4, 8, 16, 32])
        trial.report(5.0, 1)
        if size == 2:
            raise ValueError("a training that raised")
        if size == 4:
            raise optuna.TrialPruned("pruned at epoch 1")
        if size == 8:  # failed elsewhere meanwhile (stale while its worker stalled)
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if size == 32:
            raise KeyboardInterrupt  # a stop: the trial is told, the stop goes on
        return float(size)

    with pytest.raises(KeyboardInterrupt):
        train_queued(study, objective)
    states = [(trial_size(t), t.state, t.value) for t in study.get_trials()]
    assert states == [
        (2, TrialState.FAIL, None),
        (4, TrialState.PRUNED, 5.0),
        (8, TrialState.FAIL, None),
        (16, TrialState.COMPLETE, 16.0),
        (32, TrialState.FAIL, None),
    ]


def _queued_study(tmp_path: Path, make_cfg, sizes: list[int]) -> tuple[SearchSpec, optuna.Study]:
    """A study in SQLite with heartbeats, as a search creates it, with ``sizes`` queued."""
    spec = _spec(tmp_path, latent_sizes=[2, 4, 8], heartbeat_interval=1, grace_period=2)
    study = create_or_resume_study(spec, make_cfg(epochs=1))
    queue_sizes(study, sizes, "run")
    return spec, study


def test_two_workers_racing_for_the_last_size_make_one_trial(tmp_path, make_cfg):
    """Both workers read the one queued trial, then both claim it at once: one trains
    it, the other finds the queue empty and makes no trial (Optuna's ``ask`` would
    have created one for it)."""
    spec, study = _queued_study(tmp_path, make_cfg, [8])
    both_read = threading.Barrier(2, timeout=30)
    trained, ran = [], []

    def worker() -> None:
        mine = load_study(spec, make_cfg(epochs=1))  # its own storage, as a process has
        storage = mine._storage
        claim = storage.set_trial_state_values

        def claim_after_the_rival_read(trial_id, state, values=None):  # noqa: ANN001
            if state == TrialState.RUNNING:
                both_read.wait()
            return claim(trial_id, state, values)

        storage.set_trial_state_values = claim_after_the_rival_read

        def objective(trial: optuna.Trial) -> float:
            trained.append(trial.suggest_categorical(PARAM, [2, 4, 8]))
            return 1.0

        ran.append(train_queued(mine, objective))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(ran) == [0, 1] and trained == [8]
    trials = optuna.load_study(study_name="s", storage=spec.storage).get_trials()
    assert [(t.number, t.state, t.params) for t in trials] == [(0, TrialState.COMPLETE, {PARAM: 8})]


def test_a_worker_with_an_empty_queue_makes_no_trial(tmp_path, make_cfg):
    """Sizes nobody queued are no work for a worker: it trains nothing and leaves the
    study as it was (no trial of a sampler's own)."""
    spec, study = _queued_study(tmp_path, make_cfg, [])
    assert pending_sizes(study, spec.latent_sizes) == [2, 4, 8]
    args = WorkerArgs(make_cfg(epochs=1), spec, "run", "0", "sqlite:///m.db", 1)
    work(args, prepared=None)  # it would need the data for a trial
    assert study.get_trials() == []
    assert train_queued(study, lambda trial: 1 / 0) == 0
    assert study.get_trials() == []


def test_a_claimed_trial_whose_worker_died_at_once_is_queued_again(tmp_path, make_cfg):
    """A worker killed right after its claim, before any beat of its own: the heartbeat
    recorded before the claim goes stale, and Optuna fails the trial and queues a retry
    with the same size (nothing for the abandoned-trial check to do)."""
    spec, study = _queued_study(tmp_path, make_cfg, [4])
    dead = claim_queued_trial(study)
    assert dead is not None and claim_queued_trial(study) is None
    deadline = time.monotonic() + 20
    while study.get_trials(deepcopy=False)[0].state == TrialState.RUNNING:
        assert time.monotonic() < deadline, "the claimed trial never went stale"
        assert recover_stale_trials(study, spec.grace_period) == []
        time.sleep(0.5)
    first, retry = study.get_trials()
    assert first.state == TrialState.FAIL
    assert retry.state == TrialState.WAITING and trial_size(retry) == 4
    assert retry.system_attrs["failed_trial"] == first.number
    assert retry.user_attrs[SEARCH_RUN_ATTR] == "run"
    assert train_queued(study, lambda trial: float(trial.suggest_categorical(PARAM, [4]))) == 1
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.COMPLETE]


def test_trial_cost_runs_to_completion_or_last_sign_of_life():
    start = datetime(2024, 1, 1, 12, 0, 0)

    def frozen(state, complete, **attrs):
        return FrozenTrial(
            number=0,
            state=state,
            value=None,
            datetime_start=start,
            datetime_complete=complete,
            params={},
            distributions={},
            user_attrs=attrs,
            system_attrs={},
            intermediate_values={},
            trial_id=0,
        )

    later = start + timedelta(seconds=90)
    alive = (start + timedelta(seconds=30)).timestamp()
    assert trial_cost_s(frozen(TrialState.COMPLETE, later)) == pytest.approx(90.0)
    assert trial_cost_s(frozen(TrialState.FAIL, later, last_alive=alive)) == pytest.approx(30.0)
    assert trial_cost_s(frozen(TrialState.FAIL, later)) == pytest.approx(90.0)
    never_started = frozen(TrialState.WAITING, None)
    never_started.datetime_start = None
    assert trial_cost_s(never_started) == 0.0


def test_per_size_table_scores_complete_rows_only():
    rows = [
        TrialRow(8, 0, "COMPLETE", "a", 2.0, {"val_fid": 1.0, "worker_pid": 9.0}),
        TrialRow(2, 1, "PRUNED", "b", 0.5, {"val_fid": 7.0}),
        TrialRow(4, 2, "COMPLETE", "c", 1.0, {"test_fid": 3.0}),
    ]
    selection = select_latent_dim(
        {
            8: dict.fromkeys(SIGNALS, 1.0),
            4: {"val_recon_loss": 2.0, "val_fid": 2.0, "val_fid_recon": 2.0, "val_silhouette": 0.0},
        }
    )
    table = per_size_table(rows, selection)
    assert [r["latent_dim"] for r in table] == [2, 4, 8]
    assert "selection_score" not in table[0]
    assert table[1]["selection_score"] == selection.scores[4] == 0.0
    assert table[2]["selection_score"] == selection.scores[8] == 1.0
    assert "worker_pid" not in table[2]
    assert table[2]["val_fid"] == 1.0
    assert table[1]["test_fid"] == 3.0


# --- bad inputs through the entry point ----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--latent_sizes", "4,,x"], "latent_sizes='4,,x' is malformed"),
        (["--latent_sizes", "0,4"], "latent_sizes='0,4' has a size below 1"),
        (["--latent_sizes", "4,4"], "latent_sizes='4,4' has duplicates"),
        (["--search", "random"], "unknown search 'random'; allowed: grid, halving, tpe, hyperband"),
        (["--n_workers", "0"], "n_workers=0 is too small"),
        (["--n_workers", "two"], "n_workers='two' is not an integer"),
        (["--grace_period", "10"], "heartbeat_interval < grace_period"),
        (["--heartbeat_interval", "x"], "heartbeat_interval='x' is not an integer"),
        (["--sizes", "4"], "unknown parameter 'sizes'"),
        (["--epochs", "0"], "epochs=0 is too small"),
    ],
)
def test_bad_input_one_line_no_run_no_study(store, tmp_path, capsys, argv, expected):
    db = tmp_path / "o.db"
    code = run_entry_point(
        gridsearch.main,
        [*TINY_SEARCH, "--latent_sizes", "2,4", "--storage", f"sqlite:///{db}", *argv],
    )
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert expected in line
    assert mlflow.search_runs(search_all_experiments=True).empty
    assert _study_names(db) == []


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ("notaurl", "storage 'notaurl' is not a database URL"),
        (
            "sqlite:////nonexistent/dir/x.db",
            "cannot open Optuna storage 'sqlite:////nonexistent/dir/x.db'",
        ),
        (
            "postgresql://user@localhost:1/db",
            "cannot open Optuna storage 'postgresql://user@localhost:1/db'",
        ),
        (
            "postgresql://user:secret@localhost:1/db",
            "storage 'postgresql://user:***@localhost:1/db' holds a password",
        ),
    ],
)
def test_bad_storage_one_line_no_run(store, capsys, storage, expected):
    code = run_entry_point(gridsearch.main, [*TINY_SEARCH, "--storage", storage])
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert expected in line
    assert "secret" not in line
    assert mlflow.search_runs(search_all_experiments=True).empty
    assert not Path("/nonexistent/dir/x.db").exists()


def _no_workers(*_args, **_kwargs):
    raise AssertionError("workers were started for a search that cannot run")


@pytest.mark.parametrize("storage", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_storage_is_refused_before_any_work(store, monkeypatch, capsys, storage):
    monkeypatch.setattr(coordinator, "_start_workers", _no_workers)
    monkeypatch.setattr(coordinator, "_run_worker_here", _no_workers)
    code = run_entry_point(gridsearch.main, [*TINY_SEARCH, "--storage", storage])
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert "memory" in line
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_missing_inception_weights_fail_before_study_and_run(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(coordinator, "_start_workers", _no_workers)
    monkeypatch.setattr(coordinator, "_run_worker_here", _no_workers)
    db = tmp_path / "o.db"
    code = run_entry_point(
        gridsearch.main,
        [*TINY_SEARCH, "--fid_backend", "inception", "--storage", f"sqlite:///{db}"],
    )
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert "pt_inception-2015-12-05-6726825d.pth" in line
    assert mlflow.search_runs(search_all_experiments=True).empty
    assert _study_names(db) == []


# --- a real (tiny) grid search, then its resume --------------------------------------


@dataclass
class Snapshot:
    code: int
    trials: list[FrozenTrial]
    study_attrs: dict
    runs: list[Run]


@dataclass
class GridSearch:
    tracking_uri: str
    storage: str
    study_name: str
    first: Snapshot
    second: Snapshot


def _snapshot(code: int, uri: str, storage: str, study_name: str) -> Snapshot:
    study = optuna.load_study(study_name=study_name, storage=storage)
    return Snapshot(code, study.get_trials(), study_attrs(study), _all_runs(uri))


@pytest.fixture(scope="module")
def grid_search(tmp_path_factory, domain_cache) -> GridSearch:
    """Sizes 2,4 for one epoch on digits with one worker, then the identical command."""
    tmp = tmp_path_factory.mktemp("grid_search")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    storage = f"sqlite:///{tmp / 'optuna.db'}"
    argv = [*TINY_SEARCH, "--latent_sizes", "2,4", "--storage", storage]
    mp = pytest.MonkeyPatch()
    previous_uri = mlflow.get_tracking_uri()
    try:
        mp.chdir(tmp)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        mlflow.set_tracking_uri(uri)
        code = run_entry_point(gridsearch.main, argv)
        name = study_named(storage, "digits-quick-seed1-grid-")
        first = _snapshot(code, uri, storage, name)
        second = _snapshot(run_entry_point(gridsearch.main, argv), uri, storage, name)
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous_uri)
        mp.undo()
    return GridSearch(uri, storage, name, first, second)


def test_first_run_trains_each_size_once_under_one_parent(grid_search):
    first = grid_search.first
    assert first.code == 0
    assert sorted(t.params[PARAM] for t in first.trials) == [2, 4]
    assert {t.state for t in first.trials} == {TrialState.COMPLETE}
    parents = _by_method(first.runs, "gridsearch")
    fixed = _by_method(first.runs, "fixed")
    assert len(parents) == 1
    assert len(first.runs) == 3
    assert parents[0].info.status == "FINISHED"
    assert len(fixed) == 2
    for run in fixed:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["benchmark.search"] == "grid"
    assert sorted(r.data.params["fixed_latent_dim"] for r in fixed) == ["2", "4"]
    # named for what they are, the seed included (never one of MLflow's random names)
    assert sorted(r.info.run_name for r in fixed) == [
        "grid seed=1 latent_dim=2",
        "grid seed=1 latent_dim=4",
    ]
    assert parents[0].info.run_name == "gridsearch seed=1"
    assert parents[0].data.tags["benchmark.study_name"] == grid_search.study_name
    assert parents[0].data.params["search.latent_sizes"] == "2,4"


def test_a_single_local_worker_runs_in_the_parent_process(grid_search):
    """One local worker trains in the parent's own process (no second start-up and
    data load): every trial records this test process's pid."""
    assert {t.user_attrs["worker_pid"] for t in grid_search.first.trials} == {os.getpid()}


def test_resume_trains_nothing_again(grid_search):
    first, second = grid_search.first, grid_search.second
    assert second.code == 0
    assert [(t.number, t.state, t.params) for t in second.trials] == [
        (t.number, t.state, t.params) for t in first.trials
    ]
    fixed_ids = sorted(r.info.run_id for r in _by_method(first.runs, "fixed"))
    assert sorted(r.info.run_id for r in _by_method(second.runs, "fixed")) == fixed_ids
    parents = _by_method(second.runs, "gridsearch")
    assert len(parents) == 2
    assert [p.info.status for p in parents] == ["FINISHED", "FINISHED"]
    assert len(second.runs) == 4
    # the resumed parent reports the same trials, hence the same cost and choice
    new, old = sorted(parents, key=lambda p: p.info.start_time, reverse=True)
    assert new.data.metrics["sum_trial_wall_clock_s"] == pytest.approx(
        old.data.metrics["sum_trial_wall_clock_s"]
    )
    assert new.data.metrics["best_latent_dim"] == old.data.metrics["best_latent_dim"]
    assert second.study_attrs["selected_latent_dim"] == new.data.metrics["best_latent_dim"]
    # Optuna's CLI shows the selection beside what its own "best" is
    study = optuna.load_study(study_name=grid_search.study_name, storage=grid_search.storage)
    assert study.user_attrs == {
        VALUE_NOTE_ATTR: VALUE_NOTE,
        "selected_latent_dim": new.data.metrics["best_latent_dim"],
    }


def test_parent_metrics_and_artifacts(grid_search, tmp_path):
    client = MlflowClient(grid_search.tracking_uri)
    fixed_ids = {
        r.data.params["fixed_latent_dim"]: r.info.run_id
        for r in _by_method(grid_search.first.runs, "fixed")
    }
    for parent in _by_method(grid_search.second.runs, "gridsearch"):
        metrics = parent.data.metrics
        assert metrics["best_latent_dim"] in {2, 4}
        assert metrics["sum_trial_wall_clock_s"] > 0
        assert metrics["wall_clock_s"] > 0
        assert metrics["n_trials_complete"] == 2
        assert metrics["n_trials_pruned"] == 0
        assert metrics["n_trials_failed"] == 0
        # the selected size's test metrics, as its own run logged them
        chosen = fixed_ids[str(int(metrics["best_latent_dim"]))]
        chosen_metrics = client.get_run(chosen).data.metrics
        for name in ("test_fid", "test_recon_loss", "test_elbo", "test_silhouette"):
            assert metrics[f"selected_{name}"] == pytest.approx(chosen_metrics[name])
        assert metrics["sum_trial_cpu_time_s"] == pytest.approx(
            sum(client.get_run(i).data.metrics["cpu_time_s"] for i in fixed_ids.values())
        )
        # CPU runs: the machine's load, never a GPU time
        assert {"load_avg_1m_start", "load_avg_1m_end"} <= set(metrics)
        assert "gpu_time_s" not in metrics
        for name in SIGNALS:
            assert metrics[f"best_latent_dim_{name}"] in {2, 4}
        run_id = parent.info.run_id
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        assert {"per_size.csv", "signals_by_latent_dim.png", "config.yaml"} <= artifacts
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path="per_size.csv",
            dst_path=str(tmp_path / run_id),
            tracking_uri=grid_search.tracking_uri,
        )
        table = pd.read_csv(local)
        assert table["latent_dim"].tolist() == [2, 4]
        assert table["state"].tolist() == ["COMPLETE", "COMPLETE"]
        assert table["mlflow_run_id"].tolist() == [fixed_ids["2"], fixed_ids["4"]]
        assert (table["trial_wall_clock_s"] > 0).all()
        for name in SIGNALS:
            assert table[name].notna().all()
        assert table["selection_score"].between(0, 1).all()


def test_trials_and_nested_runs_point_at_each_other(grid_search):
    fixed = {r.info.run_id: r for r in _by_method(grid_search.first.runs, "fixed")}
    seen = set()
    for trial in grid_search.second.trials:
        run = fixed[trial.user_attrs["mlflow_run_id"]]
        seen.add(run.info.run_id)
        assert run.data.tags["benchmark.trial_number"] == str(trial.number)
        assert run.data.tags["benchmark.study_name"] == grid_search.study_name
        assert run.data.params["fixed_latent_dim"] == str(trial.params[PARAM])
        assert run.data.metrics["test_fid"] == pytest.approx(trial.user_attrs["test_fid"])
    assert seen == set(fixed)


def test_selection_uses_validation_signals_only(grid_search):
    trials = grid_search.second.trials
    for trial in trials:
        assert {"test_fid", "test_recon_loss", "test_silhouette"} <= set(trial.user_attrs)
    selection = select_latent_dim(
        {t.params[PARAM]: {k: t.user_attrs[k] for k in SIGNALS} for t in trials}
    )
    for parent in _by_method(grid_search.second.runs, "gridsearch"):
        metrics = parent.data.metrics
        assert metrics["best_latent_dim"] == selection.best_latent_dim
        for name, size in selection.best_per_signal.items():
            assert metrics[f"best_latent_dim_{name}"] == size
    # the nested runs' last logged validation values are the ones the rule used
    client = MlflowClient(grid_search.tracking_uri)
    for trial in trials:
        run_id = trial.user_attrs["mlflow_run_id"]
        for name in SIGNALS:
            history = client.get_metric_history(run_id, name)
            last = max(history, key=lambda m: m.step)
            assert last.value == pytest.approx(trial.user_attrs[name])


def test_existing_study_with_other_sizes_is_refused_and_untouched(grid_search, store, capsys):
    # by its name: the default name of other sizes is another study (test above)
    argv = [*TINY_SEARCH, "--latent_sizes", "2,8", "--storage", grid_search.storage]
    argv += ["--study_name", grid_search.study_name]
    code = run_entry_point(gridsearch.main, argv)
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert "latent_sizes" in line
    assert grid_search.study_name in line
    assert mlflow.search_runs(search_all_experiments=True).empty
    study = optuna.load_study(study_name=grid_search.study_name, storage=grid_search.storage)
    before = grid_search.second
    assert study_attrs(study) == before.study_attrs
    assert study_attrs(study)["latent_sizes"] == [2, 4]
    after = study.get_trials()
    assert [(t.number, t.state, t.params, t.user_attrs) for t in after] == [
        (t.number, t.state, t.params, t.user_attrs) for t in before.trials
    ]
    summaries = optuna.get_all_study_summaries(grid_search.storage)
    assert [s.study_name for s in summaries] == [grid_search.study_name]
    assert len(_all_runs(grid_search.tracking_uri)) == len(before.runs)


def test_a_study_whose_runs_are_in_another_tracking_store_is_refused(grid_search, store, capsys):
    # the same command against a new, empty MLflow store (`store`): the study's sizes are
    # done, but their runs are not here, so nothing could be selected or reported from them
    argv = [*TINY_SEARCH, "--latent_sizes", "2,4", "--storage", grid_search.storage]
    MlflowClient().search_experiments()  # MLflow's own lines as it creates the store
    capsys.readouterr()
    code = run_entry_point(gridsearch.main, argv)
    line = _error_line(capsys)
    assert code == EXIT_BAD_INPUT
    assert grid_search.study_name in line and "2, 4" in line
    assert "not in the tracking store" in line
    assert mlflow.search_runs(search_all_experiments=True).empty


# --- successive halving --------------------------------------------------------------


@pytest.mark.slow
def test_halving_prunes_and_selects_a_complete_size(store, tmp_path):
    db = tmp_path / "halving.db"
    code = run_entry_point(
        gridsearch.main,
        [
            "--dataset",
            "digits",
            "--search",
            "halving",
            "--latent_sizes",
            "2,4,8,16,32,64",
            "--epochs",
            "8",
            "--n_workers",
            "1",
            "--storage",
            f"sqlite:///{db}",
        ],
    )
    assert code == 0
    name = study_named(f"sqlite:///{db}", "digits-quick-seed1-halving-")
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    trials = study.get_trials()
    assert sorted(t.params[PARAM] for t in trials) == [2, 4, 8, 16, 32, 64]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned
    assert complete
    assert len(pruned) + len(complete) == 6

    runs = _all_runs(store)
    (parent,) = _by_method(runs, "gridsearch")
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["benchmark.search"] == "halving"
    assert parent.data.metrics["n_trials_pruned"] == len(pruned)
    assert parent.data.metrics["n_trials_complete"] == len(complete)
    assert parent.data.metrics["best_latent_dim"] in {t.params[PARAM] for t in complete}

    fixed = {r.info.run_id: r for r in _by_method(runs, "fixed")}
    assert len(fixed) == 6
    for trial in pruned:
        run = fixed[trial.user_attrs["mlflow_run_id"]]
        assert run.info.status == "KILLED"
        assert "successive halving" in run.data.tags[tracking.STOPPED_EARLY_TAG]
        assert trial.last_step is not None and trial.last_step < 8
    for trial in complete:
        run = fixed[trial.user_attrs["mlflow_run_id"]]
        assert run.info.status == "FINISHED"
        assert tracking.STOPPED_EARLY_TAG not in run.data.tags
        assert trial.last_step == 8


def test_trial_image_grids_are_readable_in_the_ui(grid_search, tmp_path):
    """digits are 8x8: the logged grids show each at >= 28 px, labelled by class."""
    from PIL import Image

    from benchmark.tracking.image_grids import LABEL_BAND, MIN_TILE_SIDE

    run = _by_method(grid_search.first.runs, "fixed")[0]
    folder = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="images",
        dst_path=str(tmp_path),
        tracking_uri=grid_search.tracking_uri,
    )
    recon = Image.open(f"{folder}/reconstructions.png")
    samples = Image.open(f"{folder}/prior_samples.png")
    columns = 10  # one per digit class
    assert recon.width >= columns * MIN_TILE_SIDE
    assert recon.height >= LABEL_BAND + 2 * MIN_TILE_SIDE  # a row of images over theirs
    assert samples.width >= 8 * MIN_TILE_SIDE
