"""Parallel grid search benchmark: elapsed wall-clock of a grid run by N local workers
against the sum of its trials' wall-clock (what one machine running them one after the
other would spend), measured in one process and printed as ratios.

    python scripts/bench_grid_workers.py [--dataset mnist5k] [--preset quick]
        [--latent-sizes 4,8,16,32] [--workers 2] [--epochs N] [--also-one-worker]

Each run uses a fresh temporary Optuna storage and MLflow store. Target (issue 3):
with 2 workers on 2 cores, sum of trial wall-clock / elapsed >= 1.7.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import mlflow

from benchmark.config import resolve_config
from benchmark.search.parent import run_search
from benchmark.search.spec import SearchSpec


def one_search(dataset: str, preset: str, sizes: str, epochs: str, workers: int) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        os.environ.pop("MLFLOW_RUN_ID", None)
        cfg = resolve_config(
            preset, {"dataset": dataset, "latent_sizes": sizes, "epochs": epochs, "adaptive": False}
        )
        spec = SearchSpec(
            latent_sizes=cfg.latent_sizes,
            storage=f"sqlite:///{tmp}/optuna.db",
            study_name="bench",
            n_workers=workers,
        ).validate()
        out = run_search(cfg, spec)
        return out.sum_trial_wall_clock_s, out.wall_clock_s, len(out.rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--latent-sizes", default="4,8,16,32")
    parser.add_argument("--epochs", default="")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--also-one-worker", action="store_true")
    args = parser.parse_args()
    print(
        f"cores={os.cpu_count()} dataset={args.dataset} preset={args.preset} "
        f"sizes={args.latent_sizes} epochs={args.epochs or 'preset'}"
    )
    total, elapsed, n = one_search(
        args.dataset, args.preset, args.latent_sizes, args.epochs, args.workers
    )
    print(
        f"{args.workers} workers: {n} trials, sum of trial wall-clock {total:.1f} s, "
        f"elapsed {elapsed:.1f} s"
    )
    print(
        f"ratio sum-of-trials/elapsed with {args.workers} workers: {total / elapsed:.2f}  "
        "(target >= 1.7)"
    )
    if args.also_one_worker:
        total1, elapsed1, _ = one_search(
            args.dataset, args.preset, args.latent_sizes, args.epochs, 1
        )
        print(f"1 worker: sum of trial wall-clock {total1:.1f} s, elapsed {elapsed1:.1f} s")
        print(f"ratio elapsed 1 worker / elapsed {args.workers} workers: {elapsed1 / elapsed:.2f}")


if __name__ == "__main__":
    main()
