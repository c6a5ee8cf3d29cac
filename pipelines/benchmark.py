"""`mlflow run . -e benchmark`: the main job. For each seed, one ALD-VAE run and a grid
search on the same data (optionally a from-scratch retrain at the adaptive size), then
the PDF report of the experiment."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark import tracking
from benchmark.config import parse_int_list, resolve_config
from benchmark.report import check_writable, default_output, generate_report
from benchmark.report_collect import RETRAIN_ROLE
from benchmark.runner import prepare, run_training
from benchmark.search import DEFAULT_STORAGE, SearchSpec, derive_study_name, mask_url
from benchmark.search_run import run_search
from pipelines.cli import bool_param, int_param, parse_params, run_entry_point

PARAMETERS = (
    "dataset",
    "preset",
    "seeds",
    "epochs",
    "latent_sizes",
    "n_workers",
    "retrain",
    "output",
    "storage",
    "device",
    "fid_backend",
    "data_dir",
    "fid_samples",
)


def main(argv: list[str]) -> None:
    params = parse_params(argv, PARAMETERS)
    preset = params.pop("preset", "") or "quick"
    seeds = parse_int_list(params.pop("seeds", "") or "1", "seeds")
    retrain = bool_param(params, "retrain")
    n_workers = int_param(params, "n_workers", 1)
    storage = params.pop("storage", "") or DEFAULT_STORAGE
    output_text = params.pop("output", "")
    # every seed's config is validated before anything runs
    configs = [resolve_config(preset, params | {"seed": str(seed)}) for seed in seeds]
    specs = [
        SearchSpec(
            latent_sizes=list(cfg.latent_sizes),
            storage=storage,
            study_name=derive_study_name(cfg, "grid"),
            n_workers=n_workers,
        ).validate()
        for cfg in configs
    ]
    with tracking.report_run(
        extra_tags={"benchmark.dataset": configs[0].dataset, "benchmark.preset": preset}
    ) as run:
        experiment = tracking.experiment_name_of(run)
        output = Path(output_text) if output_text else default_output(experiment)
        check_writable(output)
        for cfg, spec in zip(configs, specs, strict=True):
            prepared = prepare(cfg)
            adaptive = run_training(
                cfg, prepared, "adaptive", nested=True, run_name=f"adaptive seed={cfg.seed}"
            )
            run_search(cfg, spec, nested=True)
            if retrain:
                size = int(adaptive.test_metrics["final_latent_dim"])
                run_training(
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
        result = generate_report(experiment, output)
        tracking.log_file(result.path)
    print(f"report: {result.path.resolve()}")
    print(
        f"MLflow UI: mlflow ui --backend-store-uri {mask_url(tracking.tracking_uri())}  "
        "(then open http://127.0.0.1:5000)"
    )


if __name__ == "__main__":
    sys.exit(run_entry_point(main))
