"""How large is the FID noise floor at each validation sample count, against the spread
of FIDs across the grid's latent sizes? (chooses the `fid_samples` default of `quick`)

    python scripts/fid_floor.py --dataset mnist5k --preset quick --sizes 4,8,16,32,64 \\
        --samples 100,250,375,750
    python scripts/fid_floor.py --experiment main-job --samples 100,250,375,750

Trains one fixed-size model per size (the preset's schedule, seed 1), or with
``--experiment`` takes the models of the latest grid search of that MLflow experiment
(tracking store from ``$MLFLOW_TRACKING_URI``, its dataset, preset and seed), then for every
sample count n and several seeded, class-stratified reference draws of the validation
split measures: the floor (real-vs-real FID between the reference and a disjoint real
sample of n, same extractor) and each model's FID of prior samples against the same
reference. Prints, per n: floor mean and sd over the draws, each size's FID (mean over
draws), the range of those FIDs across sizes, and floor / range.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from mlflow.tracking import MlflowClient

from benchmark import tracking
from benchmark.config import parse_int_list, resolve_config
from benchmark.metrics.fid import frechet_distance
from benchmark.tracking.training_run import prepare
from benchmark.training.loop import train
from benchmark.training.outputs import fid_reference, generate

DRAWS = 5


def grid_trials(experiment: str) -> list:
    """The finished trial runs of the latest grid search of ``experiment``."""
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(f"experiment {experiment!r} does not exist")
    parents = client.search_runs(
        [exp.experiment_id],
        "tags.`benchmark.method` = 'gridsearch' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not parents:
        raise SystemExit(f"experiment {experiment!r} has no finished grid search")
    return client.search_runs(
        [exp.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}' and "
        "attributes.status = 'FINISHED'",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--data_dir", default="")
    parser.add_argument("--sizes", default="4,8,16,32,64")
    parser.add_argument("--samples", default="100,250,500,750")
    parser.add_argument("--epochs", default="")
    parser.add_argument("--experiment", default="", help="take the grid's models from here")
    args = parser.parse_args()
    params = {"dataset": args.dataset, "data_dir": args.data_dir, "epochs": args.epochs}
    trials = grid_trials(args.experiment) if args.experiment else []
    if trials:
        tags = trials[0].data.tags
        params |= {"dataset": tags["benchmark.dataset"], "seed": tags["benchmark.seed"]}
        args.preset = tags["benchmark.preset"]
    cfg = resolve_config(args.preset, params | {"adaptive": "false"})
    prepared = prepare(cfg)
    data, extractor = prepared.data, prepared.extractor
    models = {}
    for run in trials:
        size = int(run.data.params["fixed_latent_dim"])
        models[size] = tracking.load_model(run.info.run_id, prepared.device).eval()
    for size in [] if trials else parse_int_list(args.sizes, "sizes"):
        print(f"training n_z={size} ({cfg.epochs} epochs)", flush=True)
        result = train(cfg, data, extractor, prepared.device, latent_dim=size, adaptive=False)
        models[size] = result.model.eval()
    models = dict(sorted(models.items()))
    print(f"\n{args.dataset}, preset {args.preset}, {extractor.name} features, {DRAWS} draws")
    header = "| n | floor | " + " | ".join(f"FID n_z={s}" for s in models)
    print(header + " | range across sizes | floor / range |")
    print("|" + "---|" * (len(models) + 4))
    for n in parse_int_list(args.samples, "samples"):
        floors, fids = [], {s: [] for s in models}
        for draw in range(DRAWS):
            ref = fid_reference(extractor, data.val, n, seed=100 + draw, spare=data.test)
            floors.append(ref.floor)
            gen = torch.Generator().manual_seed(200 + draw)
            for size, model in models.items():
                noise = torch.randn(ref.n, size, generator=gen).to(prepared.device)
                with torch.no_grad():
                    images = generate(model, noise)
                fids[size].append(frechet_distance(extractor.features(images), ref.features))
        means = {s: float(np.mean(v)) for s, v in fids.items()}
        spread = max(means.values()) - min(means.values())
        cells = " | ".join(f"{means[s]:.2f}" for s in models)
        floor = float(np.mean(floors))
        print(
            f"| {ref.n} | {floor:.2f} +- {np.std(floors):.2f} | {cells} | {spread:.2f} "
            f"| {floor / spread:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
