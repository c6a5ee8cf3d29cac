"""The grid's band: the sizes the grid cannot tell apart from the size it selected.
Pure: works on collected run views.

The grid's rule (benchmark.selection) gives every size of a seed a score in [0, 1].
Training again with another seed moves a size's score; the seed-to-seed standard
deviation of a size's score, pooled over the sizes, is that noise (``sigma``). Two
sizes whose scores differ by less than ``z * sqrt(2) * sigma`` (z = 1.96: a 95% margin
for the difference of two noisy scores) could swap places on another seed:

- **per seed**, the band is every size whose score lies within that margin of the
  selected size's score;
- **over seeds**, the selected size is the one with the highest mean score, and the
  band is every size whose paired per-seed score difference to it has a 95%
  t-interval that includes 0.

A band is read as a range of sizes (from its smallest to its largest member): a size
between two grid points (ALD-VAE's 19, say) lies in the band when the band spans it.
One seed has no seed-to-seed spread and so no band.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

from benchmark.report.rules import _candidates, _grid_signals
from benchmark.report.stats import CONFIDENCE, t_interval
from benchmark.report.views import Section
from benchmark.selection import select_latent_dim

Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


@dataclass(frozen=True)
class Band:
    """The selected size and the grid sizes indistinguishable from it."""

    selected: int
    sizes: tuple[int, ...]
    # per seed: the score margin used; over seeds: None (a t-interval per size)
    margin: float | None = None

    @property
    def low(self) -> int:
        return min(self.sizes)

    @property
    def high(self) -> int:
        return max(self.sizes)

    def contains(self, size: float) -> bool:
        return self.low <= size <= self.high

    def text(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


def rule_scores(section: Section) -> dict[int, dict[int, float]]:
    """{seed: {size: the grid rule's score}} for every seed with a finished grid."""
    out = {}
    for s in section.seeds:
        if s.grid is None or not s.grid.sizes():
            continue
        signals = _grid_signals(s.grid)
        candidates = _candidates(s.grid, signals)
        if signals and candidates:
            out[s.seed] = select_latent_dim(candidates, signals).scores
    return out


def score_sigma(scores: dict[int, dict[int, float]]) -> float | None:
    """The seed-to-seed sd of a size's score, pooled over the sizes that at least two
    seeds have (root of the mean variance); None with fewer than two seeds."""
    sizes = sorted({k for per in scores.values() for k in per})
    variances = [
        statistics.variance(values)
        for k in sizes
        if len(values := [per[k] for per in scores.values() if k in per]) >= 2
    ]
    return math.sqrt(statistics.fmean(variances)) if variances else None


def seed_bands(scores: dict[int, dict[int, float]], selected: dict[int, int]) -> dict[int, Band]:
    """Per seed, the band around the size the grid selected on it (``selected``); empty
    with fewer than two seeds (no spread to measure)."""
    sigma = score_sigma(scores)
    if sigma is None:
        return {}
    margin = Z * math.sqrt(2) * sigma
    out = {}
    for seed, per in scores.items():
        best = selected.get(seed, max(per, key=lambda k: (per[k], -k)))
        if best not in per:
            continue
        sizes = tuple(sorted(k for k, v in per.items() if v >= per[best] - margin))
        out[seed] = Band(best, sizes, margin)
    return out


def overall_band(scores: dict[int, dict[int, float]]) -> Band | None:
    """The band over seeds (see the module's docstring); None with fewer than two seeds."""
    if len(scores) < 2:
        return None
    sizes = sorted({k for per in scores.values() for k in per})
    means = {k: statistics.fmean([per[k] for per in scores.values() if k in per]) for k in sizes}
    best = max(sizes, key=lambda k: (means[k], -k))
    members = []
    for k in sizes:
        diffs = [per[best] - per[k] for per in scores.values() if k in per and best in per]
        interval = t_interval(diffs)
        if k == best or (interval.has_interval and interval.low <= 0 <= interval.high):
            members.append(k)
    return Band(best, tuple(members))


def grid_bands(section: Section) -> tuple[dict[int, Band], Band | None]:
    """The section's per-seed bands and its band over seeds."""
    scores = rule_scores(section)
    selected = {s.seed: s.grid.best_latent_dim for s in section.seeds if s.grid is not None}
    return seed_bands(scores, selected), overall_band(scores)
