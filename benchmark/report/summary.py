"""The numbers of a report section: one row per method, mean and spread over seeds,
and the sentences that say what they mean. Pure: works on collected run views."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.report.collect import TEST_METRICS, Section, mean_sd
from benchmark.report.rules import adaptive_rank
from benchmark.selection import SIGNALS

METHOD_LABELS = {
    "adaptive": "ALD-VAE (adaptive, 1 run)",
    "grid": "grid search",
    "halving": "successive halving",
    "retrain": "from scratch at adaptive size",
}


@dataclass
class MethodRow:
    """One method's headline numbers; each value is (mean, sd) over ``n_seeds`` seeds."""

    method: str
    n_seeds: int
    latent_dim: tuple[float, float]
    time_to_answer_s: tuple[float, float]
    compute_s: tuple[float, float]
    test: dict[str, tuple[float, float]] = field(default_factory=dict)
    compute_vs_adaptive: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        return METHOD_LABELS[self.method]


def _per_seed(section: Section, method: str) -> list[dict[str, float]]:
    """Per seed: latent size, time to answer, compute and test metrics of a method."""
    out = []
    for s in section.seeds:
        a = s.adaptive
        if method == "adaptive" and a is not None:
            values = {
                "latent_dim": a.metrics["final_latent_dim"],
                "time": a.metrics["wall_clock_s"],
                "compute": a.metrics["wall_clock_s"],
            } | {k: a.metrics[k] for k in TEST_METRICS if k in a.metrics}
        elif method in ("grid", "halving") and getattr(s, method) is not None:
            view = getattr(s, method)
            chosen = view.trial_for(view.best_latent_dim)
            values = {
                "latent_dim": float(view.best_latent_dim),
                "time": view.time_to_answer_s,
                "compute": view.compute_s,
            } | (
                {k: chosen.metrics[k] for k in TEST_METRICS if k in chosen.metrics}
                if chosen
                else {}
            )
        elif method == "retrain" and s.retrain is not None and a is not None:
            r = s.retrain
            # the answer needs the adaptive run first, then the retrain
            values = {
                "latent_dim": float(r.params["fixed_latent_dim"]),
                "time": a.metrics["wall_clock_s"] + r.metrics["wall_clock_s"],
                "compute": a.metrics["wall_clock_s"] + r.metrics["wall_clock_s"],
            } | {k: r.metrics[k] for k in TEST_METRICS if k in r.metrics}
        else:
            continue
        values["seed"] = s.seed
        if a is not None:
            values["adaptive_compute"] = a.metrics["wall_clock_s"]
        out.append(values)
    return out


def method_rows(section: Section) -> list[MethodRow]:
    """Headline rows of the methods present in the section."""
    rows = []
    for method in ("adaptive", "grid", "halving", "retrain"):
        per_seed = _per_seed(section, method)
        if not per_seed:
            continue
        row = MethodRow(
            method,
            len(per_seed),
            mean_sd([v["latent_dim"] for v in per_seed]),
            mean_sd([v["time"] for v in per_seed]),
            mean_sd([v["compute"] for v in per_seed]),
            {k: mean_sd([v[k] for v in per_seed if k in v]) for k in TEST_METRICS},
        )
        ratios = [v["compute"] / v["adaptive_compute"] for v in per_seed if "adaptive_compute" in v]
        if method in ("grid", "halving") and ratios:
            row.compute_vs_adaptive = mean_sd(ratios)
        rows.append(row)
    return rows


def adaptive_rule_rank(section: Section) -> list[tuple[int, int, int]]:
    """Judge each seed's adaptive model by the grid's selection rule: (seed, rank of the
    adaptive model, number of candidates), rank 1 being the rule's pick (the grid's
    completed sizes plus the adaptive model; see :func:`rules.adaptive_rank`)."""
    out = []
    for s in section.seeds:
        rank = adaptive_rank(s, tuple(SIGNALS))
        if rank is not None:
            out.append((s.seed, *rank))
    return out


def fmt(value: tuple[float, float] | None, digits: int = 1, n: int = 1, sep: str = " ") -> str:
    """``mean`` or ``mean ± sd`` (with several seeds; ``sep`` goes before the ±)."""
    if value is None:
        return "-"
    mean, sd = value
    if mean != mean:  # NaN
        return "-"
    return f"{mean:.{digits}f}" if n <= 1 else f"{mean:.{digits}f}{sep}± {sd:.{digits}f}"


def verdict(section: Section, rows: list[MethodRow]) -> list[str]:
    """Plain sentences answering: same size? how much faster? how close in quality?"""
    by = {r.method: r for r in rows}
    lines = []
    a, g = by.get("adaptive"), by.get("grid")
    if a and g:
        n = a.n_seeds
        lines.append(
            f"Latent size: ALD-VAE ended at {fmt(a.latent_dim, 1, n)}; the grid search selected "
            f"{fmt(g.latent_dim, 1, g.n_seeds)} (selection rule on validation signals)."
        )
        if g.compute_vs_adaptive:
            lines.append(
                f"Compute: one ALD-VAE run took {fmt(a.compute_s, 1, n)} s; the grid's trials "
                f"took {fmt(g.compute_s, 1, g.n_seeds)} s on one machine, "
                f"{fmt(g.compute_vs_adaptive, 2, g.n_seeds)}x the adaptive run."
            )
        lines.append(
            f"Quality (test split): FID {fmt(a.test['test_fid'], 2, n)} (adaptive) vs "
            f"{fmt(g.test['test_fid'], 2, g.n_seeds)} (grid's model); silhouette "
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
    for item in section.missing:
        lines.append(f"Missing: {item}.")
    return lines
