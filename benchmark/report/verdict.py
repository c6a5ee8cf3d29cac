"""Page one's numbers: per method its sizes over seeds against the grid's band, the
epochs it trained, its paired test differences against the grid with 95% intervals,
the seeds where ALD-VAE's stop rule never fired; and four sentences (which size, at what
cost, how good, how sure). Pure: works on collected run views."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.methods import grid as grid_method
from benchmark.report.band import Band, grid_bands, rule_scores, score_sigma
from benchmark.report.stats import Interval, PairedDifference, paired_differences, t_interval
from benchmark.report.summary import METHOD_LABELS, ROW_ORDER, per_seed_values
from benchmark.report.views import Section

GRID = grid_method.METHOD.name
BUDGET_WORDS = "stopped by the epoch budget"
HEADLINE_METRICS = ("test_fid", "test_recon_loss")


@dataclass
class MethodVerdict:
    """One method over the seeds it ran."""

    method: str
    sizes: dict[int, float]
    epochs: Interval
    test: dict[str, Interval]
    diffs: dict[str, PairedDifference] = field(default_factory=dict)
    # seeds whose size lies in that seed's band, out of the seeds that have one
    in_band: int = 0
    band_seeds: int = 0
    # seeds where the size is where the epoch budget ended (ALD-VAE's stop never fired)
    budget_bound: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return METHOD_LABELS[self.method]

    @property
    def size(self) -> Interval:
        return t_interval(list(self.sizes.values()))


def _budget_bound_seeds(section: Section, method: str) -> list[int]:
    """Seeds where the size ``method`` hands over came from an ALD-VAE run whose stop
    rule never fired (ALD-VAE itself, and its retrain at that size)."""
    if method not in ("adaptive", "retrain"):
        return []
    return [s.seed for s in section.seeds if s.adaptive is not None and s.adaptive.budget_bound]


def method_verdicts(section: Section, measure: str = "wall_clock") -> list[MethodVerdict]:
    """Every method of the section, in the report's row order."""
    bands, _ = grid_bands(section)
    grid = {int(v["seed"]): v for v in per_seed_values(section, GRID, measure)}
    out = []
    for method in ROW_ORDER:
        values = {int(v["seed"]): v for v in per_seed_values(section, method, measure)}
        if not values:
            continue
        sizes = {seed: v["latent_dim"] for seed, v in values.items()}
        verdict = MethodVerdict(
            method,
            sizes,
            t_interval([v["epochs"] for v in values.values()]),
            {k: t_interval([v[k] for v in values.values() if k in v]) for k in HEADLINE_METRICS},
            {} if method == GRID else paired_differences(values, grid),
            budget_bound=_budget_bound_seeds(section, method),
        )
        held = [seed for seed in sizes if seed in bands]
        verdict.band_seeds = len(held)
        verdict.in_band = sum(1 for seed in held if bands[seed].contains(sizes[seed]))
        out.append(verdict)
    return out


def _sizes_text(v: MethodVerdict) -> str:
    listed = ", ".join(f"{s:g}" for _, s in sorted(v.sizes.items()))
    if v.size.n <= 1:
        return f"{listed} (1 seed)"
    return f"{v.size.mean:.1f} ± {v.size.sd:.1f} over {v.size.n} seeds ({listed})"


def _diff_text(d: PairedDifference | None, what: str) -> str:
    if d is None:
        return f"{what}: no paired seeds"
    if not d.interval.has_interval:  # the text says "1 seed: no interval"
        return f"{what} {d.interval.text()}"
    return f"{what} {d.interval.text()} ({d.word})"


def parallel_answer_s(section: Section) -> tuple[list[float], list[float]]:
    """Per seed with both: the grid's time to answer with one worker per size (its
    longest finished trial's wall-clock; the search's own overhead left out) and the
    ALD-VAE run's wall-clock."""
    grid, adaptive = [], []
    for s in section.seeds:
        if s.grid is None or s.adaptive is None:
            continue
        trials = [s.grid.trial_for(k) for k in s.grid.sizes()]
        times = [t.metrics["wall_clock_s"] for t in trials if t and "wall_clock_s" in t.metrics]
        if times and "wall_clock_s" in s.adaptive.metrics:
            grid.append(max(times))
            adaptive.append(s.adaptive.metrics["wall_clock_s"])
    return grid, adaptive


def _parallel_text(section: Section) -> str:
    grid, adaptive = parallel_answer_s(section)
    if not grid:
        return ""
    g, a = t_interval(grid), t_interval(adaptive)

    def spread(i: Interval) -> str:
        return f" ± {i.sd:.0f}" if i.n > 1 else ""

    return (
        f" In parallel, with one worker per size, the grid would answer in its longest "
        f"trial, {g.mean:.0f}{spread(g)} s, against {a.mean:.0f}{spread(a)} s for one ALD-VAE "
        f"run (wall-clock on this machine, over {g.n} seed(s); the search's own overhead "
        "not included)."
    )


def _paired_seeds(v: MethodVerdict) -> int:
    d = v.diffs.get("test_fid") or next(iter(v.diffs.values()), None)
    return len(d.per_seed) if d else 0


def sentences(section: Section, verdicts: list[MethodVerdict]) -> list[str]:
    """Which size, at what cost, how good, how sure: ALD-VAE against the grid."""
    by = {v.method: v for v in verdicts}
    a, g = by.get("adaptive"), by.get(GRID)
    if a is None or g is None:
        return ["Page one compares ALD-VAE with the grid: this section lacks one of them."]
    _, band = grid_bands(section)
    band_text = (
        f"the grid's band over seeds (sizes it cannot tell apart from {band.selected}) is "
        f"{band.text()}"
        if band is not None
        else "one grid seed: no band (it needs the seed-to-seed spread)"
    )
    budget = (
        f" In {len(a.budget_bound)} of {len(a.sizes)} seeds (seed "
        f"{', '.join(map(str, a.budget_bound))}) the stop rule never fired: those sizes are "
        f"where the epoch budget ended ({BUDGET_WORDS}), not the rule's answer."
        if a.budget_bound
        else " The stop rule fired."
        if len(a.sizes) == 1
        else f" The stop rule fired in every one of the {len(a.sizes)} seeds."
    )
    which = (
        f"Which size: ALD-VAE ended at {_sizes_text(a)}; the grid selected {_sizes_text(g)}; "
        f"{band_text}"
        + (
            f"; ALD-VAE's size lies in its seed's band in {a.in_band} of {a.band_seeds} seeds."
            if a.band_seeds
            else "."
        )
        + budget
    )
    ratio = g.epochs.mean / a.epochs.mean if a.epochs.mean > 0 else float("nan")
    cost = (
        f"At what cost: ALD-VAE trained {a.epochs.mean:.0f} epochs (one run), the grid "
        f"{g.epochs.mean:.0f} (every size once), {ratio:.1f}x ALD-VAE's"
        + ("; the retrain at ALD-VAE's size doubles ALD-VAE's epochs" if "retrain" in by else "")
        + ". Epochs do not depend on the machine's load."
        + _parallel_text(section)
    )
    good = "How good (test split, ALD-VAE minus the grid's model, per seed): " + "; ".join(
        [
            _diff_text(a.diffs.get("test_fid"), "FID"),
            _diff_text(a.diffs.get("test_recon_loss"), "reconstruction loss"),
        ]
    )
    if "retrain" in by:
        r = by["retrain"]
        good += "; the retrain: " + "; ".join(
            [
                _diff_text(r.diffs.get("test_fid"), "FID"),
                _diff_text(r.diffs.get("test_recon_loss"), "reconstruction loss"),
            ]
        )
    good += "."
    sigma = score_sigma(rule_scores(section))
    sure = (
        f"How sure: ALD-VAE ran {a.size.n} seed(s), paired with the grid on "
        f"{_paired_seeds(a)}; intervals are 95% Student-t intervals of the paired "
        "per-seed differences; 'better' or 'worse' only where the interval excludes 0 "
        "(a table cell without either shows no difference). "
        + (
            f"Bands use the seed-to-seed sd of a size's rule score ({sigma:.3f})."
            if sigma is not None
            else "One seed: no interval and no band."
        )
    )
    return [which, cost, good, sure]


def band_over_seeds(section: Section) -> Band | None:
    return grid_bands(section)[1]
