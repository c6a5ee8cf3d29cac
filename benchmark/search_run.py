"""The parent run of a search: study, workers, selection, and what it all cost."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from benchmark import figures, tracking
from benchmark.config import RunConfig
from benchmark.errors import BenchmarkError
from benchmark.liveness import WorkerHeartbeat
from benchmark.runner import prepare
from benchmark.search import (
    JoinedSearch,
    SearchSpec,
    TrialRow,
    WorkerArgs,
    create_or_resume_study,
    mask_url,
    record_parent,
    run_workers_until_done,
    trial_rows,
)
from benchmark.selection import SIGNALS, Selection, select_latent_dim


@dataclass
class SearchOutcome:
    """What a search run found and cost."""

    run_id: str
    study_name: str
    selection: Selection
    rows: list[TrialRow]
    per_size: list[dict]
    sum_trial_wall_clock_s: float
    wall_clock_s: float


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


def threads_per_worker(n_workers: int) -> int:
    """Each local worker's share of the CPU threads (at least one)."""
    return max(1, (os.cpu_count() or 1) // n_workers)


def run_search(cfg: RunConfig, spec: SearchSpec, nested: bool = False) -> SearchOutcome:
    """Create or resume the study, run the workers until every size is done, select
    the size, and log the parent run (``benchmark.method=gridsearch``; ``nested`` puts
    it under the active run, as the benchmark entry point does).

    The study records the parent run, so workers started elsewhere (``pipelines.worker``)
    join it; the parent waits for their trials too (``coordinate_only``: for theirs only)."""
    start = time.perf_counter()
    # everything the workers will need is checked (and the feature extractor cached)
    # here, so that bad input fails before a study or a run exists
    device = prepare(cfg).device
    study = create_or_resume_study(spec, cfg)
    print(f"Optuna storage: {mask_url(spec.storage)}  study: {spec.study_name}", flush=True)
    tags = {
        "benchmark.study_name": spec.study_name,
        "benchmark.search": spec.search,
        "benchmark.storage": mask_url(spec.storage),
    }
    with tracking.tracked_run(cfg, "gridsearch", device, nested=nested, extra_tags=tags) as run:
        tracking.log_params(
            {
                "search.search": spec.search,
                "search.latent_sizes": ",".join(str(s) for s in spec.latent_sizes),
                "search.storage": mask_url(spec.storage),
                "search.study_name": spec.study_name,
                "search.n_workers": spec.local_workers,
                "search.coordinate_only": str(spec.coordinate_only).lower(),
            }
        )
        args = WorkerArgs(
            cfg,
            spec,
            run.info.run_id,
            run.info.experiment_id,
            tracking.tracking_uri(),
            threads_per_worker(max(1, spec.local_workers)),
        )
        record_parent(
            study, cfg, spec, run.info.run_id, run.info.experiment_id, tracking.tracking_uri()
        )
        exit_codes = run_workers_until_done(study, args)
        rows = trial_rows(study)
        complete = {r.latent_dim: r.values for r in rows if r.state == "COMPLETE"}
        if not complete:
            raise BenchmarkError(
                f"no size of study {spec.study_name!r} completed; see its trials with "
                f"`optuna trials --study-name {spec.study_name} --storage ...`"
            )
        selection = select_latent_dim(
            {size: {k: values[k] for k in SIGNALS} for size, values in complete.items()}
        )
        table = per_size_table(rows, selection)
        tracking.log_table(table, "per_size.csv")
        fig = figures.signals_by_size_figure(
            [{"latent_dim": s} | v for s, v in complete.items()],
            selection.best_latent_dim,
            title=f"{spec.study_name} (FID: {cfg.fid_backend})",
        )
        tracking.log_figure(fig, "signals_by_latent_dim.png")
        figures.close(fig)
        study.set_user_attr("selected_latent_dim", selection.best_latent_dim)
        sum_cost = sum(r.trial_wall_clock_s for r in rows)
        wall = time.perf_counter() - start
        tracking.log_metrics(
            {
                "best_latent_dim": selection.best_latent_dim,
                **{f"best_latent_dim_{k}": v for k, v in selection.best_per_signal.items()},
                **trial_metrics(rows, exit_codes),
                "wall_clock_s": wall,
            }
        )
        return SearchOutcome(
            run.info.run_id, spec.study_name, selection, rows, table, sum_cost, wall
        )


@dataclass
class WorkerOutcome:
    """What a worker that joined a search from another machine trained and cost."""

    run_id: str
    rows: list[TrialRow]
    exit_codes: list[int]
    wall_clock_s: float


def run_joined_worker(joined: JoinedSearch) -> WorkerOutcome:
    """Train sizes of a search started elsewhere until none is left anywhere, as one
    run tagged ``benchmark.method=worker`` (its machine, its trials' cost); each trial is
    a nested run of the search's parent run, as if the parent had started it."""
    start = time.perf_counter()
    cfg, spec = joined.cfg, joined.spec
    # data and feature extractor checked (and cached for the worker processes) first
    device = prepare(cfg).device
    tags = {
        "benchmark.study_name": spec.study_name,
        "benchmark.search": spec.search,
        "benchmark.storage": mask_url(spec.storage),
        "benchmark.search_run_id": joined.parent_run_id,
    }
    with tracking.tracked_run(
        cfg,
        "worker",
        device,
        run_name=f"worker {os.uname().nodename}",
        extra_tags=tags,
        experiment_id=joined.experiment_id,
    ) as run:
        tracking.log_params(
            {
                "search.study_name": spec.study_name,
                "search.storage": mask_url(spec.storage),
                "search.n_workers": spec.n_workers,
            }
        )
        args = WorkerArgs(
            cfg,
            spec,
            joined.parent_run_id,
            joined.experiment_id,
            joined.tracking_uri,
            threads_per_worker(spec.n_workers),
            worker_run_id=run.info.run_id,
        )
        # beats while it lives, so that the search ends this run FAILED if the machine dies
        with WorkerHeartbeat(joined.study, run.info.run_id, spec.heartbeat_interval):
            codes = run_workers_until_done(joined.study, args)
        rows = trial_rows(joined.study, worker_run_id=run.info.run_id)
        wall = time.perf_counter() - start
        tracking.log_metrics(trial_metrics(rows, codes) | {"wall_clock_s": wall})
        return WorkerOutcome(run.info.run_id, rows, codes, wall)
