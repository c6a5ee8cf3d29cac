"""The grid page: every validation and test signal of the grid's fixed-size models
against latent size, the grid's choice marked, and the adaptive model as a point with
its own values (at its own size, inside the axis)."""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark import figures
from benchmark.report.collect import RunView, Section, SeedResult
from benchmark.report.pages.layout import caption, page

ADAPTIVE_COLOUR = "tab:orange"
SELECTED_COLOUR = "tab:red"
# a tick this close (as a fraction of an octave) to a grid size would overprint it
TICK_CLEARANCE = 0.3


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


def _value(run: RunView | None, key: str) -> float | None:
    value = run.metrics.get(key) if run is not None else None
    return value if value is not None and value == value else None


def _panel(
    ax: Axes,
    seed: SeedResult,
    key: str,
    floor: float | None,
    adaptive_size: int | None,
) -> None:
    """One signal: the grid's sizes as a line, the selected size, the adaptive point."""
    assert seed.grid is not None
    sizes = seed.grid.sizes()
    values = [_value(seed.grid.trial_for(s), key) for s in sizes]
    points = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None]
    colour = "tab:blue" if key.startswith("val_") else "tab:green"
    ax.plot([s for s, _ in points], [v for _, v in points], "o-", color=colour, ms=4)
    ax.axvline(seed.grid.best_latent_dim, color=SELECTED_COLOUR, lw=1.3)
    if floor is not None:
        ax.axhline(floor, color="0.5", ls=":", lw=1.2)
    adaptive_value = _value(seed.adaptive, key)
    if adaptive_size is not None and adaptive_value is not None:
        (star,) = ax.plot(
            [adaptive_size],
            [adaptive_value],
            "*",
            ms=12,
            color=ADAPTIVE_COLOUR,
            markeredgecolor="black",
            markeredgewidth=0.6,
            zorder=4,
        )
        star.set_gid(f"adaptive {key}")
        # the value on the side of the star facing the grid's sizes, so it stays inside
        right_of_grid = bool(sizes) and adaptive_size > max(sizes) ** 0.5 * min(sizes) ** 0.5
        ax.annotate(
            f"{adaptive_value:.4g}",
            (adaptive_size, adaptive_value),
            xytext=(-8 if right_of_grid else 8, 0),
            textcoords="offset points",
            ha="right" if right_of_grid else "left",
            va="center",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    # room above and below the points, so a star at the edge of the values is not cut
    ax.margins(y=0.12)
    if not points and adaptive_value is None:
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


def grid_page(section: Section) -> Figure | None:
    """The grid of the first seed that has one; None without a grid search."""
    seed = next((s for s in section.seeds if s.grid is not None), None)
    if seed is None or seed.grid is None:
        return None
    sizes = seed.grid.sizes()
    adaptive_size = (
        round(seed.adaptive.metrics["final_latent_dim"])
        if seed.adaptive is not None and "final_latent_dim" in seed.adaptive.metrics
        else None
    )
    extra = [adaptive_size] if adaptive_size is not None else []
    fig = page(f"{section.dataset}: the grid search (seed {seed.seed})")
    grid = fig.add_gridspec(
        2, 4, left=0.06, right=0.98, top=0.82, bottom=0.17, hspace=0.42, wspace=0.28
    )
    floors = {"fid": section.val_fid_floor, "fid_recon": section.val_fid_floor}
    test_floors = {"fid": section.test_fid_floor, "fid_recon": section.test_fid_floor}
    for col, (signal, (label, direction)) in enumerate(figures.SIGNAL_LABELS.items()):
        for row, split in enumerate(("val", "test")):
            ax = fig.add_subplot(grid[row, col])
            floor = (floors if split == "val" else test_floors).get(signal)
            _panel(ax, seed, f"{split}_{signal}", floor, adaptive_size)
            ax.set_xscale("log", base=2)
            ax.set_xlim(*x_range(sizes, extra))
            shown = ticks(sizes, extra)
            ax.set_xticks(shown, [str(s) for s in shown])
            ax.minorticks_off()
            ax.tick_params(labelsize=7)
            ax.set_title(f"{split}: {label}\n({direction})", fontsize=8)
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("latent size n_z", fontsize=8)
            if col == 0:
                ax.set_ylabel("validation split" if split == "val" else "test split")
    handles = [
        Line2D([], [], marker="o", color="tab:blue", label="grid size (validation)"),
        Line2D([], [], marker="o", color="tab:green", label="grid size (test)"),
        Line2D(
            [], [], color=SELECTED_COLOUR, label=f"grid's selection n_z={seed.grid.best_latent_dim}"
        ),
    ]
    if adaptive_size is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                ms=11,
                ls="none",
                color=ADAPTIVE_COLOUR,
                markeredgecolor="black",
                label=f"ALD-VAE final model n_z={adaptive_size}",
            )
        )
    if section.val_fid_floor is not None:
        handles.append(Line2D([], [], color="0.5", ls=":", label="FID floor (real vs real)"))
    # one row across the page between the title and the panels
    fig.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(0.5, 0.905),
        ncols=len(handles),
        fontsize=8.5,
        frameon=False,
    )
    caption(
        fig,
        "Validation (top) and test (bottom) signals of each fixed-size model at the end of its "
        "training, against latent size (log scale). Red: the size the grid's selection rule "
        "picked from the validation signals; orange star: the adaptive run's final model at "
        "its final size, with its value (validation signals of its last epoch, test signals "
        f"from the same test evaluation). Study {seed.grid.study_name}; FIDs use "
        f"{section.fid_backend} features; dotted grey: the FID floor (real vs real images at "
        "the same sample count). n/a: a signal these runs did not log.",
    )
    return fig
