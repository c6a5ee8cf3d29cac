"""A page per pruning or sampling search (halving, hyperband, tpe): every trial's
validation FID per epoch in the order the trials ran, where each was pruned, the rungs
(the epochs at which trials were pruned) and the FID floor at each rung, one panel per
seed, so that a reader sees why the search answered what it did."""

from __future__ import annotations

import re

from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from benchmark.report.pages.layout import caption, page
from benchmark.report.source import RunSource
from benchmark.report.views import SearchView, Section

PAGED_SEARCHES = ("halving", "hyperband", "tpe")
PRUNED_AT = re.compile(r"at epoch (\d+)")
MAX_PANELS = 6


def pruned_epoch(tags: dict[str, str]) -> int | None:
    """The epoch a trial was pruned at, from its ``benchmark.stopped_early`` tag."""
    match = PRUNED_AT.search(tags.get("benchmark.stopped_early", ""))
    return int(match.group(1)) if match else None


def _trials_in_order(view: SearchView) -> list:  # noqa: ANN202
    return sorted(
        view.trials, key=lambda t: (int(t.tags.get("benchmark.trial_number", 10**6)), t.start_time)
    )


def search_page(section: Section, source: RunSource, search: str) -> Figure | None:
    """The page of ``search`` over the section's seeds; None when it did not run."""
    views = [(s.seed, s.searches[search]) for s in section.seeds if search in s.searches]
    if not views:
        return None
    views = views[:MAX_PANELS]
    fig = page(f"{section.dataset}: what {search} did, trial by trial")
    cols = min(3, len(views))
    rows = (len(views) + cols - 1) // cols
    grid = fig.add_gridspec(rows, cols, left=0.07, right=0.98, top=0.88, bottom=0.2, hspace=0.45)
    floor = section.val_fid_floor
    for i, (seed, view) in enumerate(views):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        rungs = set()
        for order, trial in enumerate(_trials_in_order(view)):
            curve = source.metric_history(trial.run_id, "val_fid")
            if not curve:
                continue
            size = trial.params.get("fixed_latent_dim", "?")
            colour = f"C{order % 10}"
            chosen = trial.status == "FINISHED" and int(size) == view.best_latent_dim
            ax.plot(
                [e for e, _ in curve],
                [v for _, v in curve],
                color=colour,
                lw=2.2 if chosen else 0.9,
                label=f"#{order + 1} n_z={size}" + (" (selected)" if chosen else ""),
            )
            stop = pruned_epoch(trial.tags)
            if stop is not None:
                rungs.add(stop)
                value = dict(curve).get(stop, curve[-1][1])
                ax.plot([stop], [value], marker="x", color=colour, ms=7, mew=2)
        for rung in sorted(rungs):
            ax.axvline(rung, color="0.5", lw=0.8, ls=":")
            if floor is not None:
                at = [
                    v
                    for t in view.trials
                    for e, v in source.metric_history(t.run_id, "val_fid")
                    if e == rung
                ]
                if at:
                    ax.fill_between(
                        [rung - 8, rung + 8], min(at), min(at) + floor, color="0.65", zorder=0
                    )
        ax.set_title(f"seed {seed}: selected n_z={view.best_latent_dim}", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("validation FID", fontsize=8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=5.5, ncols=2, loc="upper right")
    floor_words = (
        f"the grey band at each rung spans the best value there plus the FID floor "
        f"({floor:.2f}, real vs real at the validation sample count): values inside it "
        "cannot be told apart"
        if floor is not None
        else "no FID floor was logged"
    )
    caption(
        fig,
        f"Every trial of {search}, numbered in the order it ran, its validation FID per "
        "epoch (what the pruner compares); a cross marks the epoch where a trial was "
        "pruned, dotted lines the rungs (epochs at which trials were pruned), the thick "
        f"line the selected size's trial; {floor_words}. A trial that ran first meets no "
        "rival at its rungs, so the order of the trials can decide what survives.",
    )
    return fig
