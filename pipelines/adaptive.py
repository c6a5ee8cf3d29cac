"""`mlflow run . -e adaptive`: one ALD-VAE run, tracked in MLflow."""

from __future__ import annotations

import sys

from benchmark import tracking
from benchmark.config import resolve_config
from benchmark.tracking.training_run import TrainingSpec, prepare, run_training
from pipelines.cli import parse_params, run_entry_point

PARAMETERS = (
    "dataset",
    "preset",
    "epochs",
    "initial_latent_dim",
    "prune_order",
    "seed",
    "device",
    "fid_backend",
    "data_dir",
    "posterior",
    "download",
    "amp",
    "fid_samples",
    "resume_run_id",
    "image_size",
    "subset",
    "subset_seed",
    "stop_signals",
)
# printed when a signal stops the run
RESUME_HINT = "To continue it, run the same command with -P resume_run_id={run_id}"


def main(argv: list[str]) -> None:
    params = parse_params(argv, PARAMETERS)
    preset = params.pop("preset", "") or "quick"
    resume = params.pop("resume_run_id", "") or None
    cfg = resolve_config(preset, params | {"adaptive": "true"})
    prepared = prepare(cfg)
    if resume:
        tracking.note_continuation(tracking.env_run_id(), resume)
    outcome = run_training(cfg, prepared, TrainingSpec.shrinking(resume))
    m = outcome.test_metrics
    print(
        f"adaptive run {outcome.run_id}: final latent size {int(m['final_latent_dim'])}, "
        f"test recon {m['test_recon_loss']:.2f}, test FID {m['test_fid']:.2f} "
        f"({cfg.fid_backend}, n={int(m['test_fid_samples'])}), "
        f"wall-clock {outcome.wall_clock_s:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(run_entry_point(main, resume_hint=RESUME_HINT))
