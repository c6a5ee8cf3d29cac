"""The compute page: what each answer cost, as bars with their spread over seeds."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from matplotlib.figure import Figure

from benchmark.methods import METHODS
from benchmark.report.collect import NAMED_SEARCHES, SearchView, Section, SeedResult, mean_sd
from benchmark.report.compute import MEASURE_WORDS, MEASURES
from benchmark.report.pages.layout import WARNING_COLOUR, caption, page
from benchmark.report.summary import MethodRow, noise_warnings

# the share of the axis kept free right of the longest bar's error bar for its label
LABEL_ROOM = 0.18
NOTE_WIDTH = 145  # characters of a 9.5 pt note line across the page
NOTE_LINE = 0.026  # its height, page fraction


@dataclass(frozen=True)
class Bar:
    """One bar: its label, mean and sd (seconds) over seeds."""

    label: str
    mean: float
    sd: float

    @property
    def end(self) -> float:
        """Where the bar and its error bar end."""
        return self.mean + (self.sd if self.sd == self.sd else 0.0)


def bar_limits(bars: list[Bar]) -> tuple[float, list[float]]:
    """The x-limit that holds every error bar with room for its value label, and where
    each label starts: right of its error bar's end, never on the error-bar line."""
    longest = max([b.end for b in bars] + [1.0])
    xmax = longest / (1.0 - LABEL_ROOM)
    pad = 0.01 * xmax
    return xmax, [b.end + pad for b in bars]


# every study method, in the registry's order (a bar pair each when it ran)
STUDIES = tuple(m.name for m in METHODS.values() if m.is_study)


def _view(seed: SeedResult, kind: str) -> SearchView | None:
    """The seed's study of method ``kind`` (grid and halving also as attributes)."""
    named = getattr(seed, kind) if kind in NAMED_SEARCHES else None
    return seed.searches.get(kind) or named


def _workers(section: Section, kind: str) -> str:
    """ "1 worker", "2 workers", or "1/2 workers" where the seeds' searches differ."""
    counts = sorted({v.n_workers for s in section.seeds if (v := _view(s, kind))})
    return f"{'/'.join(map(str, counts))} worker{'' if counts == [1] else 's'}"


def compute_bars(section: Section, rows: list[MethodRow]) -> list[Bar]:
    """The bars of the page, in the rows' measure. The elapsed time of a search with its
    workers is wall-clock; for another measure the search's parent run's own measure
    (trials, start-up and orchestration) stands in its place when every parent logged it."""
    by = {r.method: r for r in rows}
    measure = rows[0].measure if rows else "wall_clock"
    bars: list[Bar] = []
    if "adaptive" in by:
        bars.append(Bar("ALD-VAE, one run", *by["adaptive"].compute_s))
    for kind in STUDIES:
        if kind not in by:
            continue
        name = METHODS[kind].label
        bars.append(Bar(f"{name}, its trials as one machine runs them", *by[kind].compute_s))
        if measure == "wall_clock":
            label = f"{name}, as its {_workers(section, kind)} ran it"
            bars.append(Bar(label, *by[kind].time_to_answer_s))
            continue
        views = [v for s in section.seeds if (v := _view(s, kind))]
        metric = MEASURES[measure]
        if all(metric in p.metrics for v in views for p in v.parents):
            whole = [sum(p.metrics[metric] for p in v.parents) for v in views]
            bars.append(Bar(f"{name}, the whole search process", *mean_sd(whole)))
    if "retrain" in by:
        bars.append(Bar("ALD-VAE + retrain at its size", *by["retrain"].compute_s))
    return bars


def _overhead_note(bars: list[Bar]) -> str:
    """Why a search's elapsed (or whole-process) bar exceeds its trials' sum."""
    trials = {b.label.split(",")[0]: b.mean for b in bars if "trials as one machine" in b.label}
    longer = [
        b.label.split(",")[0]
        for b in bars
        if (b.label.endswith(" ran it") or "whole search" in b.label)
        and b.mean > trials.get(b.label.split(",")[0], float("inf"))
    ]
    if not longer:
        return ""
    names = longer[0] if len(longer) == 1 else f"{', '.join(longer[:-1])} and {longer[-1]}"
    verb = "takes more than its" if len(longer) == 1 else "each take more than their"
    return (
        f"Why the {names} as run {verb} trials: the run's own "
        "clock also counts what lies outside the trials (starting the processes and "
        "importing, reading the data and preparing the FID extractor, creating the study "
        "and its storage, handing trials to workers, and selecting and logging at the end)."
    )


def compute_page(section: Section, rows: list[MethodRow]) -> Figure:
    """Bars of compute per method, error bars and labels inside the axis."""
    measure = rows[0].measure if rows else "wall_clock"
    fig = page(f"{section.dataset}: what each answer cost")
    bars = compute_bars(section, rows)
    notes = [(n, "black") for n in [_overhead_note(bars)] if n]
    notes += [(w, WARNING_COLOUR) for w in noise_warnings(rows)]
    lines = [(text, colour) for note, colour in notes for text in textwrap.wrap(note, NOTE_WIDTH)]
    # the notes sit between the axis and the caption: the bars give them the room
    notes_top = 0.14 + NOTE_LINE * len(lines)
    ax = fig.add_axes((0.3, notes_top + 0.08, 0.64, 0.88 - notes_top - 0.08))
    ax.barh(
        range(len(bars)),
        [b.mean for b in bars],
        xerr=[b.sd for b in bars],
        color="tab:blue",
        alpha=0.8,
        # one seed has no spread: no caps drawn as if there were one
        error_kw={"ecolor": "black", "capsize": 4 if any(b.sd > 0 for b in bars) else 0},
    )
    ax.set_yticks(range(len(bars)), [textwrap.fill(b.label, 34) for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel(f"{MEASURE_WORDS[measure]}, seconds")
    ax.grid(axis="x", alpha=0.3)
    xmax, label_x = bar_limits(bars)
    for i, (bar, x) in enumerate(zip(bars, label_x, strict=True)):
        text = f"{bar.mean:.1f} s" + (f" ± {bar.sd:.1f}" if bar.sd > 0 else "")
        ax.text(x, i, text, va="center", ha="left", fontsize=9)
    ax.set_xlim(0, xmax)
    y = notes_top
    for text, colour in lines:
        fig.text(0.03, y, text, fontsize=9.5, color=colour, va="top")
        y -= NOTE_LINE
    hardware = {
        r.tags.get("benchmark.hardware", "?")
        for s in section.seeds
        for r in (s.adaptive,)
        if r is not None
    }
    elapsed = (
        "'as its workers ran it' is the elapsed wall-clock of the search's invocations with "
        "their parallel workers, which also holds the start-up and orchestration outside "
        "the trials."
        if measure == "wall_clock"
        else "The elapsed wall-clock of each method, workers in parallel, is its 'time to "
        "answer' on the section's first page."
    )
    caption(
        fig,
        f"Compute measured as {MEASURE_WORDS[measure]} per method (mean over seeds; error "
        "bars: standard deviation). 'Its trials as one machine runs them' is the sum over the "
        f"search's trial runs; {elapsed} Hardware: {', '.join(sorted(hardware))}.",
    )
    return fig
