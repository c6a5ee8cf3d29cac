"""A worker process: trains sizes of the study, one nested MLflow run per trial, until
none is left (the objective, the pruner's hook and the trial's user attributes): a
grid's queued trials until the queue is empty, a sampled search's proposals until its
budget is spent."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna

from benchmark.config import RunConfig
from benchmark.errors import ConfigError
from benchmark.methods import method
from benchmark.methods.tpe import MIN_LATENT_DIM
from benchmark.search.progress import trial_bar
from benchmark.search.spec import PARAM, SearchSpec
from benchmark.search.study import load_study
from benchmark.search.trials import SEARCH_RUN_ATTR, TAKEN_UP_ATTR, budget_left, train_queued
from benchmark.selection import SIGNALS
from benchmark.system.interrupts import RunInterrupted, mute_when_interrupted, raise_on_signals
from benchmark.system.interrupts import check as check_interrupted
from benchmark.tracking.tags import SELECTION_METHOD_TAG

if TYPE_CHECKING:
    from benchmark.tracking.training_run import Prepared


@dataclass
class WorkerArgs:
    """Everything a worker process needs (it pickles: it reaches the process through the
    fork server)."""

    cfg: RunConfig
    spec: SearchSpec
    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    threads: int
    # the run of the `worker` entry point that started this process ("" under a parent)
    worker_run_id: str = ""


def _resumable(trial: optuna.Trial, dead_run: str, cfg: RunConfig, size: int) -> str | None:
    """``dead_run`` when this machine holds its checkpoint (the stale trial this one
    retries trained here): the retry continues that run, and the epochs it already
    trained are reported to this trial again, so that the pruner sees them."""
    from benchmark.training.checkpoint import checkpoint_path, load_checkpoint
    from benchmark.training.fingerprint import training_fingerprint

    path = checkpoint_path(dead_run)
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, training_fingerprint(cfg, False, size))
    except ConfigError:
        return None
    for record in state.history:
        trial.report(record.val_fid, record.epoch)
    return dead_run


def run_worker(args: WorkerArgs) -> None:
    """Train sizes of the study until none is left (a worker process's main)."""
    import torch
    from threadpoolctl import threadpool_limits

    from benchmark import tracking
    from benchmark.tracking.training_run import prepare

    # `mlflow run` exported the parent's run id; a trial must never attach to it.
    os.environ.pop("MLFLOW_RUN_ID", None)
    tracking.use_tracking_uri(args.tracking_uri)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    try:
        # the process started ignoring SIGINT (coordinator._start_workers); from here
        # on SIGINT and SIGTERM end it cleanly
        raise_on_signals()
        work(args, prepare(args.cfg))
    except RunInterrupted as exc:  # its trial's run is ended KILLED; no traceback
        sys.exit(exc.exit_code)
    _exit_without_teardown()


def _exit_without_teardown() -> None:
    """End a worker process whose work is done and written (its runs ended, its trials
    told) without the interpreter's teardown of its modules: with torch, MLflow and
    scikit-learn loaded that takes seconds (``scripts/bench_worker_startup.py``), and
    the search waits for its last worker. Exit handlers still run, threads are joined
    and output is flushed."""
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # multiprocessing's own exit function is one of them
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def work(args: WorkerArgs, prepared: Prepared, in_parent: bool = False) -> None:
    """Train sizes of the study with ``prepared`` data until none is left.

    ``in_parent``: this is the parent run's own process (a search's only local worker
    runs there: no process start, no second data load), so trial runs nest under the
    parent run that is active here."""
    from benchmark import tracking
    from benchmark.system.device import resolve_device
    from benchmark.tracking.training_run import RunHooks, RunPlacement, TrainingSpec, run_training

    cfg, spec = args.cfg, args.spec
    study = load_study(spec, cfg)
    mute_when_interrupted("optuna")

    def objective(trial: optuna.Trial) -> float:
        if spec.sampled:
            # first thing: a trial that `ask` made and no objective marked is abandoned
            # (trials.abandoned_trials); a grid's trial had its heartbeat before its claim
            trial.set_user_attr(TAKEN_UP_ATTR, trial.number)
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("worker_host", os.uname().nodename)
        trial.set_user_attr("worker_device", str(resolve_device(cfg.device)))  # its GPU
        if in_parent:  # stopping this worker stops the search's own process
            trial.set_user_attr("worker_in_parent", True)
        check_interrupted()
        if spec.sampled:
            size = trial.suggest_int(PARAM, MIN_LATENT_DIM, cfg.initial_latent_dim)
        else:  # the size the trial was queued with
            size = int(trial.suggest_categorical(PARAM, list(spec.latent_sizes)))
        dead_run = trial.user_attrs.get("mlflow_run_id")  # copied from a stale trial
        resume = _resumable(trial, dead_run, cfg, size) if dead_run else None
        if dead_run and resume is None:
            tracking.mark_run_failed(
                dead_run, f"worker died during trial; retried as trial {trial.number}"
            )
        trial.set_user_attr(SEARCH_RUN_ATTR, args.parent_run_id)
        if args.worker_run_id:
            trial.set_user_attr("worker_run_id", args.worker_run_id)

        def on_start(run_id: str) -> None:
            trial.set_user_attr("mlflow_run_id", run_id)

        bar = trial_bar(spec.search, cfg.seed, size, cfg.epochs)
        tags = {
            "benchmark.study_name": spec.study_name,
            "benchmark.trial_number": str(trial.number),
            "benchmark.search": spec.search,
            SELECTION_METHOD_TAG: spec.search,
        } | ({"benchmark.worker_run_id": args.worker_run_id} if args.worker_run_id else {})

        def on_epoch(record) -> None:  # noqa: ANN001
            bar.n = record.epoch  # a resumed trial starts at its checkpoint's epoch
            bar.refresh()
            trial.set_user_attr("last_alive", time.time())
            trial.report(record.val_fid, record.epoch)
            if trial.should_prune():
                pruner = method(spec.search).label  # e.g. "successive halving"
                raise optuna.TrialPruned(f"pruned by {pruner} at epoch {record.epoch}")

        try:
            outcome = run_training(
                cfg,
                prepared,
                TrainingSpec.fixed(size, resume_run_id=resume),
                RunPlacement(
                    run_name=tracking.trial_run_name(spec.search, cfg.seed, size),
                    extra_tags=tags,
                    nested=in_parent,
                    parent_run_id=args.parent_run_id,
                    experiment_id=args.experiment_id,
                ),
                RunHooks(
                    on_start=on_start,
                    on_epoch=on_epoch,
                    early_stops=(optuna.TrialPruned,),
                    progress=False,
                ),
            )
        finally:
            bar.close()
        last = outcome.result.history[-1]
        for name in SIGNALS:  # trial user attributes the parent selects from
            trial.set_user_attr(name, getattr(last, name))
        for name, value in outcome.test_metrics.items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("wall_clock_s", outcome.wall_clock_s)
        trial.set_user_attr("cpu_time_s", outcome.cpu_time_s)
        trial.set_user_attr("train_time_s", outcome.result.train_time_s)
        return last.val_fid

    if spec.sampled:
        # one plain optimize over the budget left; a trial that raised is not retried
        # here (the coordinator's next round proposes again, at most MAX_ROUNDS times)
        study.optimize(
            objective,
            n_trials=budget_left(study, spec.trial_budget),
            gc_after_trial=True,
            catch=(Exception,),
        )
        return
    # a grid: the queued trials until none is left (a size whose training raised is
    # recorded FAIL, and FAILED in MLflow; the worker goes on with the other sizes)
    train_queued(study, objective)
