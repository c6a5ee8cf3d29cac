"""The grid page: every seed's grid. Each validation and test signal of the grid's
fixed-size models against latent size, one line per seed; the selection rule's combined
score per size, with the size it picked on each seed; what each signal alone would have
picked; and the adaptive model of each seed as a point with its own values (at its own
size, inside the axis)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark import figures
from benchmark.report.band import rule_scores
from benchmark.report.collect import VAL_SIGNALS, RunView, Section, SeedResult
from benchmark.report.pages.layout import caption, page, styled_table

ADAPTIVE_COLOUR = "tab:orange"  # the star's colour where one seed is shown
# a tick this close (as a fraction of an octave) to a grid size would overprint it
TICK_CLEARANCE = 0.3
# neighbouring tick labels closer than this (octaves) collide upright: turned on end
UPRIGHT_CLEARANCE = 0.45
# what each validation signal is called in the table of single-signal choices
SIGNAL_SHORT = {
    "val_recon_loss": "recon loss",
    "val_fid": "FID",
    "val_fid_recon": "FID recon",
    "val_silhouette": "silhouette",
}


@dataclass
class GridSeed:
    """One seed's grid as the page draws it: its colour and its adaptive model's size."""

    result: SeedResult
    colour: str
    adaptive_size: int | None

    @property
    def seed(self) -> int:
        return self.result.seed

    @property
    def selected(self) -> int:
        assert self.result.grid is not None
        return self.result.grid.best_latent_dim


def x_range(sizes: list[int], extra: list[int]) -> tuple[float, float]:
    """Limits of a log2 size axis holding every grid size and every extra size (the
    adaptive model's) with 0.4 octave to spare on both sides."""
    every = [s for s in sizes + extra if s > 0]
    low, high = math.log2(min(every)), math.log2(max(every))
    return 2 ** (low - 0.4), 2 ** (high + 0.4)


def ticks(sizes: list[int], extra: list[int]) -> list[int]:
    """The grid sizes plus each extra size not too close to one of them to be read."""
    out = sorted(set(sizes))
    for e in extra:
        if e > 0 and all(abs(math.log2(e) - math.log2(s)) >= TICK_CLEARANCE for s in out):
            out.append(e)
    return sorted(out)


def crowded(shown: list[int]) -> bool:
    """Whether two neighbouring tick labels are too close to be printed upright."""
    return any(math.log2(b / a) < UPRIGHT_CLEARANCE for a, b in itertools.pairwise(shown))


def _value(run: RunView | None, key: str) -> float | None:
    value = run.metrics.get(key) if run is not None else None
    return value if value is not None and value == value else None


def _adaptive_size(seed: SeedResult) -> int | None:
    if seed.adaptive is None or "final_latent_dim" not in seed.adaptive.metrics:
        return None
    return round(seed.adaptive.metrics["final_latent_dim"])


def _star(ax: Axes, size: int, value: float, colour: str, gid: str) -> None:
    (star,) = ax.plot(
        [size],
        [value],
        "*",
        ms=12,
        color=colour,
        markeredgecolor="black",
        markeredgewidth=0.6,
        zorder=4,
    )
    star.set_gid(gid)


def _panel(ax: Axes, seeds: list[GridSeed], key: str, floor: float | None) -> None:
    """One signal: each seed's grid as a line, the size its rule picked as a ringed
    point, and its adaptive model as a star (with its value where one seed is shown)."""
    drawn = False
    for g in seeds:
        grid = g.result.grid
        assert grid is not None
        points = [(s, v) for s in grid.sizes() if (v := _value(grid.trial_for(s), key)) is not None]
        if points:
            drawn = True
            (line,) = ax.plot(*zip(*points, strict=True), "o-", color=g.colour, ms=3, lw=1.1)
            line.set_gid(f"grid {key} seed {g.seed}")
            picked = dict(points).get(g.selected)
            if picked is not None:
                ax.plot(
                    [g.selected],
                    [picked],
                    "o",
                    ms=7,
                    color=g.colour,
                    mec="black",
                    mew=1.1,
                    zorder=3,
                )
        adaptive_value = _value(g.result.adaptive, key)
        if g.adaptive_size is None or adaptive_value is None:
            continue
        drawn = True
        colour = ADAPTIVE_COLOUR if len(seeds) == 1 else g.colour
        _star(ax, g.adaptive_size, adaptive_value, colour, f"adaptive {key}")
        if len(seeds) == 1:
            # the value on the side of the star facing the grid's sizes, so it stays inside
            sizes = grid.sizes()
            right_of_grid = bool(sizes) and g.adaptive_size > max(sizes) ** 0.5 * min(sizes) ** 0.5
            ax.annotate(
                f"{adaptive_value:.4g}",
                (g.adaptive_size, adaptive_value),
                xytext=(-8 if right_of_grid else 8, 0),
                textcoords="offset points",
                ha="right" if right_of_grid else "left",
                va="center",
                fontsize=7.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    if floor is not None:
        ax.axhline(floor, color="0.5", ls=":", lw=1.2)
    # room above and below the points, so a star at the edge of the values is not cut
    ax.margins(y=0.12)
    if not drawn:
        ax.text(
            0.5,
            0.5,
            "n/a: not logged" + ("\n(no labels)" if "silhouette" in key else ""),
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
        ax.set_yticks([])  # no values: a scale would pretend there were some


def _score_panel(ax: Axes, seeds: list[GridSeed], scores: dict[int, dict[int, float]]) -> None:
    """The rule's combined score per size, one line per seed, its pick ringed."""
    for g in seeds:
        per = scores.get(g.seed)
        if not per:
            continue
        sizes = sorted(per)
        (line,) = ax.plot(sizes, [per[s] for s in sizes], "o-", color=g.colour, ms=3, lw=1.1)
        line.set_gid(f"score seed {g.seed}")
        if g.selected in per:
            (ring,) = ax.plot(
                [g.selected], [per[g.selected]], "o", ms=8, color=g.colour, mec="black", mew=1.1
            )
            ring.set_gid(f"selected seed {g.seed}")
    ax.set_ylim(-0.05, 1.1)
    if not scores:
        ax.text(0.5, 0.5, "n/a: no complete grid", ha="center", transform=ax.transAxes)


def _choices(ax: Axes, seeds: list[GridSeed], scores: dict[int, dict[int, float]]) -> None:
    """Per seed: the rule's pick and its score, each signal's own pick (as the search's
    parent run logged it), and the adaptive model's size."""
    ax.axis("off")
    header = ["seed", "rule's pick", *SIGNAL_SHORT.values(), "ALD-VAE"]
    cells = []
    for g in seeds:
        assert g.result.grid is not None
        metrics = g.result.grid.latest.metrics
        score = scores.get(g.seed, {}).get(g.selected)
        alone = [metrics.get(f"best_latent_dim_{k}") for k in VAL_SIGNALS]
        cells.append(
            [
                str(g.seed),
                f"{g.selected}" + (f" ({score:.2f})" if score is not None else ""),
                *("-" if a is None or a != a else str(round(a)) for a in alone),
                "-" if g.adaptive_size is None else str(g.adaptive_size),
            ]
        )
    height = min(1.0, 0.2 + 0.14 * len(cells))
    styled_table(ax, cells, header, [0.55, 1.25, 1.05, 0.7, 1.0, 1.0, 0.9], height)
    ax.set_title(
        "per seed: the rule's pick (its score), each validation signal's own pick, ALD-VAE's size",
        fontsize=8,
    )


def _axis(ax: Axes, sizes: list[int], extra: list[int]) -> None:
    """A log2 size axis over every seed's sizes, upright labels where there is room."""
    ax.set_xscale("log", base=2)
    ax.set_xlim(*x_range(sizes, extra))
    shown = ticks(sizes, extra)
    ax.set_xticks(shown, [str(s) for s in shown], rotation=90 if crowded(shown) else 0)
    ax.minorticks_off()
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def grid_page(section: Section) -> Figure | None:
    """Every seed's grid, the rule's score per size and each seed's pick; None without a
    grid search."""
    with_grid = [(i, s) for i, s in enumerate(section.seeds) if s.grid is not None]
    if not with_grid:
        return None
    # the seed's colour of the story page (its position among the section's seeds)
    one = len(with_grid) == 1
    seeds = [
        GridSeed(s, "tab:blue" if one else f"C{i % 10}", _adaptive_size(s)) for i, s in with_grid
    ]
    sizes = sorted({k for g in seeds for k in g.result.grid.sizes()})  # type: ignore[union-attr]
    extra = sorted({g.adaptive_size for g in seeds if g.adaptive_size is not None})
    if not sizes and not extra:
        return None
    listed = ", ".join(str(g.seed) for g in seeds)
    fig = page(
        f"{section.dataset}: the grid search (seed {listed})"
        if one
        else f"{section.dataset}: the grid searches of seeds {listed}"
    )
    grid = fig.add_gridspec(
        3, 4, left=0.06, right=0.98, top=0.85, bottom=0.215, hspace=0.75, wspace=0.28
    )
    floors = {"val": section.val_fid_floor, "test": section.test_fid_floor}
    for col, (signal, (label, direction)) in enumerate(figures.SIGNAL_LABELS.items()):
        for row, split in enumerate(("val", "test")):
            ax = fig.add_subplot(grid[row, col])
            floor = floors[split] if signal.startswith("fid") else None
            _panel(ax, seeds, f"{split}_{signal}", floor)
            _axis(ax, sizes or extra, extra)
            ax.set_title(f"{split}: {label}\n({direction})", fontsize=8)
            if col == 0:
                ax.set_ylabel("validation split" if split == "val" else "test split", fontsize=9)
    scores = rule_scores(section)
    ax = fig.add_subplot(grid[2, :2])
    _score_panel(ax, seeds, scores)
    _axis(ax, sizes or extra, [])
    ax.set_xlabel("latent size n_z", fontsize=8)
    ax.set_title(
        "the selection rule's score: mean goodness of the validation signals (higher wins)",
        fontsize=8,
    )
    _choices(fig.add_subplot(grid[2, 2:]), seeds, scores)
    fig.legend(
        handles=_handles(seeds, section.val_fid_floor is not None),
        loc="center",
        bbox_to_anchor=(0.5, 0.915),
        ncols=6,
        fontsize=8.5,
        frameon=False,
    )
    names = [g.result.grid.study_name for g in seeds]  # type: ignore[union-attr]
    studies = (
        f"Study {names[0]}"
        if one
        else f"Studies {names[0]} and {len(names) - 1} more, one per seed (provenance page)"
    )
    caption(
        fig,
        "Validation (top row) and test (middle row) signals of each fixed-size model at the "
        "end of its training, against latent size (log scale), one colour per seed; a ringed "
        "point: the size the grid's selection rule picked on that seed from the validation "
        "signals. Bottom left: the rule's score of each size (each validation signal "
        "min-max normalised over the seed's sizes to a goodness in [0, 1], 1 the best, then "
        "averaged; benchmark/selection.py); the highest score wins. Bottom right: the size "
        "each signal alone would pick, so a pick that most signals disagree with shows. Star: "
        "the adaptive run's final model at its final size (validation signals of its last "
        f"epoch, test signals from the same test evaluation). {studies}; FIDs use "
        f"{section.fid_backend} features; dotted "
        "grey: the FID floor (real vs real images at the same sample count). n/a: a signal "
        "these runs did not log.",
    )
    return fig


def _handles(seeds: list[GridSeed], floor: bool) -> list[Line2D]:
    """The legend: each seed's colour (or the grid's one line), the pick, the star, the
    floor."""
    if len(seeds) == 1:
        g = seeds[0]
        handles = [
            Line2D([], [], marker="o", ms=3, color=g.colour, label="grid size"),
            Line2D(
                [],
                [],
                marker="o",
                ms=7,
                ls="none",
                color=g.colour,
                mec="black",
                label=f"rule's pick n_z={g.selected}",
            ),
        ]
    else:
        handles = [
            Line2D([], [], marker="o", ms=3, color=g.colour, label=f"seed {g.seed}") for g in seeds
        ]
        handles.append(
            Line2D(
                [], [], marker="o", ms=7, ls="none", color="0.6", mec="black", label="rule's pick"
            )
        )
    if any(g.adaptive_size is not None for g in seeds):
        star = ADAPTIVE_COLOUR if len(seeds) == 1 else "0.6"
        sizes = ", ".join(str(g.adaptive_size) for g in seeds if g.adaptive_size is not None)
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                ms=11,
                ls="none",
                color=star,
                markeredgecolor="black",
                label=f"ALD-VAE final model n_z={sizes}",
            )
        )
    if floor:
        handles.append(Line2D([], [], color="0.5", ls=":", label="FID floor (real vs real)"))
    return handles
