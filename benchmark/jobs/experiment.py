"""The main job (the ``benchmark`` entry point) as a library call: per seed, every chosen
selection method (default: one ALD-VAE run and a grid search) on the same data
(optionally a from-scratch retrain at the adaptive run's size), all nested under one
run, then the PDF report of the experiment.

Methods are run by their kind in the registry (benchmark.methods): the ALD-VAE run, an
Optuna study (:func:`~benchmark.search.parent.run_search`), or a one-training rival
(:mod:`benchmark.jobs.rivals`); no method name is written here."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmark import tracking
from benchmark.config import RunConfig
from benchmark.jobs.rivals import MethodOutcome, method_tags, retrain_run, run_rival
from benchmark.methods import Method, default_methods
from benchmark.methods import grid as grid_method
from benchmark.report.write import ReportResult, check_writable, default_output, generate_report
from benchmark.search.parent import SearchOutcome, run_search
from benchmark.search.spec import SearchSpec, derive_study_name
from benchmark.tracking.training_run import (
    RunOutcome,
    RunPlacement,
    TrainingSpec,
    prepare,
    process_cpu_s,
    run_training,
)


@dataclass
class SeedOutcome:
    """The runs of one seed: every method's outcome by name (in the order run), and the
    ALD-VAE run, the grid search and the adaptive retrain where they ran."""

    seed: int
    adaptive: RunOutcome | None
    search: SearchOutcome | None
    retrain: RunOutcome | None
    methods: dict[str, MethodOutcome] = field(default_factory=dict)


@dataclass
class ExperimentOutcome:
    """The run that holds the whole job, its seeds' runs and the report."""

    run_id: str
    experiment: str
    seeds: list[SeedOutcome]
    report: ReportResult


def study_spec(
    cfg: RunConfig, method: Method, storage: str, n_workers: int, n_trials: int = 0
) -> SearchSpec:
    """The validated study of a study method for one seed's config, over its latent
    sizes, named after both (the same command resumes the same study). A sampled search
    (tpe) gets ``n_trials`` (0: as many as the grid has sizes) and one local worker."""
    spec = SearchSpec(
        search=method.name,
        latent_sizes=list(cfg.latent_sizes),
        storage=storage,
        n_workers=n_workers,
    )
    if spec.sampled:
        spec.n_workers, spec.n_trials = 1, n_trials
    spec.study_name = derive_study_name(cfg, method.name, spec.n_trials)
    return spec.validate()


def grid_specs(configs: list[RunConfig], storage: str, n_workers: int) -> list[SearchSpec]:
    """One validated grid search per seed's config (:func:`study_spec`)."""
    return [study_spec(cfg, grid_method.METHOD, storage, n_workers) for cfg in configs]


def method_specs(
    configs: list[RunConfig],
    methods: tuple[Method, ...],
    storage: str,
    n_workers: int,
    n_trials: int = 0,
) -> list[dict[str, SearchSpec]]:
    """Per seed, the validated study of every study method among ``methods``, by name
    (``n_trials``: a sampled search's budget); built before anything runs so that a bad
    spec fails first."""
    return [
        {m.name: study_spec(cfg, m, storage, n_workers, n_trials) for m in methods if m.is_study}
        for cfg in configs
    ]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def headline_metrics(seeds: list[SeedOutcome]) -> dict[str, float]:
    """The numbers a user compares benchmarks by, as metrics of the benchmark run,
    averaged over ``seeds``: per method ``<name>_latent_dim``, ``<name>_test_fid``,
    ``<name>_test_recon_loss`` and its compute (``<name>_compute_wall_clock_s``,
    ``<name>_compute_cpu_time_s``: every training and evaluation it needed); and, as
    before methods were chosen, the ALD-VAE and grid numbers by their old names with the
    compute ratios as ratios of totals (grid trials summed, as one machine pays for
    them, over the adaptive runs)."""
    mean = _mean
    out = {"n_seeds_done": float(len(seeds))}
    adaptive = [s.adaptive for s in seeds if s.adaptive is not None]
    searches = [s.search for s in seeds if s.search is not None]
    if adaptive:
        out |= {
            "adaptive_final_latent_dim": mean(
                [a.test_metrics["final_latent_dim"] for a in adaptive]
            ),
            "adaptive_test_fid": mean([a.test_metrics["test_fid"] for a in adaptive]),
            "adaptive_test_recon_loss": mean([a.test_metrics["test_recon_loss"] for a in adaptive]),
            "adaptive_wall_clock_s": mean([a.wall_clock_s for a in adaptive]),
            "adaptive_cpu_time_s": mean([a.cpu_time_s for a in adaptive]),
        }
    if searches:
        out |= {
            "grid_selected_latent_dim": mean([g.selection.best_latent_dim for g in searches]),
            "grid_test_fid": mean([g.selected.get("test_fid", float("nan")) for g in searches]),
            "grid_test_recon_loss": mean(
                [g.selected.get("test_recon_loss", float("nan")) for g in searches]
            ),
            "grid_sum_trial_wall_clock_s": mean([g.sum_trial_wall_clock_s for g in searches]),
            "grid_sum_trial_cpu_time_s": mean([g.sum_trial_cpu_time_s for g in searches]),
            "grid_wall_clock_s": mean([g.wall_clock_s for g in searches]),
        }
    if adaptive and searches:
        out["compute_ratio_grid_over_adaptive"] = _ratio(
            sum(g.sum_trial_wall_clock_s for g in searches), sum(a.wall_clock_s for a in adaptive)
        )
        out["cpu_ratio_grid_over_adaptive"] = _ratio(
            sum(g.sum_trial_cpu_time_s for g in searches), sum(a.cpu_time_s for a in adaptive)
        )
    retrains = [s.retrain for s in seeds if s.retrain is not None]
    if retrains:
        out["retrain_test_fid"] = mean([r.test_metrics["test_fid"] for r in retrains])
        out["retrain_test_recon_loss"] = mean([r.test_metrics["test_recon_loss"] for r in retrains])
    names = list(dict.fromkeys(name for s in seeds for name in s.methods))
    for name in names:
        done = [s.methods[name] for s in seeds if name in s.methods]
        out |= {
            f"{name}_latent_dim": mean([float(m.latent_dim) for m in done]),
            f"{name}_test_fid": mean([m.test_metrics.get("test_fid", float("nan")) for m in done]),
            f"{name}_test_recon_loss": mean(
                [m.test_metrics.get("test_recon_loss", float("nan")) for m in done]
            ),
            f"{name}_compute_wall_clock_s": mean([m.wall_clock_s for m in done]),
            f"{name}_compute_cpu_time_s": mean([m.cpu_time_s for m in done]),
        }
    return out


def search_outcome(method: Method, search: SearchOutcome) -> MethodOutcome:
    """A study method's outcome: the selected size's trial, the trials' summed cost."""
    return MethodOutcome(
        method,
        int(search.selection.best_latent_dim),
        dict(search.selected),
        search.sum_trial_wall_clock_s,
        search.sum_trial_cpu_time_s,
        [search.run_id],
    )


def _specs_by_method(
    specs: list[SearchSpec] | list[dict[str, SearchSpec]], methods: tuple[Method, ...]
) -> list[dict[str, SearchSpec]]:
    """Per seed, the study specs by method name (a bare spec is its own search's); a
    study method without a spec fails before anything runs."""
    by_seed = [s if isinstance(s, dict) else {s.search: s} for s in specs]
    for seed_specs in by_seed:
        for m in methods:
            if m.is_study and m.name not in seed_specs:
                raise ValueError(f"no study spec for method {m.name}")
    return by_seed


def run_seed(
    cfg: RunConfig,
    specs: dict[str, SearchSpec],
    methods: tuple[Method, ...],
    retrain: bool,
) -> SeedOutcome:
    """Every method of ``methods`` for one seed, in that order, on the same prepared data;
    their runs nest under the active run."""
    prepared = prepare(cfg)
    seed = SeedOutcome(cfg.seed, None, None, None)
    for m in methods:
        if m.shrinks:
            seed.adaptive = run_training(
                cfg,
                prepared,
                TrainingSpec.shrinking(),
                RunPlacement(
                    run_name=f"{m.name} seed={cfg.seed}", extra_tags=method_tags(m), nested=True
                ),
            )
            seed.methods[m.name] = MethodOutcome.of_runs(m, [seed.adaptive])
            if retrain:
                size = int(seed.adaptive.test_metrics["final_latent_dim"])
                seed.retrain = retrain_run(cfg, prepared, m, size, seed.adaptive.run_id)
        elif m.is_study:
            search = run_search(cfg, specs[m.name], nested=True, prepared=prepared)
            if m is grid_method.METHOD:
                seed.search = search
            seed.methods[m.name] = search_outcome(m, search)
        else:
            seed.methods[m.name] = run_rival(m, cfg, prepared)
    return seed


def run_experiment(
    configs: list[RunConfig],
    specs: list[SearchSpec] | list[dict[str, SearchSpec]],
    retrain: bool = False,
    output: Path | None = None,
    overwrite: bool = False,
    methods: tuple[Method, ...] | None = None,
) -> ExperimentOutcome:
    """Run every seed (``configs[i]``; its studies ``specs[i]``: by method name, as
    :func:`method_specs` makes them, or one grid spec) as nested runs of one run
    (``benchmark.method=report``) in the active experiment, each of ``methods`` (default:
    :func:`~benchmark.methods.default_methods`) in turn, then write the report of that
    experiment to ``output`` (default ``outputs/reports/<experiment>.pdf``; an existing
    report there is replaced only with ``overwrite``) and log it.

    The run is named ``benchmark <dataset> <preset>``; after each seed it logs
    :func:`headline_metrics` of the seeds done so far (step = seeds done), and at the end
    its ``wall_clock_s`` and ``cpu_time_s``. The output path is checked before any
    training starts."""
    start, cpu_start = time.perf_counter(), process_cpu_s()
    methods = methods or default_methods()
    by_seed = _specs_by_method(specs, methods)
    first = configs[0]
    with tracking.report_run(
        extra_tags={"benchmark.dataset": first.dataset, "benchmark.preset": first.preset},
        run_name=f"benchmark {first.dataset} {first.preset}",
        method="benchmark",
    ) as run:
        # `mlflow run` logged the parameters as given (`''` for a preset's default):
        # the resolved values beside them, as every tracked run has them
        resolved = first.to_params() | {
            "seed": ",".join(str(c.seed) for c in configs),
            "methods": ",".join(m.name for m in methods),
        }
        tracking.log_params({f"config.{k}": v for k, v in resolved.items()})
        experiment = tracking.experiment_name_of(run)
        output = output or default_output(experiment)
        check_writable(output, overwrite)
        seeds = []
        for cfg, seed_specs in zip(configs, by_seed, strict=True):
            seeds.append(run_seed(cfg, seed_specs, methods, retrain))
            # the chart view fills in while the job runs; the last step is every seed
            tracking.log_metrics(headline_metrics(seeds), step=len(seeds))
        result = generate_report(experiment, output, overwrite)
        tracking.log_file(result.path)
        tracking.log_metrics(
            {
                "wall_clock_s": time.perf_counter() - start,
                "cpu_time_s": process_cpu_s() - cpu_start,
            }
        )
    return ExperimentOutcome(run.info.run_id, experiment, seeds, result)
