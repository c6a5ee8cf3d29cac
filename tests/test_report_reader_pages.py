"""The pages a researcher reads around the verdict (issue 23, items 1, 4 and 5), on
hand-made runs of 8 methods over 5 seeds (no training, no tracking store): the headline
table with epochs trained as its first cost and the test ELBO beside its rate and
distortion, every cell inside its box; the page of latent size against active units and
of rate against distortion; the definitions as the last page; and the grid page with
every seed's grid, the rule's score per size and each seed's pick."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from test_report_text_fits import FakeSource, many_methods_section

from benchmark.report.band import rule_scores
from benchmark.report.headline import headline_pages
from benchmark.report.pages.capacity_page import capacity_page
from benchmark.report.pages.definitions_page import definitions_pages
from benchmark.report.pages.grid_page import grid_page
from benchmark.report.pages.verdict_page import verdict_page
from benchmark.report.pdf import section_pages
from benchmark.report.summary import RATE, method_rows


@pytest.fixture(scope="module")
def section():
    return many_methods_section()


def _table(fig: Figure):  # noqa: ANN202
    (ax,) = [ax for ax in fig.axes if ax.tables]
    return ax.tables[0]


def _text(figs: list[Figure]) -> str:
    return "\n".join(t.get_text() for fig in figs for t in fig.texts)


def test_the_rate_is_the_elbo_less_the_distortion_per_run(section):
    rows = {r.method: r for r in method_rows(section)}
    adaptive = [s.adaptive.metrics for s in section.seeds]
    rates = [-m["test_elbo"] - m["test_recon_loss"] for m in adaptive]
    assert rows["adaptive"].test[RATE][0] == pytest.approx(sum(rates) / len(rates))
    assert all(r.test[RATE][0] > 0 for r in rows.values())


def test_headline_has_epochs_first_among_costs_and_the_elbo_with_its_two_terms(section):
    rows = method_rows(section)
    (fig, *_) = headline_pages(section, rows, "exp")
    table = _table(fig)
    header = [table[0, c].get_text().get_text().replace("\n", " ") for c in range(15)]
    assert header.index("epochs trained") < header.index("time to answer")
    assert header.index("time to answer") + 1 == header.index("total compute (wall-clock)")
    # a timing in its unit: the grid's 1400 s to answer read as minutes
    grid = next(i for i, r in enumerate(rows, start=1) if r.method == "grid")
    assert table[grid, header.index("time to answer")].get_text().get_text() == "23 min"
    elbo = header.index("test ELBO")
    assert header[elbo + 1 : elbo + 3] == ["rate (KL)", "distortion (recon loss)"]
    adaptive = next(i for i, r in enumerate(rows, start=1) if r.method == "adaptive")
    rate = table[adaptive, elbo + 1].get_text().get_text()
    assert rate.startswith(f"{rows[adaptive - 1].test[RATE][0]:.2f}")
    plt.close(fig)


def _assert_cells_hold_their_text(fig: Figure) -> None:
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    for (row, col), cell in _table(fig).get_celld().items():
        box, text = cell.get_window_extent(renderer), cell.get_text().get_window_extent(renderer)
        where = (row, col, cell.get_text().get_text(), box.bounds, text.bounds)
        assert box.x0 <= text.x0 and text.x1 <= box.x1, where
        assert box.y0 <= text.y0 and text.y1 <= box.y1, where


def test_every_headline_cell_holds_its_text(section):
    rows = method_rows(section)
    (fig, *rest) = headline_pages(section, rows, "exp")
    _assert_cells_hold_their_text(fig)
    for f in [fig, *rest]:
        plt.close(f)


def test_every_verdict_cell_holds_its_text_and_only_a_shown_difference_has_a_word(section):
    fig = verdict_page(section)
    _assert_cells_hold_their_text(fig)
    cells = [c.get_text().get_text() for (row, _), c in _table(fig).get_celld().items() if row]
    assert not any("no difference" in text for text in cells)
    plt.close(fig)


def test_latent_size_against_active_units_and_rate_against_distortion(section):
    fig = capacity_page(section)
    sizes_ax, rate_ax = fig.axes[:2]
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    adaptive_units = [s.adaptive.metrics["test_active_units"] for s in section.seeds]
    adaptive_sizes = [s.adaptive.metrics["final_latent_dim"] for s in section.seeds]
    size_line = lines["size adaptive"]
    assert list(size_line.get_ydata()) == adaptive_units
    # nudged sideways by less than a unit, never onto another size
    assert list(size_line.get_xdata()) == pytest.approx(adaptive_sizes, abs=0.75)
    # one marker style per method
    methods = [r.method for r in method_rows(section)]
    markers = {lines[f"size {m}"].get_marker() for m in methods}
    assert len(markers) == len(methods) == 8
    # the diagonal, through the origin
    assert any(list(line.get_xdata()) == list(line.get_ydata()) for line in sizes_ax.lines)
    rate = lines["rate grid"]
    grid = [s.grid.trial_for(s.grid.best_latent_dim).metrics for s in section.seeds]
    assert list(rate.get_xdata()) == pytest.approx(
        [-m["test_elbo"] - m["test_recon_loss"] for m in grid]
    )
    assert list(rate.get_ydata()) == [m["test_recon_loss"] for m in grid]
    assert "rate" in rate_ax.get_xlabel() and "distortion" in rate_ax.get_ylabel()
    plt.close(fig)


TERMS = (
    "FID of samples",
    "FID of reconstructions",
    "reconstruction loss",
    "ELBO",
    "rate (KL)",
    "distortion",
    "silhouette",
    "cluster accuracy",
    "active units",
    "epochs trained",
    "time to answer",
    "total compute",
    "wall-clock / CPU / GPU time",
    "band",
    "budget-bound",
)


def test_the_last_page_defines_every_metric_and_cost_column(section):
    names = [name for name, _ in section_pages(section, [], "exp", FakeSource())]
    assert names[-1] == "definitions" and "capacity" in names
    figs = definitions_pages(section, "cpu_time")
    terms = [t.get_text() for fig in figs for t in fig.texts if t.get_fontweight() == "bold"]
    text = _text(figs)
    for term in TERMS:
        assert term in terms or term in text, term
    assert "CPU time (process and children)" in text  # the report's own measure
    for fig in figs:
        plt.close(fig)


def test_grid_page_shows_every_seeds_grid_and_the_rules_score(section):
    fig = grid_page(section)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    scores = rule_scores(section)
    for s in section.seeds:
        assert f"grid val_fid seed {s.seed}" in lines and f"grid test_fid seed {s.seed}" in lines
        score = lines[f"score seed {s.seed}"]
        assert list(score.get_xdata()) == sorted(scores[s.seed])
        ring = lines[f"selected seed {s.seed}"]
        best = s.grid.best_latent_dim
        assert list(ring.get_xdata()) == [best]
        assert list(ring.get_ydata()) == [pytest.approx(scores[s.seed][best])]
    stars = [line for ax in fig.axes for line in ax.lines if line.get_gid() == "adaptive val_fid"]
    assert len(stars) == 5
    # each seed's pick beside what each signal alone picks
    table_text = [c.get_text().get_text() for c in fig.axes[-1].tables[0].get_celld().values()]
    assert "rule's pick" in table_text and "FID" in table_text
    assert f"{section.seeds[0].grid.best_latent_dim} (" in " ".join(table_text)
    plt.close(fig)


def test_grid_page_size_labels_never_overprint(section):
    fig = grid_page(section)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        low, high = ax.get_xlim()
        boxes = [
            t.label1.get_window_extent(renderer)
            for t in ax.xaxis.get_major_ticks()
            if low <= t.get_loc() <= high and t.label1.get_text()
        ]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), ax.get_title()
    plt.close(fig)
