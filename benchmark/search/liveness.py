"""Heartbeats of worker runs, kept in the study, and the end of a dead worker's run.

Optuna's heartbeats tell when a *trial's* process died: the trial is failed and retried.
A ``worker`` entry point on another machine is an MLflow run of its own (its machine, its
trials' cost) that outlives each trial; if the whole machine dies, nothing of it is left
to end that run, which would stay RUNNING for ever. So a joined worker beats too, in the
study's (system) attribute ``worker_alive:<run id>`` (seconds since the epoch, ``None`` once
it stops on purpose), and every process that waits for a search's trials ends the
RUNNING run of a worker whose beat is older than the search's grace period FAILED.
"""

from __future__ import annotations

import time

import optuna

from benchmark import tracking
from benchmark.search.attrs import set_study_attr, study_attrs
from benchmark.system.periodic import Periodic

WORKER_BEAT_PREFIX = "worker_alive:"


def beat_key(run_id: str) -> str:
    """The study attribute (:mod:`benchmark.search.attrs`) that holds a worker run's
    last beat."""
    return f"{WORKER_BEAT_PREFIX}{run_id}"


class WorkerHeartbeat(Periodic):
    """Beat for ``run_id`` every ``interval_s`` seconds in a background thread while the
    ``with`` block runs; on a clean or failed exit the beat is cleared (the run ends
    itself then, it is not dead)."""

    def __init__(self, study: optuna.Study, run_id: str, interval_s: float) -> None:
        self._study = study
        self._key = beat_key(run_id)
        super().__init__(interval_s, "worker-heartbeat")

    def tick(self) -> None:
        set_study_attr(self._study, self._key, time.time())

    def finish(self, raised: bool) -> None:
        set_study_attr(self._study, self._key, None)


def stale_worker_runs(attrs: dict, now: float, grace_s: float) -> list[str]:
    """Run ids whose last beat in the study's ``attrs`` is older than ``grace_s``."""
    return sorted(
        key[len(WORKER_BEAT_PREFIX) :]
        for key, beat in attrs.items()
        if key.startswith(WORKER_BEAT_PREFIX)
        and isinstance(beat, int | float)
        and now - beat > grace_s
    )


def fail_dead_worker_runs(study: optuna.Study, grace_s: float) -> list[str]:
    """End FAILED every worker run of the study that is still RUNNING in MLflow but has
    not beaten for ``grace_s`` seconds. Returns the ids of the runs it ended."""
    ended = []
    now = time.time()
    attrs = study_attrs(study)  # one read of the storage
    for run_id in stale_worker_runs(attrs, now, grace_s):
        set_study_attr(study, beat_key(run_id), None)  # judged once, whatever its status
        if tracking.run_status(run_id) != "RUNNING":
            continue
        silent = now - attrs[beat_key(run_id)]
        tracking.mark_run_failed(
            run_id, f"worker stopped beating {silent:.0f} s ago (its machine or process died)"
        )
        ended.append(run_id)
    return ended
