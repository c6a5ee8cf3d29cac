"""Parallel grid search benchmark: what a search costs beyond its trials, and the real
speed-up of N local workers, measured in one process and printed as ratios.

    python scripts/bench_grid_workers.py --epochs 30 --also-one-worker
        [--dataset mnist5k] [--preset quick] [--latent-sizes 4,8,16,32] [--workers 2]
        [--device auto] [--data-dir DIR] [--repeats 1]

The N workers train N trials at once: one in the search's own process, N - 1 in worker
processes that start while it trains. Those fork from a server that has imported what
they run (``benchmark.search.fork_server``), started before this script's own imports,
as the ``gridsearch``, ``benchmark`` and ``worker`` entry points start it before theirs:
its imports overlap this process's, which the elapsed times below do not include either.
On a GPU (``--device cuda``) they share the same device (docs/gpu.md: 1, 3 and 9
concurrent trials of the full-MNIST grid).

Each search uses a fresh temporary Optuna storage and MLflow store. Printed:
- the N-worker search: how long after the in-process worker's first trial a worker
  process began its first (its start-up), its trials' summed wall-clock and its elapsed
  time;
- with ``--also-one-worker``, the same search with one worker, then the last two lines
  (issue 10's goals):
  ``overhead 1 worker: X.XX``: elapsed over the sum of its trial times (goal <= 1.10);
  ``speed-up N workers: X.XX of ceiling Y.YY``: elapsed(1 worker) / elapsed(N workers),
  and the ceiling N x (mean trial time of the 1-worker search, which uses all cores)
  / (mean trial time of the N-worker search, where each trial has 1/N of them): the
  speed-up a search with no overhead at all would get (goal: X >= 0.9 Y).
The sum of trial times over elapsed is not a speed-up (it grows when trials slow each
other down) and is not printed as one.

``--repeats R`` (with ``--also-one-worker``) runs the pair R times, alternating, and the
last two lines give the median of each figure with its range over the repeats: on a
shared 2-core machine one pair's ratio moves by several per cent from run to run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from typing import TYPE_CHECKING

from benchmark.search import fork_server as processes  # imports nothing heavy

if TYPE_CHECKING:
    from benchmark.search.spec import SearchSpec


def one_search(args: argparse.Namespace, workers: int) -> tuple:
    """(sum of trial wall-clock, elapsed, mean trial wall-clock, trials) of one search."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from benchmark.config import resolve_config
    from benchmark.search.parent import run_search
    from benchmark.search.spec import SearchSpec

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        os.environ.pop("MLFLOW_RUN_ID", None)
        # the store exists before the clock starts, as a user's does: its first creation
        # (seconds of schema migrations) is not a cost of the search
        MlflowClient().search_experiments()
        overrides = {
            "dataset": args.dataset,
            "latent_sizes": args.latent_sizes,
            "epochs": args.epochs,
            "adaptive": False,
            "device": args.device,
            "data_dir": args.data_dir,
        }
        cfg = resolve_config(args.preset, overrides)
        spec = SearchSpec(
            latent_sizes=cfg.latent_sizes,
            storage=f"sqlite:///{tmp}/optuna.db",
            study_name="bench",
            n_workers=workers,
        ).validate()
        out = run_search(cfg, spec)
        if workers > 1:
            print(f"  {_start_lag(spec)}")
        # each trial's time on its worker's monotonic clock (the `wall_clock_s` it
        # measured), the clock of the elapsed time: Optuna's start/complete stamps are
        # the system's wall clock (one pair here read 4 trials of 31 s from them against
        # 57 s elapsed on two workers, which cannot be)
        times = [r.values["wall_clock_s"] for r in out.rows if r.state == "COMPLETE"]
        return sum(times), out.wall_clock_s, statistics.mean(times), len(times)


def _start_lag(spec: SearchSpec) -> str:
    """How long after the in-process worker's first trial a worker process began its
    first: that process's start-up, which lies on the search's critical path."""
    import optuna

    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage)
    here = [t.datetime_start for t in study.trials if t.user_attrs.get("worker_in_parent")]
    there = [t.datetime_start for t in study.trials if not t.user_attrs.get("worker_in_parent")]
    if not here or not there:
        return "worker processes: no trial of theirs (the in-process worker trained all)"
    lag = (min(there) - min(here)).total_seconds()
    return f"first trial of a worker process: {lag:.1f} s after the in-process worker's"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--latent-sizes", default="4,8,16,32")
    parser.add_argument("--epochs", default="")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--also-one-worker", action="store_true")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (workers share it)")
    parser.add_argument("--data-dir", default="", help="data_dir of a file-backed dataset")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of searches to run")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} is too small; it must be >= 1")
    n = args.workers
    if n > 1:
        # as the entry points do: the server that worker processes fork from imports
        # what they run while this process imports its own modules (one_search)
        processes.warm_up()
    print(
        f"cores={os.cpu_count()} dataset={args.dataset} preset={args.preset} "
        f"sizes={args.latent_sizes} epochs={args.epochs or 'preset'}"
    )
    overheads, speedups, ceilings = [], [], []
    for _ in range(args.repeats if args.also_one_worker else 1):
        total, elapsed, mean_n, trials = one_search(args, n)
        print(
            f"{n} workers: {trials} trials of {mean_n:.1f} s on average, "
            f"sum {total:.1f} s, elapsed {elapsed:.1f} s"
        )
        if not args.also_one_worker:
            return
        total1, elapsed1, mean_1, trials1 = one_search(args, 1)
        print(
            f"1 worker: {trials1} trials of {mean_1:.1f} s on average, "
            f"sum {total1:.1f} s, elapsed {elapsed1:.1f} s"
        )
        overheads.append(elapsed1 / total1)
        speedups.append(elapsed1 / elapsed)
        ceilings.append(n * mean_1 / mean_n)
        if args.repeats > 1:
            print(
                f"  this pair: overhead {overheads[-1]:.2f}, speed-up {speedups[-1]:.2f} "
                f"of ceiling {ceilings[-1]:.2f} ({speedups[-1] / ceilings[-1]:.2f} of it)"
            )
    print(f"overhead 1 worker: {_figure(overheads)}")
    shares = [s / c for s, c in zip(speedups, ceilings, strict=True)]
    print(
        f"speed-up {n} workers: {_figure(speedups)} of ceiling {_figure(ceilings)}"
        + (f" (share of the ceiling {_figure(shares)})" if len(shares) > 1 else "")
    )


def _figure(values: list[float]) -> str:
    """One value as ``X.XX``; several as their median with the range."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    main()
