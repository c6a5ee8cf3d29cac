"""Runs whose process vanished: every RUNNING run records its process and beats, and the
next top-level run of the experiment ends those whose process is gone FAILED."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator

from mlflow.tracking import MlflowClient

from benchmark.system.periodic import Periodic
from benchmark.system.pids import pid_alive
from benchmark.tracking.tags import HEARTBEAT_TAG, PROCESS_TAG, mark_run_failed

HEARTBEAT_S = 30
# A run whose process is on another machine (or whose pid was reused) is judged by its
# beat: silent this long, it is gone.
VANISHED_AFTER_S = 5 * HEARTBEAT_S


def this_process() -> str:
    """``host:pid`` of this process, as the tag ``benchmark.process`` holds it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RunHeartbeat(Periodic):
    """Beat for ``run_id`` (tag ``benchmark.heartbeat``) every ``interval_s`` seconds in
    a background thread while the ``with`` block runs."""

    def __init__(self, run_id: str, interval_s: float = HEARTBEAT_S) -> None:
        self._run_id = run_id
        super().__init__(interval_s, "run-heartbeat")

    def tick(self) -> None:
        MlflowClient().set_tag(self._run_id, HEARTBEAT_TAG, f"{time.time():.0f}")


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
    MlflowClient().set_tag(run_id, PROCESS_TAG, this_process())
    with RunHeartbeat(run_id):
        yield
