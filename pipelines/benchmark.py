"""`mlflow run . -e benchmark`: the main job. For each seed, every chosen selection method
(``methods``; default: one ALD-VAE run and a grid search) on the same data (optionally a
from-scratch retrain at the adaptive size), then the PDF report of the experiment (the
loop is :mod:`benchmark.jobs.experiment`)."""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.cli import (
    bool_param,
    int_param,
    parse_params,
    run_entry_point,
    start_worker_server_early,
)

PARAMETERS = (
    "dataset",
    "preset",
    "seeds",
    "epochs",
    "latent_sizes",
    "n_workers",
    "retrain",
    "output",
    "overwrite",
    "storage",
    "device",
    "fid_backend",
    "data_dir",
    "fid_samples",
    "image_size",
    "methods",
    "tpe_trials",
    "subset",
    "subset_seed",
)


# printed when a signal stops the search
RESUME_HINT = (
    "To continue, run the same command again: finished sizes are kept and the "
    "interrupted ones continue from their checkpoints"
)


def main(argv: list[str]) -> None:
    # imported here, not above: run as a program, the worker processes' server starts
    # first and imports the same modules meanwhile (start_worker_server_early)
    from benchmark import tracking
    from benchmark.config import parse_int_list, resolve_config
    from benchmark.jobs.experiment import method_specs, run_experiment
    from benchmark.methods import default_methods, parse_methods
    from benchmark.search.spec import DEFAULT_STORAGE
    from benchmark.search.storage import refuse_password
    from benchmark.system.masking import mask_url

    params = parse_params(argv, PARAMETERS)
    preset = params.pop("preset", "") or "quick"
    seeds = parse_int_list(params.pop("seeds", "") or "1", "seeds")
    retrain = bool_param(params, "retrain")
    n_workers = int_param(params, "n_workers", 1)
    storage = params.pop("storage", "") or DEFAULT_STORAGE
    refuse_password(storage)
    output_text = params.pop("output", "")
    overwrite = bool_param(params, "overwrite")
    methods_text = params.pop("methods", "")
    methods = parse_methods(methods_text) if methods_text else default_methods()
    tpe_trials = int_param(params, "tpe_trials", 0, minimum=0)
    # every seed's config and study is validated before anything runs
    configs = [resolve_config(preset, params | {"seed": str(seed)}) for seed in seeds]
    specs = method_specs(configs, methods, storage, n_workers, tpe_trials)
    output = Path(output_text) if output_text else None
    outcome = run_experiment(configs, specs, retrain, output, overwrite, methods)
    print(f"report: {outcome.report.path.resolve()}")
    print(
        f"MLflow UI: mlflow ui --backend-store-uri {mask_url(tracking.tracking_uri())}  "
        "(then open http://127.0.0.1:5000)"
    )


if __name__ == "__main__":
    start_worker_server_early(sys.argv[1:], PARAMETERS, processes_from=2)
    sys.exit(run_entry_point(main, resume_hint=RESUME_HINT))
