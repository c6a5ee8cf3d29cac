"""Joining a search from another machine: the search rebuilt from what its parent run
recorded in the study, then trained as one ``worker`` run until no size is left."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna

from benchmark import tracking
from benchmark.config import FIELD_TYPES, RunConfig, resolve_config
from benchmark.errors import BenchmarkError
from benchmark.search.coordinator import run_workers_until_done, threads_per_worker
from benchmark.search.rows import TrialRow, trial_metrics, trial_rows
from benchmark.search.spec import PARENT_ATTRS, SearchSpec
from benchmark.search.storage import open_storage
from benchmark.search.study import load_study, study_user_attrs
from benchmark.search.trials import search_is_finished
from benchmark.search.worker import WorkerArgs
from benchmark.system.device import release_device_memory
from benchmark.system.masking import mask_url
from benchmark.tracking.training_run import prepare
from benchmark.training.fingerprint import settings_fingerprint


@dataclass
class JoinedSearch:
    """A search as a worker on another machine rebuilt it from the study."""

    study: optuna.Study
    cfg: RunConfig
    spec: SearchSpec
    parent_run_id: str
    experiment_id: str
    tracking_uri: str


def config_from_study(attrs: dict, overrides: dict[str, str], study_name: str) -> RunConfig:
    """The training config a study's parent recorded, with this machine's ``device`` or
    ``data_dir`` (``overrides``; empty values keep the study's).

    Refuses (one line) a config this version of the project would train differently: a
    worker must train exactly what the coordinator's trials trained."""
    stored = dict(attrs["config"])
    unknown = sorted(set(stored) - set(FIELD_TYPES))
    if unknown:
        raise BenchmarkError(
            f"study {study_name!r} was created by another version of the project (config "
            f"fields {', '.join(unknown)} are unknown here); install the coordinator's version"
        )
    values = {k: v for k, v in stored.items() if k != "preset"}
    values |= {k: v for k, v in overrides.items() if v}
    cfg = resolve_config(str(stored.get("preset", "quick")), values)
    if settings_fingerprint(cfg) != attrs.get("config_fingerprint"):
        raise BenchmarkError(
            f"this worker would train another configuration than study {study_name!r} "
            f"(fingerprint {settings_fingerprint(cfg)}, study {attrs.get('config_fingerprint')}); "
            "install the coordinator's version of the project"
        )
    return cfg


def spec_from_attrs(attrs: dict, storage: str, study_name: str, n_workers: int) -> SearchSpec:
    """The search as its parent recorded it in the study (not validated): its search,
    sizes, heartbeat settings and, for a sampled search (tpe), the trial budget the
    coordinator runs under, with this machine's ``n_workers``."""
    return SearchSpec(
        search=str(attrs["search"]),
        latent_sizes=[int(s) for s in attrs["latent_sizes"]],
        storage=storage,
        study_name=study_name,
        n_workers=n_workers,
        heartbeat_interval=int(attrs["heartbeat_interval"]),
        grace_period=int(attrs["grace_period"]),
        # recorded for sampled searches only (0: as many trials as the grid has sizes)
        n_trials=int(attrs.get("n_trials", 0)),
    )


def join_study(
    storage: str,
    study_name: str,
    n_workers: int,
    overrides: dict[str, str],
    wait_s: float,
    parent_status: Callable[[str], str | None],
    tracking_uri: str,
    poll_s: float = 1.0,
) -> JoinedSearch | None:
    """Wait (at most ``wait_s`` seconds) until study ``study_name`` exists with a RUNNING
    parent run, and rebuild its search from the study's attributes.

    Returns None when the study has nothing left to train. ``parent_status`` tells the
    status of an MLflow run in this process's tracking store (None: not there). Raises
    :class:`BenchmarkError` (one line) for a parent run this tracking store does not have,
    a config this version would train differently, or a study still not ready in time."""
    reader = open_storage(SearchSpec(storage=storage, study_name=study_name))
    deadline = time.monotonic() + wait_s
    said = ""
    while True:
        attrs = study_user_attrs(reader, study_name)
        if attrs is None:
            why = f"study {study_name!r} does not exist in {mask_url(storage)!r}"
        elif not all(k in attrs for k in PARENT_ATTRS):
            why = f"study {study_name!r} has no parent run yet"
        else:
            study = optuna.load_study(study_name=study_name, storage=reader)
            if search_is_finished(study, spec_from_attrs(attrs, storage, study_name, n_workers)):
                return None
            status = parent_status(attrs["parent_run_id"])
            if status is None:
                raise BenchmarkError(
                    f"the parent run {attrs['parent_run_id']} of study {study_name!r} is not in "
                    f"this tracking store ({mask_url(tracking_uri)}); the search logs to "
                    f"{attrs['tracking_uri']}: set MLFLOW_TRACKING_URI to it"
                )
            if status == "RUNNING":
                break
            why = (
                f"the latest parent run {attrs['parent_run_id']} of study {study_name!r} is "
                f"{status}; start or resume the search (`mlflow run . -e gridsearch`)"
            )
        if time.monotonic() >= deadline:
            raise BenchmarkError(f"gave up after {wait_s:g} s: {why}")
        if why != said:
            print(f"waiting: {why}", flush=True)
            said = why
        time.sleep(poll_s)
    reader.engine.dispose()  # the worker's own storage (with its heartbeat) replaces it
    cfg = config_from_study(attrs, overrides, study_name)
    spec = spec_from_attrs(attrs, storage, study_name, n_workers).validate()
    return JoinedSearch(
        load_study(spec, cfg),
        cfg,
        spec,
        str(attrs["parent_run_id"]),
        str(attrs["parent_experiment_id"]),
        tracking_uri,
    )


@dataclass
class WorkerOutcome:
    """What a worker that joined a search from another machine trained and cost."""

    run_id: str
    rows: list[TrialRow]
    exit_codes: list[int]
    wall_clock_s: float


def run_joined_worker(joined: JoinedSearch) -> WorkerOutcome:
    """Train sizes of a search started elsewhere until none is left anywhere, as one
    run tagged ``benchmark.method=worker`` (its machine, its trials' cost); each trial is
    a nested run of the search's parent run, as if the parent had started it."""
    start = time.perf_counter()
    cfg, spec = joined.cfg, joined.spec
    # data and feature extractor checked (and cached for the worker processes) first;
    # this process trains nothing itself, so it gives their memory back before it waits
    device = prepare(cfg).device
    release_device_memory(device)
    tags = {
        "benchmark.study_name": spec.study_name,
        "benchmark.search": spec.search,
        "benchmark.storage": mask_url(spec.storage),
        "benchmark.search_run_id": joined.parent_run_id,
    }
    with tracking.tracked_run(
        cfg,
        "worker",
        device,
        run_name=f"worker {os.uname().nodename}",
        extra_tags=tags,
        experiment_id=joined.experiment_id,
        # at the search's pace, so that the search ends this run FAILED if the machine dies
        heartbeat_s=spec.heartbeat_interval,
    ) as run:
        tracking.log_params(
            {
                "search.study_name": spec.study_name,
                "search.storage": mask_url(spec.storage),
                "search.n_workers": spec.n_workers,
            }
        )
        args = WorkerArgs(
            cfg,
            spec,
            joined.parent_run_id,
            joined.experiment_id,
            joined.tracking_uri,
            threads_per_worker(spec.n_workers),
            worker_run_id=run.info.run_id,
        )
        codes = run_workers_until_done(joined.study, args)
        rows = trial_rows(joined.study, worker_run_id=run.info.run_id)
        wall = time.perf_counter() - start
        tracking.log_metrics(trial_metrics(rows, codes) | {"wall_clock_s": wall})
        return WorkerOutcome(run.info.run_id, rows, codes, wall)
