"""`mlflow run . -e fixed -P latent_dim=N`: one VAE trained from scratch at a fixed latent
size, with the same loop, schedule and final evaluation as the adaptive run
(a search trial, or the from-scratch retrain at the adaptive run's size)."""

from __future__ import annotations

import sys

from benchmark import tracking
from benchmark.config import MAX_LATENT_DIM, parse_int_list, resolve_config
from benchmark.errors import ConfigError
from benchmark.tracking.training_run import TrainingSpec, prepare, run_training
from pipelines.adaptive import PARAMETERS as ADAPTIVE_PARAMETERS
from pipelines.adaptive import RESUME_HINT
from pipelines.cli import parse_params, run_entry_point

PARAMETERS = tuple(p for p in ADAPTIVE_PARAMETERS if p not in ("prune_order", "stop_signals")) + (
    "latent_dim",
)


def main(argv: list[str]) -> None:
    params = parse_params(argv, PARAMETERS)
    text = params.pop("latent_dim", "") or ""
    latent_dim = 0
    if text.strip():
        sizes = parse_int_list(text, "latent_dim")
        if len(sizes) != 1:
            raise ConfigError(f"latent_dim={text!r} must be one integer (a grid is -e gridsearch)")
        (latent_dim,) = sizes
        if latent_dim > MAX_LATENT_DIM:
            raise ConfigError(f"latent_dim={latent_dim} is too large; at most {MAX_LATENT_DIM}")
    preset = params.pop("preset", "") or "quick"
    resume = params.pop("resume_run_id", "") or None
    cfg = resolve_config(preset, params | {"adaptive": "false"})
    # no size given: the preset's published fixed-size baseline, where it has one
    latent_dim = latent_dim or cfg.baseline_latent_dim
    if not latent_dim:
        raise ConfigError(
            f"latent_dim is required for a fixed-size run (an integer >= 1); preset {preset!r} "
            "has no published baseline size (preset=paper has)"
        )
    prepared = prepare(cfg)
    if resume:
        tracking.note_continuation(tracking.env_run_id(), resume)
    outcome = run_training(cfg, prepared, TrainingSpec.fixed(latent_dim, resume_run_id=resume))
    m = outcome.test_metrics
    print(
        f"fixed run {outcome.run_id}: latent size {latent_dim}, "
        f"test recon {m['test_recon_loss']:.2f}, test FID {m['test_fid']:.2f} "
        f"({cfg.fid_backend}, n={int(m['test_fid_samples'])}), "
        f"wall-clock {outcome.wall_clock_s:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(run_entry_point(main, resume_hint=RESUME_HINT))
