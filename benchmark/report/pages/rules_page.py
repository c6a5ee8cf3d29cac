"""The report page on how far the verdict can be trusted: FID floors, the sizes the
FIDs cannot tell apart, and the verdict under each single-signal selection rule."""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure

from benchmark.methods import grid as grid_method
from benchmark.report.collect import Section
from benchmark.report.numbers import fmt
from benchmark.report.pages.layout import caption, page, styled_table
from benchmark.report.rules import floor_sentences, rule_outcomes
from benchmark.report.summary import MethodRow

RULE_COLUMNS = ("selection rule", "grid's size\nper seed", "its test FID", "its test\nrecon loss")


def _ranks(ranks: list[tuple[int, int]]) -> str:
    """Each seed's rank of ALD-VAE's model: "9, 6, 4 of 10" where every seed had as many
    candidates ("9 of 10, 6 of 10, ..." overflowed its cell with five seeds)."""
    if not ranks:
        return "-"
    totals = {t for _, t in ranks}
    if len(totals) == 1:
        return f"{', '.join(str(r) for r, _ in ranks)} of {totals.pop()}"
    return ", ".join(f"{r} of {t}" for r, t in ranks)


def rules_page(section: Section, rows: list[MethodRow]) -> Figure | None:
    """None when the section has no grid search."""
    outcomes = rule_outcomes(section)
    if not outcomes:
        return None
    fig = page(f"{section.dataset}: does the verdict depend on the rule or on FID noise?")
    by = {r.method: r for r in rows}
    a, g = by.get("adaptive"), by.get(grid_method.METHOD.name)
    y = 0.90
    for line in floor_sentences(
        section,
        a.test["test_fid"][0] if a else None,
        g.test["test_fid"][0] if g else None,
    ):
        for wrapped in textwrap.wrap(line, 150):
            fig.text(0.03, y, wrapped, fontsize=10)
            y -= 0.03
    ax = fig.add_axes((0.03, 0.14, 0.94, y - 0.17))
    ax.axis("off")
    header = list(RULE_COLUMNS) + ["ALD-VAE's rank\nper seed"]
    cells = []
    for o in outcomes:
        n = len(o.choices)
        ranks = _ranks(o.adaptive_ranks)
        label = o.rule
        if o.skipped:  # e.g. no silhouette for a dataset without labels
            label += (
                f"\n(without {', '.join(k.removeprefix('val_') for k in o.skipped)}: not logged)"
            )
        cells.append(
            [
                label,
                ", ".join(map(str, o.choices)),
                fmt(o.test_fid, 2, n),
                fmt(o.test_recon_loss, 2, n),
                ranks,
            ]
        )
    styled_table(ax, cells, header, [3.0, 1.4, 1.4, 1.4, 1.8], min(1.0, 0.13 * (len(cells) + 1)))
    caption(
        fig,
        "The grid's size is chosen from validation signals only. This project's rule "
        "min-max normalises each of the four signals over the grid's sizes and averages "
        "them (benchmark/selection.py); the paper states no rule for its grid. Each single "
        "signal is shown as a rule of its own. ALD-VAE's rank: its final model's validation "
        "signals judged by the same rule among the grid's sizes plus itself (1 = the rule's "
        "pick). A FID difference below the floor (two disjoint sets of real images, same "
        "extractor and sample count) is noise, not a difference between models.",
    )
    return fig
