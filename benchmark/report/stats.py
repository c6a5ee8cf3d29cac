"""Uncertainty over seeds: 95% t-intervals of a mean, paired per-seed differences of a
method's test metrics against the grid's, and the words a sentence may use. Pure.

A difference is "better" or "worse" only where its interval excludes 0; with one seed
there is no interval, and the text says so ("1 seed: no interval")."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
NO_INTERVAL = "1 seed: no interval"
# test metric -> which way is better ("min": lower is better)
QUALITY: dict[str, str] = {
    "test_fid": "min",
    "test_fid_recon": "min",
    "test_recon_loss": "min",
    "test_elbo": "max",
    "test_silhouette": "max",
    "test_cluster_acc": "max",
}


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values with its 95% t-interval (``low``, ``high``; NaN for one
    value) and their sample standard deviation."""

    mean: float
    low: float
    high: float
    n: int
    sd: float

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and not math.isnan(self.low)

    @property
    def excludes_zero(self) -> bool:
        return self.has_interval and (self.low > 0 or self.high < 0)

    def text(self, digits: int = 2, signed: bool = True) -> str:
        """``+1.23 [-0.40, 2.86]``, or ``+1.23 (1 seed: no interval)``."""
        sign = "+" if signed else ""
        head = f"{self.mean:{sign}.{digits}f}"
        if not self.has_interval:
            return f"{head} ({NO_INTERVAL})"
        return f"{head} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def t_interval(values: list[float]) -> Interval:
    """Mean and 95% Student-t interval over ``values`` (NaNs left out); for one value the
    bounds are NaN, for no value everything is NaN."""
    values = [v for v in values if v == v]
    n = len(values)
    if n == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, nan)
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1, 0.0)
    sd = statistics.stdev(values)
    if sd == 0:  # identical values: the interval is the point
        return Interval(mean, mean, mean, n, 0.0)
    low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Interval(mean, float(low), float(high), n, sd)


@dataclass(frozen=True)
class PairedDifference:
    """``method - grid`` of one test metric on the seeds both have."""

    metric: str
    per_seed: dict[int, float]
    interval: Interval

    @property
    def word(self) -> str:
        """``better`` / ``worse`` (interval excludes 0), ``no difference shown``, or
        ``1 seed: no interval``."""
        if not self.interval.has_interval:
            return NO_INTERVAL
        if not self.interval.excludes_zero:
            return "no difference shown"
        lower_is_better = QUALITY.get(self.metric, "min") == "min"
        return "better" if (self.interval.mean < 0) == lower_is_better else "worse"


def paired_differences(
    method: dict[int, dict[str, float]],
    grid: dict[int, dict[str, float]],
    metrics: tuple[str, ...] = tuple(QUALITY),
) -> dict[str, PairedDifference]:
    """Per metric, the per-seed differences ``method - grid`` over the seeds where both
    logged it (``{seed: {metric: value}}``), with their t-interval. Metrics no seed has
    are left out."""
    out = {}
    for name in metrics:
        diffs = {
            seed: values[name] - grid[seed][name]
            for seed, values in sorted(method.items())
            if seed in grid
            and name in values
            and name in grid[seed]
            and values[name] == values[name]
            and grid[seed][name] == grid[seed][name]
        }
        if diffs:
            out[name] = PairedDifference(name, diffs, t_interval(list(diffs.values())))
    return out
