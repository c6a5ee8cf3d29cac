"""Optuna searches over fixed latent sizes: every trial is one full fixed-size training
(the same loop, schedule and test evaluation as the adaptive run) and one nested MLflow
run under the search's parent run.

- ``grid``: Optuna's GridSampler over the sizes (the paper's baseline).
- ``halving``: the same grid with Optuna's SuccessiveHalvingPruner fed each epoch's
  validation FID of prior samples (``val_fid``, lower is better). A pruner needs one
  scalar; ``val_fid`` is the signal that rewards neither the largest nor the smallest
  size by construction (reconstruction loss always prefers larger latents).

Exactly-once: the storage is the only coordinator. Workers stop asking for trials once
every size has a trial that is finished or running; a trial that still finds its size
taken (a race between two workers' last asks) is told PRUNED as ``surplus`` without
training. A worker that dies leaves a RUNNING trial whose heartbeat goes stale; Optuna
fails it and ``RetryHeartbeatStaleTrialCallback`` queues a retry, which the next worker
trains. SQLite storages run every transaction as ``BEGIN IMMEDIATE`` (SQLAlchemy's
pysqlite recipe) so that Optuna's check-and-set of a trial's state is atomic there too.

Several machines: the parent run records in the study what a worker elsewhere needs
(the resolved training config, its MLflow run and experiment, the heartbeat settings);
:func:`join_study` rebuilds a worker from that, so a worker is given only the storage and
the study name. Every process that starts workers, and a coordinator that starts none,
waits until no trial runs anywhere, failing stale ones, before it returns.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmark.config import FIELD_TYPES, RunConfig, resolve_config
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.liveness import fail_dead_worker_runs
from benchmark.selection import SIGNALS
from benchmark.tracking import mask_secrets

SEARCHES = ("grid", "halving")
DEFAULT_STORAGE = "sqlite:///optuna-studies.db"
PARAM = "latent_dim"
# A killed worker's trial is retried at most this often.
MAX_RETRY = 3
# Heartbeats (seconds): a trial whose worker has been silent for `grace_period` is stale.
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30
# A trial racing for a size waits at most this long for its rival's parameters.
RIVAL_WAIT_S = 10.0
# Rounds of workers the parent starts before giving up on sizes that keep failing.
MAX_ROUNDS = 1 + MAX_RETRY
# Successive halving (our choice for a handful of sizes): first rung after
# `epochs // HALVING_MIN_RESOURCE_DIVISOR` epochs, keep the best 1/3 at each rung.
HALVING_MIN_RESOURCE_DIVISOR = 8
HALVING_REDUCTION_FACTOR = 3
# `storage=env:NAME` reads the URL from the environment variable NAME, so that a password
# never appears in a command line (`mlflow run` logs every -P value as a param).
ENV_STORAGE_PREFIX = "env:"
# Study user attributes the parent run writes for workers on other machines.
PARENT_ATTRS = (
    "config",
    "parent_run_id",
    "parent_experiment_id",
    "tracking_uri",
    "heartbeat_interval",
    "grace_period",
)


@dataclass
class SearchSpec:
    """How a search is run: what is searched, where the study lives, how many workers."""

    search: str = "grid"
    latent_sizes: list[int] = field(default_factory=lambda: [4, 8, 16, 32, 64])
    storage: str = DEFAULT_STORAGE
    study_name: str = ""
    n_workers: int = 1
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S
    grace_period: int = GRACE_PERIOD_S
    # Start no local worker: create the study and the parent run, then wait for workers
    # started elsewhere (the `worker` entry point) until every size is done.
    coordinate_only: bool = False

    @property
    def local_workers(self) -> int:
        """Worker processes this machine starts."""
        return 0 if self.coordinate_only else self.n_workers

    def validate(self) -> SearchSpec:
        if self.search not in SEARCHES:
            raise ConfigError(f"unknown search {self.search!r}; allowed: {', '.join(SEARCHES)}")
        if self.n_workers < 1:
            raise ConfigError(f"n_workers={self.n_workers} is too small; it must be >= 1")
        if self.heartbeat_interval < 1 or self.grace_period <= self.heartbeat_interval:
            raise ConfigError(
                f"heartbeat_interval={self.heartbeat_interval}, grace_period="
                f"{self.grace_period}: need 1 <= heartbeat_interval < grace_period"
            )
        return self


def derive_study_name(cfg: RunConfig, search: str) -> str:
    """``<dataset>-<preset>-seed<seed>-<search>``: the same command resumes the same study."""
    return f"{cfg.dataset}-{cfg.preset}-seed{cfg.seed}-{search}"


def mask_url(url: str) -> str:
    """A storage or tracking URL with its password replaced by ``***``.

    SQLAlchemy's own parser is used first because it accepts passwords that a generic
    URL parser splits at ``/``, ``?`` or ``#``."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.password is not None:
            return parsed.render_as_string(hide_password=True)
        if "@" not in url:
            return url
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL (an http tracking URI, say)
        pass
    return mask_secrets(url)


def resolve_storage_url(storage: str) -> str:
    """The database URL of ``storage``: itself, or for ``env:NAME`` the value of the
    environment variable NAME (read in each process, so a secret stays out of argv)."""
    if not storage.startswith(ENV_STORAGE_PREFIX):
        return storage
    name = storage[len(ENV_STORAGE_PREFIX) :]
    value = os.environ.get(name, "")
    if not name or not value:
        raise ConfigError(
            f"storage={storage!r} names the environment variable {name!r}, which is not set; "
            "export it with the database URL, e.g. postgresql://user:password@host/db"
        )
    return value


def password_warning(storage: str, mlflow_run_id: str | None) -> str | None:
    """The warning for a password given in the storage URL itself under ``mlflow run``,
    which logs every -P value as a param before this code runs (None when there is
    nothing to warn about). Our own params, tags and lines show the URL masked."""
    if mlflow_run_id is None or mask_url(storage) == storage:
        return None
    return (
        f"warning: `mlflow run` has logged the storage URL with its password as a param of "
        f"run {mlflow_run_id}; pass the password with PGPASSWORD or ~/.pgpass, or the URL "
        "with storage=env:NAME (docs/scaling.md)"
    )


def config_fingerprint(cfg: RunConfig) -> str:
    """Hash of everything that changes what a trial trains (not the sizes or the device)."""
    data = cfg.to_dict()
    for key in ("latent_sizes", "device", "adaptive", "data_dir"):
        data.pop(key)
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _sqlite_immediate_transactions(engine) -> None:
    """SQLAlchemy's pysqlite recipe: let SQLAlchemy emit BEGIN, and make it IMMEDIATE,
    so a read-then-write (Optuna's WAITING -> RUNNING) cannot interleave."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_storage(spec: SearchSpec) -> optuna.storages.RDBStorage:
    """The study's RDB storage with heartbeats and stale-trial retries.

    A malformed or unreachable URL raises :class:`BenchmarkError` with one line."""
    url = resolve_storage_url(spec.storage)
    scheme = urlsplit(url).scheme
    if "://" not in url or not scheme:
        raise ConfigError(
            f"storage {mask_url(url)!r} is not a database URL; expected e.g. "
            "sqlite:///optuna-studies.db or postgresql://user:password@host/db"
        )
    if scheme.startswith("sqlite"):
        database = url.split("://", 1)[1].lstrip("/")
        if database in ("", ":memory:"):
            raise ConfigError(
                f"storage {url!r} is an in-memory database, which worker processes cannot "
                "share; give a file, e.g. sqlite:///optuna-studies.db"
            )
    engine_kwargs = {"connect_args": {"timeout": 60}} if scheme.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=spec.heartbeat_interval,
                grace_period=spec.grace_period,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_RETRY
                ),
            )
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many kinds; all mean "no"
        reason = mask_secrets(" ".join(str(exc).split()).replace(url, mask_url(url)))[:300]
        raise BenchmarkError(
            f"cannot open Optuna storage {mask_url(url)!r}: {type(exc).__name__}: {reason}"
        ) from None
    if scheme.startswith("sqlite"):
        _sqlite_immediate_transactions(storage.engine)
    return storage


def make_sampler(spec: SearchSpec, seed: int) -> optuna.samplers.GridSampler:
    return optuna.samplers.GridSampler({PARAM: list(spec.latent_sizes)}, seed=seed)


def make_pruner(spec: SearchSpec, epochs: int) -> optuna.pruners.BasePruner:
    if spec.search == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, epochs // HALVING_MIN_RESOURCE_DIVISOR),
            reduction_factor=HALVING_REDUCTION_FACTOR,
        )
    return optuna.pruners.NopPruner()


def load_study(spec: SearchSpec, cfg: RunConfig, storage=None) -> optuna.Study:
    """The study as a worker sees it (same sampler and pruner in every process)."""
    return optuna.load_study(
        study_name=spec.study_name,
        storage=storage or open_storage(spec),
        sampler=make_sampler(spec, cfg.seed),
        pruner=make_pruner(spec, cfg.epochs),
    )


def study_user_attrs(storage: optuna.storages.BaseStorage, name: str) -> dict | None:
    """The user attributes of study ``name``, or None when the storage has no such study
    (one study's row only: the storage may hold many studies with many trials)."""
    try:
        return storage.get_study_user_attrs(storage.get_study_id_from_name(name))
    except KeyError:
        return None


def create_or_resume_study(spec: SearchSpec, cfg: RunConfig) -> optuna.Study:
    """Create the study, or load it when it exists with the same search space and config.

    A study that exists with other sizes, another search or another training config
    raises :class:`BenchmarkError` and is left untouched."""
    storage = open_storage(spec)
    wanted = {
        "latent_sizes": list(spec.latent_sizes),
        "search": spec.search,
        "config_fingerprint": config_fingerprint(cfg),
    }
    attrs = study_user_attrs(storage, spec.study_name)
    if attrs is not None:
        for key, value in wanted.items():
            if attrs.get(key) != value:
                raise BenchmarkError(
                    f"study {spec.study_name!r} exists with {key}={attrs.get(key)!r}, not "
                    f"{value!r}; rerun with the same parameters or pass another study_name"
                )
        return load_study(spec, cfg, storage)
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=make_sampler(spec, cfg.seed),
        pruner=make_pruner(spec, cfg.epochs),
        direction="minimize",
    )
    try:
        for key, value in (wanted | {"dataset": cfg.dataset, "preset": cfg.preset}).items():
            study.set_user_attr(key, value)
    except BaseException:
        # never leave a study without the attributes that a resume checks
        optuna.delete_study(study_name=spec.study_name, storage=storage)
        raise
    return study


def record_parent(
    study: optuna.Study,
    cfg: RunConfig,
    spec: SearchSpec,
    run_id: str,
    experiment_id: str,
    tracking_uri: str,
) -> None:
    """Write into the study what a worker on another machine needs to join the search:
    the resolved training config, the parent run and its experiment, and the heartbeat
    settings (every process must judge staleness alike). The latest parent wins, so a
    resumed search re-points its workers; the run id is written last because a joining
    worker takes it as the sign that the rest is there."""
    values = {
        "config": cfg.to_dict(),
        "parent_experiment_id": experiment_id,
        # for the error message of a worker that logs elsewhere; never the password
        "tracking_uri": mask_url(tracking_uri),
        "heartbeat_interval": spec.heartbeat_interval,
        "grace_period": spec.grace_period,
        "parent_run_id": run_id,
    }
    for key, value in values.items():
        study.set_user_attr(key, value)


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
    if config_fingerprint(cfg) != attrs.get("config_fingerprint"):
        raise BenchmarkError(
            f"this worker would train another configuration than study {study_name!r} "
            f"(fingerprint {config_fingerprint(cfg)}, study {attrs.get('config_fingerprint')}); "
            "install the coordinator's version of the project"
        )
    return cfg


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
            if search_is_finished(study, list(attrs["latent_sizes"])):
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
    spec = SearchSpec(
        search=str(attrs["search"]),
        latent_sizes=[int(s) for s in attrs["latent_sizes"]],
        storage=storage,
        study_name=study_name,
        n_workers=n_workers,
        heartbeat_interval=int(attrs["heartbeat_interval"]),
        grace_period=int(attrs["grace_period"]),
    ).validate()
    return JoinedSearch(
        load_study(spec, cfg),
        cfg,
        spec,
        str(attrs["parent_run_id"]),
        str(attrs["parent_experiment_id"]),
        tracking_uri,
    )


def _size(trial: FrozenTrial) -> int | None:
    value = trial.params.get(PARAM)
    return None if value is None else int(value)


def _is_surplus(trial: FrozenTrial) -> bool:
    return bool(trial.user_attrs.get("surplus"))


def pending_sizes(study: optuna.Study, sizes: list[int]) -> list[int]:
    """Sizes that no trial has taken yet (a finished, failed, running or queued trial
    takes its size; a surplus trial takes nothing)."""
    taken = {
        _size(t)
        for t in study.get_trials(deepcopy=False)
        if not _is_surplus(t) and _size(t) is not None
    }
    return [s for s in sizes if s not in taken]


def has_work(study: optuna.Study, sizes: list[int]) -> bool:
    """Whether a worker would find something to train: an untaken size or a queued retry."""
    if pending_sizes(study, sizes):
        return True
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that hold a size and are RUNNING, here or on another machine."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t for t in running if not _is_surplus(t)]


def search_is_finished(study: optuna.Study, sizes: list[int]) -> bool:
    """No size left to take, no retry queued, and no trial running anywhere."""
    return not has_work(study, sizes) and not running_trials(study)


def _rival_holds_size(study: optuna.Study, me: optuna.Trial, size: int) -> bool:
    """Whether another trial already owns ``size`` (finished, or running/waiting with a
    lower number); waits briefly for rivals that have not drawn their size yet."""
    deadline = time.monotonic() + RIVAL_WAIT_S
    while True:
        undecided = False
        for t in study.get_trials(deepcopy=False):
            if t.number == me.number or _is_surplus(t):
                continue
            if t.state == TrialState.RUNNING and _size(t) is None and t.number < me.number:
                undecided = True
                continue
            if _size(t) != size:
                continue
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                return True
            if t.state in (TrialState.RUNNING, TrialState.WAITING) and t.number < me.number:
                return True
        if not undecided or time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@dataclass
class WorkerArgs:
    """Everything a worker process needs (picklable for the spawn start method)."""

    cfg: RunConfig
    spec: SearchSpec
    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    threads: int
    # the run of the `worker` entry point that started this process ("" under a parent)
    worker_run_id: str = ""


def run_worker(args: WorkerArgs) -> None:
    """Train sizes of the study until none is left (a worker process's main)."""
    import torch
    from threadpoolctl import threadpool_limits

    from benchmark import tracking
    from benchmark.runner import prepare, run_training

    # `mlflow run` exported the parent's run id; a trial must never attach to it.
    os.environ.pop("MLFLOW_RUN_ID", None)
    tracking.use_tracking_uri(args.tracking_uri)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    cfg, spec = args.cfg, args.spec
    prepared = prepare(cfg)
    study = load_study(spec, cfg)

    def objective(trial: optuna.Trial) -> float:
        size = int(trial.suggest_categorical(PARAM, list(spec.latent_sizes)))
        if _rival_holds_size(study, trial, size):
            trial.set_user_attr("surplus", True)
            study.stop()
            raise optuna.TrialPruned(f"size {size} is already taken by another trial")
        dead_run = trial.user_attrs.get("mlflow_run_id")  # copied from a stale trial
        if dead_run:
            tracking.mark_run_failed(
                dead_run, f"worker died during trial; retried as trial {trial.number}"
            )
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("worker_host", os.uname().nodename)
        if args.worker_run_id:
            trial.set_user_attr("worker_run_id", args.worker_run_id)

        def on_start(run_id: str) -> None:
            trial.set_user_attr("mlflow_run_id", run_id)

        def on_epoch(record) -> None:  # noqa: ANN001
            trial.set_user_attr("last_alive", time.time())
            trial.report(record.val_fid, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned by successive halving at epoch {record.epoch}")

        outcome = run_training(
            cfg,
            prepared,
            "fixed",
            latent_dim=size,
            run_name=f"latent_dim={size}",
            extra_tags={
                "benchmark.study_name": spec.study_name,
                "benchmark.trial_number": str(trial.number),
                "benchmark.search": spec.search,
            }
            | ({"benchmark.worker_run_id": args.worker_run_id} if args.worker_run_id else {}),
            on_epoch=on_epoch,
            on_start=on_start,
            progress=False,
            parent_run_id=args.parent_run_id,
            experiment_id=args.experiment_id,
            early_stops=(optuna.TrialPruned,),
        )
        last = outcome.result.history[-1]
        for name in SIGNALS:  # trial user attributes the parent selects from
            trial.set_user_attr(name, getattr(last, name))
        for name, value in outcome.test_metrics.items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("wall_clock_s", outcome.wall_clock_s)
        trial.set_user_attr("train_time_s", outcome.result.train_time_s)
        return last.val_fid

    def stop_when_done(study: optuna.Study, _trial: FrozenTrial) -> None:
        if not has_work(study, spec.latent_sizes):
            study.stop()

    while has_work(study, spec.latent_sizes):
        # a size whose training raised is recorded FAIL (and FAILED in MLflow); the
        # worker goes on with the other sizes
        study.optimize(
            objective, callbacks=[stop_when_done], gc_after_trial=True, catch=(Exception,)
        )


def _spawn_workers(args: WorkerArgs, n: int) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_worker, args=(args,), name=f"worker-{i}") for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return [p.exitcode for p in procs]


def recover_stale_trials(study: optuna.Study) -> None:
    """Fail trials whose worker stopped beating (queuing their retries)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _waiting_note(running: list[FrozenTrial], pending: bool) -> str:
    where = ", ".join(
        f"n_z={_size(t)} (trial {t.number}, {t.user_attrs.get('worker_host', '?')})"
        for t in sorted(running, key=lambda t: t.number)
    )
    if running:
        return f"waiting for trials running elsewhere: {where}"
    return "waiting for workers to take the remaining sizes" if pending else ""


def run_workers_until_done(
    study: optuna.Study, args: WorkerArgs, poll_s: float | None = None
) -> list[int]:
    """Start the spec's local workers, again after a worker died, until every size is
    done; then wait until no trial runs anywhere (workers on other machines included),
    failing stale trials on the way so that their retries are queued and taken.

    With ``coordinate_only`` no worker starts here: it waits for workers started
    elsewhere until every size is done. Local workers start at most ``MAX_ROUNDS`` times;
    after that a size nobody trains is left undone. Returns every local exit code."""
    spec = args.spec
    # nothing in the study changes faster than a heartbeat
    poll = spec.heartbeat_interval if poll_s is None else poll_s
    codes: list[int] = []
    rounds = 0
    said = ""
    while True:
        recover_stale_trials(study)
        for run_id in fail_dead_worker_runs(study, spec.grace_period):
            print(f"worker run {run_id} stopped beating: ended FAILED", flush=True)
        work = has_work(study, spec.latent_sizes)
        if work and spec.local_workers and rounds < MAX_ROUNDS:
            codes += _spawn_workers(args, spec.local_workers)
            rounds += 1
            continue
        running = running_trials(study)
        if not running and not (work and not spec.local_workers):
            return codes
        # a dead worker's trial is failed (and its retry queued) once its heartbeat is
        # `grace_period` old; a live one finishes on its own
        note = _waiting_note(running, work)
        if note != said:
            print(note, flush=True)
            said = note
        time.sleep(poll)


@dataclass
class TrialRow:
    """One trial of the study as the parent reports it."""

    latent_dim: int
    trial_number: int
    state: str
    mlflow_run_id: str
    trial_wall_clock_s: float
    values: dict[str, float]
    # the machine that ran it (trials of one search may run on several)
    worker_host: str = ""


def trial_cost_s(t: FrozenTrial) -> float:
    """Seconds a trial occupied its worker: start to completion, or to its last sign of
    life for a trial whose worker died."""
    if t.datetime_start is None:
        return 0.0
    end = t.datetime_complete or datetime.now()
    if t.state == TrialState.FAIL and "last_alive" in t.user_attrs:
        end = datetime.fromtimestamp(float(t.user_attrs["last_alive"]))
    return max(0.0, (end - t.datetime_start).total_seconds())


def trial_rows(study: optuna.Study, worker_run_id: str | None = None) -> list[TrialRow]:
    """Every non-surplus trial that ran, in trial order (only those of the `worker` run
    ``worker_run_id`` when given)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if _is_surplus(t) or _size(t) is None or t.state == TrialState.WAITING:
            continue
        if worker_run_id is not None and t.user_attrs.get("worker_run_id") != worker_run_id:
            continue
        numeric = {k: float(v) for k, v in t.user_attrs.items() if isinstance(v, int | float)}
        rows.append(
            TrialRow(
                _size(t),
                t.number,
                t.state.name,
                str(t.user_attrs.get("mlflow_run_id", "")),
                trial_cost_s(t),
                numeric,
                str(t.user_attrs.get("worker_host", "")),
            )
        )
    return rows
