"""How the report prints numbers: integers as integers, missing metrics as "n/a",
mean ± sd over seeds, durations in the unit a reader thinks in ("42 s", "12 min",
"2.4 h"), and ratios with their per-seed spread. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

NOT_AVAILABLE = "n/a"  # a metric the runs do not have (a dataset without labels, say)
NOT_APPLICABLE = "-"  # a column that means nothing for this row


def number(x: float, digits: int = 1, integer: bool = False) -> str:
    """One value: whole numbers of an integer quantity (a latent size, a count) without
    decimals ("27", not "27.0"); anything else with ``digits`` decimals; NaN as n/a."""
    if x != x:  # NaN: no run logged the metric
        return NOT_AVAILABLE
    if integer and float(x).is_integer():
        return str(int(x))
    # a mean of integers (13.5 over two seeds) keeps one decimal, never more
    return f"{x:.{1 if integer else digits}f}"


def fmt(
    value: tuple[float, float] | None,
    digits: int = 1,
    n: int = 1,
    sep: str = " ",
    integer: bool = False,
) -> str:
    """``mean`` or ``mean ± sd`` (with several seeds; ``sep`` goes before the ±);
    n/a for a metric no run logged, "-" for no value at all."""
    if value is None:
        return NOT_APPLICABLE
    mean, sd = value
    if mean != mean:
        return NOT_AVAILABLE
    text = number(mean, digits, integer)
    return text if n <= 1 else f"{text}{sep}± {number(sd, digits, integer)}"


# (unit, seconds in it, the duration from which it is used): a duration prints in the
# largest unit it reaches, so an hour-long search reads "2.4 h", not "8640 s"; the
# thresholds sit where the smaller unit would round to 60 ("1.0 min", never "60 s")
DURATION_UNITS = (("h", 3600.0, 3570.0), ("min", 60.0, 59.5), ("s", 1.0, 0.0))


def duration_unit(seconds: float) -> tuple[str, float]:
    """The unit a duration of ``seconds`` prints in, and its length in seconds: hours
    from (about) one hour, minutes from one minute, seconds below (NaN: seconds)."""
    for name, length, start in DURATION_UNITS:
        if seconds == seconds and abs(seconds) >= start:
            return name, length
    return "s", 1.0


def duration(seconds: float, sd: float | None = None) -> str:
    """A duration in its unit (:func:`duration_unit`): "42 s", "3.1 min", "12 min",
    "2.4 h"; with ``sd`` (over seeds) "25 ± 1 min", both in the mean's unit. One decimal
    below 10 of the unit (and for hours below 100), none above: the report's timings are
    not more precise than that. NaN as n/a."""
    if seconds != seconds:
        return NOT_AVAILABLE
    unit, length = duration_unit(seconds)
    value = seconds / length
    digits = 1 if abs(round(value, 1)) < (100 if unit == "h" else 10) else 0
    text = f"{value:.{digits}f}"
    if sd is not None and sd == sd and sd > 0:
        text += f" ± {sd / length:.{digits}f}"
    return f"{text} {unit}"


def noisy(value: tuple[float, float] | None) -> bool:
    """Whether a timing's spread over seeds exceeds half its mean: the difference between
    methods is then as likely the machine's load as the method."""
    if value is None:
        return False
    mean, sd = value
    return mean == mean and sd == sd and mean > 0 and sd > 0.5 * mean


@dataclass(frozen=True)
class Ratio:
    """A method's total compute over the adaptive run's: ``value`` is the ratio of the
    two means over seeds (so it agrees with the table's own means), ``low``/``high``
    the range of the per-seed ratios over ``n`` seeds."""

    value: float
    low: float
    high: float
    n: int

    def text(self, sep: str = " ") -> str:
        """ "2.59" for one seed, "2.59 (1.20-4.00)" (the per-seed range) for several."""
        head = f"{self.value:.2f}"
        if self.n <= 1:
            return head
        return f"{head}{sep}({self.low:.2f}-{self.high:.2f})"


def compute_ratio(
    method: list[float], adaptive: list[float], pairs: list[tuple[float, float]]
) -> Ratio | None:
    """Mean of ``method`` over mean of ``adaptive`` (each over its own seeds, as the
    table shows them), with the range of ``pairs`` ((method, adaptive) on the same seed)
    ratios beside it. None without both, or with an adaptive mean of zero."""
    if not method or not adaptive or not pairs:
        return None
    adaptive_mean = math.fsum(adaptive) / len(adaptive)
    if adaptive_mean <= 0:
        return None
    per_seed = [m / a for m, a in pairs if a > 0]
    if not per_seed:
        return None
    value = (math.fsum(method) / len(method)) / adaptive_mean
    return Ratio(value, min(per_seed), max(per_seed), len(per_seed))
