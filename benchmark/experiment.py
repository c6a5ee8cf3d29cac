"""The main job (the ``benchmark`` entry point) as a library call: per seed, one ALD-VAE
run and a grid search on the same data (optionally a from-scratch retrain at the
adaptive run's size), all nested under one run, then the PDF report of the experiment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark import tracking
from benchmark.config import RunConfig
from benchmark.report.collect import RETRAIN_ROLE
from benchmark.report.write import ReportResult, check_writable, default_output, generate_report
from benchmark.runner import RunOutcome, prepare, run_training
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

    The output path is checked before any training starts."""
    with tracking.report_run(
        extra_tags={"benchmark.dataset": configs[0].dataset, "benchmark.preset": configs[0].preset}
    ) as run:
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
                    run_name=f"retrain latent_dim={size} seed={cfg.seed}",
                    extra_tags={
                        "benchmark.role": RETRAIN_ROLE,
                        "benchmark.retrain_of": adaptive.run_id,
                    },
                )
            seeds.append(SeedOutcome(cfg.seed, adaptive, search, retrained))
        result = generate_report(experiment, output, overwrite)
        tracking.log_file(result.path)
    return ExperimentOutcome(run.info.run_id, experiment, seeds, result)
