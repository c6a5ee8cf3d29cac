"""Pages of plain lines (provenance, definitions) that flow onto as many pages as they
need, instead of running off the foot of one."""

from __future__ import annotations

from matplotlib.figure import Figure

from benchmark.report.pages.layout import page

# the first line's height on the page, the lowest a line may start at, and the step of
# one line of 9 pt (page fractions of an A4 landscape page)
TOP = 0.88
FOOT = 0.04
LINE_STEP = 0.028


def lines_per_page(step: float = LINE_STEP) -> int:
    """How many lines of height ``step`` fit between the top and the foot of a page."""
    return int((TOP - FOOT) / step) + 1


def flowing_pages(
    title: str,
    lines: list[str],
    fontsize: float = 9,
    family: str = "sans-serif",
    step: float = LINE_STEP,
) -> list[Figure]:
    """``lines`` (already wrapped to the page's width) on pages titled ``title``, the
    continuation pages titled so; one page at least."""
    per_page = lines_per_page(step)
    chunks = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        heading = title if len(chunks) == 1 else f"{title} (page {number} of {len(chunks)})"
        fig = page(heading)
        y = TOP
        for line in chunk:
            fig.text(0.03, y, line, fontsize=fontsize, family=family)
            y -= step
        pages.append(fig)
    return pages
