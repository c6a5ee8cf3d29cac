"""The methods page: total compute against test quality, one point per method and seed,
the grid's sizes (each trained once) as a curve, so that the Pareto front is visible.

Drawn only when a method beyond the first report's (ALD-VAE, grid, halving) ran: a
report of those alone is the report it always was."""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from benchmark.report.collect import Section, mean_sd
from benchmark.report.compute import MEASURE_WORDS, run_value
from benchmark.report.pages.layout import caption, page
from benchmark.report.summary import FIRST_REPORT_METHODS, MethodRow, per_seed_values

# The quality axes: (test metric, axis label); lower is better for both.
QUALITY = (
    ("test_fid", "test FID of samples (lower is better)"),
    ("test_recon_loss", "test reconstruction loss (lower is better)"),
)
MARKERS = "osD^vP*Xhp<>"


def grid_curve(section: Section, metric: str, measure: str) -> list[tuple[int, float, float]]:
    """(size, mean compute of training that size once, mean ``metric``) over the seeds'
    grid trials, by size: what each fixed size costs and gives."""
    by_size: dict[int, list[tuple[float, float]]] = {}
    for s in section.seeds:
        if s.grid is None:
            continue
        for size in s.grid.sizes():
            trial = s.grid.trial_for(size)
            if trial is not None and metric in trial.metrics:
                by_size.setdefault(size, []).append(
                    (run_value(trial, measure), trial.metrics[metric])
                )
    return [
        (size, mean_sd([c for c, _ in v])[0], mean_sd([q for _, q in v])[0])
        for size, v in sorted(by_size.items())
    ]


def methods_page(section: Section, rows: list[MethodRow]) -> Figure | None:
    """Compute against test FID and reconstruction loss, per method and seed; None when
    only the first report's methods ran."""
    if not {r.method for r in rows} - set(FIRST_REPORT_METHODS):
        return None
    measure = rows[0].measure
    fig = page(f"{section.dataset}: every method, compute against test quality")
    for i, (metric, label) in enumerate(QUALITY):
        ax = fig.add_axes((0.07 + i * 0.47, 0.2, 0.4, 0.68))
        curve = grid_curve(section, metric, measure)
        if curve:
            ax.plot(
                [c for _, c, _ in curve],
                [q for _, _, q in curve],
                color="0.55",
                lw=1.2,
                ls="--",
                label="grid sizes, each trained once",
                zorder=1,
            )
            for size, c, q in curve:
                ax.annotate(
                    f"n_z={size}",
                    (c, q),
                    fontsize=7,
                    color="0.4",
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        for j, row in enumerate(rows):
            points = [
                (v["compute"], v[metric])
                for v in per_seed_values(section, row.method, measure)
                if metric in v and not math.isnan(v[metric])
            ]
            if not points:
                continue
            ax.scatter(
                [c for c, _ in points],
                [q for _, q in points],
                marker=MARKERS[j % len(MARKERS)],
                s=42,
                label=row.label,
                zorder=3,
            )
        ax.set_xscale("log")
        # plain seconds on the log axis ("3x10^0" labels overlapped at the minor ticks);
        # LogFormatter still leaves minor ticks unlabelled over many decades
        ax.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
        ax.set_xlabel(f"total compute, {MEASURE_WORDS[measure]} seconds (log scale)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7.5, loc="best")
    caption(
        fig,
        "One point per method and seed: the method's total compute (every training and "
        "evaluation it needed: all of a search's trials, a size-choosing training plus its "
        "retrain) against the test quality of the model it hands over. The dashed curve is "
        "the grid's sizes, each one fixed-size training (mean over seeds). Points below and "
        "left of the others form the Pareto front: nothing is both cheaper and better.",
    )
    return fig
