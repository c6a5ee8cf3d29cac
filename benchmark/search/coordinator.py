"""The local coordinator: starts this machine's worker processes (again after one died),
fails stale trials so that their retries are queued, and waits until no trial runs
anywhere, workers on other machines included."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial

from benchmark.search import fork_server as processes
from benchmark.search.dead_workers import fail_dead_worker_runs
from benchmark.search.progress import search_progress
from benchmark.search.spec import MAX_ROUNDS
from benchmark.search.trials import (
    recover_stale_trials,
    running_trials,
    search_has_work,
    trial_size,
)
from benchmark.search.worker import WorkerArgs, run_worker, work
from benchmark.system.device import worker_device
from benchmark.system.interrupts import RunInterrupted

if TYPE_CHECKING:
    from benchmark.tracking.training_run import Prepared


# Seconds a stopped worker gets to end its trial's run before it is killed.
WORKER_STOP_S = 15


def on_device(args: WorkerArgs, index: int) -> WorkerArgs:
    """``args`` for local worker ``index``: on a machine with several GPUs, its own GPU
    (:func:`~benchmark.system.device.worker_device`)."""
    device = worker_device(args.cfg.device, index)
    if device == args.cfg.device:
        return args
    return dataclasses.replace(args, cfg=dataclasses.replace(args.cfg, device=device))


def _start_workers(args: WorkerArgs, n: int, first: int = 0) -> list[multiprocessing.Process]:
    """``n`` worker processes (local workers ``first`` to ``first + n - 1``, each on its
    device), forked from the server that has imported what they run (:mod:`.processes`);
    they start ignoring Ctrl-C until they can end on it cleanly."""
    return processes.start(run_worker, [(on_device(args, first + i),) for i in range(n)])


def _stop_workers(procs: list[multiprocessing.Process]) -> None:
    """This process was stopped (a Ctrl-C reaches the workers too, a `kill` of this pid
    does not): every worker ends its trial's run KILLED before this one unwinds."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(WORKER_STOP_S)
        if p.is_alive():
            p.kill()


def _run_worker_here(args: WorkerArgs, prepared: Prepared) -> list[int]:
    """One local worker in this (the parent's) process, on its share of the threads: no
    process start-up, no second load of the data and the feature extractor (about a
    quarter of a small search's elapsed time went there). Returns its exit code as a
    process would."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    # never more threads than this process was given (a caller may have limited it)
    torch.set_num_threads(min(before, args.threads))
    try:
        with threadpool_limits(min(before, args.threads)):
            work(args, prepared, in_parent=True)
    except Exception as exc:  # a worker's crash, as a worker process would exit with it
        print(f"local worker stopped: {type(exc).__name__}: {exc}", flush=True)
        return [1]
    finally:
        torch.set_num_threads(before)
    return [0]


def _run_local_workers(args: WorkerArgs, n: int, prepared: Prepared | None) -> list[int]:
    """``n`` local workers until they end; their exit codes. With ``prepared`` (this
    process's data and extractor) the first of them trains in this process while the
    others start: one process start-up and one data load fewer. Without it all ``n`` are
    worker processes.

    The processes are asked for in a thread: the first start waits for the fork server
    (seconds when nothing started it before), and the worker here trains meanwhile."""
    here = prepared is not None
    count = n - 1 if here else n
    if count:  # (one worker alone trains here: no server, whose imports cost CPU)
        processes.warm_up()  # from this (the main) thread: see its docstring
    with ThreadPoolExecutor(1, thread_name_prefix="start-workers") as pool:
        # the worker here is local worker 0 and keeps the device its data are on
        starting = pool.submit(_start_workers, args, count, 1 if here else 0)
        try:
            codes = _run_worker_here(args, prepared) if here else []
            procs = starting.result()
            for p in procs:
                p.join()
        except RunInterrupted:
            _stop_workers(starting.result())
            raise
    return codes + [p.exitcode for p in procs]


def threads_per_worker(n_workers: int) -> int:
    """Each local worker's share of the CPU threads (at least one)."""
    return max(1, (os.cpu_count() or 1) // n_workers)


def _waiting_note(running: list[FrozenTrial], pending: bool) -> str:
    where = ", ".join(
        f"n_z={trial_size(t)} (trial {t.number}, {t.user_attrs.get('worker_host', '?')})"
        for t in sorted(running, key=lambda t: t.number)
    )
    if running:
        return f"waiting for trials running elsewhere: {where}"
    return "waiting for workers to take the remaining sizes" if pending else ""


def run_workers_until_done(
    study: optuna.Study,
    args: WorkerArgs,
    poll_s: float | None = None,
    prepared: Prepared | None = None,
) -> list[int]:
    """Start the spec's local workers, again after a worker died, until every size is
    done; then wait until no trial runs anywhere (workers on other machines included),
    failing stale trials on the way so that their retries are queued and taken.

    With ``coordinate_only`` no worker starts here: it waits for workers started
    elsewhere until every size is done. Local workers start at most ``MAX_ROUNDS`` times;
    after that a size nobody trains is left undone. With ``prepared`` (this process's
    data and extractor) one of the local workers runs in this process instead of a new
    one. A bar shows the sizes done out of the grid (a sampled search's trials done out
    of its budget) while it runs. Returns every local exit code."""
    with search_progress(study, args.spec, args.cfg.seed):
        return _run_until_done(study, args, poll_s, prepared)


def _run_until_done(
    study: optuna.Study,
    args: WorkerArgs,
    poll_s: float | None,
    prepared: Prepared | None,
) -> list[int]:
    spec = args.spec
    # nothing in the study changes faster than a heartbeat
    poll = spec.heartbeat_interval if poll_s is None else poll_s
    codes: list[int] = []
    rounds = 0
    said = ""
    while True:
        for number in recover_stale_trials(study, spec.grace_period):
            print(f"trial {number} was never taken up by a worker: ended FAIL", flush=True)
        for run_id in fail_dead_worker_runs(study, spec.grace_period):
            print(f"worker run {run_id} stopped beating: ended FAILED", flush=True)
        work = search_has_work(study, spec)
        if work and spec.local_workers and rounds < MAX_ROUNDS:
            codes += _run_local_workers(args, spec.local_workers, prepared)
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
