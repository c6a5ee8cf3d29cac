"""The page frame every report page shares: A4 landscape, a title, a caption."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PAGE = (11.69, 8.27)  # A4 landscape, inches
WARNING_COLOUR = "#b00020"  # lines a reader must not miss (noise-dominated timings)
# TrueType fonts: the PDF's text stays extractable (and searchable).
matplotlib.rcParams["pdf.fonttype"] = 42
matplotlib.rcParams["font.size"] = 10


def page(title: str) -> Figure:
    """An empty page with its title."""
    fig = plt.figure(figsize=PAGE)
    fig.suptitle(title, fontsize=14, fontweight="bold", x=0.03, ha="left", y=0.975)
    return fig


# characters per line of a caption (9 pt across a page)
CAPTION_WIDTH = 170


def caption(fig: Figure, text: str, y: float = 0.02, below: float | None = None) -> None:
    """Small grey explanatory text at the foot of a page, or hanging from ``below`` (a
    page fraction) right under the page's content, so no blank band separates them."""
    wrapped = "\n".join(textwrap.wrap(text, CAPTION_WIDTH))
    if below is not None:
        fig.text(0.03, below, wrapped, fontsize=9, color="0.25", va="top")
    else:
        fig.text(0.03, y, wrapped, fontsize=9, color="0.25", va="bottom")


def styled_table(ax, cells: list[list[str]], header: list[str], widths: list[float], height: float):  # noqa: ANN001, ANN201
    """A table filling the axes' width, header bold on blue, first column left-aligned."""
    total = sum(widths)
    table = ax.table(
        cellText=cells,
        colLabels=header,
        colWidths=[w / total for w in widths],
        cellLoc="center",
        bbox=(0.0, 1.0 - height, 1.0, height),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    for (row, col), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#e8eef7")
        elif col == 0:
            cell.set_text_props(ha="left")
    return table
