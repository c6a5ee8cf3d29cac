"""The end of a dead worker's run.

Optuna's heartbeats tell when a *trial's* process died: the trial is failed and retried.
A ``worker`` entry point on another machine is an MLflow run of its own (its machine, its
trials' cost) that outlives each trial; if the whole machine dies, nothing of it is left
to end that run. Like every run of this project it beats (its liveness record,
:mod:`benchmark.tracking.liveness`), at the search's ``heartbeat_interval``; every
process that waits for a search's trials ends FAILED the RUNNING worker runs of the study
whose process is gone: its pid, on this machine; elsewhere, no beat for the search's
grace period.
"""

from __future__ import annotations

import optuna

from benchmark.search.attrs import study_attrs
from benchmark.tracking.liveness import Liveness, fail_gone_runs


def _reason(_run_id: str, record: Liveness, now: float) -> str:
    if record.on_this_host:
        return f"worker process {record.process} vanished"
    return f"worker stopped beating {now - record.beat:.0f} s ago (its machine or process died)"


def fail_dead_worker_runs(study: optuna.Study, grace_s: float) -> list[str]:
    """End FAILED every worker run of the study that is still RUNNING in MLflow but whose
    process is gone (silent for ``grace_s`` seconds, on another machine). Returns the ids
    of the runs it ended."""
    experiment = study_attrs(study).get("parent_experiment_id")
    if experiment is None:  # no parent recorded yet: no worker has joined
        return []
    where = (
        f"tags.`benchmark.method` = 'worker' AND tags.`benchmark.study_name` = '{study.study_name}'"
    )
    return fail_gone_runs(str(experiment), grace_s, _reason, where)
