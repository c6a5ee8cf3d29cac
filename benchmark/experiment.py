"""The main job (the ``benchmark`` entry point) as a library call: per seed, one ALD-VAE
run and a grid search on the same data (optionally a from-scratch retrain at the
adaptive run's size), all nested under one run, then the PDF report of the experiment."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark import tracking
from benchmark.config import RunConfig
from benchmark.report.collect import RETRAIN_ROLE
from benchmark.report.write import ReportResult, check_writable, default_output, generate_report
from benchmark.runner import RunOutcome, prepare, process_cpu_s, run_training
from benchmark.search.parent import SearchOutcome, run_search
from benchmark.search.spec import SearchSpec, derive_study_name


@dataclass
class SeedOutcome:
    """The runs of one seed."""

    seed: int
    adaptive: RunOutcome
    search: SearchOutcome
    retrain: RunOutcome | None


@dataclass
class ExperimentOutcome:
    """The run that holds the whole job, its seeds' runs and the report."""

    run_id: str
    experiment: str
    seeds: list[SeedOutcome]
    report: ReportResult


def grid_specs(configs: list[RunConfig], storage: str, n_workers: int) -> list[SearchSpec]:
    """One validated grid search per seed's config, over its latent sizes, in a study
    named after it (the same command resumes the same studies)."""
    return [
        SearchSpec(
            latent_sizes=list(cfg.latent_sizes),
            storage=storage,
            study_name=derive_study_name(cfg, "grid"),
            n_workers=n_workers,
        ).validate()
        for cfg in configs
    ]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def headline_metrics(seeds: list[SeedOutcome]) -> dict[str, float]:
    """The numbers a user compares benchmarks by, as metrics of the benchmark run: each
    method's size, test FID and reconstruction loss and cost, averaged over ``seeds``,
    and the compute ratios as ratios of totals (grid trials summed, as one machine pays
    for them, over the adaptive runs)."""

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else float("nan")

    adaptive = [s.adaptive for s in seeds]
    searches = [s.search for s in seeds]
    out = {
        "n_seeds_done": float(len(seeds)),
        "adaptive_final_latent_dim": mean([a.test_metrics["final_latent_dim"] for a in adaptive]),
        "adaptive_test_fid": mean([a.test_metrics["test_fid"] for a in adaptive]),
        "adaptive_test_recon_loss": mean([a.test_metrics["test_recon_loss"] for a in adaptive]),
        "adaptive_wall_clock_s": mean([a.wall_clock_s for a in adaptive]),
        "adaptive_cpu_time_s": mean([a.cpu_time_s for a in adaptive]),
        "grid_selected_latent_dim": mean([g.selection.best_latent_dim for g in searches]),
        "grid_test_fid": mean([g.selected.get("test_fid", float("nan")) for g in searches]),
        "grid_test_recon_loss": mean(
            [g.selected.get("test_recon_loss", float("nan")) for g in searches]
        ),
        "grid_sum_trial_wall_clock_s": mean([g.sum_trial_wall_clock_s for g in searches]),
        "grid_sum_trial_cpu_time_s": mean([g.sum_trial_cpu_time_s for g in searches]),
        "grid_wall_clock_s": mean([g.wall_clock_s for g in searches]),
        "compute_ratio_grid_over_adaptive": _ratio(
            sum(g.sum_trial_wall_clock_s for g in searches), sum(a.wall_clock_s for a in adaptive)
        ),
        "cpu_ratio_grid_over_adaptive": _ratio(
            sum(g.sum_trial_cpu_time_s for g in searches), sum(a.cpu_time_s for a in adaptive)
        ),
    }
    retrains = [s.retrain for s in seeds if s.retrain is not None]
    if retrains:
        out["retrain_test_fid"] = mean([r.test_metrics["test_fid"] for r in retrains])
        out["retrain_test_recon_loss"] = mean([r.test_metrics["test_recon_loss"] for r in retrains])
    return out


def run_experiment(
    configs: list[RunConfig],
    specs: list[SearchSpec],
    retrain: bool = False,
    output: Path | None = None,
    overwrite: bool = False,
) -> ExperimentOutcome:
    """Run every seed (``configs[i]`` searched with ``specs[i]``) as nested runs of one
    run (``benchmark.method=report``) in the active experiment, then write the report of
    that experiment to ``output`` (default ``outputs/reports/<experiment>.pdf``; an
    existing report there is replaced only with ``overwrite``) and log it.

    The run is named ``benchmark <dataset> <preset>``; after each seed it logs
    :func:`headline_metrics` of the seeds done so far (step = seeds done), and at the end
    its ``wall_clock_s`` and ``cpu_time_s``. The output path is checked before any
    training starts."""
    start, cpu_start = time.perf_counter(), process_cpu_s()
    first = configs[0]
    with tracking.report_run(
        extra_tags={"benchmark.dataset": first.dataset, "benchmark.preset": first.preset},
        run_name=f"benchmark {first.dataset} {first.preset}",
    ) as run:
        # `mlflow run` logged the parameters as given (`''` for a preset's default):
        # the resolved values beside them, as every tracked run has them
        resolved = first.to_params() | {"seed": ",".join(str(c.seed) for c in configs)}
        tracking.log_params({f"config.{k}": v for k, v in resolved.items()})
        experiment = tracking.experiment_name_of(run)
        output = output or default_output(experiment)
        check_writable(output, overwrite)
        seeds = []
        for cfg, spec in zip(configs, specs, strict=True):
            prepared = prepare(cfg)
            adaptive = run_training(
                cfg, prepared, "adaptive", nested=True, run_name=f"adaptive seed={cfg.seed}"
            )
            search = run_search(cfg, spec, nested=True)
            retrained = None
            if retrain:
                size = int(adaptive.test_metrics["final_latent_dim"])
                retrained = run_training(
                    cfg,
                    prepared,
                    "fixed",
                    latent_dim=size,
                    nested=True,
                    run_name=f"retrain seed={cfg.seed} latent_dim={size}",
                    extra_tags={
                        "benchmark.role": RETRAIN_ROLE,
                        "benchmark.retrain_of": adaptive.run_id,
                    },
                )
            seeds.append(SeedOutcome(cfg.seed, adaptive, search, retrained))
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
