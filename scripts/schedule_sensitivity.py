"""How much the latent size ALD-VAE ends at depends on its schedule: one adaptive
training per schedule variant and seed, in one process, printed as a table.

    python scripts/schedule_sensitivity.py [--dataset mnist5k] [--seeds 1]
        [--variants quick,quick-paper-windows,quick-patience5,paper]

For each run: the size it ended at, the epoch of the switch to fine steps, the epoch the
stop rule fired ("-" when it never fired and the epoch budget ended the cutting), and
the last epoch's validation signals. Nothing is logged to MLflow. A size that a run
reaches only because its budget ran out is a size the stop rule did not choose.
"""

from __future__ import annotations

import argparse

from benchmark.config import resolve_config
from benchmark.tracking.training_run import prepare
from benchmark.training.loop import TrainResult, train

# name -> (preset, overrides). `quick` scales the paper's windows by the same 2/5 as
# its decision interval (5 -> 2 epochs); `quick-paper-windows` keeps the paper's windows
# with quick's interval (the quick preset before 0.5.1); `quick-patience5` keeps the
# paper's decision interval and windows within quick's 60-epoch budget.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "quick": ("quick", {}),
    "quick-paper-windows": ("quick", {"switch_window": "20", "slope_window": "19"}),
    "quick-patience5": (
        "quick",
        {"patience": "5", "switch_window": "20", "slope_window": "19"},
    ),
    "paper": ("paper", {}),
}


def switch_epoch(result: TrainResult) -> int | None:
    """The first epoch trained in the fine phase, if any."""
    return next((h.epoch for h in result.history if h.phase == "fine"), None)


def row(name: str, seed: int, epochs: int, result: TrainResult) -> str:
    last = result.history[-1]
    switch = switch_epoch(result)
    stop = result.stopped_epoch
    return (
        f"{name:<20} {seed:>4} {epochs:>6} {result.final_latent_dim:>6} "
        f"{'-' if switch is None else switch:>7} {'-' if stop is None else stop:>5} "
        f"{last.val_recon_loss:>10.2f} {last.val_fid:>8.2f} {last.val_silhouette:>8.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--seeds", default="1", help="comma-separated")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; allowed: {', '.join(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"{'variant':<20} {'seed':>4} {'epochs':>6} {'n_z':>6} {'switch':>7} {'stop':>5} "
        f"{'val_recon':>10} {'val_fid':>8} {'val_sil':>8}"
    )
    for seed in seeds:
        for name in names:
            preset, overrides = VARIANTS[name]
            cfg = resolve_config(
                preset,
                overrides | {"dataset": args.dataset, "seed": str(seed), "device": args.device},
            )
            prepared = prepare(cfg)
            result = train(
                cfg,
                prepared.data,
                prepared.extractor,
                prepared.device,
                adaptive=True,
                progress=True,  # a bar per run: each takes minutes on a CPU
            )
            print(row(name, seed, cfg.epochs, result), flush=True)


if __name__ == "__main__":
    main()
