"""A study's trials as the rows a search reports: size, state, cost and values, the
per-size table of the parent run and the metrics of a parent or worker run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmark.search.trials import is_surplus, trial_size
from benchmark.selection import Selection


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
        if is_surplus(t) or trial_size(t) is None or t.state == TrialState.WAITING:
            continue
        if worker_run_id is not None and t.user_attrs.get("worker_run_id") != worker_run_id:
            continue
        numeric = {k: float(v) for k, v in t.user_attrs.items() if isinstance(v, int | float)}
        rows.append(
            TrialRow(
                trial_size(t),
                t.number,
                t.state.name,
                str(t.user_attrs.get("mlflow_run_id", "")),
                trial_cost_s(t),
                numeric,
                str(t.user_attrs.get("worker_host", "")),
            )
        )
    return rows


def per_size_table(rows: list[TrialRow], selection: Selection | None) -> list[dict]:
    """One row per trial that ran: size, state, cost, signals, test metrics, score."""
    table = []
    for r in sorted(rows, key=lambda r: (r.latent_dim, r.trial_number)):
        row = {
            "latent_dim": r.latent_dim,
            "trial_number": r.trial_number,
            "state": r.state,
            "mlflow_run_id": r.mlflow_run_id,
            "worker_host": r.worker_host,
            "trial_wall_clock_s": round(r.trial_wall_clock_s, 3),
        }
        row |= {k: v for k, v in sorted(r.values.items()) if k.startswith(("val_", "test_"))}
        if selection is not None and r.state == "COMPLETE":
            row["selection_score"] = selection.scores.get(r.latent_dim)
        table.append(row)
    return table


def trial_metrics(rows: list[TrialRow], exit_codes: list[int]) -> dict[str, float]:
    """What the trials of ``rows`` came to and cost, and how many worker processes
    crashed (non-zero exit codes): metrics of a search's parent run and of a worker run."""
    states = [r.state for r in rows]
    return {
        "n_trials_complete": states.count("COMPLETE"),
        "n_trials_pruned": states.count("PRUNED"),
        "n_trials_failed": states.count("FAIL"),
        "n_worker_crashes": sum(1 for c in exit_codes if c != 0),
        "sum_trial_wall_clock_s": sum(r.trial_wall_clock_s for r in rows),
    }
