"""The verdict on a paper dataset, resumable: `paper` preset, per seed the adaptive run,
the from-scratch retrain at its size and a successive-halving search over the preset's
sizes (optionally the full grid), then the report.

    python scripts/verdict.py --dataset mnist --data_dir measurements/data --seeds 1
    python scripts/verdict.py --dataset fashion-mnist --data_dir measurements/data \\
        --seeds 1 --searches halving

Runs land in experiment ``verdict-<dataset>`` of the tracking store in
``$MLFLOW_TRACKING_URI`` (default ``sqlite:///measurements/mlflow.db``), studies in
``--storage`` (default ``sqlite:///measurements/optuna-studies.db``); ``measurements/``
is ignored by git, so a later session continues where this one stopped. Every step
that already has a FINISHED run is skipped; a search resumes from its study (a killed
trial's retry continues from the trial's checkpoint). A run of a step that was killed
continues from its last checkpoint (``$ALD_BENCHMARK_CHECKPOINTS``, default
``measurements/checkpoints``), in place; without one it is ended FAILED and the step
runs again. The
report is rewritten after every step (``reports/verdict-<dataset>.pdf``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///measurements/mlflow.db")
os.environ.setdefault("ALD_BENCHMARK_CHECKPOINTS", "measurements/checkpoints")

import mlflow  # noqa: E402
import torch  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from benchmark import tracking  # noqa: E402
from benchmark.checkpoint import checkpoint_path  # noqa: E402
from benchmark.config import RunConfig, parse_int_list, resolve_config  # noqa: E402
from benchmark.interrupts import RunInterrupted, raise_on_signals  # noqa: E402
from benchmark.methods import grid, halving  # noqa: E402
from benchmark.report.collect import RETRAIN_ROLE  # noqa: E402
from benchmark.report.write import generate_report  # noqa: E402
from benchmark.runner import prepare, run_training  # noqa: E402
from benchmark.search.parent import run_search  # noqa: E402
from benchmark.search.spec import SearchSpec, derive_study_name  # noqa: E402


def runs(client: MlflowClient, experiment_id: str, query: str) -> list:
    return client.search_runs([experiment_id], filter_string=query, max_results=1000)


def end_stale(client: MlflowClient, experiment_id: str, query: str, keep: str | None) -> None:
    """End RUNNING runs of a step whose process is gone (this driver is the only writer
    of its experiment) as FAILED, so they are never mistaken for live ones; ``keep`` is
    the one about to be resumed."""
    for run in runs(client, experiment_id, query + " and attributes.status = 'RUNNING'"):
        if run.info.run_id == keep:
            continue
        tracking.mark_run_failed(run.info.run_id, "process vanished (verdict driver restarted)")
        print(f"ended stale run {run.info.run_id} FAILED", flush=True)


def resumable(client: MlflowClient, experiment_id: str, query: str) -> str | None:
    """The newest stopped run of a step (left RUNNING by a killed driver, or ended FAILED)
    that has a checkpoint to continue from."""
    for status in ("RUNNING", "FAILED"):
        for run in runs(client, experiment_id, query + f" and attributes.status = '{status}'"):
            if checkpoint_path(run.info.run_id).exists():
                return run.info.run_id
    return None


def finished(client: MlflowClient, experiment_id: str, query: str):
    found = runs(client, experiment_id, query + " and attributes.status = 'FINISHED'")
    return found[0] if found else None


def step_adaptive(client, exp_id: str, cfg: RunConfig, prepared) -> str:
    query = f"tags.`benchmark.method` = 'adaptive' and tags.`benchmark.seed` = '{cfg.seed}'"
    done = finished(client, exp_id, query)
    if done:
        print(f"seed {cfg.seed}: adaptive done ({done.info.run_id})", flush=True)
        return done.info.run_id
    resume = resumable(client, exp_id, query)
    if resume:
        print(f"seed {cfg.seed}: adaptive run {resume} continues from its checkpoint", flush=True)
    end_stale(client, exp_id, query, keep=resume)
    out = run_training(
        cfg, prepared, "adaptive", run_name=f"adaptive seed={cfg.seed}", resume_run_id=resume
    )
    return out.run_id


def step_retrain(client, exp_id: str, cfg: RunConfig, prepared, adaptive_id: str) -> None:
    query = (
        f"tags.`benchmark.role` = '{RETRAIN_ROLE}' and tags.`benchmark.retrain_of` = "
        f"'{adaptive_id}'"
    )
    if finished(client, exp_id, query):
        print(f"seed {cfg.seed}: retrain done", flush=True)
        return
    resume = resumable(client, exp_id, query)
    if resume:
        print(f"seed {cfg.seed}: retrain {resume} continues from its checkpoint", flush=True)
    end_stale(client, exp_id, query, keep=resume)
    size = int(client.get_run(adaptive_id).data.metrics["final_latent_dim"])
    run_training(
        cfg,
        prepared,
        "fixed",
        latent_dim=size,
        run_name=f"retrain latent_dim={size} seed={cfg.seed}",
        extra_tags={"benchmark.role": RETRAIN_ROLE, "benchmark.retrain_of": adaptive_id},
        resume_run_id=resume,
    )


def step_search(client, exp_id: str, cfg: RunConfig, search: str, storage: str) -> None:
    name = derive_study_name(cfg, search)
    query = f"tags.`benchmark.method` = 'gridsearch' and tags.`benchmark.study_name` = '{name}'"
    if finished(client, exp_id, query):
        print(f"seed {cfg.seed}: {search} search done ({name})", flush=True)
        return
    end_stale(client, exp_id, query, keep=None)
    spec = SearchSpec(
        latent_sizes=list(cfg.latent_sizes),
        storage=storage,
        study_name=name,
        n_workers=1,
        search=search,
    ).validate()
    run_search(cfg, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--seeds", default="1")
    parser.add_argument(
        "--searches",
        default=halving.METHOD.name,
        help=f"{halving.METHOD.name}, {grid.METHOD.name} or both (comma list)",
    )
    parser.add_argument("--storage", default="sqlite:///measurements/optuna-studies.db")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    experiment = f"verdict-{args.dataset}"
    mlflow.set_experiment(experiment)
    client = MlflowClient()
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    output = Path("reports") / f"{experiment}.pdf"
    searches = [s.strip() for s in args.searches.split(",") if s.strip()]
    for seed in parse_int_list(args.seeds, "seeds"):
        cfg = resolve_config(
            "paper",
            {"dataset": args.dataset, "data_dir": args.data_dir, "seed": str(seed)}
            | {"device": args.device},
        )
        start = time.perf_counter()
        prepared = prepare(cfg)
        ready = time.perf_counter() - start
        print(f"seed {seed}: data and extractor ready in {ready:.0f} s", flush=True)
        adaptive_id = step_adaptive(client, exp_id, cfg, prepared)
        generate_report(experiment, output, overwrite=True)
        step_retrain(client, exp_id, cfg, prepared, adaptive_id)
        generate_report(experiment, output, overwrite=True)
        for search in searches:
            step_search(client, exp_id, cfg, search, args.storage)
            generate_report(experiment, output, overwrite=True)
    print(f"report: {output}")


if __name__ == "__main__":
    raise_on_signals()  # a stop ends the runs KILLED; starting the driver again resumes them
    try:
        sys.exit(main())
    except RunInterrupted as stop:
        print(f"{stop}: start the same command again to continue", file=sys.stderr)
        sys.exit(stop.exit_code)
