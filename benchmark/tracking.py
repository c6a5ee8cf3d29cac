"""The only module that talks to MLflow: runs, tags, params, metrics, artifacts, models.

Naming follows shared/CONTRACT.md. Entry points started by ``mlflow run`` already have
a run (``MLFLOW_RUN_ID``); :func:`tracked_run` attaches to it, and child runs are
nested. The experiment is never chosen here (``mlflow run --experiment-name`` does).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import torch
import yaml
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

from benchmark.config import RunConfig
from benchmark.errors import BenchmarkError
from benchmark.grids import save_grid
from benchmark.interrupts import RunInterrupted
from benchmark.masking import mask_secrets, mask_url
from benchmark.models import MLPVAE, ModelConfig, model_from_config
from benchmark.processes import pid_alive
from benchmark.provenance import provenance_tags
from benchmark.signals import ImageGrids
from benchmark.store_lock import open_store_once
from benchmark.train import EpochRecord, history_table

FAILURE_TAG = "benchmark.failure_reason"
# Liveness of a run while it is RUNNING: where its process is ("host:pid") and when it
# last beat (seconds since the epoch). A run whose process vanished (SIGKILL, power loss,
# out-of-memory kill) is ended FAILED by the next entry point on the same experiment.
PROCESS_TAG = "benchmark.process"
HEARTBEAT_TAG = "benchmark.heartbeat"
# On the run `mlflow run` creates for `-P resume_run_id=ID`: the run it continues.
CONTINUES_TAG = "benchmark.continues_run"
HEARTBEAT_S = 30
# A run whose process is on another machine (or whose pid was reused) is judged by its
# beat: silent this long, it is gone.
VANISHED_AFTER_S = 5 * HEARTBEAT_S
# Tracking URI schemes MLflow has a store for ("": a local folder).
TRACKING_SCHEMES = (
    "",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
)
# Runs of this process ended KILLED by a signal, innermost first.
_interrupted: list[str] = []
STOPPED_EARLY_TAG = "benchmark.stopped_early"
# `worker`: the run of a worker that joined a search from another machine (pipelines.worker)
METHODS = ("adaptive", "gridsearch", "fixed", "report", "worker")
MODEL_CONFIG_FILE = "model/model_config.json"
# MLflow caps tag values; a reason longer than this is cut.
MAX_TAG_CHARS = 4000


def run_tags(cfg: RunConfig, method: str, device: torch.device) -> dict[str, str]:
    """The ``benchmark.*`` tags every run carries (CONTRACT.md's, plus provenance)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    return {
        "benchmark.method": method,
        "benchmark.dataset": cfg.dataset,
        "benchmark.seed": str(cfg.seed),
        "benchmark.preset": cfg.preset,
        "benchmark.fid_backend": cfg.fid_backend,
        "benchmark.device": device.type,
    } | provenance_tags(device)


def quiet_secret_tracking_uri() -> None:
    """Stop MLflow from printing run URLs (``View run ... at: URI/...``) when the
    tracking URI carries a password; the setting reaches worker processes too."""
    uri = mlflow.get_tracking_uri()
    if mask_secrets(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


class TrackingStoreError(BenchmarkError):
    """The tracking store cannot be used (an unknown scheme, a server that is down)."""


def _ready_store() -> None:
    """What every run does first: no password printed, and a new SQLite store opened
    under a lock (``benchmark.store_lock``), so that runs started together on it all
    start."""
    quiet_secret_tracking_uri()
    uri = mlflow.get_tracking_uri()
    try:
        open_store_once(uri)
    except Exception as exc:  # noqa: BLE001 - whatever the store's driver raises
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackingStoreError(
            f"cannot use the tracking store {mask_url(uri)}: {first}"
        ) from None


def check_tracking_uri() -> None:
    """Refuse, with one line, a tracking URI whose scheme MLflow has no store for (before
    any work; a store that cannot be reached is reported when the first run starts)."""
    uri = mlflow.get_tracking_uri()
    scheme = uri.split(":", 1)[0].split("+", 1)[0] if "://" in uri or ":" in uri[:12] else ""
    if scheme not in TRACKING_SCHEMES:
        raise TrackingStoreError(
            f"tracking URI {mask_url(uri)!r} has no MLflow store; allowed: a folder, "
            f"{', '.join(s + '://...' for s in TRACKING_SCHEMES if s)}"
        )


def _one_line(text: str) -> str:
    line = " ".join(mask_secrets(str(text)).split())
    return line[:MAX_TAG_CHARS]


@contextlib.contextmanager
def tracked_run(
    cfg: RunConfig,
    method: str,
    device: torch.device,
    nested: bool = False,
    run_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    experiment_id: str | None = None,
    early_stops: tuple[type[BaseException], ...] = (),
    resume_run_id: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start (or attach to) a run with tags, the resolved config as ``config.*`` params
    and as ``config.yaml``, and system metrics.

    ``parent_run_id`` makes it a child of a run of another process (a search worker's
    trial). An exception of a type in ``early_stops`` (a pruned trial) ends the run
    KILLED with the tag ``benchmark.stopped_early``; any other exception ends it FAILED
    with the reason in ``benchmark.failure_reason``; both propagate. ``resume_run_id``
    reopens that (stopped) run instead of starting one; its failure reason is cleared."""
    _ready_store()
    parent = mlflow.active_run()
    if nested and experiment_id is None and parent is not None:
        # A child belongs in its parent's experiment. Without this MLflow resolves it
        # from MLFLOW_EXPERIMENT_NAME, which a user's shell may set to another
        # experiment than `mlflow run --experiment-name` chose: the children would land
        # there, or MLflow would refuse the name/id mismatch half way through a job.
        experiment_id = parent.info.experiment_id
    with (
        _start_or_resume(resume_run_id, nested, run_name, parent_run_id, experiment_id) as run,
        _ended_on_error(early_stops),
        contextlib.ExitStack() as stack,
    ):
        set_tags(run_tags(cfg, method, device) | (extra_tags or {}) | {PROCESS_TAG: _process()})
        stack.enter_context(RunHeartbeat(run.info.run_id))
        if not nested and parent_run_id is None:  # a top-level run: its experiment's turn
            reap_quietly(run.info.experiment_id, keep={run.info.run_id})
        # Prefixed: `mlflow run` has already logged the raw entry-point parameters
        # (empty strings for "preset default"), and MLflow forbids changing a param.
        mlflow.log_params({f"config.{k}": v for k, v in cfg.to_params().items()})
        mlflow.log_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), "config.yaml")
        yield run


def _start_or_resume(
    resume_run_id: str | None,
    nested: bool,
    run_name: str | None,
    parent_run_id: str | None,
    experiment_id: str | None,
) -> mlflow.ActiveRun:
    if resume_run_id is None:
        return mlflow.start_run(
            nested=nested,
            run_name=run_name,
            log_system_metrics=True,
            parent_run_id=parent_run_id,
            experiment_id=experiment_id,
        )
    # the run keeps its name, experiment and parent; it was ended when it stopped
    client = MlflowClient()
    if FAILURE_TAG in client.get_run(resume_run_id).data.tags:
        client.delete_tag(resume_run_id, FAILURE_TAG)
    return mlflow.start_run(run_id=resume_run_id, nested=nested, log_system_metrics=True)


@contextlib.contextmanager
def _ended_on_error(early_stops: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """End the active run KILLED (tag ``benchmark.stopped_early``) on an exception of a
    type in ``early_stops``, FAILED (tag ``benchmark.failure_reason``) on any other;
    the exception propagates."""
    try:
        yield
    except RunInterrupted as exc:
        _interrupted.append(mlflow.active_run().info.run_id)
        mlflow.set_tag(FAILURE_TAG, str(exc))
        mlflow.end_run("KILLED")
        raise
    except early_stops as exc:
        mlflow.set_tag(STOPPED_EARLY_TAG, _one_line(str(exc) or type(exc).__name__))
        mlflow.end_run("KILLED")
        raise
    except BaseException as exc:
        mlflow.set_tag(FAILURE_TAG, _one_line(f"{type(exc).__name__}: {exc}"))
        mlflow.end_run("FAILED")
        raise


@contextlib.contextmanager
def report_run(
    experiment: str = "", extra_tags: dict[str, str] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """The run of a report (or of a whole benchmark): ``benchmark.method=report``, tag
    ``benchmark.report_experiment`` = ``experiment`` (default: the run's own
    experiment). Ends FAILED with the reason on an exception."""
    _ready_store()
    with mlflow.start_run(log_system_metrics=True) as run, _ended_on_error():
        experiment = experiment or experiment_name_of(run)
        set_tags(
            {"benchmark.method": "report", "benchmark.report_experiment": experiment}
            | (extra_tags or {})
        )
        yield run


def experiment_name_of(run: mlflow.ActiveRun) -> str:
    """The name of the experiment a run belongs to."""
    return MlflowClient().get_experiment(run.info.experiment_id).name


def log_file(path: Path | str, folder: str | None = None) -> None:
    """A local file as an artifact of the active run."""
    mlflow.log_artifact(str(path), folder)


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RunHeartbeat:
    """Beat for ``run_id`` (tag ``benchmark.heartbeat``) every ``interval_s`` seconds in
    a background thread while the ``with`` block runs."""

    def __init__(self, run_id: str, interval_s: float = HEARTBEAT_S) -> None:
        self._run_id = run_id
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-heartbeat", daemon=True)

    def _beat(self) -> None:
        MlflowClient().set_tag(self._run_id, HEARTBEAT_TAG, f"{time.time():.0f}")

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                continue

    def __enter__(self) -> RunHeartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _on_this_host(process: str) -> bool:
    host, _, pid = process.rpartition(":")
    return host == socket.gethostname() and pid.isdigit()


def _pid_gone(process: str) -> bool:
    """Whether ``host:pid`` (of this machine) names a process that no longer exists."""
    return not pid_alive(int(process.rpartition(":")[2]))


def _last_epoch(client: MlflowClient, run_id: str) -> int:
    history = client.get_metric_history(run_id, "latent_dim")
    return max((m.step for m in history), default=0)


def reap_vanished_runs(experiment_id: str, keep: set[str] | None = None) -> list[str]:
    """End FAILED every RUNNING run of the experiment whose process this project recorded
    and is gone: on this machine, its pid no longer exists; on another, it has not beaten
    for ``VANISHED_AFTER_S``. Runs in ``keep`` are left alone. Returns their ids."""
    client = MlflowClient()
    now = time.time()
    ended = []
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in running:
        tags = run.data.tags
        if run.info.run_id in (keep or set()) or PROCESS_TAG not in tags:
            continue
        process = tags[PROCESS_TAG]
        beat = float(tags.get(HEARTBEAT_TAG, run.info.start_time / 1000))
        # here the pid says it (a live process with a late beat is only slow); elsewhere
        # only the beat can
        gone = _pid_gone(process) if _on_this_host(process) else now - beat > VANISHED_AFTER_S
        if not gone:
            continue
        epoch = _last_epoch(client, run.info.run_id)
        mark_run_failed(run.info.run_id, f"process vanished, last epoch {epoch}")
        ended.append(run.info.run_id)
    return ended


def reap_quietly(experiment_id: str, keep: set[str]) -> None:
    """:func:`reap_vanished_runs`, one line per run it ends; never stops the caller (a
    store it cannot read is for the caller's own work to report)."""
    try:
        ended = reap_vanished_runs(experiment_id, keep)
    except Exception:  # noqa: BLE001 - reaping is a courtesy to earlier commands
        return
    for run_id in ended:
        print(f"run {run_id} was RUNNING but its process is gone: ended FAILED", flush=True)


@contextlib.contextmanager
def entry_run_liveness(run_id: str | None) -> Iterator[None]:
    """While the block runs, the run ``mlflow run`` created (if any) records its
    process and beats, so that it is reaped if this process dies before a tracked run
    attaches to it (data loading, extractor training)."""
    if run_id is None:
        yield
        return
    MlflowClient().set_tag(run_id, PROCESS_TAG, _process())
    with RunHeartbeat(run_id):
        yield


def note_continuation(run_id: str | None, resumed_run_id: str) -> None:
    """Tag the run ``mlflow run`` created for a resuming invocation with the run it
    continues (the work itself is logged to that run, in place)."""
    if run_id is not None and run_id != resumed_run_id:
        MlflowClient().set_tag(run_id, CONTINUES_TAG, resumed_run_id)


def end_interrupted(run_id: str | None, reason: str) -> str | None:
    """After a signal: end the entry point's run KILLED if it still runs (no tracked run
    had attached to it yet), and return the outermost run the signal stopped."""
    if run_id is not None and run_status(run_id) == "RUNNING":
        client = MlflowClient()
        client.set_tag(run_id, FAILURE_TAG, reason)
        client.set_terminated(run_id, "KILLED")
    return _interrupted[-1] if _interrupted else run_id


def discard_run(run_id: str, reason: str) -> None:
    """End run ``run_id`` FAILED, delete it, and, in a database store, erase its
    parameters: `mlflow run` logged them before the project could refuse one that holds
    a password. (A tracking server offers no way to erase them: its deleted run keeps
    them until the server's `mlflow gc`.)"""
    client = MlflowClient()
    mark_run_failed(run_id, reason)
    client.delete_run(run_id)
    store = client._tracking_client.store  # what `mlflow gc` also reaches for
    if isinstance(store, SqlAlchemyStore):
        from mlflow.store.tracking.dbmodels.models import SqlParam

        with store.ManagedSessionMaker() as session:
            session.query(SqlParam).filter(SqlParam.run_uuid == run_id).delete()


def mark_run_failed(run_id: str, reason: str) -> None:
    """End an existing run FAILED with the reason as a tag (for errors raised before
    :func:`tracked_run` could attach to the run that ``mlflow run`` created)."""
    client = MlflowClient()
    client.set_tag(run_id, FAILURE_TAG, _one_line(reason))
    client.set_terminated(run_id, "FAILED")


def run_status(run_id: str) -> str | None:
    """The status of a run in this process's tracking store (``RUNNING``, ``FINISHED``,
    ...), or None when the store has no such run (a worker checks its search's parent)."""
    try:
        return MlflowClient().get_run(run_id).info.status
    except mlflow.exceptions.MlflowException:
        return None


def log_epoch(record: EpochRecord) -> None:
    """Per-epoch metrics with step = epoch."""
    mlflow.log_metrics(record.metrics(), step=record.epoch)


def log_params(params: dict[str, object]) -> None:
    """Extra params of the active run (values are stored as strings, passwords of URLs
    masked)."""
    mlflow.log_params({k: mask_secrets(str(v)) for k, v in params.items()})


def set_tags(tags: dict[str, str]) -> None:
    """Extra tags of the active run (passwords of URLs masked)."""
    mlflow.set_tags({k: mask_secrets(str(v)) for k, v in tags.items()})


def log_metrics(metrics: dict[str, float]) -> None:
    """Final (step-less) metrics."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})


def log_history(history: list[EpochRecord], name: str = "history.csv") -> None:
    """The per-epoch history (decisions and removed dims included) as CSV."""
    log_table(history_table(history), name)


def log_image_grids(grids: ImageGrids) -> None:
    """PNG grids: ``images/reconstructions.png`` (rows of test images, one column per
    class labelled with it, each row over its reconstructions) and
    ``images/prior_samples.png``; tiles upscaled to a readable size."""
    labels = [f"class {c}" if grids.columns <= 5 else str(c) for c in grids.labels]
    with tempfile.TemporaryDirectory() as tmp:
        for name, images, columns, names in (
            ("reconstructions.png", grids.pairs, grids.columns, labels),
            ("prior_samples.png", grids.samples, 8, None),
        ):
            path = Path(tmp) / name
            save_grid(path, images, columns, names)
            mlflow.log_artifact(str(path), "images")


def log_model(model: MLPVAE) -> None:
    """The final model as a state dict plus its config (rebuild with :func:`load_model`).

    A state dict, not ``mlflow.pytorch.log_model``: the latent size changes during a
    run, so the config that rebuilds the module must travel with the weights."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state_dict.pt"
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, state)
        mlflow.log_artifact(str(state), "model")
    mlflow.log_text(json.dumps(model.config.to_dict(), indent=2), MODEL_CONFIG_FILE)


def load_model(run_id: str, device: str | torch.device = "cpu") -> MLPVAE:
    """Load the final model of a run logged by :func:`log_model`.

    >>> model = load_model("0123abcd...")          # doctest: +SKIP
    >>> images = torch.sigmoid(model.decode(torch.randn(16, model.latent_dim)))
    """
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model", dst_path=tmp
        )
        config = ModelConfig.from_dict(json.loads((Path(local) / "model_config.json").read_text()))
        model = model_from_config(config)
        state = torch.load(Path(local) / "state_dict.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


def use_tracking_uri(uri: str) -> None:
    """Point this process at a tracking store (a search worker uses its parent's)."""
    mlflow.set_tracking_uri(uri)


def tracking_uri() -> str:
    """The tracking store of this process."""
    return mlflow.get_tracking_uri()


def log_table(rows: list[dict], name: str) -> None:
    """A list of rows as a CSV artifact."""
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    mlflow.log_text(buf.getvalue(), name)


def log_figure(figure, name: str) -> None:  # noqa: ANN001 - a matplotlib Figure
    """A matplotlib figure as an image artifact."""
    mlflow.log_figure(figure, name)


def env_run_id() -> str | None:
    """The run that ``mlflow run`` created for this entry point, if any."""
    return os.environ.get("MLFLOW_RUN_ID") or None
