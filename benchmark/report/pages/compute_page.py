"""The compute page: what each answer cost, for every method that ran. Training epochs
first (the machine's load does not change them), time in the section's measure beside
them (a shared machine's noise flagged), each with its spread over seeds."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text

from benchmark.methods import METHODS, Kind
from benchmark.report.collect import NAMED_SEARCHES, SearchView, Section, SeedResult, mean_sd
from benchmark.report.compute import MEASURE_WORDS, MEASURES
from benchmark.report.numbers import duration, duration_unit, fmt, noisy
from benchmark.report.pages.layout import WARNING_COLOUR, caption, page
from benchmark.report.summary import MethodRow

# the share of the axis kept free right of the longest bar's error bar for its label
LABEL_ROOM = 0.18
NOTE_WIDTH = 145  # characters of a 9.5 pt note line across the page
NOTE_LINE = 0.026  # its height, page fraction
VALUE_FONT = 8  # points, the value printed beside each bar
# what a time bar holds: every run the answer needed summed as one machine runs them;
# a study's elapsed wall-clock with its workers; a study's whole search process
TOTAL, ELAPSED, PROCESS = "total", "elapsed", "process"
# what a rival's total adds up, by how it spends its trainings
RIVAL_RUNS = {
    Kind.ONE_TRAINING: "its one run",
    Kind.ONE_TRAINING_RETRAIN: "its run and its retrain",
    Kind.DATA_RULE: "its rule on the images and one run",
}


@dataclass(frozen=True)
class Bar:
    """One bar: its label, mean and sd over seeds (seconds on the time axis), the method
    it belongs to and what it holds (``role``: TOTAL, ELAPSED or PROCESS)."""

    label: str
    mean: float
    sd: float
    method: str = ""
    role: str = TOTAL

    @property
    def end(self) -> float:
        """Where the bar and its error bar end (NaN for a value no run logged)."""
        return self.mean + (self.sd if self.sd == self.sd else 0.0)


def bar_limits(bars: list[Bar]) -> tuple[float, list[float]]:
    """The x-limit that holds every error bar with room for its value label, and where
    each label starts: right of its error bar's end, never on the error-bar line."""
    # a value no run logged (NaN) has no bar: its "n/a" starts at the axis
    ends = [b.end if b.end == b.end else 0.0 for b in bars]
    longest = max([*ends, 1.0])
    xmax = longest / (1.0 - LABEL_ROOM)
    pad = 0.01 * xmax
    return xmax, [end + pad for end in ends]


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


def row_label(section: Section, row: MethodRow) -> str:
    """A method's one-line name on the chart; a study's says how many workers ran it."""
    if row.method in STUDIES:
        return f"{row.label} ({_workers(section, row.method)})"
    return row.label


def _total_label(row: MethodRow) -> str:
    """What a method's summed time holds, after its name."""
    if row.method == "adaptive":
        return "ALD-VAE, one run"
    if row.method == "retrain":
        return "ALD-VAE + retrain at its size"
    if row.method in STUDIES:
        return f"{row.label}, its trials as one machine runs them"
    return f"{row.label}, {RIVAL_RUNS.get(METHODS[row.method].kind, 'its runs')}"


def compute_bars(section: Section, rows: list[MethodRow]) -> list[Bar]:
    """The time bars of the page, in the rows' measure, for every method that ran (one
    per method; a study gets a second). The elapsed time of a search with its workers
    is wall-clock; for another measure the search's parent run's own measure (trials,
    start-up and orchestration) stands in its place when every parent logged it."""
    measure = rows[0].measure if rows else "wall_clock"
    bars: list[Bar] = []
    for row in rows:
        bars.append(Bar(_total_label(row), *row.compute_s, row.method))
        if row.method not in STUDIES:
            continue
        if measure == "wall_clock":
            label = f"{row.label}, as its {_workers(section, row.method)} ran it"
            bars.append(Bar(label, *row.time_to_answer_s, row.method, ELAPSED))
            continue
        views = [v for s in section.seeds if (v := _view(s, row.method))]
        metric = MEASURES[measure]
        if all(metric in p.metrics for v in views for p in v.parents):
            whole = [sum(p.metrics[metric] for p in v.parents) for v in views]
            label = f"{row.label}, the whole search process"
            bars.append(Bar(label, *mean_sd(whole), row.method, PROCESS))
    return bars


def epoch_bars(section: Section, rows: list[MethodRow]) -> list[Bar]:
    """One bar per method: the training epochs of every run its answer needed."""
    return [Bar(row_label(section, r), *r.epochs, r.method) for r in rows]


def _overhead_note(bars: list[Bar]) -> str:
    """Why a search's elapsed (or whole-process) bar exceeds its trials' sum."""
    totals = {b.method: b.mean for b in bars if b.role == TOTAL}
    longer = [
        b.label.split(",")[0]
        for b in bars
        if b.role != TOTAL and b.mean > totals.get(b.method, float("inf"))
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


def _noise_note(rows: list[MethodRow]) -> str:
    """One sentence naming every method with a noise-dominated timing (the red values
    beside its bars): one line per method, as the first page prints them, would take
    the chart's room when most are noisy, as on a shared machine they are."""
    loud = [
        r.label for r in rows if r.n_seeds > 1 and (noisy(r.time_to_answer_s) or noisy(r.compute_s))
    ]
    if not loud:
        return ""
    return (
        f"Timings noise-dominated (sd above half the mean; red) for {', '.join(loud)}: "
        "compare with care (load on the machine, or too few seeds); epochs do not depend on it."
    )


def _epochs_text(row: MethodRow, adaptive: MethodRow | None) -> str:
    """ "725 ± 73 (3.6x)": mean epochs, their sd over seeds, the ratio to ALD-VAE's."""
    text = fmt(row.epochs, 0, row.n_seeds)
    if adaptive is not None and row is not adaptive and adaptive.epochs[0] > 0:
        ratio = row.epochs[0] / adaptive.epochs[0]
        text += f" ({ratio:.1f}x)" if ratio == ratio else ""
    return text


def _fit_texts(ax: Axes, texts: list[Text], xmax: float) -> None:
    """Set the x-limit to ``xmax`` or wider, so that every value label (placed in data
    coordinates right of its bar) ends inside the axis: measured, not guessed."""
    renderer = ax.figure.canvas.get_renderer()
    ax.set_xlim(0, xmax)
    width = ax.get_window_extent(renderer).width
    margin = 4.0  # pixels between a label and the axis' frame
    for t in texts:
        room = width - t.get_window_extent(renderer).width - margin
        if room > 0:
            xmax = max(xmax, t.get_position()[0] * width / room)
    ax.set_xlim(0, xmax)


def _draw(ax: Axes, bars: list[Bar], ys: list[float], heights: list[float], colour: str) -> None:
    """Horizontal bars at ``ys`` with their error bars: a TOTAL bar filled, a study's
    second bar hatched and hollow, so that it reads apart from its trials' sum."""
    hollow = [b.role != TOTAL for b in bars]
    ax.barh(
        ys,
        [b.mean if b.mean == b.mean else 0.0 for b in bars],  # NaN: no bar, "n/a" beside
        height=heights,
        xerr=[b.sd if b.sd == b.sd else 0.0 for b in bars],
        color=["white" if h else colour for h in hollow],
        edgecolor=[colour if h else "none" for h in hollow],
        alpha=0.85,
        # one seed has no spread: no caps drawn as if there were one
        error_kw={"ecolor": "black", "capsize": 3 if any(b.sd > 0 for b in bars) else 0},
    )
    for patch, h in zip(ax.patches, hollow, strict=True):
        if h:
            patch.set_hatch("///")


def _label(
    ax: Axes, bars: list[Bar], ys: list[float], texts: list[str], colours: list[str]
) -> None:
    """Each bar's value right of its error bar; the x-limit widened until all fit."""
    xmax, label_x = bar_limits(bars)
    drawn = [
        ax.text(x, y, text, va="center", ha="left", fontsize=VALUE_FONT, color=colour)
        for x, y, text, colour in zip(label_x, ys, texts, colours, strict=True)
    ]
    _fit_texts(ax, drawn, xmax)


def _time_positions(bars: list[Bar], methods: list[str]) -> tuple[list[float], list[float]]:
    """Per time bar, its y (a study's two bars side by side in its row) and height."""
    ys, heights = [], []
    for b in bars:
        row = methods.index(b.method)
        pair = sum(1 for o in bars if o.method == b.method) > 1
        shift = (-0.19 if b.role == TOTAL else 0.19) if pair else 0.0
        ys.append(row + shift)
        heights.append(0.36 if pair else 0.6)
    return ys, heights


def compute_page(section: Section, rows: list[MethodRow]) -> Figure:
    """Per method, training epochs (left) and time in the rows' measure (right), with
    error bars and value labels inside each axis."""
    measure = rows[0].measure if rows else "wall_clock"
    fig = page(f"{section.dataset}: what each answer cost")
    epochs = epoch_bars(section, rows)
    bars = compute_bars(section, rows)
    notes = [(n, "black") for n in [_overhead_note(bars)] if n]
    notes += [(w, WARNING_COLOUR) for w in [_noise_note(rows)] if w]
    lines = [(text, colour) for note, colour in notes for text in textwrap.wrap(note, NOTE_WIDTH)]
    # the notes sit between the axes (with the legend under them) and the caption
    notes_top = 0.15 + NOTE_LINE * len(lines)
    bottom = notes_top + 0.135
    # the time axis stays the figure's first (fig.axes[0]), where the bars of compute_bars were
    right = fig.add_axes((0.615, bottom, 0.335, 0.86 - bottom))
    left = fig.add_axes((0.24, bottom, 0.33, 0.86 - bottom), sharey=right)
    methods = [r.method for r in rows]
    rows_y = list(range(len(rows)))
    _draw(left, epochs, rows_y, [0.6] * len(rows), "tab:blue")
    adaptive = next((r for r in rows if r.method == "adaptive"), None)
    _label(left, epochs, rows_y, [_epochs_text(r, adaptive) for r in rows], ["black"] * len(rows))
    left.set_yticks(rows_y, [b.label for b in epochs], fontsize=9)
    left.set_ylim(len(rows) - 0.5, -0.5)  # the first method on top
    left.set_xlabel("training epochs, every run the answer needed")
    left.set_title("epochs trained: the cost the machine's load leaves alone", fontsize=10)

    ys, heights = _time_positions(bars, methods)
    # the axis in the unit of its longest bar ("minutes"); each label in its own unit
    unit, length = duration_unit(max([b.end for b in bars if b.end == b.end] + [1.0]))
    scaled = [Bar(b.label, b.mean / length, b.sd / length, b.method, b.role) for b in bars]
    _draw(right, scaled, ys, heights, "tab:orange")
    n_seeds = {r.method: r.n_seeds for r in rows}
    colours = [
        WARNING_COLOUR if n_seeds[b.method] > 1 and noisy((b.mean, b.sd)) else "black" for b in bars
    ]
    _label(right, scaled, ys, [duration(b.mean, b.sd) for b in bars], colours)
    right.tick_params(axis="y", left=False, labelleft=False)
    right.set_xlabel(f"{MEASURE_WORDS[measure]}, {_unit_word(unit)}")
    # the measure's short name ("CPU time"): the axis label below gives it in full
    short = MEASURE_WORDS[measure].split(" (")[0]
    right.set_title(f"beside it, {short}: noisy on a shared machine", fontsize=10)
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    if any(b.role != TOTAL for b in bars):
        what = (
            "elapsed, with its workers in parallel"
            if measure == "wall_clock"
            else "the whole search process"
        )
        # under the time axis' label, in the band kept free above the notes
        fig.legend(
            handles=[
                Patch(color="tab:orange", label="every run summed, as one machine runs them"),
                Patch(facecolor="white", edgecolor="tab:orange", hatch="///", label=what),
            ],
            loc="upper left",
            bbox_to_anchor=(0.61, bottom - 0.058),
            fontsize=8,
            frameon=False,
            ncols=1,
        )
    y = notes_top
    for text, colour in lines:
        fig.text(0.03, y, text, fontsize=9.5, color=colour, va="top")
        y -= NOTE_LINE
    caption(fig, _caption(section, measure))
    return fig


def _unit_word(unit: str) -> str:
    """The axis' unit in words."""
    return {"s": "seconds", "min": "minutes", "h": "hours"}[unit]


def _caption(section: Section, measure: str) -> str:
    """What the two charts hold and where they were measured."""
    hardware = {
        r.tags.get("benchmark.hardware", "?")
        for s in section.seeds
        for r in (s.adaptive,)
        if r is not None
    }
    elapsed = (
        "for a study, hatched, the elapsed wall-clock of its invocations with their "
        "parallel workers, which also holds the start-up and orchestration outside the "
        "trials"
        if measure == "wall_clock"
        else "for a study, hatched, its whole search process; the elapsed wall-clock of "
        "each method, workers in parallel, is its 'time to answer' on the section's "
        "first page"
    )
    return (
        "Cost per method, mean over seeds (error bars: standard deviation). Left, the "
        "primary cost: training epochs of every run the answer needed (all of a study's "
        "trials, pruned ones included; a size-choosing training and its retrain), with "
        "its ratio to ALD-VAE's one run. Right, the same runs' "
        f"{MEASURE_WORDS[measure]} summed as one machine runs them and, {elapsed}; red: "
        "noise-dominated (sd above half the mean). Hardware: "
        f"{', '.join(sorted(hardware))}."
    )
