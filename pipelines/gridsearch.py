"""`mlflow run . -e gridsearch`: an Optuna search over fixed latent sizes.

With ``coordinate_only=true`` it starts no worker of its own: it creates the study and
the parent run and waits until workers started elsewhere (`mlflow run . -e worker`)
have trained every size, then selects (docs/scaling.md)."""

from __future__ import annotations

import sys

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
    "latent_sizes",
    "search",
    "epochs",
    "seed",
    "storage",
    "study_name",
    "n_workers",
    "device",
    "fid_backend",
    "data_dir",
    "fid_samples",
    "heartbeat_interval",
    "grace_period",
    "coordinate_only",
    "image_size",
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
    from benchmark.config import resolve_config
    from benchmark.search.parent import run_search
    from benchmark.search.spec import DEFAULT_STORAGE, SearchSpec, derive_study_name
    from benchmark.search.storage import refuse_password

    params = parse_params(argv, PARAMETERS)
    preset = params.pop("preset", "") or "quick"
    search = params.pop("search", "") or SearchSpec.search
    storage = params.pop("storage", "") or DEFAULT_STORAGE
    refuse_password(storage)
    study_name = params.pop("study_name", "")
    spec_ints = {
        "n_workers": int_param(params, "n_workers", 1),
        "heartbeat_interval": int_param(
            params, "heartbeat_interval", SearchSpec.heartbeat_interval
        ),
        "grace_period": int_param(params, "grace_period", SearchSpec.grace_period),
    }
    coordinate_only = bool_param(params, "coordinate_only")
    cfg = resolve_config(preset, params | {"adaptive": "false"})
    spec = SearchSpec(
        search=search,
        latent_sizes=list(cfg.latent_sizes),
        storage=storage,
        study_name=study_name or derive_study_name(cfg, search),
        coordinate_only=coordinate_only,
        **spec_ints,
    ).validate()
    out = run_search(cfg, spec)
    print(f"gridsearch run {out.run_id} (study {out.study_name}):")
    for row in out.per_size:
        print(
            f"  n_z={row['latent_dim']:>3} {row['state']:<8} "
            f"{row['trial_wall_clock_s']:8.1f} s  score={row.get('selection_score', '-')}  "
            f"{row['worker_host']}"
        )
    print(
        f"selected latent size {out.selection.best_latent_dim}; sum of trial wall-clock "
        f"{out.sum_trial_wall_clock_s:.1f} s, elapsed {out.wall_clock_s:.1f} s"
    )


if __name__ == "__main__":
    start_worker_server_early(sys.argv[1:], PARAMETERS, processes_from=2)
    sys.exit(run_entry_point(main, resume_hint=RESUME_HINT))
