"""The adaptive run's story page: latent size per epoch with every seed's cuts, switch to
fine steps and stop, above the four validation signals of every seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark import figures
from benchmark.report.collect import VAL_SIGNALS, Section
from benchmark.report.pages.layout import caption, page
from benchmark.report.source import RunSource

Series = list[tuple[int, float]]
# marker of each decision kind (one colour per seed)
CUT, SWITCH, STOP = "v", "D", "s"


@dataclass
class SeedStory:
    """One seed's adaptive run as the story page draws it."""

    seed: int
    latent: Series
    cuts: list[int] = field(default_factory=list)
    switch: int | None = None
    stop: int | None = None
    signals: dict[str, Series] = field(default_factory=dict)


def decisions(frame: pd.DataFrame | None) -> tuple[list[int], int | None, int | None]:
    """From a run's ``history.csv``: the epochs after which dimensions were cut, the
    first epoch of fine steps, and the stop epoch (empty/None when not logged)."""
    if frame is None or "decision" not in frame:
        return [], None, None
    cuts = frame.loc[frame["decision"] == "cut", "epoch"].astype(int).tolist()
    fine = frame.loc[frame["phase"] == "fine", "epoch"] if "phase" in frame else []
    stop = frame.loc[frame["decision"] == "stop", "epoch"]
    return (
        cuts,
        int(fine.iloc[0]) if len(fine) else None,
        int(stop.iloc[0]) if len(stop) else None,
    )


def gather(section: Section, source: RunSource) -> list[SeedStory]:
    """Every seed's adaptive run: its latent size and validation signals per epoch (from
    its metric history) and its decisions (from its history artifact)."""
    out = []
    for s in section.seeds:
        if s.adaptive is None:
            continue
        run_id = s.adaptive.run_id
        cuts, switch, stop = decisions(source.history_frame(run_id))
        out.append(
            SeedStory(
                s.seed,
                source.metric_history(run_id, "latent_dim"),
                cuts,
                switch,
                stop,
                {k: source.metric_history(run_id, k) for k in VAL_SIGNALS},
            )
        )
    return out


def value_at(series: Series, epoch: int) -> float | None:
    """The series' value at ``epoch``, or at the last step before it (a step plot)."""
    before = [v for s, v in series if s <= epoch]
    return before[-1] if before else (series[0][1] if series else None)


def _mark(
    ax: Axes, series: Series, epochs: list[int], marker: str, colour: str, size: float, gid: str
) -> None:
    """Markers at ``epochs`` on ``series``; ``gid`` names them (tests read it back)."""
    points = [(e, value_at(series, e)) for e in epochs]
    points = [(e, v) for e, v in points if v is not None]
    if not points:
        return
    (line,) = ax.plot(
        [e for e, _ in points],
        [v for _, v in points],
        marker,
        color=colour,
        markeredgecolor="black",
        markeredgewidth=0.6,
        ms=size,
        ls="none",
        zorder=3,
    )
    line.set_gid(gid)


def story_figure(section: Section, stories: list[SeedStory]) -> Figure:
    """The page from gathered stories (pure: no MLflow)."""
    fig = page(f"{section.dataset}: the adaptive run, epoch by epoch")
    grid = fig.add_gridspec(
        2,
        4,
        height_ratios=[1.3, 1],
        left=0.06,
        right=0.98,
        top=0.86,
        bottom=0.16,
        hspace=0.35,
        wspace=0.3,
    )
    ax = fig.add_subplot(grid[0, :])
    subs = [fig.add_subplot(grid[1, col]) for col in range(len(VAL_SIGNALS))]
    for i, story in enumerate(stories):
        colour = f"C{i % 10}"
        # seeds often decide alike: each later seed is drawn thinner, dashed and with
        # smaller markers on top of the earlier ones, so every seed stays visible
        size = max(4.0, 12.0 - 3.0 * i)
        ax.step(
            [s for s, _ in story.latent],
            [v for _, v in story.latent],
            where="post",
            color=colour,
            lw=max(1.0, 3.5 - 1.0 * i),
            ls="-" if i == 0 else (0, (4, 2)),
            label=f"seed {story.seed}"
            + (" (no stop: epoch budget ran out)" if story.stop is None else ""),
        )
        for kind, marker, epochs in (
            ("cuts", CUT, story.cuts),
            ("switch", SWITCH, [story.switch] if story.switch is not None else []),
            ("stop", STOP, [story.stop] if story.stop is not None else []),
        ):
            _mark(ax, story.latent, epochs, marker, colour, size, f"{kind} seed {story.seed}")
        for key, sub in zip(VAL_SIGNALS, subs, strict=True):
            series = story.signals.get(key, [])
            sub.plot([s for s, _ in series], [v for _, v in series], color=colour, lw=1)
            for kind, marker, epoch in (
                ("switch", SWITCH, story.switch),
                ("stop", STOP, story.stop),
            ):
                if epoch is not None:
                    _mark(
                        sub, series, [epoch], marker, colour, size - 2, f"{kind} seed {story.seed}"
                    )
    seeds = ax.get_legend_handles_labels()[0]
    kinds = [
        Line2D([], [], marker=m, ls="none", color="0.6", markeredgecolor="black", label=text)
        for m, text, happened in (
            (CUT, "cut after this epoch", any(s.cuts for s in stories)),
            (SWITCH, "switch to fine steps", any(s.switch is not None for s in stories)),
            (STOP, "stop", any(s.stop is not None for s in stories)),
        )
        if happened  # the legend shows only what happened
    ]
    ax.legend(handles=seeds + kinds, fontsize=8, loc="upper right", ncols=2)
    ax.set_ylabel("latent size n_z")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    for key, sub in zip(VAL_SIGNALS, subs, strict=True):
        label = figures.SIGNAL_LABELS[key.removeprefix("val_")][0]
        sub.set_title(f"validation {label}", fontsize=8)
        sub.set_xlabel("epoch", fontsize=8)
        sub.tick_params(labelsize=7)
        sub.grid(alpha=0.3)
        if not any(story.signals.get(key) for story in stories):
            sub.text(
                0.5,
                0.5,
                "n/a: not logged" + ("\n(no labels)" if "silhouette" in key else ""),
                ha="center",
                va="center",
                transform=sub.transAxes,
                color="0.4",
            )
            sub.set_yticks([])  # no values: a scale would pretend there were some
    caption(
        fig,
        "Top: latent size against epoch (the size each epoch trained at), one colour per "
        "seed; on each seed's line, triangles mark the epochs after which dimensions were "
        "removed, a diamond the switch from coarse to fine steps, a square the stop. "
        "Bottom: the four validation signals the controller watches, every seed in its "
        f"colour, with its switch and stop; FIDs use {section.fid_backend} features on "
        f"{section.fid_val_samples} images.",
    )
    return fig


def adaptive_page(section: Section, source: RunSource) -> Figure | None:
    """The story page, or None without an adaptive run."""
    stories = gather(section, source)
    return story_figure(section, stories) if stories else None
