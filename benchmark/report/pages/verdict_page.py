"""Page one: per method its sizes over seeds against the grid's band, its epochs trained
against test quality with 95% intervals, a table, and four sentences."""

from __future__ import annotations

import math
import textwrap

from matplotlib.figure import Figure

from benchmark.report.pages.layout import CAPTION_WIDTH, page, styled_table
from benchmark.report.stats import PairedDifference
from benchmark.report.verdict import GRID, band_over_seeds, method_verdicts, sentences
from benchmark.report.views import Section

MARKERS = "osD^vP*Xhp<>"


def _half(interval) -> float:  # noqa: ANN001
    return (interval.high - interval.low) / 2 if interval.has_interval else 0.0


# cell colours of a difference whose interval excludes 0 (no colour: no difference shown)
WORD_COLOURS = {"better": "#dff0d8", "worse": "#f8d7da"}


def _cell(d: PairedDifference | None) -> str:
    """A difference with its interval, and its word where the interval excludes 0 (the
    table's header says that a cell without one shows no difference; one seed: the
    interval says so). "no difference shown" in every cell overflowed its column."""
    if d is None:
        return "-"
    if d.interval.has_interval and d.word in WORD_COLOURS:
        return f"{d.interval.text()} {d.word}"
    return d.interval.text()


def verdict_page(section: Section) -> Figure | None:
    """The verdict of one section; None without a grid (nothing to judge against)."""
    if not any(s.grid for s in section.seeds):
        return None
    verdicts = method_verdicts(section)
    band = band_over_seeds(section)
    fig = page(
        f"{section.dataset} ({section.preset}): which size, at what cost, how good, how sure"
    )
    sizes = fig.add_axes((0.06, 0.56, 0.40, 0.34))
    if band is not None:
        sizes.axhspan(
            band.low, band.high, color="#cfe3cf", zorder=0, label=f"grid's band {band.text()}"
        )
    for i, v in enumerate(verdicts):
        # the seeds side by side, centred on the method's tick (one seed: on it)
        for rank, (seed, size) in enumerate(sorted(v.sizes.items())):
            bound = seed in v.budget_bound
            sizes.scatter(
                i + (rank - (len(v.sizes) - 1) / 2) * 0.06,
                size,
                marker=MARKERS[i % len(MARKERS)],
                s=30,
                facecolors="none" if bound else f"C{i}",
                edgecolors=f"C{i}",
                zorder=3,
            )
    if any(v.budget_bound for v in verdicts):  # the legend names only what happened
        sizes.scatter(
            [],
            [],
            marker="o",
            facecolors="none",
            edgecolors="0.3",
            label="stopped by the epoch budget",
        )
    sizes.set_yscale("log", base=2)
    sizes.set_yticks([4, 8, 16, 32, 64], labels=["4", "8", "16", "32", "64"])
    sizes.set_xticks(range(len(verdicts)), [v.method for v in verdicts], rotation=30, fontsize=8)
    sizes.set_ylabel("latent size handed over (one point per seed)")
    sizes.grid(alpha=0.3, axis="y")
    if sizes.get_legend_handles_labels()[0]:
        sizes.legend(fontsize=7.5, loc="upper right")
    quality = fig.add_axes((0.56, 0.56, 0.40, 0.34))
    for i, v in enumerate(verdicts):
        fid = v.test["test_fid"]
        if math.isnan(fid.mean) or math.isnan(v.epochs.mean):
            continue
        quality.errorbar(
            v.epochs.mean,
            fid.mean,
            xerr=_half(v.epochs),
            yerr=_half(fid),
            fmt=MARKERS[i % len(MARKERS)],
            color=f"C{i}",
            capsize=3,
            label=v.method,
        )
    quality.set_xscale("log")
    quality.set_xlabel("epochs trained, all runs the answer needed (log scale)")
    quality.set_ylabel("test FID of samples (lower is better)")
    quality.grid(alpha=0.3)
    quality.legend(fontsize=7.5, loc="best")
    table = fig.add_axes((0.03, 0.27, 0.94, 0.22))
    table.axis("off")
    cells = []
    for v in verdicts:
        fid, rec = v.diffs.get("test_fid"), v.diffs.get("test_recon_loss")
        cells.append(
            [
                v.label,
                f"{v.size.mean:.1f} ± {v.size.sd:.1f}" if v.size.n > 1 else f"{v.size.mean:g}",
                f"{v.in_band}/{v.band_seeds}" if v.band_seeds else "no band",
                f"{v.epochs.mean:.0f}",
                "grid itself" if v.method == GRID else _cell(fid),
                "grid itself" if v.method == GRID else _cell(rec),
                f"{len(v.budget_bound)} of {len(v.sizes)}"
                if v.method in ("adaptive", "retrain")
                else "-",
            ]
        )
    drawn = styled_table(
        table,
        cells,
        [
            "method",
            "size",
            "in band",
            "epochs",
            "test FID vs grid [95% CI]",
            "recon. loss vs grid [95% CI]",
            "budget-bound",
        ],
        [2.6, 1.0, 0.8, 0.8, 2.4, 2.4, 1.0],
        min(1.0, 0.11 * (len(cells) + 1)),
    )
    for (row, col), cell in drawn.get_celld().items():
        word = cell.get_text().get_text().rsplit(" ", 1)[-1]
        if row > 0 and col in (4, 5) and word in WORD_COLOURS:
            cell.set_facecolor(WORD_COLOURS[word])
    height = min(1.0, 0.11 * (len(cells) + 1))
    top = 0.27 + 0.22 * (1 - height) - 0.02
    text = "\n".join(textwrap.fill(s, CAPTION_WIDTH) for s in sentences(section, verdicts))
    fig.text(0.03, top, text, fontsize=9, va="top", linespacing=1.35)
    return fig
