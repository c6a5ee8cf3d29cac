"""What the latent space of each method's model is used for: the latent size it hands
over against the units its model actually uses (active units), and its test ELBO split
into rate and distortion (Alemi et al. 2018, "Fixing a Broken ELBO"), one point per
method and seed. Two sizes that differ may use the same number of units, and two models
with the same ELBO may trade rate for distortion."""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.report.compute import DEFAULT_MEASURE
from benchmark.report.pages.layout import caption, page
from benchmark.report.summary import METHOD_LABELS, RATE, ROW_ORDER, per_seed_values
from benchmark.report.views import Section

# one marker style per method, in row order (the rows' colours follow Matplotlib's cycle)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
# methods are nudged apart on the size axis by this much (sizes) so that equal points of
# different methods (every seed at 8 and 7, say) stay visible side by side
DODGE = 0.15
# how many lines of constant ELBO the rate-distortion panel draws
ISO_LINES = 4


def capacity_points(section: Section, measure: str = DEFAULT_MEASURE) -> dict[str, list[dict]]:
    """Per method (in row order) with a result: per seed its latent size, active units,
    rate and distortion (each present only where its runs logged what it needs)."""
    out = {}
    for method in ROW_ORDER:
        values = per_seed_values(section, method, measure)
        if values:
            out[method] = values
    return out


def _style(index: int) -> dict:
    return {"marker": MARKERS[index % len(MARKERS)], "color": f"C{index % 10}"}


def _finite(*values: float | None) -> bool:
    return all(v is not None and v == v for v in values)


def _sizes_panel(ax: Axes, points: dict[str, list[dict]]) -> None:
    """Latent size handed over (x) against active units (y), the diagonal drawn."""
    n = len(points)
    sizes: list[float] = []
    units: list[float] = []
    for i, (method, seeds) in enumerate(points.items()):
        shown = [
            (v["latent_dim"], v["test_active_units"])
            for v in seeds
            if _finite(v.get("latent_dim"), v.get("test_active_units"))
        ]
        if not shown:
            continue
        _points(ax, shown, i, f"size {method}", nudge=DODGE * (i - (n - 1) / 2))
        sizes += [x for x, _ in shown]
        units += [y for _, y in shown]
    if not sizes:
        ax.text(0.5, 0.5, "n/a: no active units logged", ha="center", transform=ax.transAxes)
        return
    # linear axes from 0: the diagonal is straight, and a point's distance right of it is
    # the part of its size the model leaves unused
    x_high, y_high = max(sizes) * 1.1 + 1, max(units) * 1.25 + 1
    ax.plot([0, x_high], [0, x_high], color="0.4", ls="--", lw=1)
    corner = min(x_high, y_high) * 0.92
    ax.annotate(
        "every unit active",
        (corner, corner),
        xytext=(4, 0),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=8,
        color="0.35",
    )
    ax.set_xlim(0, x_high)
    ax.set_ylim(0, y_high)
    ax.set_xlabel("latent size the method hands over (n_z)", fontsize=9)
    ax.set_ylabel("active units of its model (test split)", fontsize=9)
    ax.set_title("latent size against active units, per method and seed", fontsize=10)
    ax.grid(alpha=0.3)


def _points(
    ax: Axes, shown: list[tuple[float, float]], i: int, gid: str, nudge: float = 0.0
) -> None:
    """One method's seeds as markers in the method's style, moved ``nudge`` sideways so
    equal points of neighbouring methods stay visible; ``gid`` names them for tests."""
    (line,) = ax.plot(
        [x + nudge for x, _ in shown],
        [y for _, y in shown],
        ls="none",
        ms=7,
        mec="black",
        mew=0.5,
        alpha=0.85,
        **_style(i),
    )
    line.set_gid(gid)


def _rate_panel(ax: Axes, points: dict[str, list[dict]]) -> None:
    """Rate (x) against distortion (y), with lines of constant ELBO (R + D = -ELBO)."""
    xs: list[float] = []
    ys: list[float] = []
    for i, (method, seeds) in enumerate(points.items()):
        shown = [
            (v[RATE], v["test_recon_loss"])
            for v in seeds
            if _finite(v.get(RATE), v.get("test_recon_loss"))
        ]
        if not shown:
            continue
        _points(ax, shown, i, f"rate {method}")
        xs += [x for x, _ in shown]
        ys += [y for _, y in shown]
    if not xs:
        ax.text(0.5, 0.5, "n/a: no test ELBO logged", ha="center", transform=ax.transAxes)
        return
    ax.margins(0.15)
    ax.autoscale_view()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    # -ELBO = R + D: lines of slope -1 through the points' range; lower-left is better
    totals = [x + y for x, y in zip(xs, ys, strict=True)]
    for c in _round_levels(min(totals), max(totals)):
        ax.plot([x0, x1], [c - x0, c - x1], color="0.6", ls=":", lw=1, zorder=0)
        # the label where the line crosses the panel's top or its right edge, inside
        x_at_top = c - y1
        at = (x_at_top, y1) if x0 < x_at_top < x1 else (x1, c - x1)
        if x0 <= at[0] <= x1 and y0 <= at[1] <= y1:
            ax.annotate(
                f"-ELBO = {c:g}",
                at,
                xytext=(-3, -3),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=7,
                color="0.4",
                annotation_clip=True,
            )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("rate: KL(q(z|x) || N(0, I)), nats per image (test split)", fontsize=9)
    ax.set_ylabel("distortion: reconstruction loss, nats per image", fontsize=9)
    ax.set_title("rate against distortion (test ELBO = -(rate + distortion))", fontsize=10)
    ax.grid(alpha=0.3)


def _round_levels(low: float, high: float) -> list[float]:
    """Up to :data:`ISO_LINES` round values spanning [low, high]."""
    span = max(high - low, 1e-9)
    step = 10 ** math.floor(math.log10(span / ISO_LINES))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= ISO_LINES:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(ISO_LINES + 1) if first + k * step <= high]


def capacity_page(section: Section, measure: str = DEFAULT_MEASURE) -> Figure | None:
    """The page; None when no method has a result."""
    points = capacity_points(section, measure)
    if not points:
        return None
    fig = page(f"{section.dataset}: how much of the latent space each model uses")
    grid = fig.add_gridspec(1, 2, left=0.07, right=0.98, top=0.86, bottom=0.3, wspace=0.22)
    _sizes_panel(fig.add_subplot(grid[0, 0]), points)
    _rate_panel(fig.add_subplot(grid[0, 1]), points)
    handles = [
        Line2D([], [], ls="none", ms=7, mec="black", mew=0.5, label=METHOD_LABELS[m], **_style(i))
        for i, m in enumerate(points)
    ]
    fig.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(0.5, 0.19),
        ncols=min(5, len(handles)),
        fontsize=8.5,
        frameon=False,
    )
    caption(
        fig,
        "One point per method and seed, one marker per method. Left: the latent size the "
        "method hands over against the active units of its model (units whose posterior "
        "mean varies over the test split with variance above 0.01); on the dashed diagonal "
        "every unit is used, below it part of the size is unused, so two sizes far apart "
        "can use the same number of units. Methods are nudged sideways a little so that "
        "equal points stay visible. Right: the test ELBO's two terms (Alemi et al. 2018): "
        "the rate, the KL of the posterior q(z|x) to the prior N(0, I) summed over the "
        "units, and the distortion, the reconstruction loss (Bernoulli, one posterior "
        "sample), both mean nats per image, with rate = -test ELBO - reconstruction loss "
        "of each run. Dotted: models of equal ELBO; lower left is better, and along a "
        "dotted line a model trades rate for distortion.",
    )
    return fig
