"""Speed benchmark: the project's training loop against a bare PyTorch loop, and the
cost of the per-epoch validation signals, measured in one process and printed as ratios.

    python scripts/bench_speed.py [--dataset mnist5k] [--rounds 5] [--epochs-per-round 2]

Rounds alternate the bare loop and the project's loop so machine noise hits both.
Targets: project/bare <= 1.05 (issue 10); validation/training epoch <= 0.25 (issue 2).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmark.config import resolve_config
from benchmark.models.vaes import build_model, negative_elbo
from benchmark.tracking.training_run import prepare
from benchmark.training.loop import make_optimizer, train


def bare_epochs(x: torch.Tensor, cfg, image_shape, epochs: int, seed: int) -> list[float]:
    """Forward, loss, backward, Adam step; nothing else. Seconds per epoch."""
    torch.manual_seed(seed)
    model = build_model(image_shape, cfg.initial_latent_dim, cfg.hidden_dim).to(x.device)
    opt = make_optimizer(model, cfg)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(x.shape[0], device=x.device)
        for start in range(0, x.shape[0], cfg.batch_size):
            xb = x[order[start : start + cfg.batch_size]]
            logits, mu, logvar, _ = model(xb)
            loss = negative_elbo(logits, xb, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs-per-round", type=int, default=2)
    args = parser.parse_args()
    cfg = resolve_config(
        args.preset,
        {"dataset": args.dataset, "device": args.device, "epochs": args.epochs_per_round},
    )
    prepared = prepare(cfg)
    data = prepared.data
    bare, project_train, project_val = [], [], []
    bare_epochs(data.train.x, cfg, data.image_shape, 1, 0)  # warm-up
    for r in range(args.rounds):
        bare += bare_epochs(data.train.x, cfg, data.image_shape, args.epochs_per_round, r)
        result = train(
            cfg, data, prepared.extractor, prepared.device, adaptive=True, progress=False
        )
        project_train += [h.train_epoch_time_s for h in result.history]
        project_val += [h.val_time_s for h in result.history]
    b, p, v = (statistics.median(t) for t in (bare, project_train, project_val))
    print(
        f"dataset={cfg.dataset} device={prepared.device} batch={cfg.batch_size} "
        f"train_images={len(data.train)} epochs_timed={len(bare)} each"
    )
    print(f"bare loop epoch:              {b:.3f} s (median)")
    print(f"project loop epoch:           {p:.3f} s (median)")
    print(
        f"validation signals per epoch: {v:.3f} s (median; fid_backend={cfg.fid_backend}, "
        f"fid_samples={cfg.fid_samples}, silhouette_samples={cfg.silhouette_samples})"
    )
    print(f"ratio project/bare training epoch:      {p / b:.3f}  (target <= 1.05)")
    print(f"ratio validation/training epoch:        {v / p:.3f}  (target <= 0.25)")


if __name__ == "__main__":
    main()
