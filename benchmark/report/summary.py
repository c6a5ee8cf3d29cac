"""The numbers of a report section: one row per method, mean and spread over seeds,
and the sentences that say what they mean. Pure: works on collected run views."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.methods import METHODS
from benchmark.methods import grid as grid_method
from benchmark.report.collect import (
    EPOCHS_METRIC,
    NAMED_SEARCHES,
    TEST_METRICS,
    RunView,
    Section,
    SeedResult,
    mean_sd,
)
from benchmark.report.compute import DEFAULT_MEASURE, MEASURE_WORDS, run_value, search_value
from benchmark.report.numbers import Ratio, compute_ratio, duration, fmt, noisy
from benchmark.report.rules import (
    ADAPTIVE,
    adaptive_rank,
    available_signals,
    model_signals,
    rule_rank,
)

__all__ = [
    "METHOD_LABELS",
    "RATE",
    "MethodRow",
    "evaluation_values",
    "fmt",
    "method_rows",
    "noise_warnings",
    "verdict",
]

# The registry's labels; the first report's wording kept where it had one (the grid's
# and halving's are the registry's own).
METHOD_LABELS = {m.name: m.label for m in METHODS.values()} | {
    "adaptive": "ALD-VAE (adaptive, 1 run)",
    "retrain": "from scratch at adaptive size",
}
# The methods of the first report: a section of only these reads as it always did.
FIRST_REPORT_METHODS = (ADAPTIVE, *NAMED_SEARCHES, "retrain")
# "Ranks in the top three": the bar for a model the grid's rule would accept.
TOP_RANKS = 3
# Row order: the registry's, the adaptive retrain last (as in the first report).
ROW_ORDER = (*METHODS, "retrain")
# The rate of the test ELBO (mean KL of q(z|x) to the prior, nats/image), derived per
# run: the evaluation logs test_elbo = -(recon + kl).mean() and test_recon_loss =
# recon.mean() (benchmark.training.evaluation), so kl.mean() = -test_elbo -
# test_recon_loss. Derived here, not logged, so that every run already stored (and the
# committed results/ exports) shows it; the distortion is test_recon_loss itself.
RATE = "test_kl"


@dataclass
class MethodRow:
    """One method's headline numbers; each value is (mean, sd) over ``n_seeds`` seeds.
    ``compute_s`` is in the section's measure (``measure``: wall_clock, cpu_time or
    gpu_time); ``time_to_answer_s`` is always elapsed wall-clock."""

    method: str
    n_seeds: int
    latent_dim: tuple[float, float]
    time_to_answer_s: tuple[float, float]
    compute_s: tuple[float, float]
    test: dict[str, tuple[float, float]] = field(default_factory=dict)
    compute_vs_adaptive: Ratio | None = None
    measure: str = DEFAULT_MEASURE
    # training epochs, all sizes and runs the answer needed: noise-free compute
    epochs: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def label(self) -> str:
        return METHOD_LABELS[self.method]


def _epochs(*runs: RunView) -> float:
    """Training epochs of these runs together (NaN where a run has no count)."""
    return sum(r.metrics.get(EPOCHS_METRIC, float("nan")) for r in runs)


def evaluation_values(run: RunView) -> dict[str, float]:
    """The test metrics ``run`` logged, plus its rate (:data:`RATE`) where it logged
    both terms the rate is derived from."""
    values = {k: run.metrics[k] for k in TEST_METRICS if k in run.metrics}
    if "test_elbo" in values and "test_recon_loss" in values:
        values[RATE] = -values["test_elbo"] - values["test_recon_loss"]
    return values


def _per_seed(section: Section, method: str, measure: str) -> list[dict[str, float]]:
    """Per seed: latent size, time to answer, compute and test metrics of a method."""
    out = []
    for s in section.seeds:
        a = s.adaptive
        if method == "adaptive" and a is not None:
            values = {
                "latent_dim": a.metrics["final_latent_dim"],
                "time": a.metrics["wall_clock_s"],
                "compute": run_value(a, measure),
                "epochs": _epochs(a),
            } | evaluation_values(a)
        elif method in s.rivals:
            values = _rival_values(s, method, measure)
        elif method in s.searches or (method in NAMED_SEARCHES and getattr(s, method)):
            view = s.searches.get(method) or getattr(s, method)
            chosen = view.trial_for(view.best_latent_dim)
            values = {
                "latent_dim": float(view.best_latent_dim),
                "time": view.time_to_answer_s,
                "compute": search_value(view, measure),
                "epochs": view.epochs_trained(),
            } | (evaluation_values(chosen) if chosen else {})
        elif method == "retrain" and s.retrain is not None and a is not None:
            r = s.retrain
            # the answer needs the adaptive run first, then the retrain
            values = {
                "latent_dim": float(r.params["fixed_latent_dim"]),
                "time": a.metrics["wall_clock_s"] + r.metrics["wall_clock_s"],
                "compute": run_value(a, measure) + run_value(r, measure),
                "epochs": _epochs(a, r),
            } | evaluation_values(r)
        else:
            continue
        values["seed"] = s.seed
        if a is not None:
            values["adaptive_compute"] = run_value(a, measure)
        out.append(values)
    return out


def per_seed_values(section: Section, method: str, measure: str) -> list[dict[str, float]]:
    """Per seed with a result of ``method``: its latent size, time to answer, compute and
    test metrics (the headline table's rows are their means)."""
    return _per_seed(section, method, measure)


def _rival_values(s: SeedResult, method: str, measure: str) -> dict[str, float]:
    """A rival's size, time and compute (every run it needed), and its model's test
    metrics."""
    view = s.rivals[method]
    last = view.evaluated
    return {
        "latent_dim": last.metrics["final_latent_dim"],
        "time": sum(run_value(r, "wall_clock") for r in view.runs),
        "compute": sum(run_value(r, measure) for r in view.runs),
        "epochs": _epochs(*view.runs),
    } | evaluation_values(last)


def method_rows(section: Section, measure: str = DEFAULT_MEASURE) -> list[MethodRow]:
    """Headline rows of the methods present in the section, compute in ``measure``."""
    rows = []
    adaptive = [v["compute"] for v in _per_seed(section, "adaptive", measure)]
    for method in ROW_ORDER:
        per_seed = _per_seed(section, method, measure)
        if not per_seed:
            continue
        row = MethodRow(
            method,
            len(per_seed),
            mean_sd([v["latent_dim"] for v in per_seed]),
            mean_sd([v["time"] for v in per_seed]),
            mean_sd([v["compute"] for v in per_seed]),
            # a metric missing on every seed (no labels: no silhouette) is (nan, nan): n/a
            {k: mean_sd([v[k] for v in per_seed if k in v]) for k in (*TEST_METRICS, RATE)},
            measure=measure,
            epochs=mean_sd([v["epochs"] for v in per_seed]),
        )
        if method not in ("adaptive", "retrain"):
            row.compute_vs_adaptive = compute_ratio(
                [v["compute"] for v in per_seed],
                adaptive,
                [
                    (v["compute"], v["adaptive_compute"])
                    for v in per_seed
                    if "adaptive_compute" in v
                ],
            )
        rows.append(row)
    return rows


def _duration(value: tuple[float, float], n_seeds: int) -> str:
    """A mean duration in its unit, with its sd over seeds where there are several."""
    return duration(value[0], value[1] if n_seeds > 1 else None)


def noise_warnings(rows: list[MethodRow]) -> list[str]:
    """One line per method whose timings (time to answer, compute) vary over seeds by
    more than half their mean."""
    lines = []
    for r in rows:
        loud = [
            f"{what} {duration(value[0], value[1])}"
            for what, value in (("time to answer", r.time_to_answer_s), ("compute", r.compute_s))
            if r.n_seeds > 1 and noisy(value)
        ]
        if loud:
            lines.append(
                f"Timings noise-dominated for {r.label}: {', '.join(loud)} (sd above half the "
                "mean); compare with care (load on the machine, or too few seeds)."
            )
    return lines


def adaptive_rule_rank(section: Section) -> list[tuple[int, int, int]]:
    """Judge each seed's adaptive model by the grid's selection rule: (seed, rank of the
    adaptive model, number of candidates), rank 1 being the rule's pick (the grid's
    completed sizes plus the adaptive model, over the signals the runs logged; see
    :func:`rules.adaptive_rank`)."""
    out = []
    for s in section.seeds:
        rank = adaptive_rank(s, available_signals(s))
        if rank is not None:
            out.append((s.seed, *rank))
    return out


def _floor_note(fid_a: float, fid_b: float, floor: float | None) -> str:
    """ " (FID floor ...; FID difference d, within/beyond the floor)", or "" without a
    floor or a FID (NaN)."""
    gap = abs(fid_a - fid_b)
    if floor is None or gap != gap:
        return ""
    where = "within" if gap <= floor else "beyond"
    return (
        f" (FID floor, real vs real at the same count: {floor:.2f}; FID difference "
        f"{gap:.2f}, {where} the floor)"
    )


def verdict(section: Section, rows: list[MethodRow]) -> list[str]:
    """Plain sentences answering: same size? how much faster? how close in quality?"""
    by = {r.method: r for r in rows}
    lines = []
    a = by.get("adaptive")
    # the search ALD-VAE is judged against: the grid, else the first study that ran
    g = by.get(grid_method.METHOD.name) or next(
        (r for r in rows if r.method in METHODS and METHODS[r.method].is_study), None
    )
    if a and g:
        n = a.n_seeds
        name = "the grid search" if g.method == grid_method.METHOD.name else g.label
        lines.append(
            f"Latent size: ALD-VAE ended at {fmt(a.latent_dim, 1, n, integer=True)}; {name} "
            f"selected {fmt(g.latent_dim, 1, g.n_seeds, integer=True)} (selection rule "
            "on validation signals)."
        )
        if g.compute_vs_adaptive:
            spread = (
                f" (per seed {g.compute_vs_adaptive.low:.2f} to {g.compute_vs_adaptive.high:.2f})"
                if g.compute_vs_adaptive.n > 1
                else ""
            )
            epochs = (
                f"; in training epochs {fmt(a.epochs, 0, n, integer=True)} vs "
                f"{fmt(g.epochs, 0, g.n_seeds, integer=True)}, "
                f"{g.epochs[0] / a.epochs[0]:.2f}x"
                if a.epochs[0] > 0 and g.epochs[0] == g.epochs[0]
                else ""
            )
            lines.append(
                f"Compute, as {MEASURE_WORDS[g.measure]}: one ALD-VAE run took "
                f"{_duration(a.compute_s, n)}; the trials of {name} took "
                f"{_duration(g.compute_s, g.n_seeds)} on one machine, "
                f"{g.compute_vs_adaptive.value:.2f}x the adaptive run's mean{spread}{epochs}."
            )
        floor = _floor_note(a.test["test_fid"][0], g.test["test_fid"][0], section.test_fid_floor)
        lines.append(
            f"Quality (test split): FID {fmt(a.test['test_fid'], 2, n)} (adaptive) vs "
            f"{fmt(g.test['test_fid'], 2, g.n_seeds)} ({name}'s model){floor}; silhouette "
            f"{fmt(a.test['test_silhouette'], 3, n)} vs "
            f"{fmt(g.test['test_silhouette'], 3, g.n_seeds)}; "
            f"reconstruction loss {fmt(a.test['test_recon_loss'], 2, n)} vs "
            f"{fmt(g.test['test_recon_loss'], 2, g.n_seeds)}."
        )
        for seed, rank, total in adaptive_rule_rank(section):
            lines.append(
                f"Seed {seed}: judged by the grid's selection rule, the adaptive model ranks "
                f"{rank} of {total} candidates (the grid's sizes plus itself)."
            )
    if {r.method for r in rows} - set(FIRST_REPORT_METHODS):
        lines += cheapest_in_top(section, rows)
    for item in section.missing:
        lines.append(f"Missing: {item}.")
    return lines


def method_ranks(section: Section, rows: list[MethodRow]) -> dict[str, list[tuple[int, int]]]:
    """Per method (not the adaptive retrain), per seed with a grid: (rank, candidates) of
    its model among the grid's sizes plus itself under the grid's rule."""
    out = {}
    for r in rows:
        if r.method == "retrain":
            continue
        ranks = []
        for s in section.seeds:
            signals = model_signals(s, r.method)
            rank = rule_rank(s, signals) if signals else None
            if rank is not None:
                ranks.append(rank)
        out[r.method] = ranks
    return out


def cheapest_in_top(section: Section, rows: list[MethodRow]) -> list[str]:
    """The cheapest method (mean compute) whose model the grid's rule ranks in the top
    :data:`TOP_RANKS` on every seed, and each method's ranks."""
    ranks = method_ranks(section, rows)
    ranked = [r for r in rows if ranks.get(r.method)]
    fits = [r for r in ranked if all(k <= TOP_RANKS for k, _ in ranks[r.method])]
    listing = "; ".join(f"{r.label} {'/'.join(str(k) for k, _ in ranks[r.method])}" for r in ranked)
    if not fits:
        first = f"No method's model ranks in the grid's top {TOP_RANKS} on every seed."
    else:
        best = min(fits, key=lambda r: r.compute_s[0])
        first = (
            f"Cheapest method whose model the grid's selection rule ranks in the top "
            f"{TOP_RANKS} on every seed: {best.label}, {_duration(best.compute_s, best.n_seeds)} "
            f"of compute ({MEASURE_WORDS[best.measure]})."
        )
    if not listing:
        return [first]
    return [first, f"Rank of each method's model among the grid's sizes plus itself: {listing}."]
