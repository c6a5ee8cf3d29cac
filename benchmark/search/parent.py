"""The parent run of a search: the study created or resumed, the grid's sizes queued,
the workers run until every size is done, the size selected, and what it all cost."""

from __future__ import annotations

import time
from dataclasses import dataclass

import optuna

from benchmark import figures, tracking
from benchmark.config import RunConfig
from benchmark.errors import BenchmarkError
from benchmark.search.coordinator import run_workers_until_done, threads_per_worker
from benchmark.search.rows import TrialRow, per_size_table, trial_metrics, trial_rows
from benchmark.search.spec import SearchSpec
from benchmark.search.study import create_or_resume_study, record_parent, record_selection
from benchmark.search.trials import missing_sizes, queue_sizes, trials_done
from benchmark.search.worker import WorkerArgs
from benchmark.selection import SIGNALS, Selection, select_latent_dim
from benchmark.system.device import release_device_memory
from benchmark.system.masking import mask_url
from benchmark.tracking.tags import SELECTION_METHOD_TAG
from benchmark.tracking.training_run import Prepared, prepare


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
    # the selected size's final values (test metrics, cost) as its trial recorded them
    selected: dict[str, float]
    sum_trial_cpu_time_s: float


def refuse_trials_logged_elsewhere(study: optuna.Study, spec: SearchSpec) -> None:
    """Raise when a resumed study holds finished sizes whose MLflow runs are not in this
    tracking store (a new ``mlflow.db`` beside the old study file): its selection and
    report would stand on runs nobody can open here. Checked before any run starts."""
    done = {r.latent_dim: r.mlflow_run_id for r in trial_rows(study) if r.state == "COMPLETE"}
    missing = sorted(
        size for size, run_id in done.items() if not run_id or tracking.run_status(run_id) is None
    )
    if missing:
        raise BenchmarkError(
            f"study {spec.study_name!r} in {mask_url(spec.storage)} holds trained sizes "
            f"{', '.join(map(str, missing))} whose runs are not in the tracking store "
            f"{mask_url(tracking.tracking_uri())}; log to the store they were trained in, "
            "or pass another study_name (or storage)"
        )


def run_search(
    cfg: RunConfig, spec: SearchSpec, nested: bool = False, prepared: Prepared | None = None
) -> SearchOutcome:
    """Create or resume the study, queue the grid's sizes that no trial holds (a size
    that failed in an earlier invocation again), run the workers until every size is
    done, select the size, and log the parent run (``benchmark.method=gridsearch``;
    ``nested`` puts it under the active run, as the benchmark entry point does).

    The study records the parent run, so workers started elsewhere (``pipelines.worker``)
    join it; the parent waits for their trials too (``coordinate_only``: for theirs only).
    ``prepared``: the seed's data and extractor when the caller has them (the benchmark
    job loads a seed's data once for all its methods); otherwise they are prepared here."""
    start = time.perf_counter()
    # everything the workers will need is checked (and the feature extractor cached)
    # here, so that bad input fails before a study or a run exists
    prepared = prepared or prepare(cfg)
    device = prepared.device
    if not spec.local_workers:
        # a coordinator trains nothing: it keeps no data (nor GPU memory) while it waits
        prepared = None
        release_device_memory(device)
    study = create_or_resume_study(spec, cfg)
    refuse_trials_logged_elsewhere(study, spec)
    print(f"Optuna storage: {mask_url(spec.storage)}  study: {spec.study_name}", flush=True)
    tags = {
        "benchmark.study_name": spec.study_name,
        "benchmark.search": spec.search,
        SELECTION_METHOD_TAG: spec.search,
        "benchmark.storage": mask_url(spec.storage),
    }
    with tracking.tracked_run(
        cfg,
        "gridsearch",
        device,
        nested=nested,
        run_name=tracking.search_run_name(spec.search, cfg.seed),
        extra_tags=tags,
    ) as run:
        tracking.log_params(
            {
                "search.search": spec.search,
                "search.latent_sizes": ",".join(str(s) for s in spec.latent_sizes),
                "search.storage": mask_url(spec.storage),
                "search.study_name": spec.study_name,
                "search.n_workers": spec.local_workers,
                "search.coordinate_only": str(spec.coordinate_only).lower(),
            }
            | ({"search.n_trials": spec.trial_budget} if spec.sampled else {})
        )
        args = WorkerArgs(
            cfg,
            spec,
            run.info.run_id,
            run.info.experiment_id,
            tracking.tracking_uri(),
            threads_per_worker(max(1, spec.local_workers)),
        )
        if not spec.sampled:  # before the record a joining worker waits for
            queue_sizes(study, spec.latent_sizes, run.info.run_id)
        record_parent(
            study, cfg, spec, run.info.run_id, run.info.experiment_id, tracking.tracking_uri()
        )
        exit_codes = run_workers_until_done(study, args, prepared=prepared)
        if spec.sampled and trials_done(study) < spec.trial_budget:
            raise BenchmarkError(
                f"{trials_done(study)} of the {spec.trial_budget} trials of study "
                f"{spec.study_name!r} finished (the others failed or were interrupted) and "
                "nothing was selected; run the same command again to train the rest"
            )
        missing = [] if spec.sampled else missing_sizes(study, spec.latent_sizes)
        if missing:  # never a selection from part of the grid
            raise BenchmarkError(
                f"sizes {', '.join(map(str, missing))} of study {spec.study_name!r} did not "
                "finish (failed or interrupted) and nothing was selected; run the same "
                "command again to train them"
            )
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
        record_selection(study, selection.best_latent_dim)
        sum_cost = sum(r.trial_wall_clock_s for r in rows)
        sum_cpu = sum(r.values.get("cpu_time_s", 0.0) for r in rows)
        selected = complete[selection.best_latent_dim]
        wall = time.perf_counter() - start
        tracking.log_metrics(
            {
                "best_latent_dim": selection.best_latent_dim,
                **{f"best_latent_dim_{k}": v for k, v in selection.best_per_signal.items()},
                **selected_metrics(selected),
                **trial_metrics(rows, exit_codes),
                "sum_trial_cpu_time_s": sum_cpu,
                "wall_clock_s": wall,
            }
        )
        return SearchOutcome(
            run.info.run_id,
            spec.study_name,
            selection,
            rows,
            table,
            sum_cost,
            wall,
            selected,
            sum_cpu,
        )


# The selected size's values the parent run repeats, so that the runs table and the
# chart view compare searches without opening a trial (our choice of headline values).
SELECTED_METRICS = ("test_fid", "test_recon_loss", "test_elbo", "test_silhouette")


def selected_metrics(values: dict[str, float]) -> dict[str, float]:
    """``selected_<name>``: the selected size's test metrics, as its trial recorded them."""
    return {f"selected_{k}": values[k] for k in SELECTED_METRICS if k in values}
