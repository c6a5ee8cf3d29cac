"""The methods page: the training epochs each method's answer cost against the test
quality of its model. Per method the mean ± sd over seeds on both axes, each seed a
faint point, the grid's sizes (each trained once) beside them, and the Pareto front
(fewer epochs and better quality) computed, drawn and named in the caption; each
method's time in the section's measure stands in the legend, flagged where noisy.

Drawn only when a method beyond the first report's (ALD-VAE, grid, halving) ran: a
report of those alone is the report it always was."""

from __future__ import annotations

import math

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from benchmark.report.collect import EPOCHS_METRIC, RunView, Section, mean_sd
from benchmark.report.compute import MEASURE_WORDS, run_value
from benchmark.report.numbers import duration, noisy
from benchmark.report.pages.layout import WARNING_COLOUR, caption, page
from benchmark.report.summary import FIRST_REPORT_METHODS, MethodRow, per_seed_values

# The quality axes: (test metric, axis label, its name in the caption); lower is better.
QUALITY = (
    ("test_fid", "test FID of samples (lower is better)", "test FID"),
    ("test_recon_loss", "test reconstruction loss (lower is better)", "reconstruction loss"),
)
MARKERS = "osD^vP*Xhp<>"
# the cost a grid curve can be read in besides the compute measures: training epochs
EPOCHS = "epochs"
# decades (log axis) between methods drawn at the same mean epochs, side by side
DODGE = 0.035
FRONT_GID = "pareto front"  # the front's line, found by tests


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """The names of the points no other point dominates, lower being better on both
    coordinates (cost, quality): a point dominates another when it is no worse on both
    and better on one. Equal points are both on the front (neither is better); a point
    with a NaN coordinate is never on it. In order of cost, then quality."""
    valid = {k: p for k, p in points.items() if not any(math.isnan(v) for v in p)}

    def dominated(p: tuple[float, float]) -> bool:
        return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in valid.values())

    return sorted((k for k, p in valid.items() if not dominated(p)), key=lambda k: valid[k])


def _cost(run: RunView, cost: str) -> float:
    """One run's cost: its training epochs, or its measure (:func:`run_value`)."""
    if cost == EPOCHS:
        return run.metrics.get(EPOCHS_METRIC, float("nan"))
    return run_value(run, cost)


def grid_curve(section: Section, metric: str, cost: str) -> list[tuple[int, float, float]]:
    """(size, mean cost of training that size once, mean ``metric``) over the seeds'
    grid trials, by size: what each fixed size costs and gives. ``cost`` is EPOCHS or
    a compute measure."""
    by_size: dict[int, list[tuple[float, float]]] = {}
    for s in section.seeds:
        if s.grid is None:
            continue
        for size in s.grid.sizes():
            trial = s.grid.trial_for(size)
            if trial is not None and metric in trial.metrics:
                by_size.setdefault(size, []).append((_cost(trial, cost), trial.metrics[metric]))
    return [
        (size, mean_sd([c for c, _ in v])[0], mean_sd([q for _, q in v])[0])
        for size, v in sorted(by_size.items())
    ]


def dodge(xs: dict[str, float]) -> dict[str, float]:
    """Each key's factor on a log axis: keys at the same x are spread side by side
    (centred on it, :data:`DODGE` decades apart) so that their error bars do not hide
    one another; a key alone at its x keeps it (factor 1)."""
    groups: dict[float, list[str]] = {}
    for key, x in xs.items():
        groups.setdefault(round(x, 6) if x == x else x, []).append(key)
    factors = {}
    for keys in groups.values():
        for i, key in enumerate(keys):
            factors[key] = 10 ** (DODGE * (i - (len(keys) - 1) / 2))
    return factors


def _label_sizes(ax: Axes, curve: list[tuple[int, float, float]], factor: float) -> None:
    """ "n_z=8" left of each grid size's point, leaving out a label that would sit on
    the one below it (sizes of nearly the same quality)."""
    low, high = ax.get_ylim()
    gap = 0.03 * (high - low)  # about one 7 pt line on this axis
    last = -math.inf
    for size, x, q in sorted(curve, key=lambda c: c[2]):
        if q - last < gap:
            continue
        ax.annotate(
            f"n_z={size}",
            (x * factor, q),
            fontsize=7,
            color="0.35",
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
        )
        last = q


def _panel(
    ax: Axes,
    section: Section,
    rows: list[MethodRow],
    per_seed: dict[str, list[dict[str, float]]],
    metric: str,
) -> list[str]:
    """One quality axis: grid sizes, seeds (``per_seed``: each method's per-seed values),
    means with error bars, the front; returns the labels of the methods on the front."""
    curve = grid_curve(section, metric, EPOCHS)
    curve = [c for c in curve if c[1] == c[1]]  # sizes without an epoch count: no x
    means = {r.method: (r.epochs[0], r.test.get(metric, (math.nan, math.nan))[0]) for r in rows}
    # the grid's sizes take a place of their own, first (leftmost) among the methods at
    # their epochs, so that their n_z labels on the left lie clear of the methods
    xs = {"grid sizes": mean_sd([c[1] for c in curve])[0]} if curve else {}
    xs |= {k: p[0] for k, p in means.items()}
    factors = dodge(xs)
    if curve:
        f = factors["grid sizes"]
        ax.scatter([c[1] * f for c in curve], [c[2] for c in curve], marker="_", s=90, c="0.45")
    for j, row in enumerate(rows):
        colour, marker, f = f"C{j % 10}", MARKERS[j % len(MARKERS)], factors[row.method]
        seeds = [
            (v["epochs"] * f, v[metric])
            for v in per_seed[row.method]
            if not math.isnan(v.get(metric, math.nan)) and v["epochs"] == v["epochs"]
        ]
        if seeds:
            ax.scatter(*zip(*seeds, strict=True), marker=marker, s=22, color=colour, alpha=0.25)
        (x, x_sd), (q, q_sd) = row.epochs, row.test.get(metric, (math.nan, math.nan))
        if math.isnan(x) or math.isnan(q):
            continue
        # an error bar on a log axis must not reach zero or below
        low = min(x_sd, 0.9 * x) if x_sd == x_sd else 0.0
        ax.errorbar(
            x * f,
            q,
            xerr=[[low * f], [(x_sd if x_sd == x_sd else 0.0) * f]],
            yerr=q_sd if q_sd == q_sd else 0.0,
            fmt=marker,
            ms=7,
            color=colour,
            capsize=2,
            zorder=3,
        )
    front = pareto_front(means)
    if front:
        fx = [means[k][0] * factors[k] for k in front]
        fy = [means[k][1] for k in front]
        # the staircase that bounds what the front's methods dominate
        ax.step(fx, fy, where="post", color="black", lw=1.1, zorder=2, gid=FRONT_GID)
        ax.scatter(fx, fy, s=190, facecolors="none", edgecolors="black", lw=1.1, zorder=4)
    ax.set_xscale("log")
    # room on the left for the n_z labels, on the right for the last dodged marker
    shown = [x * factors[k] for k, x in xs.items() if x == x and x > 0]
    if shown:
        ax.set_xlim(min(shown) / 1.4, max(shown) * 1.15)
    # plain numbers on the log axis ("3x10^2" labels overlapped at the minor ticks)
    ax.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    ax.set_xlabel("training epochs, every run the answer needed (log scale)")
    ax.grid(alpha=0.3)
    if curve:
        _label_sizes(ax, curve, factors["grid sizes"])
    labels = {r.method: r.label for r in rows}
    return [labels[k] for k in front]


def _legend(fig: Figure, rows: list[MethodRow], has_grid: bool, bottom: float) -> float:
    """One legend under both panels, its foot at ``bottom`` (page fraction): each
    method with its time in the section's measure (red where noise-dominated), the
    grid's sizes and the front. Returns where its top lies."""
    handles, colours = [], []
    for j, row in enumerate(rows):
        loud = row.n_seeds > 1 and noisy(row.compute_s)
        time = duration(*row.compute_s) + (", noisy" if loud else "")
        if row.epochs[0] != row.epochs[0]:  # runs from before epochs were counted
            time += "; no epoch count, not drawn"
        handles.append(
            Line2D(
                [],
                [],
                color=f"C{j % 10}",
                marker=MARKERS[j % len(MARKERS)],
                ls="",
                label=f"{row.label}: {time}",
            )
        )
        colours.append(WARNING_COLOUR if loud else "black")
    if has_grid:
        handles.append(
            Line2D([], [], color="0.45", marker="_", ms=10, ls="", label="grid sizes, one each")
        )
        colours.append("black")
    handles.append(Line2D([], [], color="black", lw=1.1, label="Pareto front (method means)"))
    colours.append("black")
    legend = fig.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0.06, bottom), ncols=3, fontsize=8
    )
    for text, colour in zip(legend.get_texts(), colours, strict=True):
        text.set_color(colour)
    return _top(fig, legend)


def _top(fig: Figure, artist: Artist) -> float:
    """Where a drawn artist's top lies, as a page fraction (measured)."""
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.y1 / fig.bbox.height


def methods_page(section: Section, rows: list[MethodRow]) -> Figure | None:
    """Training epochs against test FID and reconstruction loss per method (mean ± sd,
    seeds faint), with the Pareto front; None when only the first report's methods ran."""
    if not {r.method for r in rows} - set(FIRST_REPORT_METHODS):
        return None
    measure = rows[0].measure
    # each method's per-seed values, once for both panels
    per_seed = {r.method: per_seed_values(section, r.method, measure) for r in rows}
    fig = page(f"{section.dataset}: every method, compute against test quality, in training epochs")
    fronts, axes = [], []
    for i, (metric, label, name) in enumerate(QUALITY):
        ax = fig.add_axes((0.07 + i * 0.48, 0.34, 0.41, 0.58))
        front = _panel(ax, section, rows, per_seed, metric)
        ax.set_ylabel(label)
        fronts.append(f"on {name}, {', '.join(front) or 'none (no values)'}")
        axes.append(ax)
    caption(
        fig,
        "Per method, the mean over seeds with error bars of one standard deviation on both "
        "axes; faint points are the seeds. Cost is the training epochs of every run the "
        "answer needed (all of a study's trials, pruned ones included; a size-choosing "
        "training and its retrain), which the machine's load leaves alone; methods with "
        "the same epochs are drawn side by side. The legend gives each method's "
        f"{MEASURE_WORDS[measure]} beside it (mean ± sd; red: noise-dominated, sd above "
        "half the mean). Grey dashes: the grid's sizes, each one fixed-size training (mean "
        "over seeds). The black staircase joins the Pareto front (circled): the methods "
        "whose means no other method beats on epochs or on quality without being worse on "
        f"the other; {'; '.join(fronts)}.",
    )
    # stacked from the foot up, measured: the caption, the legend over it, then the
    # panels with room for their tick labels and axis label, whatever the counts
    legend_top = _legend(
        fig,
        rows,
        bool(grid_curve(section, QUALITY[0][0], EPOCHS)),
        _top(fig, fig.texts[-1]) + 0.012,
    )
    for i, ax in enumerate(axes):
        bottom = legend_top + 0.08
        ax.set_position((0.07 + i * 0.48, bottom, 0.41, 0.92 - bottom))
    return fig
