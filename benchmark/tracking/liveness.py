"""Runs whose process vanished. Every RUNNING run of this project keeps a liveness record,
the small artifact ``internal/liveness.json`` (its process as ``host:pid`` and its last
beat, seconds since the epoch), rewritten by one heartbeat thread while the run lives.
The next top-level run of the experiment ends FAILED those whose process is gone, and a
search ends FAILED the run of a worker that stopped beating.

The record is an artifact, not a tag, because only this project reads it: a user
browsing runs sees tags in every runs table and run page, artifacts only where asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from benchmark.system.periodic import Periodic
from benchmark.system.pids import pid_alive
from benchmark.tracking.tags import mark_run_failed

LIVENESS_FILE = "internal/liveness.json"
HEARTBEAT_S = 30
# A run whose process is on another machine (or whose pid was reused) is judged by its
# beat: silent this long, it is gone.
VANISHED_AFTER_S = 5 * HEARTBEAT_S


def this_process() -> str:
    """``host:pid`` of this process, as a liveness record holds it."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Liveness:
    """A run's liveness record: its process and its last beat."""

    process: str
    beat: float

    @property
    def on_this_host(self) -> bool:
        host, _, pid = self.process.rpartition(":")
        return host == socket.gethostname() and pid.isdigit()

    def gone(self, now: float, silent_after_s: float) -> bool:
        """Whether the run's process is gone: on this machine, its pid no longer exists
        (a live process with a late beat is only slow); elsewhere, it has not beaten for
        ``silent_after_s``."""
        if self.on_this_host:
            return not pid_alive(int(self.process.rpartition(":")[2]))
        return now - self.beat > silent_after_s


def write_liveness(run_id: str) -> None:
    """Record this process and a beat now as ``run_id``'s liveness."""
    record = {"process": this_process(), "beat": round(time.time(), 1)}
    MlflowClient().log_text(run_id, json.dumps(record), LIVENESS_FILE)


def read_liveness(run_id: str, client: MlflowClient | None = None) -> Liveness | None:
    """``run_id``'s liveness record; ``None`` for a run without one (not this project's,
    or not started far enough to have written it)."""
    client = client or MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, LIVENESS_FILE, tmp)
            record = json.loads(Path(path).read_text())
        except Exception:  # noqa: BLE001 - no record (or a half-written one): not judged
            return None
    return Liveness(str(record["process"]), float(record["beat"]))


class RunHeartbeat(Periodic):
    """Beat for ``run_id`` (its liveness record) every ``interval_s`` seconds in a
    background thread while the ``with`` block runs. One heartbeat a run: inside a block
    that beats for the same run already (the entry point's, once the tracked run attaches
    to the run ``mlflow run`` created), this one does nothing."""

    _beating: set[str] = set()

    def __init__(self, run_id: str, interval_s: float = HEARTBEAT_S) -> None:
        self._run_id = run_id
        self._owner = False
        super().__init__(interval_s, "run-heartbeat")

    def tick(self) -> None:
        write_liveness(self._run_id)

    def __enter__(self) -> RunHeartbeat:
        if self._run_id in RunHeartbeat._beating:
            return self
        RunHeartbeat._beating.add(self._run_id)
        self._owner = True
        return super().__enter__()

    def __exit__(self, *exc_info: object) -> None:
        if not self._owner:
            return
        try:
            super().__exit__(*exc_info)
        finally:
            RunHeartbeat._beating.discard(self._run_id)


def _last_epoch(client: MlflowClient, run_id: str) -> int:
    history = client.get_metric_history(run_id, "latent_dim")
    return max((m.step for m in history), default=0)


def fail_gone_runs(
    experiment_id: str,
    silent_after_s: float,
    reason: Callable[[str, Liveness, float], str],
    where: str = "",
    keep: set[str] | None = None,
) -> list[str]:
    """End FAILED, with ``reason(run_id, record, now)``, every RUNNING run of the
    experiment (narrowed by the MLflow filter ``where``) whose liveness record says its
    process is gone (:meth:`Liveness.gone`). Runs in ``keep`` and runs without a record
    are left alone. Returns their ids."""
    client = MlflowClient()
    now = time.time()
    ended = []
    query = " AND ".join(q for q in ("attributes.status = 'RUNNING'", where) if q)
    for run in client.search_runs([experiment_id], filter_string=query, max_results=1000):
        if run.info.run_id in (keep or set()):
            continue
        record = read_liveness(run.info.run_id, client)
        if record is None or not record.gone(now, silent_after_s):
            continue
        mark_run_failed(run.info.run_id, reason(run.info.run_id, record, now))
        ended.append(run.info.run_id)
    return ended


def reap_vanished_runs(experiment_id: str, keep: set[str] | None = None) -> list[str]:
    """End FAILED every RUNNING run of the experiment whose process is gone
    (``VANISHED_AFTER_S`` silent, for a process on another machine), but those in
    ``keep``. Returns their ids."""
    client = MlflowClient()

    def reason(run_id: str, _record: Liveness, _now: float) -> str:
        return f"process vanished, last epoch {_last_epoch(client, run_id)}"

    return fail_gone_runs(experiment_id, VANISHED_AFTER_S, reason, keep=keep)


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
    """While the block runs, the run ``mlflow run`` created (if any) keeps its liveness
    record, so that it is reaped if this process dies before a tracked run attaches to
    it (data loading, extractor training)."""
    if run_id is None:
        yield
        return
    with RunHeartbeat(run_id):
        yield
