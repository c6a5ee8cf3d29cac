"""Choosing a latent size from per-size validation signals: one documented rule.

Each of the four validation signals is min-max normalised over the candidate sizes to
a goodness in [0, 1] (1 = best size for that signal: lowest reconstruction loss, lowest
FID of samples, lowest FID of reconstructions, highest silhouette); the score of a size
is the mean of its four goodness values; the selected size has the highest score, ties
going to the smaller size. A signal equal for all sizes gives every size goodness 1.
A signal that is not available (NaN for every size: the silhouette of data without
labels) is left out, and the score is the mean of the others. Test metrics never enter
the rule.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
# signal -> direction ("min": lower is better)
SIGNALS: dict[str, str] = {
    "val_recon_loss": "min",
    "val_fid": "min",
    "val_fid_recon": "min",
    "val_silhouette": "max",
}
# Scores closer than this are a tie (floating-point noise, not a preference).
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Selection(Generic[K]):
    """The selected candidate (a size), every candidate's score, and the best candidate
    per signal."""

    best_latent_dim: K
    scores: dict[K, float]
    best_per_signal: dict[str, K]


def goodness(values: dict[K, float], direction: str) -> dict[K, float]:
    """Min-max normalised goodness in [0, 1] of each candidate's value (1 = best)."""
    lo, hi = min(values.values()), max(values.values())
    if hi - lo <= 0:
        return dict.fromkeys(values, 1.0)
    if direction == "min":
        return {size: (hi - v) / (hi - lo) for size, v in values.items()}
    return {size: (v - lo) / (hi - lo) for size, v in values.items()}


def _best(scores: dict[K, float]) -> K:
    top = max(scores.values())
    return min(size for size, s in scores.items() if s >= top - TIE_TOLERANCE)


def select_latent_dim(
    signals_by_size: dict[K, dict[str, float]], signals: tuple[str, ...] = tuple(SIGNALS)
) -> Selection[K]:
    """Apply the rule to ``{size: {signal: value}}``. Keys are sizes for a search; any
    sortable keys work (the report ranks named candidates, ties then go to the smaller
    key). ``signals`` (default: all four of :data:`SIGNALS`) are the signals whose
    goodness is averaged; one signal alone gives that signal's own choice. A signal that
    is NaN for every size (not available) is left out; ValueError when none is left."""
    if not signals_by_size:
        raise ValueError("no completed sizes to select from")
    per_signal = {
        name: goodness({size: row[name] for size, row in signals_by_size.items()}, direction)
        for name, direction in SIGNALS.items()
        if all(name in row for row in signals_by_size.values())
        and not all(math.isnan(row[name]) for row in signals_by_size.values())
    }
    absent = {
        name
        for name in signals
        if name in SIGNALS
        and all(name in row and math.isnan(row[name]) for row in signals_by_size.values())
    }
    used = [name for name in signals if name not in absent]
    if not used:  # e.g. "silhouette only" on data without labels
        raise ValueError(f"none of the signals {', '.join(signals)} is available for any size")
    scores = {
        size: sum(per_signal[name][size] for name in used) / len(used) for size in signals_by_size
    }
    best_per_signal = {name: _best(values) for name, values in per_signal.items()}
    return Selection(_best(scores), scores, best_per_signal)
