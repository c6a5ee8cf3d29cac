"""Runs: started (or attached to, or resumed), named, tagged, and ended KILLED or FAILED
with the reason when the work inside them stops.

Entry points started by ``mlflow run`` already have a run (``MLFLOW_RUN_ID``);
:func:`tracked_run` attaches to it and renames it for what it is, and child runs are
nested. The experiment is never chosen here (``mlflow run --experiment-name`` does)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import mlflow
import torch
import yaml
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

from benchmark.config import RunConfig
from benchmark.system.interrupts import RunInterrupted
from benchmark.tracking.artifacts import set_tags
from benchmark.tracking.liveness import HEARTBEAT_S, RunHeartbeat, reap_quietly
from benchmark.tracking.provenance import provenance_tags
from benchmark.tracking.store import ready_store
from benchmark.tracking.tags import (
    CONTINUES_TAG,
    FAILURE_TAG,
    METHODS,
    RUN_NAME_TAG,
    STOPPED_EARLY_TAG,
    mark_run_failed,
    name_run,
    one_line,
    run_status,
)
from benchmark.tracking.usage import usage_metrics

# Runs of this process ended KILLED by a signal, innermost first.
_interrupted: list[str] = []


def run_tags(cfg: RunConfig, method: str, device: torch.device) -> dict[str, str]:
    """The ``benchmark.*`` tags every run carries (docs/tracking.md's, plus provenance)."""
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
    heartbeat_s: float = HEARTBEAT_S,
) -> Iterator[mlflow.ActiveRun]:
    """Start (or attach to) a run named ``run_name`` (default ``<method> seed=<seed>``),
    with tags, the resolved config as ``config.*`` params and as ``config.yaml``, system
    metrics, and the machine's load at its start and end (``gpu_time_s`` on CUDA).

    ``parent_run_id`` makes it a child of a run of another process (a search worker's
    trial). An exception of a type in ``early_stops`` (a pruned trial) ends the run
    KILLED with the tag ``benchmark.stopped_early``; any other exception ends it FAILED
    with the reason in ``benchmark.failure_reason``; both propagate. ``resume_run_id``
    reopens that (stopped) run, which keeps its name, instead of starting one; its
    failure reason is cleared."""
    ready_store()
    parent = mlflow.active_run()
    if nested and experiment_id is None and parent is not None:
        # A child belongs in its parent's experiment. Without this MLflow resolves it
        # from MLFLOW_EXPERIMENT_NAME, which a user's shell may set to another
        # experiment than `mlflow run --experiment-name` chose: the children would land
        # there, or MLflow would refuse the name/id mismatch half way through a job.
        experiment_id = parent.info.experiment_id
    run_name = run_name or f"{method} seed={cfg.seed}"
    with (
        _start_or_resume(resume_run_id, nested, run_name, parent_run_id, experiment_id) as run,
        _ended_on_error(early_stops),
        contextlib.ExitStack() as stack,
    ):
        tags = run_tags(cfg, method, device) | (extra_tags or {})
        if resume_run_id is None:
            # also renames the run `mlflow run` created, which start_run only attaches to
            tags[RUN_NAME_TAG] = run_name
        set_tags(tags)
        stack.enter_context(RunHeartbeat(run.info.run_id, heartbeat_s))
        stack.enter_context(usage_metrics(device))
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
        mlflow.set_tag(STOPPED_EARLY_TAG, one_line(str(exc) or type(exc).__name__))
        mlflow.end_run("KILLED")
        raise
    except BaseException as exc:
        mlflow.set_tag(FAILURE_TAG, one_line(f"{type(exc).__name__}: {exc}"))
        mlflow.end_run("FAILED")
        raise


@contextlib.contextmanager
def report_run(
    experiment: str = "",
    extra_tags: dict[str, str] | None = None,
    run_name: str | None = None,
    method: str = "report",
) -> Iterator[mlflow.ActiveRun]:
    """The run of a report, or (``method="benchmark"``) of a whole benchmark job that
    ends in a report: ``benchmark.method`` = ``method``, tag
    ``benchmark.report_experiment`` = ``experiment`` (default: the run's own
    experiment), named ``run_name`` (default ``report <experiment>``), with the
    machine's load at its start and end. Ends FAILED with the reason on an exception."""
    ready_store()
    with (
        mlflow.start_run(log_system_metrics=True) as run,
        _ended_on_error(),
        usage_metrics(torch.device("cpu")),
    ):
        experiment = experiment or experiment_name_of(run)
        set_tags(
            {
                "benchmark.method": method,
                "benchmark.report_experiment": experiment,
                RUN_NAME_TAG: run_name or f"report {experiment}",
            }
            | (extra_tags or {})
        )
        yield run


def experiment_name_of(run: mlflow.ActiveRun) -> str:
    """The name of the experiment a run belongs to."""
    return MlflowClient().get_experiment(run.info.experiment_id).name


def name_entry_run(run_id: str | None, name: str) -> None:
    """Name the run ``mlflow run`` created for an entry point (if any) after the entry
    point, until the run it becomes renames it more precisely; a run that ends on bad
    input keeps this name instead of one of MLflow's random ones."""
    if run_id is not None:
        name_run(run_id, name)


def note_continuation(run_id: str | None, resumed_run_id: str) -> None:
    """Tag the run ``mlflow run`` created for a resuming invocation with the run it
    continues (the work itself is logged to that run, in place), and name it so."""
    if run_id is not None and run_id != resumed_run_id:
        client = MlflowClient()
        client.set_tag(run_id, CONTINUES_TAG, resumed_run_id)
        resumed = client.get_run(resumed_run_id).info.run_name or resumed_run_id
        name_run(run_id, f"resume of {resumed}")


def end_interrupted(run_id: str | None, reason: str) -> str | None:
    """After a signal: end the entry point's run KILLED if it still runs (no tracked run
    had attached to it yet), and return the outermost run the signal stopped."""
    if run_id is not None and run_status(run_id) == "RUNNING":
        client = MlflowClient()
        client.set_tag(run_id, FAILURE_TAG, reason)
        client.set_terminated(run_id, "KILLED")
    return _interrupted[-1] if _interrupted else run_id


def discard_run(run_id: str, reason: str) -> str:
    """End run ``run_id`` FAILED and delete it for good where the project can: `mlflow
    run` logged its parameters (and printed them) before the project could refuse one
    that holds a password. Returns what became of it, for the user's error line.

    In a database store the run is purged (what `mlflow gc` does: its artifacts, then
    its row with every param, tag and metric); under `mlflow run` only once the CLI has
    exited, since the CLI reads the run again after the entry point's exit (a guard of
    :mod:`.cli_status` waits for it). A tracking server offers no purge to clients: the
    run stays deleted, with its parameters, until `mlflow gc` runs on its backend."""
    from benchmark.tracking.cli_status import leave_purge_guard
    from benchmark.tracking.purge import purge_run

    client = MlflowClient()
    mark_run_failed(run_id, reason)
    client.delete_run(run_id)
    if not isinstance(client._tracking_client.store, SqlAlchemyStore):
        return (
            f"the run {run_id} holding it was deleted; purge it on the tracking server "
            "(mlflow gc --backend-store-uri <its store> --run-ids " + run_id + ")"
        )
    if not leave_purge_guard(run_id):
        purge_run(run_id)
    return f"the run {run_id} holding it was purged from the tracking store"
