"""First-use cost and quality of the ``domain`` FID feature extractor.

For each dataset named, trains the domain classifier from scratch (a fresh, temporary
``$ALD_BENCHMARK_CACHE``, so nothing cached is reused or left behind), then loads it
again from that cache, and prints one line per dataset: training seconds (wall clock,
as a user meets it on first use), validation accuracy and dead feature units (on the
validation split), and the seconds of the cached load. Torch threads are left at
torch's default, as in a benchmark run.

    python scripts/measure_domain_extractor.py mnist5k mnist fashion-mnist \\
        --data-dir measurements/data

Datasets are loaded as a run loads them (``paper`` preset, its seed and splits).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from benchmark.config import resolve_config
from benchmark.data import load_dataset
from benchmark.metrics import features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", help="e.g. mnist5k mnist fashion-mnist")
    parser.add_argument(
        "--data-dir",
        default="measurements/data",
        help="data_dir for mnist, fashion-mnist, eurosat, sprites (default: %(default)s)",
    )
    parser.add_argument("--preset", default="paper")
    args = parser.parse_args(argv)
    rows = []
    for name in args.datasets:
        cfg = resolve_config(args.preset, {"dataset": name, "data_dir": args.data_dir})
        data = load_dataset(cfg)
        with tempfile.TemporaryDirectory(prefix="domain_cache_") as cache:
            os.environ[features.CACHE_ENV] = cache
            start = time.perf_counter()
            extractor = features.make_feature_extractor(
                "domain",
                data.name,
                data.train.x,
                data.train.y,
                data.n_classes,
                data.val.x,
                data.val.y,
            )
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            cached = features.make_feature_extractor(
                "domain",
                data.name,
                data.train.x,
                data.train.y,
                data.n_classes,
                data.val.x,
                data.val.y,
            )
            load_s = time.perf_counter() - start
            assert cached.quality() == extractor.quality()
        used, epochs = features.domain_schedule(len(data.train))
        rows.append(
            f"{data.name}: train split {len(data.train)} (used {used}, {epochs} epochs), "
            f"first use {train_s:.1f} s, val_acc {extractor.val_accuracy:.4f} "
            f"on {len(data.val)}, dead units {extractor.dead_units}/"
            f"{features.DOMAIN_FEATURE_DIM}, cached load {load_s:.1f} s"
        )
        print(rows[-1], flush=True)
    print(f"recipe {features.domain_recipe()}, torch threads {torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
