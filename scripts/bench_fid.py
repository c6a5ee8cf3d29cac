"""Speed and agreement benchmark: the project's Frechet distance against pytorch-fid's.

    python scripts/bench_fid.py [--reps 5] [--blas-threads 1]

For each shape (N, 2048) two independent seeded samples of ReLU-like features are drawn,
and both implementations compute the FID between them starting from the raw features:
pytorch-fid as the project used it before (float64 mean and np.cov, then
`calculate_frechet_distance`, i.e. scipy's sqrtm of a 2048 x 2048 product), and
`benchmark.metrics.frechet_distance` (nuclear norm of a small cross product). Times are
medians over repetitions; pytorch-fid costs ~8-100 s a call at D = 2048, so it runs once
per shape. Both run with one BLAS thread by default, as the training loop's validation
signals do (benchmark/training/loop.py); on a loaded 2-core machine two OpenBLAS threads make
either side several times slower and the timings noisy. The last line is the smallest
speed-up at N = 100 and N = 750 (issue 10 target: >= 100x with equal values).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance
from threadpoolctl import threadpool_limits

from benchmark.metrics import frechet_distance

DIM = 2048
SHAPES = (100, 750, 2048, 10000)
LATENT = 256  # the features are a ReLU of a rank-256 signal plus unit noise


def relu_features(n: int, seed: int, bias_shift: float = 0.0) -> np.ndarray:
    """(n, 2048) non-negative, correlated features; some units are nearly always dead."""
    structure = np.random.default_rng(12345)
    mixing = structure.normal(size=(LATENT, DIM)) / np.sqrt(LATENT)
    bias = structure.normal(loc=-0.3, scale=0.6, size=DIM)
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, LATENT)) @ mixing + 0.5 * rng.normal(size=(n, DIM))
    return np.maximum(z + bias + bias_shift, 0.0).astype(np.float32)


def pytorch_fid_value(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            calculate_frechet_distance(
                a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False)
            )
        )


def timed(fn, a, b, reps: int) -> tuple[float, float]:
    """(value of the last call, median seconds over `reps` calls)."""
    times = []
    value = float("nan")
    for _ in range(reps):
        start = time.perf_counter()
        value = fn(a, b)
        times.append(time.perf_counter() - start)
    return value, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="project repetitions at N <= 750")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads for both")
    args = parser.parse_args()
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        run(args.reps, args.blas_threads)


def run(reps_small: int, threads: int) -> None:
    frechet_distance(relu_features(10, seed=0), relu_features(12, seed=1))  # load LAPACK
    print(f"FID of two (N, {DIM}) ReLU-like samples, from raw features", flush=True)
    print(
        f"{'N':>6} {'D':>5} {'pytorch-fid':>14} {'project':>14} {'rel diff':>9} "
        f"{'t pytorch-fid':>13} {'t project':>10} {'speed-up':>9}",
        flush=True,
    )
    speedups: dict[int, float] = {}
    for n in SHAPES:
        a = relu_features(n, seed=2 * n)
        b = relu_features(n, seed=2 * n + 1, bias_shift=0.05)
        reps = reps_small if n <= 750 else (2 if n <= DIM else 1)
        ours, t_ours = timed(frechet_distance, a, b, reps)
        ref, t_ref = timed(pytorch_fid_value, a, b, 1)
        rel = abs(ours - ref) / abs(ref)
        speedups[n] = t_ref / t_ours
        print(
            f"{n:>6} {DIM:>5} {ref:>14.6f} {ours:>14.6f} {rel:>9.1e} "
            f"{t_ref:>12.3f}s {t_ours:>9.4f}s {speedups[n]:>8.1f}x",
            flush=True,
        )
    print(
        f"times: {threads} BLAS thread(s); median of the project's calls ({reps_small} at "
        "N <= 750, 2 at N = 2048, 1 at N = 10000), one pytorch-fid call per shape"
    )
    print(f"min speed-up at n=100,750: {min(speedups[100], speedups[750]):.1f}x")


if __name__ == "__main__":
    main()
